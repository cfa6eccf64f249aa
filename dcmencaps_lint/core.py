"""The compiled core (_core.c), when it was built and is not switched off.

The loops that run once per item or per frame of a whole-slide image (the item walk,
each frame's facts and their grouping) have a C twin; everything else, rules included,
is Python. With or without the core the reports are the same, byte for byte (the
differential tests compare both paths on every input of the test suite and every fuzz
mutant); without it, files of many frames take longer (README, "Speed").

ENCAPS_LINT_PUREPYTHON=1 in the environment switches the core off: at install time no
extension is built (setup.py), at run time an installed one is not used.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import reduce
from itertools import repeat
from operator import add, eq, or_
from types import ModuleType
from typing import Any

from dcmencaps_lint.model import Item, ItemFacts
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY, Codec

JPEG, J2K = 1, 2  # codec families, as _core.c numbers them
SWITCH = "ENCAPS_LINT_PUREPYTHON"


def family(codec: Codec | None) -> int:
    """The core's codec family whose frames' facts it computes; 0 for any other codec."""
    if codec in JPEG_FAMILY:
        return JPEG
    if codec in J2K_FAMILY:
        return J2K
    return 0


def _load() -> ModuleType | None:
    if os.environ.get(SWITCH, "") not in ("", "0"):
        return None
    try:
        import dcmencaps_lint._core as compiled  # type: ignore[import-not-found]
    except ImportError:
        return None
    return compiled  # type: ignore[no-any-return]


_core = _load()


def enabled() -> bool:
    """The compiled core is there and in use."""
    return _core is not None


def description() -> str:
    """Which implementation runs, for `encaps-lint --version`."""
    if _core is not None:
        return "compiled core (C)"
    if os.environ.get(SWITCH, "") not in ("", "0"):
        return f"pure Python ({SWITCH} is set)"
    return "pure Python (the compiled core is not built)"


def _call(function: str, reader: ByteReader, *arguments: object) -> Any:
    """`_core.function(fd, size, buffer, *arguments)` on the reader's data: a file on
    disk (its descriptor), or bytes in memory (a buffer, released after the call);
    None without the core, or for a caller's file object (only Python reads those)."""
    if _core is None:
        return None
    if reader.data is not None:  # bytes: the core holds their buffer while it runs
        return getattr(_core, function)(-1, reader.size, reader.data, *arguments)
    buffer: memoryview | None = None
    if reader.fileno is not None:
        fd = reader.fileno
    elif isinstance(reader.fileobj, io.BytesIO):
        fd, buffer = -1, reader.fileobj.getbuffer()
    else:
        return None
    try:
        return getattr(_core, function)(fd, reader.size, buffer, *arguments)
    finally:
        if buffer is not None:
            buffer.release()


# offsets (native uint64) and lengths (native uint32) as bytes, where the walk stopped,
# and the items' facts: walker.py makes array('Q') and array('I') columns of them
Walked = tuple[bytes, bytes, int, tuple[bytes, bytes, bytes] | None]


def items(reader: ByteReader, position: int, end: int, family: int = 0) -> Walked | None:
    """The ordinary items from `position` on (walker.py): their offsets and lengths (as
    native numbers' bytes: see Walked), where something else starts, and with a codec
    `family` each item's facts (see model.ItemFacts); None without the core."""
    return _call("items", reader, position, end, family)  # type: ignore[no-any-return]


def groups_of(
    facts: ItemFacts, base: int, firsts: list[int] | None, lasts: list[int] | None, count: int
) -> list[Sequence[int]]:
    """Frame numbers grouped by their items' facts (no file read), a range for a group of
    consecutive frames, else a sequence of them (a memoryview of uint32): frame n spans items
    base + firsts[n] - 1 .. base + lasts[n] - 1 (frame n is item base + n - 1 when
    firsts and lasts are None)."""
    assert _core is not None, "item facts come from the core"
    _, heads, tails, ends = facts
    return _core.groups_of(heads, tails, ends, base, firsts, lasts, count)  # type: ignore[no-any-return]


ScannedRaw = tuple[int, str, int, int, int]  # tag, VR, length, offset, value offset
Scanned = tuple[ScannedRaw, int, ScannedRaw, list[ScannedRaw], list[tuple[int, int]]]


def scan_dataset(reader: ByteReader, tables: tuple[object, ...]) -> Scanned | None:
    """scanner.py's walk of the data set: (the Transfer Syntax UID's header, where the
    data set starts, the Pixel Data header, the top level's wanted elements' headers,
    the identifying values' spans); None where it declines, or without the core.
    `tables`: scanner.CORE_TABLES."""
    return _call("scan_dataset", reader, *tables)  # type: ignore[no-any-return]


FactTuples = tuple[tuple[object, ...] | None, tuple[object, ...] | None, tuple[object, ...] | None]


def frame_facts(reader: ByteReader, family: int, first: Item, last: Item) -> FactTuples | None:
    """A frame's (start, end, header) as the fields of facts.Start, facts.End and the
    header, for a frame whose first and last fragments are `first` and `last`; None
    without the core."""
    first_fields = (first.value_offset, first.available)
    last_fields = (last.value_offset, last.length, last.available)
    return _call("frame_facts", reader, family, *first_fields, *last_fields)  # type: ignore[no-any-return]


def frame_groups(
    reader: ByteReader,
    family: int,
    offsets: Sequence[int],
    lengths: Sequence[int],
    availables: Sequence[int],
    firsts: Sequence[int] | None,
    lasts: Sequence[int] | None,
) -> list[Sequence[int]] | None:
    """Frame numbers grouped by their facts (facts.py), a range for a group of consecutive
    frames, else a memoryview of uint32; None without the core."""
    columns = (offsets, lengths, availables, firsts, lasts)
    return _call("frame_groups", reader, family, *columns)  # type: ignore[no-any-return]


def table_matches(table: Sequence[int], values: Sequence[int], base: int) -> bool:
    """Whether there are as many values as table entries and values[i] == table[i] + base
    for each: an offset table (BOT, EOT) that names exactly these items, one each (the
    items' offsets, base the first fragment's), or lengths that are the items' (base 0).
    In C where it can be: no list of 200,000 relative offsets to build and free."""
    if _core is not None:
        try:
            return _core.table_matches(table, values, base)  # type: ignore[no-any-return]
        except (OverflowError, TypeError):
            pass  # a negative or huge entry: Python's ints compare it
    return len(table) == len(values) and all(map(eq, map(add, table, repeat(base)), values))


def bits_of(values: Sequence[int]) -> int:
    """Every value ORed together (whether any length is odd, in one pass)."""
    if _core is not None:
        try:
            return _core.bits_of(values)  # type: ignore[no-any-return]
        except (OverflowError, TypeError):
            pass
    return reduce(or_, values, 0)


def lowest(values: Sequence[int]) -> int | None:
    """The smallest value (whether any length is 0, in one pass); None when there is none."""
    if _core is not None:
        try:
            return _core.lowest(values)  # type: ignore[no-any-return]
        except (OverflowError, TypeError):
            pass
    return min(values, default=None)


def jpeg_scan(data: bytes) -> tuple[int, str, int, int, int, bool, tuple[int, ...]] | None:
    """scan.py's walk of a JPEG frame's scans, in C (see scan.Raw); None when they hold
    what the frame header requires or the frame cannot be counted."""
    assert _core is not None
    return _core.jpeg_scan(data)  # type: ignore[no-any-return]

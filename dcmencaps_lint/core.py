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
from types import ModuleType

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


def _source(reader: ByteReader) -> tuple[int, memoryview | None] | None:
    """(file descriptor, buffer) for the core: a file on disk, or bytes in memory."""
    if reader.data is not None:
        return -1, memoryview(reader.data)
    if reader.fileno is not None:
        return reader.fileno, None
    fileobj = reader.fileobj
    if isinstance(fileobj, io.BytesIO):
        return -1, fileobj.getbuffer()
    return None  # a caller's file object: only Python can read it


Walked = tuple[list[int], list[int], int, tuple[bytes, bytes, bytes] | None]


def items(reader: ByteReader, position: int, end: int, family: int = 0) -> Walked | None:
    """The ordinary items from `position` on (walker.py): their offsets and lengths,
    where something else starts, and with a codec `family` each item's facts (see
    model.ItemFacts); None without the core."""
    source = _source(reader) if _core is not None else None
    if source is None:
        return None
    fd, buffer = source
    try:
        return _core.items(fd, reader.size, buffer, position, end, family)  # type: ignore[union-attr]
    finally:
        if buffer is not None:
            buffer.release()


def groups_of(
    facts: ItemFacts, base: int, firsts: list[int] | None, lasts: list[int] | None, count: int
) -> list[Sequence[int]]:
    """Frame numbers grouped by their items' facts (no file read), a range for a group of
    consecutive frames, else a list: frame n spans items
    base + firsts[n] - 1 .. base + lasts[n] - 1 (frame n is item base + n - 1 when
    firsts and lasts are None)."""
    assert _core is not None, "item facts come from the core"
    _, heads, tails, ends = facts
    return _core.groups_of(heads, tails, ends, base, firsts, lasts, count)  # type: ignore[no-any-return]


FactTuples = tuple[tuple[object, ...] | None, tuple[object, ...] | None, tuple[object, ...] | None]


def frame_facts(reader: ByteReader, family: int, first: Item, last: Item) -> FactTuples | None:
    """A frame's (start, end, header) as the fields of facts.Start, facts.End and the
    header, for a frame whose first and last fragments are `first` and `last`; None
    without the core."""
    source = _source(reader) if _core is not None else None
    if source is None:
        return None
    fd, buffer = source
    try:
        return _core.frame_facts(  # type: ignore[union-attr, no-any-return]
            fd,
            reader.size,
            buffer,
            family,
            first.value_offset,
            first.available,
            last.value_offset,
            last.length,
            last.available,
        )
    finally:
        if buffer is not None:
            buffer.release()


def frame_groups(
    reader: ByteReader,
    family: int,
    offsets: list[int],
    lengths: list[int],
    availables: list[int],
    firsts: Sequence[int] | None,
    lasts: Sequence[int] | None,
) -> list[Sequence[int]] | None:
    """Frame numbers grouped by their facts (facts.py), a range for a group of consecutive
    frames, else a list; None without the core."""
    source = _source(reader) if _core is not None else None
    if source is None:
        return None
    fd, buffer = source
    try:
        return _core.frame_groups(  # type: ignore[union-attr]
            fd, reader.size, buffer, family, offsets, lengths, availables, firsts, lasts
        )
    finally:
        if buffer is not None:
            buffer.release()

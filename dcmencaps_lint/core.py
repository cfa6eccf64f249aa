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

from dcmencaps_lint.reader import ByteReader

JPEG, J2K = 1, 2  # codec families, as _core.c numbers them
SWITCH = "ENCAPS_LINT_PUREPYTHON"


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
    if reader.fileno is not None:
        return reader.fileno, None
    fileobj = reader.fileobj
    if isinstance(fileobj, io.BytesIO):
        return -1, fileobj.getbuffer()
    return None  # a caller's file object: only Python can read it


def items(reader: ByteReader, position: int, end: int) -> tuple[list[int], list[int], int] | None:
    """The ordinary items from `position` on (walker.py); None without the core."""
    source = _source(reader) if _core is not None else None
    if source is None:
        return None
    fd, buffer = source
    try:
        return _core.items(fd, reader.size, buffer, position, end)  # type: ignore[union-attr]
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
) -> list[list[int]] | None:
    """Frame numbers grouped by their facts (facts.py); None without the core."""
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

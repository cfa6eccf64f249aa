"""Writing a file so that nothing is ever lost: the new file is assembled beside the
old one, flushed to disk, checked, and only then renamed over it.

This is what `--fix` (issue 12) writes with. A repaired file is mostly the old file's
bytes: the data set in front of Pixel Data and every fragment's codestream, copied as
they are; only item headers, offset tables and an element or two differ. So a file is
written as a list of pieces, each either new bytes or a `Copy` of a range of the source
file. A copy is made by the kernel (os.copy_file_range; where it is missing or refused,
1 MiB reads and writes), so memory stays proportional to the number of pieces whatever
the size of the file.

What `write_file` guarantees (tests/test_writer.py checks each):
- The new file is first a temporary file in the destination's folder (a rename is atomic
  only within one file system), named `.NAME.XXXXXXXX.encaps-lint`: hidden, and not a
  `*.dcm` that a folder walk would lint.
- It is written, fsynced and closed before `verify` reads it. When `verify` refuses it,
  or anything fails on the way (a full disk: ENOSPC, a source shorter than a copy), the
  temporary file is removed and the destination is as it was.
- It takes the destination's permission bits (the source's for a new file) and, where
  the process may, its owner; then os.replace puts it in the destination's place, and
  the folder is fsynced so that the rename too survives a crash.
- A process killed at any moment leaves the old file or the new one, never a mix; at
  worst the hidden temporary file stays behind.
- A destination that is a symbolic link is written through: its target is replaced, the
  link stays (as an editor saves a linked file).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from typing import NamedTuple

COPY_STEP = 1 << 20  # bytes per read and write where the kernel cannot copy
SUFFIX = ".encaps-lint"  # of the temporary files
# copy_file_range refusals that a plain read and write get past: another file system
# (before Linux 5.3), a file system or kernel without it, a special file.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


class Copy(NamedTuple):
    """`length` bytes of the source file from `offset`, copied as they are."""

    offset: int
    length: int


Piece = bytes | Copy


class WriteRefused(Exception):
    """The new file did not verify; it was removed and the destination is as it was."""


def write_file(
    source: str | os.PathLike[str],
    pieces: Iterable[Piece],
    destination: str | os.PathLike[str],
    verify: Callable[[str], str | None],
) -> None:
    """Write `pieces` (new bytes, or ranges of `source`) as `destination`, atomically.

    `verify(path)` reads the new file before it replaces anything and returns None when
    it is right, else why not (raised as WriteRefused). `destination` may be `source`.
    OSError for a failed write; the destination is then untouched too.
    """
    target = os.path.realpath(destination)
    folder, name = os.path.split(target)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=SUFFIX, dir=folder)
    try:
        with open(source, "rb") as original:
            _write_pieces(fd, original.fileno(), pieces)
            _take_attributes(fd, target, original.fileno())
        os.fsync(fd)
        os.close(fd)
        fd = -1
        reason = verify(temporary)
        if reason is not None:
            raise WriteRefused(reason)
        os.replace(temporary, target)
    except BaseException:  # Ctrl-C included: never leave a half-written file behind
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_folder(folder)


def _write_pieces(fd: int, source: int, pieces: Iterable[Piece]) -> None:
    for piece in pieces:
        if isinstance(piece, Copy):
            _copy(source, piece.offset, piece.length, fd)
        else:
            _write_all(fd, piece)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _copy(source: int, offset: int, length: int, fd: int) -> None:
    """`length` bytes of `source` from `offset` appended to `fd`."""
    end = offset + length
    while offset < end:
        copied = _kernel_copy(source, offset, end - offset, fd)
        if copied is None:  # the kernel cannot: read and write the rest
            _copy_by_reading(source, offset, end - offset, fd)
            return
        if copied == 0:
            raise OSError(errno.EIO, f"the source ends before byte {end} (a copy asks for it)")
        offset += copied


def _kernel_copy(source: int, offset: int, count: int, fd: int) -> int | None:
    """Bytes copied by os.copy_file_range (0: the source ended); None where it refuses."""
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is None:
        return None
    try:
        return int(copy_file_range(source, fd, min(count, 1 << 30), offset))
    except OSError as exc:
        if exc.errno in _NO_KERNEL_COPY:
            return None
        raise


def _copy_by_reading(source: int, offset: int, count: int, fd: int) -> None:
    while count > 0:
        data = os.pread(source, min(count, COPY_STEP), offset)
        if not data:
            raise OSError(errno.EIO, f"the source ends at byte {offset} (a copy asks for more)")
        _write_all(fd, data)
        offset += len(data)
        count -= len(data)


def _take_attributes(fd: int, target: str, source: int) -> None:
    """The permission bits (and owner, where allowed) of the file being replaced, or of
    the source for a new file: mkstemp makes its files 0600."""
    try:
        was = os.stat(target)
    except FileNotFoundError:
        was = os.fstat(source)
    os.fchmod(fd, stat.S_IMODE(was.st_mode))
    if not hasattr(os, "fchown"):
        return  # no owners to keep (Windows)
    with contextlib.suppress(PermissionError):  # only root may give a file away
        if (was.st_uid, was.st_gid) != (os.getuid(), os.getgid()):
            os.fchown(fd, was.st_uid, was.st_gid)


def fsync_folder(folder: str) -> None:
    """Make the rename durable: fsync the folder (where the platform allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

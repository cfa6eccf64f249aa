"""Read-only, bounded, positioned reads of the file being linted.

The linter never writes to, locks or changes a file it lints: `open_path` opens it
read-only (and refuses special files), `ByteReader` reads it with pread or through a
read-only memory-mapped window, and never past its end, whatever a length field says.
"""

from __future__ import annotations

import functools
import io
import mmap
import os
from collections.abc import Callable
from typing import BinaryIO

# Loops that touch every item of a dense stretch of items (whole-slide images: hundreds
# of thousands of frames a few KB apart) read through a memory-mapped window this big.
WINDOW_SIZE = 8 << 20
SMALL_FILE = 64 << 10
# MAP_POPULATE maps the whole window in one call: faulting its pages in one by one cost
# more than the reads themselves (benchmarks/README.md, "Read strategy").
_WINDOW_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)


class ByteReader:
    """Positioned, bounded reads of a file or buffer; never reads past the end.

    A file on disk is read with pread: a few bytes per item and per frame. A memory map
    of the whole file was measured to be no faster on large frames and far worse on small
    ones: the kernel maps 64 KiB around every page touched, so linting a file of 4 KB
    frames brought the whole file into the process's resident memory. Loops over dense
    items read through `window` instead: one populated map of WINDOW_SIZE bytes at a
    time, unmapped before the next, so resident memory stays one window.

    A file of at most SMALL_FILE bytes is read whole, in one pread, and every read is a
    slice of it (`data`): the kernel reads such a file's few pages at the first read
    anyway, and a dozen system calls per small file were a tenth of its lint.
    """

    def __init__(self, fileobj: BinaryIO, size: int) -> None:
        self._file = fileobj
        self.size = size
        self._fd: int | None = None
        self._window: mmap.mmap | bytes | None = None
        self._window_start = 0
        self.data: bytes | None = None  # the whole file, when it is small
        if isinstance(fileobj, io.BufferedReader):
            try:
                self._fd = fileobj.fileno()
            except (OSError, ValueError):
                self._fd = None
        if isinstance(fileobj, WholeFile):
            self.data = fileobj.data
        elif self._fd is not None and size <= SMALL_FILE:
            data = os.pread(self._fd, size, 0)
            if len(data) == size:  # else the file shrank since it was opened: read on
                self.data, self._fd = data, None

    @property
    def fileno(self) -> int | None:
        """The file descriptor reads go to; None when they go through `fileobj` or
        `data`."""
        return self._fd

    @property
    def fileobj(self) -> BinaryIO:
        return self._file

    @property
    def on_disk(self) -> bool:
        """Reads go straight to a file descriptor, not through a caller's file object."""
        return self._fd is not None

    def expect_items(self, start: int, frames: int) -> None:
        """The caller is about to walk the items of `frames` frames from `start` on. A
        file object that can become a local file for that is asked to (a remote file
        whose items are so dense that the walk would fetch all of it anyway:
        remote.RangeFile.localize); from then on it is read as a file on disk."""
        if self._fd is not None or self.data is not None:
            return
        localize = getattr(self._file, "localize", None)
        if localize is not None:
            self._fd = localize(start, frames)

    def unchecked_pread(self) -> Callable[[int, int], bytes]:
        """`pread(count, offset)` without the bounds checks of `read`, for the loops that
        run once per item and keep within the file themselves. Only when `on_disk`."""
        assert self._fd is not None
        return functools.partial(os.pread, self._fd)

    def read(self, offset: int, count: int) -> bytes:
        """Up to `count` bytes at `offset`; fewer at the end of the data."""
        if offset < 0 or count <= 0 or offset >= self.size:
            return b""
        count = min(count, self.size - offset)
        if self.data is not None:
            return self.data[offset : offset + count]
        if self._fd is not None:
            return os.pread(self._fd, count, offset)
        self._file.seek(offset)
        return self._file.read(count)

    def window(self, offset: int, count: int) -> tuple[mmap.mmap | bytes, int]:
        """(buffer, absolute offset of its first byte): the file from `offset` on, at
        least `count` bytes of it where the file has them. Only when `on_disk`.

        For loops that visit items in file order and take a few bytes of each: slicing or
        unpacking a buffer costs a fraction of a pread. The buffer stays valid until the
        next call or `close`; callers check their offsets against its length.
        """
        window, start = self._window, self._window_start
        if window is not None and start <= offset and offset + count <= start + len(window):
            return window, start
        self._close_window()
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        length = min(self.size, offset + max(count, WINDOW_SIZE)) - start
        assert self._fd is not None
        try:
            # A mapped page past the end of a file that shrank kills the process (SIGBUS):
            # a file cut short since it was opened is read, never mapped.
            if os.fstat(self._fd).st_size < start + length:
                raise ValueError("the file is shorter than when it was opened")
            window = mmap.mmap(
                self._fd, length, flags=_WINDOW_FLAGS, prot=mmap.PROT_READ, offset=start
            )
        except (OSError, ValueError, OverflowError):  # cannot map here: read it instead
            window = self.read(start, length)
        self._window, self._window_start = window, start
        return window, start

    def _close_window(self) -> None:
        if isinstance(self._window, mmap.mmap):
            self._window.close()
        self._window = None

    def close(self) -> None:
        """Unmap the read window; the file object belongs to whoever opened it."""
        self._close_window()


class SpecialFileError(OSError):
    """Not a regular file (a FIFO, a device, a socket, a folder): never opened."""


def _special(mode: int) -> SpecialFileError:
    import stat

    kinds = [
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ]
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return SpecialFileError(f"{kind}, not a regular file")


def open_path(path: str | os.PathLike[str]) -> tuple[BinaryIO, int]:
    """Open read-only; special files raise SpecialFileError and are never read or waited on.

    stat() first, so that a device is never opened; then O_NONBLOCK, so that a file
    swapped for a FIFO in between cannot block the open, and fstat() to be sure.
    """
    import stat

    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise _special(st.st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _special(st.st_mode)
        if st.st_size <= SMALL_FILE:
            data = os.pread(fd, st.st_size, 0)
            if len(data) == st.st_size:  # else the file shrank since it was opened
                os.close(fd)
                return WholeFile(data, os.fspath(path)), st.st_size
        fileobj = os.fdopen(fd, "rb")
        # Named by its path, as open() names a file: pydicom puts the name into its error
        # messages and fails (TypeError) on a file named by a descriptor number.
        fileobj.raw.name = os.fspath(path)  # type: ignore[attr-defined]
        return fileobj, st.st_size
    except BaseException:
        os.close(fd)
        raise


class WholeFile(io.BytesIO):
    """A small file read whole at its opening, in one pread, its descriptor closed at
    once: the file object and the ByteReader of a small file share its bytes (`data`),
    and a buffered file object's set-up cost as much as a tenth of a small file's lint."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)  # shares `data` until written to (which nothing does)
        self.data = data
        self.name = name

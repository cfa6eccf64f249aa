"""Files read where they live: a PATH may be an fsspec URL (https://, s3://, gs://, az://).

`RangeFile` reads a remote file by range requests, a block cache in front of them, and
is the file object the engine reads it through, so the engine reads the same bytes it
reads on disk: the data set, item headers, each frame's first KB and last 64 bytes.
What the cache adds is how those reads become requests:

- The first request reads the file's first 64 KiB: a small file whole, the data set of
  most files.
- A read that misses the cache fetches the bytes asked for and the bytes the next reads
  will want (64 before it, 1,032 after it: the previous frame's last bytes, an item
  header and its frame's first KB), so far-apart items (large frames) cost one small
  request each.
- Frames under 64 KiB apart on average (whole-slide tiles): walking them would fetch
  every byte, so the file is downloaded into a temporary file in 8 MiB requests and read
  as a local file from then on (`localize`, asked by the engine through
  ByteReader.expect_items): the compiled core walks it.
- Otherwise a miss within 64 KiB of where the last request ended is a walk through a run
  of dense items: the gap is fetched too and the request doubles, up to 8 MiB (a bounded
  read-ahead), so the run costs a few large requests, not one per item.
- The engine reads a file twice: the item walk, then each frame's first and last bytes.
  Blocks next to a read are kept in memory for the second pass (at most 96 MiB); what
  was read on through dense items goes to the temporary file (at most 2 GiB, in the
  system's temporary folder, deleted when the file is done), so nothing is fetched
  twice. Other blocks are dropped first in, beyond 16 MiB.

Credentials, endpoints and timeouts come from each backend's usual places (environment
variables, its configuration files, fsspec's configuration), never from encaps-lint's
options. Any failure (404, 403, a timeout, a server that ignores Range) becomes a
`RemoteError`, an OSError: the engine reports it as PRS004 for that file and goes on.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from dcmencaps_lint.facts import HEADER_READ, TAIL_BYTES
from dcmencaps_lint.model import ITEM_HEADER_SIZE
from dcmencaps_lint.paths import PathEntry
from dcmencaps_lint.reader import SMALL_FILE, SpecialFileError, WholeFile

INSTALL_HINT = 'reading URLs needs fsspec: pip install "encaps-lint[remote]"'

BLOCK = 512  # the cache's unit; requests start and end on block boundaries
FIRST_FETCH = SMALL_FILE  # the first request of a file
BEFORE = TAIL_BYTES  # fetched before a missed byte: the previous frame's last bytes
AFTER = ITEM_HEADER_SIZE + HEADER_READ  # fetched from a missed byte on
DENSE_GAP = 64 << 10  # a miss this close after the last request reads on through
MAX_READ_AHEAD = 8 << 20
FRESH_LIMIT = 16 << 20  # bytes of blocks fetched but not read yet
KEPT_LIMIT = 96 << 20  # bytes of blocks next to a read, kept for the reads after
SPOOL_LIMIT = 2 << 30  # bytes read on through dense items, kept on disk


class RemoteError(OSError):
    """A remote file or folder could not be read; the message says why, in one line."""


def _why(exc: BaseException) -> str:
    """One line for a backend's exception: what a user can act on. fsspec's http says
    "not found" whatever went wrong and keeps the real error as the cause: look there."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 8:
        chain.append(chain[-1].__cause__)
    for cause in chain:
        status = getattr(cause, "status", None)  # aiohttp's ClientResponseError
        if isinstance(status, int) and status != 404:
            return f"HTTP {status} {getattr(cause, 'message', '')}".rstrip()
        if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
            return "timed out"
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return f"access denied ({exc})" if str(exc) else "access denied"
    said = " ".join(str(exc).split())  # one line, whatever the backend wrote
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__


def _filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, its path) of a URL; RemoteError when it has no backend."""
    try:
        import fsspec.core
    except ImportError:
        raise RemoteError(INSTALL_HINT) from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:  # fsspec names the package the protocol needs
        raise RemoteError(str(exc).strip().splitlines()[0]) from None
    except Exception as exc:
        raise RemoteError(_why(exc)) from None


def check(urls: list[str]) -> str | None:
    """Why these URLs cannot be read at all (fsspec or a backend not installed), else
    None: a usage error for the whole run, said before any file is read."""
    try:
        import fsspec
    except ImportError:
        return INSTALL_HINT
    for url in urls:
        protocol = url.split("://", 1)[0]
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            return f"{url}: {str(exc).strip().splitlines()[0]}"
        except ValueError:
            return f"{url}: no fsspec backend for {protocol}://"
    return None


def open_url(url: str) -> tuple[io.RawIOBase, int]:
    """(read-only file object, size) of a remote file; RemoteError when it cannot be."""
    fs, path = _filesystem(url)
    try:
        info = fs.info(path)  # S3 and others answer from the folder's listing, if made
        if info.get("type") == "directory":
            raise SpecialFileError("a folder, not a regular file")
        size = info.get("size")
        if size is None:  # an http folder's listing page, say
            folder = " (a folder's URL ends with /)" if url.startswith("http") else ""
            raise RemoteError(f"the server does not say the file's size{folder}")
        remote = fs.open(path, "rb", cache_type="none", size=size)
    except OSError as exc:
        if isinstance(exc, RemoteError | SpecialFileError):
            raise
        raise RemoteError(_why(exc)) from None
    except Exception as exc:
        raise RemoteError(_why(exc)) from None
    fileobj = RangeFile(remote, int(size), url)
    if size <= SMALL_FILE:  # one request for the whole file, as a small file on disk
        try:
            data = fileobj.read()
        finally:
            fileobj.close()
        return WholeFile(data, url), len(data)
    return fileobj, int(size)


class RangeFile(io.RawIOBase):
    """A remote file read through a block cache that turns reads into few, small range
    requests (see the module's docstring); never reads past `size`."""

    def __init__(self, remote: Any, size: int, name: str) -> None:
        super().__init__()
        self._remote = remote  # an fsspec file opened without a cache of its own
        self.size = size
        self.name = name
        self._position = 0
        self._fresh: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._kept: dict[int, bytes] = {}
        self._fresh_bytes = self._kept_bytes = 0
        self._spool: Any = None  # a temporary file: the blocks read on through dense items
        self._spooled = bytearray()  # a bit per block: in the spool
        self._spool_bytes = 0
        self._next: int | None = None  # where the last request ended
        self._ahead = 0  # the last request's length: doubled while reading on through

    # -- the file object interface (pydicom and ByteReader read through it) ----------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        count = self.size - self._position if size is None or size < 0 else size
        data = self.read_at(self._position, count)
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._fresh.clear()
            self._kept.clear()
            if self._spool is not None:
                self._spool.close()
            with contextlib.suppress(Exception):  # read only: closing cannot lose data
                self._remote.close()
        super().close()

    def localize(self, start: int, frames: int) -> int | None:
        """Download the whole file into the spool and give its descriptor, when the items
        of `frames` frames from `start` on lie so close together (under DENSE_GAP apart
        on average) that walking them would fetch every byte anyway: then the engine
        reads a local file (the compiled core, memory-mapped windows) instead of going
        through the cache item by item. None when it does not pay, or when the spool
        cannot be written (the cache goes on)."""
        if frames < 2 or (self.size - start) / frames >= DENSE_GAP or self.size > SPOOL_LIMIT:
            return None
        from concurrent.futures import Future, ThreadPoolExecutor

        # each request's bytes are written while the next request is under way (writing
        # to the temporary file cost as much as receiving): two requests' bytes in memory
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="encaps-lint-spool") as writer:
                written: Future[None] | None = None
                for position in range(0, self.size, MAX_READ_AHEAD):
                    stop = min(position + MAX_READ_AHEAD, self.size)
                    data = self._request(position, stop)
                    if written is not None:
                        written.result()
                    if len(data) < stop - position:  # shorter than it was: the cache copes
                        return None
                    written = writer.submit(self._to_spool, position, data)
                if written is not None:
                    written.result()
        except OSError as exc:
            if isinstance(exc, RemoteError):
                raise
            return None  # the spool: a full disk
        return int(self._spool.fileno())

    # -- the cache ----------------------------------------------------------------------

    def read_at(self, offset: int, count: int) -> bytes:
        """Up to `count` bytes at `offset`; fewer at the end of the file."""
        end = min(offset + count, self.size)
        if offset < 0 or offset >= end:
            return b""
        first, last = offset // BLOCK, (end - 1) // BLOCK
        pieces = []
        for number in range(first, last + 1):
            block = self._block(number)
            if block is None:
                self._fetch(max(number * BLOCK, offset), end)
                block = self._block(number)
                if block is None:  # the file is shorter than the size it was opened with
                    break
            pieces.append(block)
        self._keep_near(offset, end)
        self._evict()
        data = b"".join(pieces)
        start = offset - first * BLOCK
        return data[start : start + end - offset]

    def _block(self, number: int) -> bytes | None:
        block = self._kept.get(number)
        if block is None:
            block = self._fresh.get(number)
        if block is None and self._in_spool(number):
            block = os.pread(self._spool.fileno(), BLOCK, number * BLOCK)
        return block

    def _in_spool(self, number: int) -> bool:
        byte = number >> 3
        return byte < len(self._spooled) and bool(self._spooled[byte] >> (number & 7) & 1)

    def _fetch(self, position: int, end: int) -> None:
        """One request for the bytes from `position` (the first one missing) to `end`."""
        dense = False
        if self._next is None:  # the file's first request
            start, stop = 0, max(end, FIRST_FETCH)
        elif 0 <= position - self._next <= DENSE_GAP:  # on through dense items
            self._ahead = min(max(2 * self._ahead, AFTER), MAX_READ_AHEAD)
            start, stop = self._next, max(end, self._next + self._ahead)
            dense = True
        else:
            start, stop = position - BEFORE, end + AFTER
            self._ahead = 0
        start = max(start - start % BLOCK, 0)
        stop = min(-(-stop // BLOCK) * BLOCK, self.size)
        while start < position and self._block(start // BLOCK) is not None:
            start += BLOCK  # the blocks before the missed one that are there already
        data = self._request(start, stop)
        self._next = start + len(data)
        self._ahead = max(self._ahead, len(data))
        if dense and self._spool_bytes + len(data) <= SPOOL_LIMIT:
            try:
                self._to_spool(start, data)
                return
            except OSError:  # a full disk: no more spooling, the blocks stay in memory
                self._spool_bytes = SPOOL_LIMIT
        for at in range(0, len(data), BLOCK):
            number = (start + at) // BLOCK
            if number not in self._kept and number not in self._fresh:
                block = data[at : at + BLOCK]
                self._fresh[number] = block
                self._fresh_bytes += len(block)

    def _request(self, start: int, stop: int) -> bytes:
        """Bytes start to stop of the remote file, in one range request."""
        try:
            self._remote.seek(start)
            data = self._remote.read(stop - start)
        except Exception as exc:  # the backend's own errors, whatever their class
            raise RemoteError(f"reading bytes {start}-{stop - 1} failed: {_why(exc)}") from None
        if len(data) > stop - start:
            raise RemoteError("the server sent more bytes than asked: it ignores Range")
        return bytes(data)

    def _to_spool(self, start: int, data: bytes) -> None:
        """Write blocks read on through dense items to the spool, at their own offsets."""
        if self._spool is None:
            # closed in close(), not a with block: it lives as long as this file
            self._spool = tempfile.TemporaryFile(prefix="encaps-lint-")  # noqa: SIM115
            self._spooled = bytearray(self.size // BLOCK // 8 + 1)
        written = 0
        while written < len(data):  # pwrite may write less than asked
            written += os.pwrite(self._spool.fileno(), data[written:], start + written)
        self._spool_bytes += len(data)
        first, stop = start // BLOCK, -(-(start + len(data)) // BLOCK)
        while first < stop and first & 7:  # bit by bit up to a whole byte of the map
            self._spooled[first >> 3] |= 1 << (first & 7)
            first += 1
        whole = (stop - first) >> 3  # then eight blocks a byte
        self._spooled[first >> 3 : (first >> 3) + whole] = b"\xff" * whole
        for number in range(first + 8 * whole, stop):
            self._spooled[number >> 3] |= 1 << (number & 7)

    def _keep_near(self, offset: int, end: int) -> None:
        """Move the blocks around a read into the kept set: the reads that follow a read
        (an item header's frame, the previous frame's end) fall there."""
        if self._kept_bytes >= KEPT_LIMIT:
            return  # the earliest are kept: a later pass starts from the beginning
        first = max(offset - BEFORE, 0) // BLOCK
        last = (min(end + AFTER, self.size) - 1) // BLOCK
        for number in range(first, last + 1):
            block = self._fresh.pop(number, None)
            if block is not None:
                self._fresh_bytes -= len(block)
                self._kept[number] = block
                self._kept_bytes += len(block)

    def _evict(self) -> None:
        while self._fresh_bytes > FRESH_LIMIT and self._fresh:
            _, block = self._fresh.popitem(last=False)
            self._fresh_bytes -= len(block)


# -- folders -----------------------------------------------------------------------------


def expand_url(url: str) -> Iterator[PathEntry]:
    """The files of a folder URL in the order of a local walk (a folder's files in name
    order, then its sub-folders'), or the URL itself when it names a file. An http(s)
    URL is a folder when it ends with "/" (a listing page, as nginx's autoindex)."""
    try:
        fs, path = _filesystem(url)
        folder = _is_folder(fs, url, path)
    except RemoteError as exc:
        yield PathEntry(url, True, str(exc))
        return
    if not folder:
        yield PathEntry(url, True)
        return
    top = path.rstrip("/")
    folders = [path]  # as the backend names them (an http folder's URL ends with "/")
    while folders:
        current = folders.pop()
        try:
            listing = sorted(fs.ls(current, detail=True), key=lambda e: _base(e["name"]))
        except Exception as exc:
            where = _child(fs, url, top, current.rstrip("/")) + "/"
            yield PathEntry(where, True, f"cannot list the folder: {_why(exc)}")
            continue
        below = []
        for entry in listing:
            name = entry["name"]
            if entry.get("type") == "directory":
                if name.rstrip("/") != current.rstrip("/"):
                    below.append(name)
            else:
                yield PathEntry(_child(fs, url, top, name), False, root=url)
        folders.extend(reversed(below))


def _is_folder(fs: Any, url: str, path: str) -> bool:
    if url.startswith(("http://", "https://")):
        return url.endswith("/")
    try:
        return bool(fs.isdir(path))
    except Exception:  # opening it will say what is wrong
        return False


def _base(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def _child(fs: Any, url: str, top: str, name: str) -> str:
    """The URL of a listed `name`: the folder URL as given, then the name's path below
    the folder (as a local walk joins the folder given and the names it finds)."""
    if name == top:
        return url.rstrip("/")
    if name.startswith(top + "/"):
        return url.rstrip("/") + name[len(top) :]
    return str(fs.unstrip_protocol(name))

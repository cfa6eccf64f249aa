"""remote.RangeFile, the cache between the engine's reads and range requests, against a
fake remote file that records each request; and remote folders listed in the order of
a local walk (fsspec's in-memory filesystem). The real servers: tests/test_remote.py.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import JPEG_BASELINE, encapsulated, jpeg_frame

from dcmencaps_lint import lint_file, lint_paths, remote
from dcmencaps_lint.remote import BLOCK, RangeFile, RemoteError


class FakeRemote:
    """An fsspec file opened without a cache: seek, then read exactly one range."""

    def __init__(self, data: bytes, *, extra: int = 0, error: Exception | None = None) -> None:
        self.data = data
        self.extra = extra  # bytes sent past what was asked (a server ignoring Range)
        self.error = error
        self.requests: list[tuple[int, int]] = []  # (offset, bytes sent)
        self._position = 0
        self.closed = False

    def seek(self, offset: int) -> None:
        self._position = offset

    def read(self, count: int) -> bytes:
        if self.error is not None:
            raise self.error
        sent = self.data[self._position : self._position + count + self.extra]
        self.requests.append((self._position, len(sent)))
        return sent

    def close(self) -> None:
        self.closed = True

    @property
    def fetched(self) -> int:
        return sum(sent for _, sent in self.requests)


def cached(data: bytes, size: int | None = None, **kw: object) -> tuple[RangeFile, FakeRemote]:
    fake = FakeRemote(data, **kw)  # type: ignore[arg-type]
    return RangeFile(fake, len(data) if size is None else size, "fake://f"), fake


DATA = random.Random(7).randbytes(3 << 20)


def test_reads_give_the_bytes_asked_for_wherever_they_fall() -> None:
    f, _ = cached(DATA)
    chooser = random.Random(11)
    for _ in range(3000):
        offset = chooser.choice([chooser.randrange(len(DATA)), chooser.randrange(-10, 10)])
        count = chooser.choice([0, 1, 8, 64, 1024, 5000, 70000, 1 << 21])
        expected = DATA[offset : offset + count] if offset >= 0 else b""
        assert f.read_at(offset, count) == expected
    f.seek(len(DATA) - 5)
    assert f.read() == DATA[-5:] and f.read(10) == b"" and f.tell() == len(DATA)
    f.seek(-3, os.SEEK_END)
    buffer = bytearray(8)
    assert f.readinto(buffer) == 3 and bytes(buffer[:3]) == DATA[-3:]


def test_the_first_request_reads_the_first_64_kib() -> None:
    f, fake = cached(DATA)
    assert f.read_at(132, 4) == DATA[132:136]
    assert f.read_at(60000, 4000) == DATA[60000:64000]
    assert fake.requests == [(0, 64 << 10)]


def test_far_apart_items_cost_one_small_request_each() -> None:
    """An item header read brings the previous frame's last bytes and the first KB of
    its own frame: the frames' pass after the walk asks for nothing more."""
    f, fake = cached(DATA)
    f.read_at(0, 4)
    headers = list(range(200_000, len(DATA) - 2000, 150_001))
    for h in headers:  # the walk: item headers, 150 KB apart
        assert f.read_at(h, 8) == DATA[h : h + 8]
    walk_requests = len(fake.requests)
    for h in headers:  # the frames: each one's first KB, the last 64 bytes before the next
        assert f.read_at(h + 8, 1024) == DATA[h + 8 : h + 1032]
        assert f.read_at(h - 64, 64) == DATA[h - 64 : h]
    assert walk_requests == 1 + len(headers)
    assert len(fake.requests) == walk_requests  # nothing fetched twice
    for offset, sent in fake.requests[1:]:
        assert offset % BLOCK == 0 and sent <= 64 + 8 + 1032 + 2 * BLOCK


def test_dense_items_are_read_on_through_in_growing_requests_once() -> None:
    """Items 4 KB apart: the requests double up to 8 MiB, and the frames' pass reads
    them from the spool, so every byte is fetched once."""
    data = random.Random(3).randbytes(40 << 20)
    f, fake = cached(data)
    headers = range(64 << 10, len(data) - 4096, 4096)
    for h in headers:
        assert f.read_at(h, 8) == data[h : h + 8]
    assert len(fake.requests) < 20
    assert [sent for _, sent in fake.requests[2:6]] == sorted(s for _, s in fake.requests[2:6])
    assert max(sent for _, sent in fake.requests) == remote.MAX_READ_AHEAD
    before = len(fake.requests)
    for h in headers:
        assert f.read_at(h + 8, 1024) == data[h + 8 : h + 1032]
        assert f.read_at(h + 4096 - 64, 64) == data[h + 4096 - 64 : h + 4096]
    assert len(fake.requests) == before
    assert fake.fetched <= len(data)
    assert f._fresh_bytes <= remote.FRESH_LIMIT  # the spool holds them, not memory
    spool = f._spool
    f.close()
    assert spool.closed and fake.closed


def test_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "FRESH_LIMIT", 1 << 20)
    monkeypatch.setattr(remote, "KEPT_LIMIT", 256 << 10)
    monkeypatch.setattr(remote, "SPOOL_LIMIT", 0)  # no spool: what is read stays in memory
    f, _ = cached(DATA)
    for h in range(0, len(DATA) - 8, 4096):
        assert f.read_at(h, 8) == DATA[h : h + 8]
    assert f._fresh_bytes <= 1 << 20
    assert f._kept_bytes <= (256 << 10) + 8 * BLOCK
    assert f._spool is None
    for h in range(0, len(DATA) - 8, 4096):  # read again: fetched again where dropped
        assert f.read_at(h + 8, 1024) == DATA[h + 8 : h + 1032]


def test_a_full_disk_keeps_the_blocks_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(remote.os, "pwrite", full)
    f, _ = cached(DATA)
    for h in range(0, len(DATA) - 8, 4096):
        assert f.read_at(h, 8) == DATA[h : h + 8]
    for h in range(0, len(DATA) - 1032, 4096):
        assert f.read_at(h + 8, 1024) == DATA[h + 8 : h + 1032]


def test_a_file_shorter_than_its_size_reads_short() -> None:
    f, fake = cached(DATA[:100_000], size=len(DATA))  # cut after it was listed
    assert f.read_at(99_990, 100) == DATA[99_990:100_000]
    assert f.read_at(2_000_000, 100) == b""
    assert len(fake.requests) <= 3


def test_a_server_that_ignores_range_is_an_error() -> None:
    f, _ = cached(DATA, extra=1 << 20)
    with pytest.raises(RemoteError, match="ignores Range"):
        f.read_at(0, 10)


class Refused(Exception):
    status = 403
    message = "Forbidden"


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (Refused(), "HTTP 403 Forbidden"),
        (FileNotFoundError("x"), "not found"),
        (PermissionError("no"), "access denied (no)"),
        (TimeoutError(), "timed out"),
        (ValueError("odd"), "ValueError: odd"),
    ],
)
def test_backend_errors_become_one_line(error: Exception, said: str) -> None:
    f, _ = cached(DATA, error=error)
    with pytest.raises(RemoteError) as raised:
        f.read_at(5, 10)
    assert str(raised.value) == f"reading bytes 0-65535 failed: {said}"
    assert isinstance(raised.value, OSError)


def test_an_interrupt_is_not_swallowed() -> None:
    f, _ = cached(DATA, error=KeyboardInterrupt())  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        f.read_at(5, 10)


def test_dense_items_make_the_file_local_in_large_requests() -> None:
    data = random.Random(5).randbytes(20 << 20)
    f, fake = cached(data)
    assert f.read_at(0, 300) == data[:300]  # the data set
    fd = f.localize(70_000, frames=5_000)  # 4 KB apart: the walk would fetch it all
    assert fd is not None and os.pread(fd, len(data), 0) == data
    assert [sent for _, sent in fake.requests[1:]] == [remote.MAX_READ_AHEAD] * 2 + [4 << 20]
    before = len(fake.requests)
    assert f.read_at(12345, 70_000) == data[12345:82345]  # now from the spool
    assert len(fake.requests) == before


@pytest.mark.parametrize(
    ("start", "frames", "why"),
    [
        (70_000, 1, "one frame"),
        (70_000, 10, "300 KB apart: the cache fetches less"),
    ],
)
def test_far_apart_frames_stay_remote(start: int, frames: int, why: str) -> None:
    f, fake = cached(DATA)
    assert f.localize(start, frames) is None, why
    assert fake.requests == []


def test_a_file_over_the_spool_limit_stays_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "SPOOL_LIMIT", 1 << 20)
    f, fake = cached(DATA)
    assert f.localize(1000, 3000) is None and fake.requests == []


def test_a_full_disk_leaves_the_file_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(remote.os, "pwrite", full)
    f, _ = cached(DATA)
    assert f.localize(1000, 3000) is None
    assert f.read_at(100_000, 10) == DATA[100_000:100_010]


def test_an_error_while_making_it_local_is_remote_error() -> None:
    f, _ = cached(DATA, error=Refused())
    with pytest.raises(RemoteError, match="HTTP 403"):
        f.localize(1000, 3000)


# -- through the engine, on fsspec's in-memory filesystem -----------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The same folders on disk and in fsspec's memory filesystem."""
    import fsspec

    memory = fsspec.filesystem("memory")
    names = ["b.dcm", "a/z.dcm", "a/c/d.dcm", "a/b.dcm", "c.dcm", "a/c/e/f.dcm", "B.dcm"]
    for n, name in enumerate(names):
        frames = [jpeg_frame(64 + 2 * n), jpeg_frame(4000)]
        data = encapsulated(frames, ts=JPEG_BASELINE, bot="auto").data
        if name == "c.dcm":
            data = data[:-20]  # cut: a finding
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
        memory.pipe(f"/tree/{name}", data)
    yield tmp_path, "memory://tree/"
    memory.rm("/tree", recursive=True)


def test_a_folder_url_is_listed_in_the_order_of_a_local_walk(tree: tuple[Path, str]) -> None:
    local, url = tree
    here = lint_paths([f"{local}/"])
    there = lint_paths([url])
    assert [f.path.replace(url, "") for f in there.files] == [
        f.path.replace(f"{local}/", "") for f in here.files
    ]
    assert [f._replace(path="") for f in there.files] == [f._replace(path="") for f in here.files]
    assert [f.status for f in there.files].count("failed") == 1


def test_a_silent_server_times_out_as_prs004(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts and never answers: the backend's timeout (here fsspec's
    configuration, as a user would set it) ends the file as PRS004, not a hang."""
    import aiohttp
    import fsspec.config

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setitem(
        fsspec.config.conf, "http", {"client_kwargs": {"timeout": aiohttp.ClientTimeout(total=1)}}
    )
    try:
        port = listener.getsockname()[1]
        report = lint_file(f"http://127.0.0.1:{port}/a.dcm")
    finally:
        stop.set()
        thread.join()
        for s in [*accepted, listener]:
            s.close()
    assert report.status == "error"
    (finding,) = report.findings
    assert finding.code == "PRS004"
    assert finding.message == "cannot read the file: timed out"


def test_a_dense_remote_file_is_linted_as_a_local_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small frames: the file is made local (one download into the spool) and the
    report is the local file's, frame offsets and all."""
    import fsspec

    frames = [jpeg_frame(1000 + 2 * (n % 50)) for n in range(3000)]
    frames[1234] = frames[1234][:-2] + b"\x00\x00"  # no EOI: a finding in the middle
    data = encapsulated(frames, ts=JPEG_BASELINE, bot="auto").data
    (tmp_path / "dense.dcm").write_bytes(data)
    fsspec.filesystem("memory").pipe("/dense/dense.dcm", data)
    made_local: list[int | None] = []
    localize = RangeFile.localize

    def recorded(self: RangeFile, start: int, count: int) -> int | None:
        made_local.append(localize(self, start, count))
        return made_local[-1]

    monkeypatch.setattr(RangeFile, "localize", recorded)
    try:
        there = lint_file("memory://dense/dense.dcm")
    finally:
        fsspec.filesystem("memory").rm("/dense", recursive=True)
    here = lint_file(tmp_path / "dense.dcm")
    assert len(made_local) == 1 and made_local[0] is not None
    assert there._replace(path="") == here._replace(path="")
    assert [f.code for f in there.findings] == ["CSM002"]

"""writer.write_file: the new file whole, or the old one untouched.

Each guarantee of the module's docstring: pieces assembled exactly (kernel copies and
the read-and-write fallback), a refused or failed write leaving the destination and its
folder as they were (a verify that says no, a full disk, a kernel file-size limit, a
source shorter than a copy), the permission bits kept, links written through, and a
process killed at random moments leaving the old file or the new one, never a mix.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dcmencaps_lint import writer
from dcmencaps_lint.writer import Copy, WriteRefused, write_file

SOURCE_SIZE = 3 << 20


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "image.dcm"
    path.write_bytes(random.Random(12).randbytes(SOURCE_SIZE))
    return path


def _pieces_and_expected(data: bytes) -> tuple[list[writer.Piece], bytes]:
    pieces: list[writer.Piece] = [
        b"new head",
        Copy(10, 1 << 20),  # a large range: the kernel copies it
        b"",
        b"\x00" * 3,
        Copy(SOURCE_SIZE - 100, 100),  # up to the very end
        Copy(7, 1),
        b"tail",
    ]
    expected = b"new head" + data[10 : 10 + (1 << 20)] + b"\x00" * 3 + data[-100:]
    return pieces, expected + data[7:8] + b"tail"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(writer.SUFFIX))


def _accept(_: str) -> None:
    return None


@pytest.mark.parametrize("copying", ["kernel", "refused", "missing"])
def test_the_pieces_are_written_in_order(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copying: str
) -> None:
    """With os.copy_file_range, with it refusing (another file system: EXDEV), and
    without it: the same bytes."""
    if copying == "refused":

        def refuse(*_: object) -> int:
            raise OSError(errno.EXDEV, "cross-device")

        monkeypatch.setattr(os, "copy_file_range", refuse)
    elif copying == "missing":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    data = source.read_bytes()
    pieces, expected = _pieces_and_expected(data)
    destination = tmp_path / "repaired.dcm"
    write_file(source, pieces, destination, _accept)
    assert destination.read_bytes() == expected
    assert source.read_bytes() == data
    assert _leftovers(tmp_path) == []


def test_in_place_replaces_the_file_and_keeps_its_mode(source: Path, tmp_path: Path) -> None:
    source.chmod(0o640)
    data = source.read_bytes()
    pieces, expected = _pieces_and_expected(data)
    seen: list[bytes] = []

    def verify(path: str) -> None:
        seen.append(Path(path).read_bytes())  # the new file, whole, before the rename
        assert Path(path).parent == tmp_path and Path(path).name.startswith(".image.dcm.")
        return None

    write_file(source, pieces, source, verify)
    assert seen == [expected]
    assert source.read_bytes() == expected
    assert source.stat().st_mode & 0o777 == 0o640
    assert _leftovers(tmp_path) == []


def test_a_new_file_takes_the_sources_mode(source: Path, tmp_path: Path) -> None:
    source.chmod(0o604)
    write_file(source, [Copy(0, 10)], tmp_path / "new.dcm", _accept)
    assert (tmp_path / "new.dcm").stat().st_mode & 0o777 == 0o604


def test_a_link_is_written_through(source: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.dcm"
    link.symlink_to(source.name)
    write_file(link, [b"fixed"], link, _accept)
    assert link.is_symlink()
    assert source.read_bytes() == b"fixed"


def _unchanged(destination: Path, before: bytes, mtime: int) -> None:
    assert destination.read_bytes() == before
    assert destination.stat().st_mtime_ns == mtime
    assert _leftovers(destination.parent) == []


def test_a_refused_file_is_removed_and_the_old_one_stays(source: Path) -> None:
    before, mtime = source.read_bytes(), source.stat().st_mtime_ns
    with pytest.raises(WriteRefused, match="frame 3 differs"):
        write_file(source, [b"bad"], source, lambda _: "frame 3 differs")
    _unchanged(source, before, mtime)


@pytest.mark.parametrize("when", ["writing new bytes", "copying"])
def test_a_full_disk_leaves_the_old_file(
    source: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """ENOSPC after some bytes are written: the error goes up, nothing is replaced."""
    before, mtime = source.read_bytes(), source.stat().st_mtime_ns
    written = 0
    real_write, real_copy = os.write, os.copy_file_range

    def write(fd: int, data: bytes) -> int:
        nonlocal written
        if when == "writing new bytes" and written > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        written += len(data)
        return real_write(fd, data)

    def copy(source_fd: int, fd: int, count: int, offset: int) -> int:
        if when == "copying":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(source_fd, fd, count, offset)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "copy_file_range", copy)
    with pytest.raises(OSError) as raised:
        write_file(source, [b"x" * 64, b"y" * 64, Copy(0, 1 << 20), b"z" * 64], source, _accept)
    assert raised.value.errno == errno.ENOSPC
    _unchanged(source, before, mtime)


def test_a_kernel_file_size_limit_leaves_the_old_file(source: Path) -> None:
    """A real refusal by the kernel (RLIMIT_FSIZE: EFBIG), in a child process."""
    before, mtime = source.read_bytes(), source.stat().st_mtime_ns
    child = textwrap.dedent(
        f"""
        import resource, signal, sys
        from dcmencaps_lint.writer import Copy, write_file
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        try:
            write_file({str(source)!r}, [Copy(0, {SOURCE_SIZE})], {str(source)!r}, lambda _: None)
        except OSError as exc:
            sys.exit(f"refused: {{exc.errno}}")
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert done.stderr.strip() == f"refused: {errno.EFBIG}"
    _unchanged(source, before, mtime)


def test_a_copy_past_the_end_of_the_source_fails(source: Path) -> None:
    before, mtime = source.read_bytes(), source.stat().st_mtime_ns
    with pytest.raises(OSError, match="the source ends"):
        write_file(source, [Copy(SOURCE_SIZE - 10, 20)], source, _accept)
    _unchanged(source, before, mtime)


KILLED_CHILD = """
import sys
from dcmencaps_lint.writer import Copy, write_file
source, destination = sys.argv[1:3]
step = 1 << 16
pieces = [piece for n in range(512) for piece in (b"%08d" % n, Copy(n * step, step))]
print("ready", flush=True)
write_file(source, pieces, destination, lambda _: None)
print("done", flush=True)
"""


def test_a_process_killed_while_writing_leaves_the_old_file_or_the_new_one(
    tmp_path: Path,
) -> None:
    """SIGKILL at random moments of a 32 MiB write: the destination's bytes are always
    exactly the old file's or exactly the new file's."""
    source = tmp_path / "source.dcm"
    source.write_bytes(random.Random(5).randbytes(512 << 16))
    destination = tmp_path / "image.dcm"
    old = b"the old file" * 1000
    step = 1 << 16
    data = source.read_bytes()
    new = b"".join(b"%08d" % n + data[n * step : (n + 1) * step] for n in range(512))
    digests = {hashlib.sha256(old).hexdigest(): "old", hashlib.sha256(new).hexdigest(): "new"}
    chance = random.Random(20261204)
    outcomes = set()
    for _ in range(12):
        destination.write_bytes(old)
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_CHILD, str(source), str(destination)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(chance.uniform(0, 0.03))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        outcomes.add(digests[hashlib.sha256(destination.read_bytes()).hexdigest()])
        for leftover in _leftovers(tmp_path):  # a killed writer may leave its temporary file
            assert leftover.startswith(".image.dcm.")
            (tmp_path / leftover).unlink()
    assert outcomes <= {"old", "new"}
    assert "old" in outcomes  # some kills landed before the rename

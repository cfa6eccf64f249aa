"""What a run guarantees, whatever it is pointed at.

- Files are opened read-only and never changed, for every output format (SARIF hashes
  every byte, HTML reads excerpts): content and mtime are the same afterwards, and an
  audit hook sees no open() for writing and no writable mmap() during the run.
- A time limit per file (--timeout, Options.timeout) turns a file whose linting hangs
  into a PRS005 finding; the run finishes and goes on with the other files.
- With --jobs > 1 a worker that dies (killed by a signal, os._exit) costs only the file
  it was on: PRS005, the other files are linted, the output stays in input order.
- Memory stays bounded on a sparse 5 GiB file whose BOT claims 4 GiB of entries.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import io_audit
import pytest
from builders import ITEM, Built, encapsulated, header, item, jpeg_frame
from click.testing import CliRunner

from dcmencaps_lint import engine, lint_file, lint_paths, workers
from dcmencaps_lint.cli import main
from dcmencaps_lint.context import Context
from dcmencaps_lint.engine import Options
from dcmencaps_lint.findings import Finding
from dcmencaps_lint.formats import RENDERERS
from dcmencaps_lint.model import FileReport, Severity
from dcmencaps_lint.registry import RuleSet, load_rules
from dcmencaps_lint.workers import timeout_message

HANG = 30  # seconds a hanging rule sleeps: far past the 1 s limit the tests set


def state(path: Path) -> tuple[str, int, int]:
    """What linting must not change: content, modification time, size."""
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Valid, broken, hostile, nested and non-DICOM files."""
    root = tmp_path / "scans"
    (root / "sub").mkdir(parents=True)
    encapsulated([jpeg_frame(), jpeg_frame()], eot="auto").write(root / "a_valid.dcm")
    encapsulated([jpeg_frame(), jpeg_frame()], bot=[0, 42]).write(root / "b_bot004.dcm")
    encapsulated([jpeg_frame()], bot=item(b"\x00" * 10), end=b"").write(root / "c_bot001.dcm")
    hostile = encapsulated([jpeg_frame()])
    (root / "sub" / "d_hostile.dcm").write_bytes(
        hostile.data[: hostile.value_offset] + header(ITEM, 0xFFFFFFF0) + bytes(64)
    )
    (root / "sub" / "e_notes.txt").write_text("not DICOM\n")
    return root


class TestReadOnly:
    @pytest.mark.parametrize("fmt", sorted(RENDERERS))
    def test_no_file_changes_and_no_write_access(self, folder: Path, fmt: str) -> None:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        before = {p: state(p) for p in files}
        with io_audit.watching() as events:
            # One job: the whole run is in this process, where the hook sees it.
            result = CliRunner().invoke(main, ["-j", "1", "--deep", "--format", fmt, str(folder)])
        assert result.exit_code == 1, result.output
        assert io_audit.writes(events) == []
        opened = {str(args[0]) for event, args in events if event == "open"}
        assert {str(p) for p in files} <= opened  # every file was indeed opened, read-only
        assert {p: state(p) for p in files} == before

    @pytest.mark.parametrize("fmt", ["sarif", "html"])
    def test_with_workers(self, folder: Path, fmt: str) -> None:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        before = {p: state(p) for p in files}
        result = CliRunner().invoke(main, ["-j", "2", "--format", fmt, str(folder)])
        assert result.exit_code == 1, result.output
        assert {p: state(p) for p in files} == before

    def test_dense_items_are_read_through_a_read_only_map(
        self, tmp_path: Path, implementation: str
    ) -> None:
        """A whole-slide-like file (100 frames of 1 KB) is walked through memory-mapped
        windows: mapped read-only, and the file unchanged. (The compiled core maps its
        windows in C, unseen by the audit hook, from the same read-only descriptor: a
        writable shared map of it would fail with EACCES.)"""
        path = tmp_path / "dense.dcm"
        encapsulated([jpeg_frame(1000)] * 100, bot="empty", eot="auto").write(path)  # > SMALL_FILE
        before = state(path)
        with io_audit.watching() as events:
            report = lint_file(path)
        assert report.status == "passed", report.findings
        maps = [args for event, args in events if event == "mmap.__new__"]
        assert maps or implementation == "compiled", "dense items are read through a map"
        assert io_audit.writes(events) == []  # opened read-only, every map ACCESS_READ
        assert state(path) == before

    def test_the_api_on_paths_and_file_objects(self, folder: Path) -> None:
        path = folder / "b_bot004.dcm"
        before = state(path)
        with io_audit.watching() as events:
            lint_file(path, deep=True)
            lint_paths([folder], options=Options(content_hash=True, details=True))
            with open(path, "rb") as fh:
                lint_file(fh, deep=True)
        assert io_audit.writes(events) == []
        assert state(path) == before


def patched_rules(check: Callable[[Context], Iterator[Finding]]) -> RuleSet:
    """The rules with TSX009's check replaced (TSX009 runs on every walked element)."""
    rules = load_rules()
    return RuleSet(tuple(r._replace(check=check) if r.code == "TSX009" else r for r in rules))


def on_three_frames(action: Callable[[], None]) -> Callable[[Context], Iterator[Finding]]:
    """A check that does `action` on a file of 3 frames and finds nothing anywhere."""

    def check(ctx: Context) -> Iterator[Finding]:
        if ctx.expected_frames == 3:
            action()
        return iter(())

    return check


def hang() -> None:
    time.sleep(HANG)


def hang_deaf() -> None:
    """Hang where no timer can interrupt: only killing the process stops it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGINT})
    time.sleep(HANG)


def die_by_sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def die_by_exit() -> None:
    os._exit(3)


@pytest.fixture
def three_files(tmp_path: Path) -> list[Path]:
    """A broken file, the file of 3 frames the patched rule acts on, a broken file."""
    return [
        encapsulated([jpeg_frame()], bot=item(b"\x00" * 10)).write(tmp_path / "1_bot001.dcm"),
        encapsulated([jpeg_frame()] * 3).write(tmp_path / "2_three_frames.dcm"),
        encapsulated([jpeg_frame()] * 2, bot=[0, 42]).write(tmp_path / "3_bot004.dcm"),
    ]


def summary(report: FileReport) -> tuple[str, str, list[tuple[str, Severity, int | None, str]]]:
    findings = [(f.code, f.severity, f.offset, f.message) for f in report.findings]
    return Path(report.path).name, report.status, findings


def expected_others(files: list[Path]) -> list[tuple[str, str, list]]:
    return [summary(lint_file(files[0])), summary(lint_file(files[2]))]


class TestTimeout:
    @pytest.mark.parametrize(
        ("jobs", "action"),
        [(1, hang), (2, hang), (2, hang_deaf)],
        ids=["one-job-timer", "workers-killed", "workers-killed-deaf"],
    )
    def test_hanging_file_becomes_prs005(
        self, three_files: list[Path], monkeypatch: pytest.MonkeyPatch, jobs: int, action
    ) -> None:
        expected = expected_others(three_files)
        monkeypatch.setattr(engine, "load_rules", lambda: patched_rules(on_three_frames(action)))
        report = lint_paths(three_files, options=Options(timeout=1), jobs=jobs)
        got = [summary(f) for f in report.files]
        assert got == [
            expected[0],
            ("2_three_frames.dcm", "error", [("PRS005", Severity.ERROR, None, timeout_message(1))]),
            expected[1],
        ]

    def test_hanging_file_among_many_in_batches(
        self, three_files: list[Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Workers take and answer files in batches (workers.BATCH): the file that hangs
        mid-batch, not the batch, gets PRS005; the files around it keep their order."""
        expected = expected_others(three_files)
        monkeypatch.setattr(engine, "load_rules", lambda: patched_rules(on_three_frames(hang)))
        others = [three_files[0], three_files[2]] * (workers.DEPTH // 2 + 3)
        # A worker's sixth task: five results are made and not yet sent when it hangs.
        middle = 5
        files = [*others[:middle], three_files[1], *others[middle:]]
        report = lint_paths(files, options=Options(timeout=1), jobs=2)
        timed_out = (
            "2_three_frames.dcm",
            "error",
            [("PRS005", Severity.ERROR, None, timeout_message(1))],
        )
        want = [expected[n % 2] for n in range(len(others))]
        assert [summary(f) for f in report.files] == [*want[:middle], timed_out, *want[middle:]]

    def test_cli_timeout_option(
        self, three_files: list[Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(engine, "load_rules", lambda: patched_rules(on_three_frames(hang)))
        result = CliRunner().invoke(main, ["-j", "1", "--timeout", "1", *map(str, three_files)])
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert f"{three_files[1]}: PRS005 error {timeout_message(1)} [internal-error]" in lines
        assert [line.split(":")[0] for line in lines[:-1]] == [
            str(three_files[0]),
            str(three_files[1]),
            str(three_files[2]),
        ]

    def test_the_timer_is_restored(self, three_files: list[Path]) -> None:
        def mine(signum: int, frame: object) -> None:
            raise AssertionError("not expected to fire")

        previous = signal.signal(signal.SIGALRM, mine)
        try:
            lint_paths(three_files, options=Options(timeout=5))
            assert signal.getsignal(signal.SIGALRM) is mine
            assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        finally:
            signal.signal(signal.SIGALRM, previous)


class TestWorkerCrash:
    @pytest.mark.parametrize(
        ("action", "how"),
        [(die_by_sigkill, "killed by SIGKILL"), (die_by_exit, "exit status 3")],
        ids=["sigkill", "os-exit"],
    )
    def test_crashing_file_becomes_prs005(
        self, three_files: list[Path], monkeypatch: pytest.MonkeyPatch, action, how: str
    ) -> None:
        expected = expected_others(three_files)
        monkeypatch.setattr(engine, "load_rules", lambda: patched_rules(on_three_frames(action)))
        files = three_files * 3  # the crash, three times, among files linted before and after
        report = lint_paths(files, options=Options(), jobs=2)
        message = f"the worker process linting this file died ({how}); abandoned"
        crashed = ("2_three_frames.dcm", "error", [("PRS005", Severity.ERROR, None, message)])
        assert [summary(f) for f in report.files] == [expected[0], crashed, expected[1]] * 3

    def test_cli_output_in_input_order(
        self, three_files: list[Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(
            engine, "load_rules", lambda: patched_rules(on_three_frames(die_by_sigkill))
        )
        result = CliRunner().invoke(main, ["-j", "2", "--format", "json", *map(str, three_files)])
        assert result.exit_code == 1
        assert '"code": "PRS005"' in result.stdout
        paths = [
            line.split('"path": "')[1].split('"')[0]
            for line in result.stdout.splitlines()
            if '"path": ' in line
        ]
        assert paths == [str(p) for p in three_files]


class TestMemory:
    @pytest.fixture
    def sparse(self, tmp_path: Path) -> Path:
        """5 GiB, nearly all a hole: a valid prefix, then a BOT item whose length claims
        0xFFFFFFF0 bytes (a billion entries, all inside the file), garbage entries."""
        built: Built = encapsulated([jpeg_frame()])
        path = tmp_path / "sparse.dcm"
        with open(path, "wb") as fh:
            fh.write(built.data[: built.value_offset] + header(ITEM, 0xFFFFFFF0))
            fh.write(bytes(range(256)) * 64)
            fh.truncate(5 * 2**30)
        return path

    @pytest.mark.parametrize("args", [["-j", "1"], ["-j", "2", "--format", "sarif"]])
    def test_peak_rss_of_a_lint_below_200_mb(
        self, sparse: Path, tmp_path: Path, args: list[str]
    ) -> None:
        out, peak = tmp_path / "out.txt", tmp_path / "peak.txt"
        # The peak is measured in the linting process itself: its own memory's high-water
        # mark (VmHWM: this process image only) and its workers' (RUSAGE_CHILDREN). The
        # wait4 usage of a child would include this test process's memory at the fork,
        # which Linux carries over into the child's ru_maxrss.
        measured = (
            "import atexit, resource, sys\n"
            "def peak():\n"
            "    hwm = next(int(line.split()[1]) for line in open('/proc/self/status')"
            " if line.startswith('VmHWM:'))\n"
            "    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            f"    open({str(peak)!r}, 'w').write(str(max(hwm, children)))\n"
            "atexit.register(peak)\n"
            "from dcmencaps_lint.cli import main\n"
            "main(sys.argv[1:])\n"
        )
        command = [sys.executable, "-c", measured, *args, "-o", str(out), str(sparse)]
        process = subprocess.run(command, stderr=subprocess.DEVNULL, check=False)
        assert process.returncode == 1
        assert "BOT006" in out.read_text()  # a billion BOT entries for one frame
        assert 0 < int(peak.read_text()) * 1024 < 200 * 2**20  # KiB on Linux

"""The Python API: lint_file on paths, bytes and file objects; lint_paths; frozen results."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import mmap
import os
import pickle
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import io_audit
import pytest
from builders import Built, encapsulated, item, jpeg_frame

from dcmencaps_lint import FileReport, Finding, Report, Severity, Summary, lint_file, lint_paths


@pytest.fixture
def watch_io() -> Iterator[list[io_audit.Event]]:
    """Every open() and mmap() made during the test (see io_audit)."""
    with io_audit.watching() as events:
        yield events


def bot004() -> Built:
    """BOT004: the second BOT entry points inside the first fragment."""
    return encapsulated([jpeg_frame(), jpeg_frame()], bot=[0, 42])


def codes(report: FileReport) -> list[str]:
    return [f.code for f in report.findings]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestLintFile:
    def test_path_as_str_and_pathlib(self, tmp_path: Path) -> None:
        built = bot004()
        path = built.write(tmp_path / "bad.dcm")
        as_str = lint_file(str(path))
        as_path = lint_file(path)
        assert as_str == as_path
        assert as_str.path == str(path)
        assert as_str.status == "failed"
        assert [(f.code, f.severity, f.offset, f.frame) for f in as_str.findings] == [
            ("BOT004", Severity.ERROR, built.bot_entry(1), 2)
        ]

    def test_bytes_and_bytearray(self, tmp_path: Path) -> None:
        built = bot004()
        from_path = lint_file(built.write(tmp_path / "bad.dcm"))
        from_bytes = lint_file(built.data)
        assert from_bytes.path == "<bytes>"
        assert from_bytes.findings == from_path.findings
        assert lint_file(bytearray(built.data)).findings == from_path.findings
        assert lint_file(built.data, path="named.dcm").path == "named.dcm"

    def test_open_file_object_stays_open_and_unchanged(self, tmp_path: Path) -> None:
        built = bot004()
        path = built.write(tmp_path / "bad.dcm")
        with open(path, "rb") as fh:
            fh.seek(7)
            report = lint_file(fh)
            assert not fh.closed
            assert fh.tell() == 7
            fh.seek(0)
            assert fh.read() == built.data
        assert report.path == str(path)
        assert report.findings == lint_file(built.data).findings

    def test_bytesio_stays_open_and_unchanged(self) -> None:
        built = bot004()
        stream = io.BytesIO(built.data)
        stream.seek(3)
        report = lint_file(stream)
        assert not stream.closed
        assert stream.tell() == 3
        assert stream.getvalue() == built.data
        assert report.path == "<stream>"
        assert report.findings == lint_file(built.data).findings

    def test_valid_file_passes(self) -> None:
        report = lint_file(encapsulated([jpeg_frame(), jpeg_frame()]).data)
        assert report.status == "passed"
        assert report.findings == ()
        assert report.fragments == 2
        assert report.frames_found == 2

    def test_select_and_ignore(self) -> None:
        data = encapsulated([jpeg_frame(), jpeg_frame()], bot=[0, 42], end=b"").data
        assert sorted(codes(lint_file(data))) == ["BOT004", "ITM006"]
        assert codes(lint_file(data, select=["BOT"])) == ["BOT004"]
        assert codes(lint_file(data, ignore=["BOT004"])) == ["ITM006"]

    def test_missing_file_is_prs004(self, tmp_path: Path) -> None:
        report = lint_file(tmp_path / "absent.dcm")
        assert report.status == "error"
        assert codes(report) == ["PRS004"]


class TestLintPaths:
    def test_report_and_summary(self, tmp_path: Path) -> None:
        encapsulated([jpeg_frame()]).write(tmp_path / "a_ok.dcm")
        bot004().write(tmp_path / "b_bad.dcm")
        frame = jpeg_frame(32)  # BOT007 (warning): 4 fragments, 2 frames, empty BOT
        encapsulated([[frame[:16], frame[16:]], [frame[:16], frame[16:]]], bot="empty").write(
            tmp_path / "c_warn.dcm"
        )
        (tmp_path / "d_notes.txt").write_text("no DICOM here")
        report = lint_paths([tmp_path])
        assert isinstance(report, Report)
        assert [(Path(f.path).name, f.status) for f in report.files] == [
            ("a_ok.dcm", "passed"),
            ("b_bad.dcm", "failed"),
            ("c_warn.dcm", "passed"),
            ("d_notes.txt", "skipped"),
        ]
        assert report.summary == Summary(
            files=4, passed=2, failed=1, skipped=1, errors=1, warnings=1, infos=0
        )
        assert report.summary == Summary.of(report.files)

    def test_explicit_paths_keep_their_order(self, tmp_path: Path) -> None:
        first = bot004().write(tmp_path / "z.dcm")
        second = encapsulated([jpeg_frame()]).write(tmp_path / "a.dcm")
        report = lint_paths([first, str(second)])
        assert [f.path for f in report.files] == [str(first), str(second)]

    def test_non_dicom_named_explicitly_is_prs001(self, tmp_path: Path) -> None:
        notes = tmp_path / "notes.txt"
        notes.write_text("no DICOM here")
        report = lint_paths([notes])
        assert codes(report.files[0]) == ["PRS001"]
        assert report.summary.failed == 1

    def test_jobs_give_the_same_report(self, tmp_path: Path) -> None:
        for n in range(4):
            bot004().write(tmp_path / f"bad{n}.dcm")
            encapsulated([jpeg_frame()]).write(tmp_path / f"ok{n}.dcm")
        assert lint_paths([tmp_path], jobs=2) == lint_paths([tmp_path], jobs=1)


class TestResultsAreFrozenAndPicklable:
    def test_finding_is_frozen(self) -> None:
        finding = lint_file(bot004().data).findings[0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            finding.offset = 0  # type: ignore[misc]

    def test_file_report_is_frozen(self) -> None:
        report = lint_file(bot004().data)
        with pytest.raises(AttributeError):
            report.status = "passed"  # type: ignore[misc]
        with pytest.raises(AttributeError):
            report.findings = ()  # type: ignore[misc]

    def test_pickle_round_trip(self, tmp_path: Path) -> None:
        bot004().write(tmp_path / "bad.dcm")
        report = lint_paths([tmp_path])
        file_report = report.files[0]
        finding = file_report.findings[0]
        assert isinstance(finding, Finding)
        assert pickle.loads(pickle.dumps(finding)) == finding
        assert pickle.loads(pickle.dumps(file_report)) == file_report
        assert pickle.loads(pickle.dumps(report)) == report


class TestNeverWrites:
    def test_file_bytes_and_mtime_unchanged(self, tmp_path: Path) -> None:
        path = bot004().write(tmp_path / "bad.dcm")
        os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
        before = (digest(path), path.stat().st_mtime_ns, path.stat().st_size)
        lint_file(path)
        lint_paths([tmp_path], jobs=1)
        assert (digest(path), path.stat().st_mtime_ns, path.stat().st_size) == before

    def test_read_only_copy_lints_the_same(self, tmp_path: Path) -> None:
        source = bot004().write(tmp_path / "bad.dcm")
        copy = tmp_path / "read-only.dcm"
        shutil.copyfile(source, copy)
        copy.chmod(0o444)
        try:
            report = lint_file(copy)
            assert report.findings == lint_file(source).findings
            assert report.status == "failed"
            assert stat.S_IMODE(copy.stat().st_mode) == 0o444
        finally:
            copy.chmod(0o644)

    def test_opens_read_only(self, tmp_path: Path, watch_io: list[Any]) -> None:
        path = bot004().write(tmp_path / "bad.dcm")
        del watch_io[:]  # the write above is the test's own
        report = lint_file(path)
        assert codes(report) == ["BOT004"]
        opens = [args for event, args in watch_io if event == "open" and args[0] == str(path)]
        assert opens, "the audit hook saw the file being opened"
        for _path, mode, flags in opens:
            if mode is not None:
                assert set(mode) <= set("rb"), mode
            else:
                assert flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC) == 0
        for event, args in watch_io:
            if event == "mmap.__new__":
                assert args[2] == mmap.ACCESS_READ


@pytest.mark.parametrize("data", [b"", b"\x00", b"DICM", b"\x00" * 200])
def test_empty_or_tiny_input_is_prs001(data: bytes) -> None:
    report = lint_file(data)
    assert report.status == "error"
    assert codes(report) == ["PRS001"]


def test_every_truncation_gives_a_report() -> None:
    built = encapsulated([jpeg_frame()], bot=item(b"\x00" * 4))
    for cut in range(built.pixel_offset, len(built.data)):
        report = lint_file(built.data[:cut])
        assert isinstance(report, FileReport)
        if cut > built.items[1] + 8:  # inside the fragment: the walker reports it
            assert report.status == "failed", cut


def test_a_linter_gives_lint_files_reports_one_after_another(tmp_path: Path) -> None:
    """Linter(options) chooses the rules once; each lint is lint_file's report."""
    from dcmencaps_lint import Linter, Options, Selection

    broken = encapsulated([jpeg_frame(33), jpeg_frame(32)])  # an odd fragment: ITM004
    path = broken.write(tmp_path / "broken.dcm")
    clean = encapsulated([jpeg_frame(32)]).data
    options = Options(Selection(("ITM", "BOT"), ("BOT007",)))
    linter = Linter(options)
    assert linter.options is options
    for target, name in [(broken.data, "a"), (clean, None), (path, None), (broken.data, "b")]:
        assert linter.lint(target, path=name) == lint_file(target, options=options, path=name)
    assert [f.code for f in linter.lint(broken.data).findings] == ["ITM004"]
    assert Linter().lint(clean) == lint_file(clean)

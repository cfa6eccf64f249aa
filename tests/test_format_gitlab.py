"""The GitLab Code Quality format: required keys, severities, stable unique fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from builders import RLE_LOSSLESS, encapsulated, item, jpeg_frame, rle_frame

from dcmencaps_lint import FileReport, Finding, Report, Severity, Summary, lint_paths
from dcmencaps_lint.formats.gitlab import render_gitlab

RETIRED_JPEG = "1.2.840.10008.1.2.4.53"  # TSX004, info
REQUIRED = {"description": str, "check_name": str, "fingerprint": str, "severity": str}
SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def issues_of(report: Report) -> list[dict[str, Any]]:
    return json.loads(render_gitlab(report))


def assert_code_quality(issues: object) -> None:
    """What GitLab's Code Quality report format requires of each issue."""
    assert isinstance(issues, list)
    for issue in issues:
        for key, kind in REQUIRED.items():
            assert isinstance(issue[key], kind), key
        assert issue["severity"] in SEVERITIES
        assert isinstance(issue["location"]["path"], str)
        assert issue["location"]["lines"]["begin"] == 1
    prints = [issue["fingerprint"] for issue in issues]
    assert len(set(prints)) == len(prints)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    two = [jpeg_frame(), jpeg_frame()]
    encapsulated(two, bot=item(b"\x00" * 10)).write(tmp_path / "bot-length.dcm")
    encapsulated(two, ts=RETIRED_JPEG).write(tmp_path / "retired.dcm")
    encapsulated([jpeg_frame() + b"\x00\x00"]).write(tmp_path / "trailing.dcm")  # CSM003
    encapsulated([rle_frame()], ts=RLE_LOSSLESS).write(tmp_path / "clean.dcm")
    # The same bytes twice: fingerprints must still differ between the two paths.
    encapsulated(two, bot=item(b"\x00" * 10)).write(tmp_path / "copy.dcm")
    (tmp_path / "notes.txt").write_text("not DICOM\n")
    return tmp_path


class TestCodeQuality:
    def test_shape_and_one_issue_per_finding(self, folder: Path) -> None:
        report = lint_paths([folder])
        issues = issues_of(report)
        assert_code_quality(issues)
        expected = [(f.path, f2.code) for f in report.files for f2 in f.findings]
        assert [(i["location"]["path"], i["check_name"]) for i in issues] == expected

    def test_severity_mapping_and_description(self, folder: Path) -> None:
        paths = ["bot-length.dcm", "retired.dcm", "trailing.dcm", "missing.dcm"]
        report = lint_paths([folder / p for p in paths])
        issues = {i["check_name"]: i for i in issues_of(report)}
        assert set(issues) == {"BOT001", "TSX004", "CSM003", "PRS004"}
        assert issues["BOT001"]["severity"] == "major"
        assert issues["CSM003"]["severity"] == "minor"
        assert issues["TSX004"]["severity"] == "info"
        bot = next(f for f in report.files[0].findings if f.code == "BOT001")
        assert issues["BOT001"]["description"] == (
            f"BOT001 BOT item length 10 is not a multiple of 4 (byte {bot.offset}, item 0)"
        )
        csm = report.files[2].findings[0]
        assert issues["CSM003"]["description"].endswith(f" (byte {csm.offset}, item 1, frame 1)")
        missing = report.files[3].findings[0]
        assert missing.offset is None
        assert issues["PRS004"]["description"] == f"PRS004 {missing.message}"

    def test_fingerprints_stable_across_runs(self, folder: Path) -> None:
        first = [i["fingerprint"] for i in issues_of(lint_paths([folder]))]
        second = [i["fingerprint"] for i in issues_of(lint_paths([folder]))]
        assert first == second

    def test_fingerprints_unique_for_repeated_findings(self) -> None:
        twice = Finding("TSX006", "lossy-flag-absent", Severity.WARNING, "m")
        file = FileReport("a.dcm", "passed", (twice, twice))
        issues = issues_of(Report((file,), Summary.of([file])))
        assert_code_quality(issues)
        assert len(issues) == 2

    def test_clean_report_is_an_empty_list(self, tmp_path: Path) -> None:
        encapsulated([rle_frame()], ts=RLE_LOSSLESS).write(tmp_path / "clean.dcm")
        (tmp_path / "notes.txt").write_text("not DICOM\n")  # skipped in a folder walk
        report = lint_paths([tmp_path])
        assert [f.status for f in report.files] == ["passed", "skipped"]
        assert issues_of(report) == []

    def test_check_rejects_duplicates(self) -> None:
        issue = {
            "description": "d",
            "check_name": "BOT001",
            "fingerprint": "f",
            "severity": "major",
            "location": {"path": "a.dcm", "lines": {"begin": 1}},
        }
        with pytest.raises(AssertionError):
            assert_code_quality([issue, issue])

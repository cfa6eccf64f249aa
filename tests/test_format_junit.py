"""The JUnit XML format: one suite per file, one failing testcase per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from builders import RLE_LOSSLESS, encapsulated, item, jpeg_frame, rle_frame

from dcmencaps_lint import FileReport, Finding, Report, Severity, Summary, lint_paths
from dcmencaps_lint.formats.junit import render_junit


def parse(report: Report) -> ET.Element:
    text = render_junit(report)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def counts(element: ET.Element) -> tuple[int, int, int, int]:
    return tuple(int(element.get(k)) for k in ("tests", "failures", "errors", "skipped"))


def suites(root: ET.Element) -> dict[str, ET.Element]:
    return {Path(s.get("name")).name: s for s in root.findall("testsuite")}


@pytest.fixture
def report(tmp_path: Path) -> Report:
    two = [jpeg_frame(), jpeg_frame()]
    encapsulated(two, bot=item(b"\x00" * 10)).write(tmp_path / "bot-length.dcm")
    encapsulated([rle_frame()], ts=RLE_LOSSLESS).write(tmp_path / "clean.dcm")
    (tmp_path / "notes.txt").write_text("not DICOM\n")  # skipped in a folder walk
    return lint_paths([tmp_path, tmp_path / "missing.dcm"])  # missing: PRS004, no offset


class TestStructure:
    def test_one_suite_per_file_with_counts(self, report: Report) -> None:
        root = parse(report)
        assert root.tag == "testsuites"
        assert root.get("name") == "encaps-lint"
        by_name = suites(root)
        assert set(by_name) == {"bot-length.dcm", "clean.dcm", "notes.txt", "missing.dcm"}
        assert counts(by_name["bot-length.dcm"]) == (1, 1, 0, 0)
        assert counts(by_name["missing.dcm"]) == (1, 1, 0, 0)
        assert counts(by_name["clean.dcm"]) == (1, 0, 0, 0)
        assert counts(by_name["notes.txt"]) == (1, 0, 0, 1)
        assert counts(root) == (4, 2, 0, 1)
        for suite in root.findall("testsuite"):
            assert len(suite.findall("testcase")) == int(suite.get("tests"))
            assert len(suite.findall("testcase/failure")) == int(suite.get("failures"))
            assert len(suite.findall("testcase/skipped")) == int(suite.get("skipped"))

    def test_failing_case_per_finding(self, report: Report) -> None:
        file = next(f for f in report.files if f.path.endswith("bot-length.dcm"))
        (bot,) = file.findings
        (case,) = suites(parse(report))["bot-length.dcm"].findall("testcase")
        assert case.get("classname") == file.path
        assert case.get("name") == f"BOT001 bot-length-not-multiple-of-4 @{bot.offset} item0"
        failure = case.find("failure")
        assert failure.get("type") == "BOT001"
        assert failure.get("message") == "BOT item length 10 is not a multiple of 4"
        assert f"offset: {bot.offset} (0x{bot.offset:08X})" in failure.text
        assert "reference: PS3.5 A.4" in failure.text

    def test_finding_without_offset(self, report: Report) -> None:
        missing = next(f for f in report.files if f.path.endswith("missing.dcm"))
        (case,) = suites(parse(report))["missing.dcm"].findall("testcase")
        assert case.get("classname") == missing.path
        assert case.get("name") == "PRS004 io-error @-"
        failure = case.find("failure")
        assert failure.get("type") == "PRS004"
        assert failure.get("message") == missing.findings[0].message
        assert "offset:" not in failure.text

    def test_clean_and_skipped_files(self, report: Report) -> None:
        by_name = suites(parse(report))
        (clean,) = by_name["clean.dcm"].findall("testcase")
        assert clean.get("name") == "encaps-lint"
        assert list(clean) == []
        (skipped,) = by_name["notes.txt"].findall("testcase")
        assert skipped.find("skipped").get("message") == "not a DICOM file"
        assert skipped.find("failure") is None

    def test_names_unique_even_for_repeated_findings(self) -> None:
        twice = Finding("ITM004", "odd-length-item", Severity.ERROR, "odd", 600, 4, 1, 1)
        file = FileReport("a.dcm", "failed", (twice, twice, twice))
        suite = parse(Report((file,), Summary.of([file]))).find("testsuite")
        names = [c.get("name") for c in suite.findall("testcase")]
        base = "ITM004 odd-length-item @600 item1 frame1"
        assert names == [base, f"{base} #2", f"{base} #3"]

    def test_empty_report(self) -> None:
        root = parse(Report((), Summary()))
        assert counts(root) == (0, 0, 0, 0)
        assert root.findall("testsuite") == []


class TestEscaping:
    def test_control_characters_and_markup(self) -> None:
        finding = Finding("PRS002", "dataset-unparseable", Severity.ERROR, 'bad\x00 <&"\x1b> \x7f')
        path = "dir/na\x01me <&>.dcm"
        file = FileReport(path, "error", (finding,))
        root = parse(Report((file,), Summary.of([file])))
        suite = root.find("testsuite")
        assert suite.get("name") == "dir/na\\x01me <&>.dcm"
        case = suite.find("testcase")
        assert case.get("classname") == "dir/na\\x01me <&>.dcm"
        failure = case.find("failure")
        assert failure.get("message") == 'bad\\x00 <&"\\x1b> \x7f'
        assert failure.get("type") == "PRS002"

    def test_newlines_and_tabs_survive_in_attributes(self) -> None:
        finding = Finding("PRS002", "dataset-unparseable", Severity.ERROR, "one\ntwo\tthree\r")
        file = FileReport("a.dcm", "error", (finding,))
        failure = parse(Report((file,), Summary.of([file]))).find("testsuite/testcase/failure")
        assert failure.get("message") == "one\ntwo\tthree\r"

    def test_undecodable_file_name(self) -> None:
        path = b"scan\xff.dcm".decode("utf-8", "surrogateescape")
        file = FileReport(path, "passed")
        suite = parse(Report((file,), Summary.of([file]))).find("testsuite")
        assert suite.get("name") == "scan\\udcff.dcm"

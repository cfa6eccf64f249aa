"""The GitHub workflow-command format: escaping, groups, and the 10-per-severity cap."""

from __future__ import annotations

import re
from pathlib import Path

from builders import encapsulated, item, jpeg_frame

from dcmencaps_lint import FileReport, Finding, Report, Severity, Summary, lint_file
from dcmencaps_lint.formats.github import escape_data, escape_property, render_github

COMMAND = re.compile(r"^::(?P<command>error|warning|notice) (?P<props>[^:]*)::(?P<data>.*)$")


def unescape(text: str) -> str:
    """What the runner does with an escaped value (@actions/core in reverse)."""
    for raw, escaped in (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C")):
        text = text.replace(escaped, raw)
    return text.replace("%25", "%")


def properties(props: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in (p.split("=", 1) for p in props.split(","))}


def annotations(text: str) -> list[tuple[str, dict[str, str], str]]:
    found = []
    for line in text.splitlines():
        match = COMMAND.match(line)
        if match:
            found.append((match["command"], properties(match["props"]), unescape(match["data"])))
    return found


def finding(code: str, severity: Severity, offset: int | None = None) -> Finding:
    return Finding(code, code.lower(), severity, f"message of {code}", offset)


def report_of(*files: FileReport) -> Report:
    return Report(files, Summary.of(files))


class TestEscaping:
    def test_data_and_property_escapes(self) -> None:
        assert escape_data("100% a:b,c\r\nd") == "100%25 a:b,c%0D%0Ad"
        assert escape_property("100% a:b,c\r\nd") == "100%25 a%3Ab%2Cc%0D%0Ad"

    def test_awkward_path_in_file_property(self) -> None:
        path = "scans/a,b:c%d.dcm"
        file = FileReport(path, "failed", (finding("BOT001", Severity.ERROR, 512),))
        text = render_github(report_of(file))
        assert "::error file=scans/a%2Cb%3Ac%25d.dcm,title=BOT001 bot001 at byte 512::" in text
        ((command, props, data),) = annotations(text)
        assert (command, props, data) == (
            "error",
            {"file": path, "title": "BOT001 bot001 at byte 512"},
            "message of BOT001",
        )
        assert "::group::scans/a,b:c%25d.dcm" in text.splitlines()

    def test_message_with_newline_stays_one_command(self) -> None:
        bad = Finding("PRS002", "dataset-unparseable", Severity.ERROR, "a\nb 50%\r")
        text = render_github(report_of(FileReport("x.dcm", "error", (bad,))), quiet=True)
        assert (
            text.splitlines()[1]
            == "::error file=x.dcm,title=PRS002 dataset-unparseable::a%0Ab 50%25%0D"
        )


class TestAnnotations:
    def test_real_file_grouped_with_byte_offset(self, tmp_path: Path) -> None:
        built = encapsulated([jpeg_frame(), jpeg_frame()], bot=item(b"\x00" * 10))
        path = str(built.write(tmp_path / "bot.dcm"))
        lines = render_github(report_of(lint_file(path))).splitlines()
        assert lines[0] == f"::group::{path}"
        assert lines[2] == "::endgroup::"
        assert lines[3].startswith("Found 1 error, 0 warnings, 0 infos in 1 file")
        offset = built.item_length_field(0)
        assert annotations(lines[1]) == [
            (
                "error",
                {"file": path, "title": f"BOT001 bot-length-not-multiple-of-4 at byte {offset}"},
                "BOT item length 10 is not a multiple of 4",
            )
        ]

    def test_no_offset_no_byte_in_title(self) -> None:
        file = FileReport("a.dcm", "passed", (finding("TSX006", Severity.WARNING),))
        text = render_github(report_of(file), quiet=True)
        assert annotations(text) == [
            ("warning", {"file": "a.dcm", "title": "TSX006 tsx006"}, "message of TSX006")
        ]

    def test_severity_commands_and_clean_files_quiet(self) -> None:
        files = (
            FileReport("a.dcm", "failed", (finding("BOT001", Severity.ERROR, 1),)),
            FileReport("b.dcm", "passed"),
            FileReport("c.dcm", "passed", (finding("TSX004", Severity.INFO, 2),)),
        )
        text = render_github(report_of(*files), quiet=True)
        assert text.splitlines() == [
            "::group::a.dcm",
            "::error file=a.dcm,title=BOT001 bot001 at byte 1::message of BOT001",
            "::endgroup::",
            "::group::c.dcm",
            "::notice file=c.dcm,title=TSX004 tsx004 at byte 2::message of TSX004",
            "::endgroup::",
        ]

    def test_empty_report(self) -> None:
        assert render_github(report_of(), quiet=True) == ""


class TestCap:
    def test_ten_per_severity_then_plain_lines_and_a_summary(self) -> None:
        errors = tuple(finding("BOT001", Severity.ERROR, 100 + i) for i in range(13))
        warnings = tuple(finding("TSX006", Severity.WARNING, 200 + i) for i in range(10))
        infos = tuple(finding("TSX004", Severity.INFO, 300 + i) for i in range(3))
        files = (
            FileReport("a.dcm", "failed", errors[:7] + warnings[:5]),
            FileReport("b.dcm", "failed", errors[7:] + warnings[5:] + infos),
        )
        text = render_github(report_of(*files), quiet=True)
        found = annotations(text)
        by_command = {c: [a for a in found if a[0] == c] for c in ("error", "warning", "notice")}
        assert len(by_command["error"]) == 10
        assert len(by_command["warning"]) == 10
        # 3 info annotations + 1 summary notice, within the 10 allowed.
        assert [a[2] for a in by_command["notice"]] == [
            "message of TSX004",
            "message of TSX004",
            "message of TSX004",
            "3 more errors not annotated (GitHub shows 10 per severity); "
            "see the log above or the text output",
        ]
        plain = [line for line in text.splitlines() if line.startswith("  ")]
        assert plain == [
            f"  b.dcm:0x{100 + i:08X}: BOT001 error message of BOT001 [bot001]"
            for i in (10, 11, 12)
        ]
        # Each finding appears once: annotated, or as a plain line.
        assert len(found) - 1 + len(plain) == 26

    def test_notices_keep_room_for_every_summary(self) -> None:
        many = (
            tuple(finding("BOT001", Severity.ERROR, i) for i in range(11))
            + tuple(finding("TSX006", Severity.WARNING, i) for i in range(11))
            + tuple(finding("TSX004", Severity.INFO, i) for i in range(9))
        )
        text = render_github(report_of(FileReport("a.dcm", "failed", many)), quiet=True)
        found = annotations(text)
        notices = [a for a in found if a[0] == "notice"]
        assert len(notices) == 10
        summaries = [a[2] for a in notices if a[1] == {"title": "encaps-lint"}]
        assert [s.split(" not annotated")[0] for s in summaries] == [
            "1 more error",
            "1 more warning",
            "2 more info findings",
        ]
        assert len([a for a in found if a[0] == "error"]) == 10
        assert len([a for a in found if a[0] == "warning"]) == 10


def test_controls_and_bidi_overrides_are_shown_not_passed_through() -> None:
    from dcmencaps_lint.formats.github import escape_data

    assert escape_data("a\x1b[31mb\u202ec") == "a\\x1b[31mb\\u202ec"
    assert escape_data("%\r\n") == "%25%0D%0A"

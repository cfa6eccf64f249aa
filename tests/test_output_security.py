"""Hostile file names and DICOM strings are escaped for each format; no patient data.

A file name or a DICOM string can carry terminal controls (ESC sequences, CR, BEL,
backspace), Unicode bidi overrides that reorder text on screen, markup and quotes. The
text format shows each as an escape and keeps one finding per line; JSON, JSONL, SARIF
and GitLab are ASCII JSON that decodes back to the exact string; JUnit is well-formed XML;
the HTML page escapes markup and shows controls and bidi characters as escapes.
Patient name and ID never appear in any format unless --show-phi (HTML only).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest
from builders import encapsulated, item, jpeg_frame
from click.testing import CliRunner

from dcmencaps_lint import lint_file
from dcmencaps_lint.cli import main
from dcmencaps_lint.formats import RENDERERS

# ESC sequences (clear screen, set the window title), CR, BEL, backspace, DEL, a C1
# CSI, bidi overrides and isolates, and markup.
HOSTILE_NAME = "x\x1b[2J\x1b]0;pwn\x07\r\x08\x7f\x9b\u202egpj.\u2066\u200f<b>\"&'.dcm"
# How the text format shows it: every control and invisible character as an escape.
HOSTILE_NAME_TEXT = (
    "x\\x1b[2J\\x1b]0;pwn\\x07\\x0d\\x08\\x7f\\x9b\\u202egpj.\\u2066\\u200f<b>\"&'.dcm"
)
# How the HTML page shows it: the same escapes, and markup escaped.
HOSTILE_NAME_HTML = (
    "x\\x1b[2J\\x1b]0;pwn\\x07\\x0d\\x08\\x7f\\x9b\\u202egpj.\\u2066\\u200f"
    "&lt;b&gt;&#34;&amp;&#39;.dcm"
)
HOSTILE_STRING = "<script>alert(1)</script>\x1b[31m\u202eEvil\x07"
CONTROLS = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} - {"\n"}
BIDI = {
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}

PATIENT = {
    "PatientName": "Doe^Jane^Secretname",
    "PatientID": "PID-7731-SECRET",
    "InstitutionName": "Hidden Hospital",
}
PHI_TEXT = ["Secretname", "PID-7731", "SECRET", "Hidden Hospital", "Doe^Jane"]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A broken file (BOT001) with a hostile name and a hostile Manufacturer."""
    folder = tmp_path / "in"
    folder.mkdir()
    built = encapsulated(
        [jpeg_frame()],
        bot=item(b"\x00" * 10),
        extra={"SpecificCharacterSet": "ISO_IR 192", "Manufacturer": HOSTILE_STRING},
    )
    return built.write(folder / HOSTILE_NAME)


def render(fmt: str, *paths: Path, extra: tuple[str, ...] = ()) -> str:
    result = CliRunner().invoke(main, ["-j", "1", *extra, "--format", fmt, *map(str, paths)])
    assert result.exit_code == 1, result.output
    return result.stdout


def raw_controls(text: str) -> set[str]:
    return {ch for ch in text if ch in CONTROLS or ch in BIDI}


class TestHostileNames:
    def test_text(self, hostile: Path) -> None:
        out = render("text", hostile)
        [finding, _summary] = out.splitlines()
        assert raw_controls(out) == set()
        shown = str(hostile.parent) + "/" + HOSTILE_NAME_TEXT
        assert finding.startswith(f"{shown}:0x")
        assert finding.endswith("[bot-length-not-multiple-of-4]")

    def test_text_verbose_skipped_line(self, hostile: Path) -> None:
        (hostile.parent / ("notes\x1b[31m\u202e.txt")).write_text("not DICOM\n")
        out = render("text", hostile.parent, extra=("-v",))
        assert raw_controls(out) == set()
        assert f"{hostile.parent}/notes\\x1b[31m\\u202e.txt: skipped (not a DICOM file)" in out

    @pytest.mark.parametrize("fmt", ["json", "jsonl", "gitlab", "sarif", "sarif-github"])
    def test_json_formats_are_ascii_and_give_the_strings_back(
        self, hostile: Path, fmt: str
    ) -> None:
        out = render(fmt, hostile, extra=("--show-phi",))
        assert all(" " <= ch < "\x7f" or ch == "\n" for ch in out)
        documents = (
            [json.loads(line) for line in out.splitlines()] if fmt == "jsonl" else [json.loads(out)]
        )
        strings = set(_strings(documents))
        if fmt.startswith("sarif"):  # a URI reference: percent-encoded UTF-8
            assert any(s.endswith("/" + quote(HOSTILE_NAME)) for s in strings)
        else:
            assert any(s.endswith(HOSTILE_NAME) for s in strings)

    def test_junit_is_well_formed(self, hostile: Path) -> None:
        out = render("junit", hostile)
        root = ET.fromstring(out)
        [suite] = root.iter("testsuite")
        name = suite.get("name") or ""
        assert name.startswith(str(hostile.parent) + "/x\\x1b[2J\\x1b]0;pwn\\x07")
        assert "\x1b" not in out and "\x07" not in out and "\x08" not in out

    def test_html(self, hostile: Path) -> None:
        out = render("html", hostile)
        assert raw_controls(out.replace("\t", "")) == set()
        assert "<script>alert(1)" not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
        assert "\\x1b[31m\\u202eEvil\\x07" in out  # the Manufacturer, visible
        assert HOSTILE_NAME_HTML in out  # the file name
        assert "<b>\"&'.dcm" not in out

    def test_github_annotations_stay_one_line_each(self, hostile: Path) -> None:
        out = render("github", hostile)
        lines = out.splitlines()
        assert [line.split(" ")[0].split("::")[1] for line in lines[:3]] == [
            "group",
            "error",
            "endgroup",
        ]
        assert "\r" not in out


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class TestNoPatientData:
    @pytest.fixture
    def with_phi(self, tmp_path: Path) -> Path:
        """Broken files that carry patient name, ID and institution."""
        folder = tmp_path / "phi"
        folder.mkdir()
        encapsulated([jpeg_frame()], bot=item(b"\x00" * 10), extra=PATIENT).write(
            folder / "bot001.dcm"
        )
        encapsulated([jpeg_frame()], number_of_frames="0", extra=PATIENT).write(
            folder / "tsx008.dcm"
        )
        encapsulated([jpeg_frame(), jpeg_frame()], bot=[0, 42], extra=PATIENT).write(
            folder / "bot004.dcm"
        )
        return folder

    def test_the_files_carry_it(self, with_phi: Path) -> None:
        for path in with_phi.iterdir():
            data = path.read_bytes()
            assert b"Doe^Jane^Secretname" in data and b"PID-7731-SECRET" in data
            assert lint_file(path).findings

    @pytest.mark.parametrize("fmt", sorted(RENDERERS))
    def test_no_format_shows_it(self, with_phi: Path, fmt: str) -> None:
        out = render(fmt, with_phi, extra=("--deep", "--statistics", "-v"))
        assert [s for s in PHI_TEXT if s in out] == []

    def test_show_phi_shows_it_in_html(self, with_phi: Path) -> None:
        out = render("html", with_phi, extra=("--show-phi",))
        assert "Doe^Jane^Secretname" in out and "PID-7731-SECRET" in out


class TestExcerptsMaskIdentifyingValues:
    """A hex excerpt near a finding in the data set must not show the patient's name."""

    @staticmethod
    def _report(show_phi: bool) -> str:
        from builders import encapsulated, jpeg_frame

        from dcmencaps_lint.engine import Options
        from dcmencaps_lint.formats.html import render_html
        from dcmencaps_lint.model import Report, Summary
        from dcmencaps_lint.registry import Selection

        # Photometric Interpretation removed so that the name sits within 32 bytes of
        # Number of Frames, whose invalid value (0) gives a finding with an excerpt.
        built = encapsulated(
            [jpeg_frame()],
            number_of_frames=0,
            extra={"PatientName": "Doe^Jane", "PhotometricInterpretation": None},
        )
        name_at = built.data.index(b"Doe^Jane")
        assert built.nof_value_offset - (name_at + 8) < 32  # inside the TSX008 excerpt
        options = Options(Selection(), details=True, show_phi=show_phi)
        from dcmencaps_lint.engine import lint_file

        report = lint_file(built.data, options=options)
        assert "TSX008" in [f.code for f in report.findings]
        [excerpt] = [e for e in report.excerpts if e.offset == built.nof_value_offset]
        assert (b"Doe^Jane" in excerpt.data) is show_phi
        return render_html(Report((report,), Summary.of([report])))

    def test_masked_by_default(self) -> None:
        page = self._report(show_phi=False)
        assert "Doe^Jane" not in page and "44 6F 65 5E" not in page.upper()

    def test_shown_with_show_phi(self) -> None:
        assert "Doe^Jane" in self._report(show_phi=True)

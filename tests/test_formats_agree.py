"""Every output format reports the same findings: each is parsed back to (path, code, offset).

The input is samples/ plus builder files with errors, warnings and info findings (one
without an offset), one named with a space, a comma, a colon and a '%'. Every
registered renderer is checked; a new format needs a parser here.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from builders import encapsulated, item, jpeg_frame

from dcmencaps_lint import Report, lint_paths
from dcmencaps_lint.formats import RENDERERS

Key = tuple[str, str, int | None]  # (path, code, offset)

REPO = Path(__file__).parent.parent
RETIRED_JPEG = "1.2.840.10008.1.2.4.53"
TEXT_LINE = re.compile(
    r"^(?P<path>.+?)(:0x(?P<offset>[0-9A-F]{8,}))?: (?P<code>[A-Z]{3}[0-9]{3}) "
    r"(error|warning|info) .* \[[a-z0-9-]+\]$"
)
GITHUB_COMMAND = re.compile(r"^::(error|warning|notice) (?P<props>[^:]*)::")


def _offset(text: str | None, base: int = 10) -> int | None:
    return None if text is None else int(text, base)


def parse_text(output: str) -> list[Key]:
    found = []
    for line in output.splitlines():
        match = TEXT_LINE.match(line)
        if match:
            found.append((match["path"], match["code"], _offset(match["offset"], 16)))
    return found


def _file_keys(file: dict) -> list[Key]:
    return [(file["path"], f["code"], f["offset"]) for f in file["findings"]]


def parse_json(output: str) -> list[Key]:
    return [key for file in json.loads(output)["files"] for key in _file_keys(file)]


def parse_jsonl(output: str) -> list[Key]:
    records = [json.loads(line) for line in output.splitlines()]
    assert "summary" in records[-1]
    return [key for record in records[:-1] for key in _file_keys(record)]


def _uri_path(uri: str) -> str:
    parts = urlsplit(uri)
    return unquote(parts.path if parts.scheme == "file" else uri)


def _sarif(output: str, offset_of: Callable[[dict], int | None]) -> list[Key]:
    found = []
    for result in json.loads(output)["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        path = _uri_path(physical["artifactLocation"]["uri"])
        found.append((path, result["ruleId"], offset_of(result)))
    return found


def parse_sarif(output: str) -> list[Key]:
    def region_offset(result: dict) -> int | None:
        region = result["locations"][0]["physicalLocation"].get("region", {})
        return region.get("byteOffset")

    return _sarif(output, region_offset)


def parse_sarif_github(output: str) -> list[Key]:
    return _sarif(output, lambda result: result["properties"].get("byteOffset"))


def parse_junit(output: str) -> list[Key]:
    found = []
    for case in ET.fromstring(output.encode("utf-8")).iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            where = re.search(r" @(\d+|-)", case.get("name"))[1]
            offset = None if where == "-" else int(where)
            found.append((case.get("classname"), failure.get("type"), offset))
    return found


def _github_unescape(text: str) -> str:
    for raw, escaped in (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C")):
        text = text.replace(escaped, raw)
    return text.replace("%25", "%")


def parse_github(output: str) -> list[Key]:
    found = []
    for line in output.splitlines():
        match = GITHUB_COMMAND.match(line)
        if match:
            props = dict(p.split("=", 1) for p in match["props"].split(","))
            if "file" not in props:  # the "N more ... not annotated" summary
                continue
            title = _github_unescape(props["title"])
            at = re.search(r" at byte (\d+)$", title)
            found.append((_github_unescape(props["file"]), title.split()[0], _offset(at and at[1])))
        elif line.startswith("  "):  # past the annotation cap: a text-format line
            found.extend(parse_text(line[2:]))
    return found


def parse_gitlab(output: str) -> list[Key]:
    found = []
    for issue in json.loads(output):
        at = re.search(r"\(byte (\d+)", issue["description"])
        found.append((issue["location"]["path"], issue["check_name"], _offset(at and at[1])))
    return found


class _HtmlFindings(HTMLParser):
    """File sections (details.file): the path, then each div.finding and its p.where."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[list] = []
        self.path: str | None = None
        self.capture: str | None = None  # "path" or "where"
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "details" and "file" in classes:
            self.path = None
        elif tag == "span" and "path" in classes and self.path is None:
            self.capture, self.text = "path", ""
        elif tag == "div" and "finding" in classes:
            self.found.append([self.path, a["data-code"], None])
        elif tag == "p" and "where" in classes:
            self.capture, self.text = "where", ""

    def handle_data(self, data: str) -> None:
        if self.capture:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if self.capture == "path" and tag == "span":
            self.path, self.capture = self.text, None
        elif self.capture == "where" and tag == "p":
            at = re.search(r"offset 0x[0-9A-F]+ \((\d+)\)", self.text)
            self.found[-1][2] = _offset(at and at[1])
            self.capture = None


def parse_html(output: str) -> list[Key]:
    parser = _HtmlFindings()
    parser.feed(output)
    parser.close()
    return [tuple(key) for key in parser.found]


PARSERS: dict[str, Callable[[str], list[Key]]] = {
    "text": parse_text,
    "json": parse_json,
    "jsonl": parse_jsonl,
    "sarif": parse_sarif,
    "sarif-github": parse_sarif_github,
    "junit": parse_junit,
    "github": parse_github,
    "gitlab": parse_gitlab,
    "html": parse_html,
}


def ordered(keys: list[Key]) -> list[Key]:
    return sorted(keys, key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2]))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("agree")
    two = [jpeg_frame(), jpeg_frame()]
    made = {
        "bot length, 10%: odd.dcm": encapsulated(two, bot=item(b"\x00" * 10)),
        "retired.dcm": encapsulated(two, ts=RETIRED_JPEG),  # TSX004 info
        # CSM003 for each of 12 frames: more warnings than GitHub annotates
        "trailing.dcm": encapsulated([jpeg_frame() + b"\x00\x00"] * 12),
        "wrong-vrs.dcm": encapsulated(two, vr="OW", eot="auto", eot_vr="OB"),
        "no-delimiter.dcm": encapsulated([jpeg_frame()], end=b""),
        "truncated.dcm": encapsulated([jpeg_frame()], end=item(b"\xff\xd8", length=4000)),
    }
    for name, built in made.items():
        built.write(folder / name)
    (folder / "notes.txt").write_text("not DICOM\n")
    # A file that cannot be read: PRS004, a finding without an offset.
    return lint_paths([REPO / "samples", folder, folder / "missing.dcm"])


def test_input_has_every_severity_and_findings_without_offsets(report: Report) -> None:
    findings = [f for file in report.files for f in file.findings]
    assert {f.severity.label for f in findings} == {"error", "warning", "info"}
    assert any(f.offset is None for f in findings)
    assert sum(f.severity.label == "warning" for f in findings) > 10  # past GitHub's cap
    assert any(file.status == "skipped" for file in report.files)


def test_every_format_has_a_parser() -> None:
    assert set(RENDERERS) <= set(PARSERS), "add a parser for the new format"


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_format_reports_the_same_findings(report: Report, fmt: str) -> None:
    expected = [(file.path, f.code, f.offset) for file in report.files for f in file.findings]
    assert len(expected) > 20
    output = RENDERERS[fmt](report, quiet=False, verbose=True, statistics=True)
    assert ordered(PARSERS[fmt](output)) == ordered(expected)

"""The HTML report: one self-contained page a physicist can send to a device vendor.

Summary first (verdict, counts by severity, rule and transfer syntax), then one section
per file with findings: its identity, a picture of its Pixel Data items with the defective
ones marked, and each finding with its clause, a hex excerpt and how to fix it.

File names and DICOM strings are attacker-controlled: the template autoescapes every
value, values only ever land in element text or quoted attributes, and a Content
Security Policy lets only the page's own (hashed) style and script run.

The page stays small for big runs: clean files are one list, only the first OPEN_LIMIT
file sections are open, and only the first DETAIL_LIMIT get a picture and hex excerpts.
The bytes shown come from the FileReport (engine.Options(details=True)): renderers
never open files.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from dcmencaps_lint.model import FileReport, Layout, Report, Severity

if TYPE_CHECKING:
    import jinja2

    from dcmencaps_lint.findings import Finding

OPEN_LIMIT = 50  # file sections open when the page opens
DETAIL_LIMIT = 100  # file sections with a layout picture and hex excerpts
MAX_DRAWN = 48  # fragments drawn in full; longer sequences are elided around defects
HEX_WIDTH = 16
PIXEL_DATA = "(7FE0,0010)"


# --- hex excerpts -------------------------------------------------------------------


@dataclass(frozen=True)
class HexRow:
    offset: str
    hex: list[tuple[str, bool]]  # runs of (text, marked)
    text: list[tuple[str, bool]]


def _runs(cells: list[tuple[str, bool]], gap: bool) -> list[tuple[str, bool]]:
    """Cells joined into runs of (text, marked); a separator is marked only inside a mark."""
    tokens: list[tuple[str, bool]] = []
    for index, (cell, marked) in enumerate(cells):
        if index and gap:
            sep = "  " if index == HEX_WIDTH // 2 else " "
            tokens.append((sep, marked and cells[index - 1][1]))
        tokens.append((cell, marked))
    runs: list[tuple[str, bool]] = []
    for text, marked in tokens:
        if runs and runs[-1][1] == marked:
            runs[-1] = (runs[-1][0] + text, marked)
        else:
            runs.append((text, marked))
    return runs


def hex_rows(start: int, data: bytes, mark_from: int, mark_to: int) -> list[HexRow]:
    """Rows of 16 bytes aligned on the file's offsets; bytes in [mark_from, mark_to) marked."""
    end = start + len(data)
    rows = []
    for row in range(start - start % HEX_WIDTH, end, HEX_WIDTH):
        hex_cells, text_cells = [], []
        for at in range(row, row + HEX_WIDTH):
            marked = mark_from <= at < mark_to
            if start <= at < end:
                byte = data[at - start]
                hex_cells.append((f"{byte:02X}", marked))
                text_cells.append((chr(byte) if 0x20 <= byte < 0x7F else ".", marked))
            else:
                hex_cells.append(("  ", False))
                text_cells.append((" ", False))
        rows.append(HexRow(f"{row:08X}", _runs(hex_cells, True), _runs(text_cells, False)))
    return rows


# --- the Pixel Data picture ---------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: int
    width: int
    kind: str  # bot | frag | end | gap
    label: str
    sub: str
    title: str
    bad: bool = False
    shade: str = ""  # frame parity of a fragment: f0 | f1, or fx outside any frame


@dataclass(frozen=True)
class Bracket:
    x1: int
    x2: int
    label: str


@dataclass
class Strip:
    element: str
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    brackets: list[Bracket] = field(default_factory=list)
    bad: int = 0
    elided: int = 0


BOX_WIDTH, GAP_WIDTH, SPACING, MARGIN = 78, 36, 4, 6  # px; the y coordinates are the template's
END_LABELS = {
    "delimiter": ("delim", "end", "Sequence Delimitation Item"),
    "end-of-data": ("end", "no delim.", "the data ends here without a Sequence Delimitation Item"),
    "truncated": ("EOF", "truncated", "the last item runs past the end of the data"),
    "partial-header": ("EOF", "partial", "fewer than 8 bytes left for an item header"),
    "unexpected-tag": ("?", "bad tag", "a tag that is not an item: the walk stopped here"),
    "undefined-length": ("?", "undef. len", "an item of undefined length: the walk stopped"),
}


def size_text(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"


def defective_items(layout: Layout, findings: tuple[Finding, ...]) -> set[int]:
    """Item numbers (0 = BOT, n + 1 = the end) a finding names or whose bytes hold its offset."""
    ranges = [(0, layout.bot[0], layout.bot[0] + 8 + layout.bot[1])] if layout.bot else []
    ranges += [(n, o, o + 8 + size) for n, (o, size) in enumerate(layout.fragments, start=1)]
    end = layout.delimiter if layout.delimiter is not None else layout.stop_offset
    bad = set()
    for f in findings:
        # Items are this element's; a finding about nested Pixel Data names its own path.
        if f.item is not None and (f.element == layout.element or "/" not in f.element):
            bad.add(f.item)
        if f.offset is None:
            continue
        holders = [n for n, lo, hi in ranges if lo <= f.offset < hi]
        if holders:
            bad.update(holders)
        elif end <= f.offset < end + 8:  # the delimiter, or where it is missing
            bad.add(len(layout.fragments) + 1)
    return bad


def _drawn(count: int, bad: set[int]) -> list[int]:
    """Fragment numbers to draw: all of them, or the ends and the defects' neighbourhoods."""
    if count <= MAX_DRAWN:
        return list(range(1, count + 1))
    keep = set(range(1, MAX_DRAWN // 2 + 1)) | set(range(count - MAX_DRAWN // 4 + 1, count + 1))
    keep |= {n + d for n in bad for d in (-1, 0, 1) if 1 <= n + d <= count}
    return sorted(keep)


def layout_strip(layout: Layout, findings: tuple[Finding, ...]) -> Strip:
    bad = defective_items(layout, findings)
    frame_of = {}
    for number, (first, last) in enumerate(layout.frames, start=1):
        for fragment in range(first, last + 1):
            frame_of.setdefault(fragment, number)
    strip = Strip(layout.element, 0, 0)
    x = MARGIN

    def add(width: int, **kw: object) -> None:
        nonlocal x
        strip.boxes.append(Box(x, width, **kw))  # type: ignore[arg-type]
        x += width + SPACING

    if layout.bot is not None:
        offset, size = layout.bot
        entries = f"{size // 4} entries" if size % 4 == 0 else f"{size} B"
        add(
            BOX_WIDTH,
            kind="bot",
            label="BOT",
            sub=entries if size else "empty",
            title=f"Basic Offset Table item at 0x{offset:08X}: {size} bytes",
            bad=0 in bad,
        )
    centres: dict[int, tuple[int, int]] = {}  # fragment -> (left, right) as drawn
    previous = 0
    for number in _drawn(len(layout.fragments), bad):
        if number != previous + 1:
            hidden = number - previous - 1
            strip.elided += hidden
            add(GAP_WIDTH, kind="gap", label="…", sub="", title=f"{hidden} fragments not drawn")
        offset, size = layout.fragments[number - 1]
        frame = frame_of.get(number)
        centres[number] = (x, x + BOX_WIDTH)
        add(
            BOX_WIDTH,
            kind="frag",
            label=f"#{number}",
            sub=size_text(size),
            title=f"fragment {number} at 0x{offset:08X}: {size} bytes"
            + (f", frame {frame}" if frame else ", in no frame"),
            bad=number in bad,
            shade=f"f{frame % 2}" if frame else "fx",
        )
        previous = number
    if previous != len(layout.fragments):
        hidden = len(layout.fragments) - previous
        strip.elided += hidden
        add(GAP_WIDTH, kind="gap", label="…", sub="", title=f"{hidden} fragments not drawn")
    end = layout.delimiter if layout.delimiter is not None else layout.stop_offset
    label, sub, what = END_LABELS.get(layout.stop, ("end", layout.stop, layout.stop))
    add(
        BOX_WIDTH,
        kind="end" if layout.delimiter is not None else "end missing",
        label=label,
        sub=sub,
        title=f"{what} (0x{end:08X})",
        bad=len(layout.fragments) + 1 in bad,
    )
    for number, (first, last) in enumerate(layout.frames, start=1):
        drawn = [centres[n] for n in range(first, last + 1) if n in centres]
        if drawn:
            strip.brackets.append(Bracket(drawn[0][0] + 2, drawn[-1][1] - 2, f"frame {number}"))
    strip.width = x - SPACING + MARGIN
    strip.height = 92 if strip.brackets else 62  # boxes end at y=54, frame labels at y=82
    strip.bad = len(bad)
    return strip


# --- rule documentation -------------------------------------------------------------

Paragraph = tuple[str, list[list[tuple[str, bool]]]]  # ("p" | "ul", lines of (text, code))


def _inline(text: str) -> list[tuple[str, bool]]:
    """Text split on `backticks`: (text, is_code) pieces."""
    return [(piece, index % 2 == 1) for index, piece in enumerate(text.split("`")) if piece]


def doc_paragraphs(text: str) -> list[Paragraph]:
    """A docstring section as paragraphs and bullet lists (its line breaks are wrapping)."""
    result: list[Paragraph] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines()]
        if lines and all(re.match(r"[-*] ", line) or not line[:1].isalnum() for line in lines):
            items: list[str] = []
            for line in lines:
                if re.match(r"[-*] ", line):
                    items.append(line[2:])
                elif items:
                    items[-1] += " " + line
            result.append(("ul", [_inline(i) for i in items]))
        else:
            result.append(("p", [_inline(" ".join(lines))]))
    return result


@dataclass(frozen=True)
class RuleRow:
    code: str
    name: str
    severity: str
    findings: int
    files: int
    summary: str = ""
    reference: str = ""
    how_to_fix: list[Paragraph] = field(default_factory=list)
    what: list[Paragraph] = field(default_factory=list)


def rule_rows(report: Report) -> list[RuleRow]:
    from dcmencaps_lint.docs import sections
    from dcmencaps_lint.registry import load_rules

    rules = load_rules()
    counts = Counter(f.code for r in report.files for f in r.findings)
    files = Counter(code for r in report.files for code in {f.code for f in r.findings})
    first: dict[str, Finding] = {}
    worst: dict[str, Severity] = {}
    for f in (f for r in report.files for f in r.findings):
        first.setdefault(f.code, f)
        worst[f.code] = max(worst.get(f.code, f.severity), f.severity)
    rows = []
    for code in sorted(counts, key=lambda c: (-worst[c], c)):
        f, rule = first[code], rules.get(code)  # a plugin's rule may not be installed here
        doc = sections(rule) if rule is not None else {}
        rows.append(
            RuleRow(
                code,
                f.name,
                worst[code].label,
                counts[code],
                files[code],
                rule.summary if rule is not None else "",
                f.reference,
                doc_paragraphs(doc.get("How to fix", "")),
                doc_paragraphs(doc.get("What it checks", "")),
            )
        )
    return rows


# --- files --------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    where: str
    hex: list[HexRow] | None = None
    end_of_file: str | None = None  # the finding's offset is past the bytes: the file ends


@dataclass(frozen=True)
class FileView:
    index: int
    file: FileReport
    open: bool
    detailed: bool
    counts: str
    frames: str
    sop_class_name: str | None
    findings: list[FindingView]
    strip: Strip | None


def _where(f: Finding, detailed: bool = True) -> str:
    parts = [f"offset 0x{f.offset:08X} ({f.offset})"] if f.offset is not None else []
    if f.frame is not None:
        parts.append(f"frame {f.frame}")
    if f.item is not None:
        parts.append("item 0 (BOT)" if f.item == 0 else f"item {f.item}")
    if f.element and (detailed or f.element != PIXEL_DATA):  # short lines past the limit
        parts.append(f.element)
    return " · ".join(parts)


def finding_view(f: Finding, file: FileReport, detailed: bool) -> FindingView:
    excerpt = next((e for e in file.excerpts if e.offset == f.offset), None)
    if not detailed or excerpt is None or f.offset is None:
        return FindingView(f, _where(f, detailed))
    marked_to = f.offset + max(f.length or 1, 1)
    rows = hex_rows(excerpt.start, excerpt.data, f.offset, marked_to)
    end = excerpt.start + len(excerpt.data)
    eof = f"end of file at 0x{end:08X} ({end})" if f.offset >= end else None
    return FindingView(f, _where(f), rows, eof)


def _frames(file: FileReport) -> str:
    declared = "—" if file.number_of_frames is None else file.number_of_frames
    found = "—" if file.frames_found is None else file.frames_found
    return f"{declared} frames declared, {found} found"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _counts(findings: tuple[Finding, ...]) -> str:
    by = Counter(f.severity for f in findings)
    return ", ".join(_plural(by[s], s.label) for s in sorted(by, reverse=True))


@lru_cache(maxsize=256)
def sop_class_name(uid: str | None) -> str | None:
    if not uid:
        return None
    from pydicom.uid import UID

    name = UID(uid).name
    return None if name == uid else name


def file_views(report: Report) -> list[FileView]:
    views = []
    for file in report.files:
        if not file.findings:
            continue
        index = len(views)
        detailed = index < DETAIL_LIMIT
        strip = layout_strip(file.layout, file.findings) if detailed and file.layout else None
        views.append(
            FileView(
                index=index,
                file=file,
                open=index < OPEN_LIMIT,
                detailed=detailed,
                counts=_counts(file.findings),
                frames=_frames(file),
                sop_class_name=sop_class_name(file.sop_class_uid),
                findings=[finding_view(f, file, detailed) for f in file.findings],
                strip=strip,
            )
        )
    return views


# --- the page -----------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("dcmencaps_lint.formats").joinpath(f"templates/{name}").read_text()


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2  # imported when a page is rendered, not at every CLI start

    return jinja2.Environment(
        loader=jinja2.PackageLoader("dcmencaps_lint.formats", "templates"),
        autoescape=True,  # every value is escaped: paths and DICOM strings are hostile
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report, **_: object) -> str:
    from markupsafe import Markup

    from dcmencaps_lint import __version__

    css, js = _asset("report.css"), _asset("report.js")
    # Only the page's own style and script may run, whatever a value smuggles in.
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    views = file_views(report)
    by_severity = Counter(f.severity.label for r in report.files for f in r.findings)
    syntaxes = Counter(
        (r.transfer_syntax.name, r.transfer_syntax.uid) for r in report.files if r.transfer_syntax
    )
    devices = Counter(
        (r.device.manufacturer or "", r.device.model or "", r.device.software_versions or "")
        for r in report.files
        if r.device
    )
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            version=__version__,
            summary=report.summary,
            verdict="FAIL" if report.summary.failed else "PASS",
            severities=[(s.label, by_severity[s.label]) for s in sorted(Severity, reverse=True)],
            rules=rule_rows(report),
            syntaxes=sorted(syntaxes.items(), key=lambda kv: (-kv[1], kv[0])),
            devices=sorted(devices.items(), key=lambda kv: (-kv[1], kv[0])),
            files=views,
            clean=[r for r in report.files if not r.findings and r.status != "skipped"],
            skipped=[r for r in report.files if r.status == "skipped"],
            open_limit=OPEN_LIMIT,
            detail_limit=DETAIL_LIMIT,
            css=Markup(css),
            js=Markup(js),
            csp=csp,
        )
    )
    return _INVISIBLE.sub(_visible, page)


# What autoescaping leaves and a page must not carry as is: controls (not TAB and LF,
# which the page's own text may use), bidi controls that would reorder a file name on
# screen, and lone surrogates (a file name's undecodable bytes) that UTF-8 cannot encode.
# Only values carry them (the template and its assets have none), so the page is
# filtered once, after rendering.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match[0])
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

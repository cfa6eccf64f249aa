"""The text format: one grep-able line per finding, then a one-line summary."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from dcmencaps_lint.model import FileReport, Report

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding


def _escape(text: str) -> str:
    """Keep one finding on one line whatever a file name or message contains.

    What a terminal would act on or hide is shown as an escape: C0/C1 controls (ESC, CR,
    BEL, backspace...) and invisible format characters such as the bidi overrides as
    \\x1b or \\u202e, and a file name's undecodable byte (a surrogate under
    surrogateescape) as the byte itself, \\xff.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else escaped_char(ord(ch)) for ch in text)


def escaped_char(code: int) -> str:
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def finding_line(path: str, finding: Finding) -> str:
    where = f":0x{finding.offset:08X}" if finding.offset is not None else ""
    return (
        f"{_escape(path)}{where}: {finding.code} {finding.severity.label} "
        f"{_escape(finding.message)} [{finding.name}]"
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(report: Report) -> str:
    s = report.summary
    if s.errors + s.warnings + s.infos == 0:
        found = "No findings"
    else:
        found = "Found " + ", ".join(
            [_plural(s.errors, "error"), _plural(s.warnings, "warning"), _plural(s.infos, "info")]
        )
    fixed = f"; {s.fixed} fixed" if s.fixed else ""
    return (
        f"{found} in {_plural(s.files, 'file')}: {s.failed} failed, {s.passed} passed, "
        f"{s.skipped} skipped{fixed}"
    )


def statistics_lines(report: Report) -> list[str]:
    counts = Counter((f.code, f.name) for r in report.files for f in r.findings)
    return [f"{n:6d}  {code}  {name}" for (code, name), n in sorted(counts.items())]


def _file_lines(file: FileReport, verbose: bool) -> list[str]:
    lines = [finding_line(file.path, f) for f in file.findings]
    if file.planned:  # --diff
        path = _escape(file.path)
        lines += [f"{path}: would fix: {_escape(line)}" for line in file.planned]
    if verbose:
        path = _escape(file.path)
        lines += [f"{path}: fixed {f.code} {_escape(f.message)} [{f.name}]" for f in file.fixes]
    if verbose and file.status == "skipped":
        lines.append(f"{_escape(file.path)}: skipped ({file.reason})")
    return lines


def render_text(
    report: Report, *, quiet: bool = False, verbose: bool = False, statistics: bool = False
) -> str:
    lines = [line for file in report.files for line in _file_lines(file, verbose)]
    if statistics:
        lines.extend(statistics_lines(report))
    if not quiet:
        lines.append(summary_line(report))
    return "\n".join(lines) + ("\n" if lines else "")

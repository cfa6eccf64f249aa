"""GitHub Actions workflow commands: annotations on the run, one log group per file.

`::error file=PATH,title=TITLE::MESSAGE` (`::warning`, `::notice` by severity). A binary
file has no lines, so the byte offset goes into the title. GitHub shows at most 10
annotations of each severity per step: past that, findings are printed as plain text
lines (the text format's) in their file's group, and a notice per severity says how
many were not annotated. Notices keep room for those summaries, so none is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcmencaps_lint.formats.text import escaped_char, finding_line, summary_line
from dcmencaps_lint.model import Report, Severity

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding

MAX_PER_SEVERITY = 10
COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
NOUNS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "info finding"}


def escape_data(text: str) -> str:
    """As @actions/core escapes a command's message: % CR LF.

    Before that, what a log viewer or terminal would act on or hide (other controls such
    as ESC, bidi overrides) is shown as an escape, as in the text format, and a file
    name's undecodable bytes (surrogates under surrogateescape) as \\xff.
    """
    if not text.isprintable():
        text = "".join(
            ch if ch.isprintable() or ch in "\r\n" else escaped_char(ord(ch)) for ch in text
        )
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """As @actions/core escapes a property value: the data escapes, and ':' ','."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(path: str, finding: Finding) -> str:
    title = f"{finding.code} {finding.name}"
    if finding.offset is not None:
        title += f" at byte {finding.offset}"
    return (
        f"::{COMMANDS[finding.severity]} file={escape_property(path)},"
        f"title={escape_property(title)}::{escape_data(finding.message)}"
    )


def _capacity(report: Report) -> dict[Severity, int]:
    """Annotations allowed per severity; notices leave room for the overflow summaries."""
    counts = {s: 0 for s in Severity}
    for file in report.files:
        for finding in file.findings:
            counts[finding.severity] += 1
    capacity = dict.fromkeys(Severity, MAX_PER_SEVERITY)
    overflowing = {s for s in Severity if counts[s] > MAX_PER_SEVERITY}
    # Reserving room for the summaries may itself push the notices over the limit.
    if counts[Severity.INFO] + len(overflowing) > MAX_PER_SEVERITY:
        overflowing.add(Severity.INFO)
    capacity[Severity.INFO] -= len(overflowing)
    return capacity


def render_github(report: Report, *, quiet: bool = False, **_: object) -> str:
    capacity = _capacity(report)
    left_out = {s: 0 for s in Severity}
    lines: list[str] = []
    for file in report.files:
        if not file.findings:
            continue
        lines.append(f"::group::{escape_data(file.path)}")
        for finding in file.findings:
            if capacity[finding.severity] > 0:
                capacity[finding.severity] -= 1
                lines.append(annotation(file.path, finding))
            else:
                left_out[finding.severity] += 1
                # Indented: a line starting with '::' would be read as a command.
                lines.append("  " + finding_line(file.path, finding))
        lines.append("::endgroup::")
    for severity in sorted(Severity, reverse=True):
        count = left_out[severity]
        if count:
            noun = NOUNS[severity] + ("" if count == 1 else "s")
            lines.append(
                f"::notice title=encaps-lint::{count} more {noun} not annotated "
                "(GitHub shows 10 per severity); see the log above or the text output"
            )
    if not quiet:
        lines.append(summary_line(report))
    return "\n".join(lines) + ("\n" if lines else "")

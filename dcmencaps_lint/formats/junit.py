"""JUnit XML for CI test reports (GitLab `artifacts:reports:junit`, Jenkins `junit`).

One <testsuite> per file, named by its path. Each finding is a failing <testcase>
(classname = path, a name unique in the suite: code, offset, item, frame), a clean file
has one passing testcase, a skipped file one <skipped/> testcase. GitLab keys tests on
classname + name and keeps only the first of duplicates, hence the unique names.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from dcmencaps_lint.model import FileReport, Report

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding

# What XML 1.0 cannot carry: most C0 controls, surrogates (undecodable file-name bytes
# under surrogateescape), U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Replace what XML 1.0 cannot carry with a visible escape (\\x01, \\udc80)."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match[0])
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _NOT_XML.sub(escape, text)


def case_name(finding: Finding) -> str:
    """'BOT004 bot-offset-not-item-start @524 item0 frame3' ('@-' without an offset)."""
    where = "-" if finding.offset is None else str(finding.offset)
    name = f"{finding.code} {finding.name} @{where}"
    if finding.item is not None:
        name += f" item{finding.item}"
    if finding.frame is not None:
        name += f" frame{finding.frame}"
    return name


def _details(finding: Finding) -> str:
    lines = [f"{finding.code} {finding.name} ({finding.severity.label})", finding.message]
    if finding.offset is not None:
        lines.append(f"offset: {finding.offset} (0x{finding.offset:08X})")
    for key in ("length", "item", "frame", "element", "reference"):
        value = getattr(finding, key)
        if value not in (None, ""):
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


def _suite(file: FileReport) -> tuple[ET.Element, int, int, int]:
    """The file's <testsuite> and its (tests, failures, skipped) counts."""
    path = _xml_safe(file.path)
    suite = ET.Element("testsuite", name=path)
    if file.status == "skipped":
        case = ET.SubElement(suite, "testcase", classname=path, name="encaps-lint")
        ET.SubElement(case, "skipped", message=_xml_safe(file.reason or "skipped"))
        counts = (1, 0, 1)
    elif not file.findings:
        ET.SubElement(suite, "testcase", classname=path, name="encaps-lint")
        counts = (1, 0, 0)
    else:
        used: dict[str, int] = {}
        for finding in file.findings:
            name = case_name(finding)
            used[name] = used.get(name, 0) + 1
            if used[name] > 1:  # same code at the same place twice: keep names unique
                name += f" #{used[name]}"
            case = ET.SubElement(suite, "testcase", classname=path, name=_xml_safe(name))
            failure = ET.SubElement(
                case, "failure", message=_xml_safe(finding.message), type=finding.code
            )
            failure.text = _xml_safe(_details(finding))
        counts = (len(file.findings), len(file.findings), 0)
    tests, failures, skipped = counts
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    return suite, tests, failures, skipped


def render_junit(report: Report, **_: object) -> str:
    root = ET.Element("testsuites", name="encaps-lint")
    totals = [0, 0, 0]
    for file in report.files:
        suite, *counts = _suite(file)
        root.append(suite)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", "0")
    root.set("skipped", str(totals[2]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"

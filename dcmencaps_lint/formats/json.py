"""The JSON report: a versioned contract (SPEC.md "JSON report", schema_version 1).

Fields may be added; none may be renamed or removed without raising SCHEMA_VERSION.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dcmencaps_lint.model import FileReport, Report, Summary

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding

SCHEMA_VERSION = 1


def finding_dict(finding: Finding) -> dict[str, Any]:
    data = finding.as_dict()
    data["severity"] = finding.severity.label
    fix = finding.fix
    # what --fix would do about it: the edit in words, and whether it is safe
    data["fix"] = None if fix is None else {"edit": fix.describe(), "safe": fix.safe}
    return data


def fixed_dict(finding: Finding) -> dict[str, Any]:
    """A finding that --fix repaired, as the file's `fixes` list shows it."""
    return {
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "offset": finding.offset,
    }


def summary_dict(summary: Summary) -> dict[str, Any]:
    """The counts; `fixed` only after --fix repaired something (an added field)."""
    data = summary._asdict()
    if not data["fixed"]:
        del data["fixed"]
    return data


def file_dict(file: FileReport) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": file.path,
        "status": file.status,
        "sop_instance_uid": file.sop_instance_uid,
        "sop_class_uid": file.sop_class_uid,
        "transfer_syntax": (
            {"uid": file.transfer_syntax.uid, "name": file.transfer_syntax.name}
            if file.transfer_syntax
            else None
        ),
        "number_of_frames": file.number_of_frames,
        "fragments": file.fragments,
        "frames_found": file.frames_found,
        "frame_map_source": file.frame_map_source,
        "findings": [finding_dict(f) for f in file.findings],
    }
    if file.reason is not None:
        data["reason"] = file.reason
    if file.fixes:
        data["fixes"] = [fixed_dict(f) for f in file.fixes]
    if file.planned:
        data["planned"] = list(file.planned)
    return data


def tool_dict() -> dict[str, str]:
    from dcmencaps_lint import __version__

    return {"name": "encaps-lint", "version": __version__}


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": tool_dict(),
        "summary": summary_dict(report.summary),
        "files": [file_dict(f) for f in report.files],
    }


def render_json(report: Report, **_: object) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"

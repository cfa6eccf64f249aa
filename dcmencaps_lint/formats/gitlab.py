"""GitLab Code Quality (`artifacts:reports:codequality`, a subset of Code Climate's format).

A JSON list with one issue per finding. A binary file has no lines, so every issue is on
line 1 and the byte offset goes into the description. Fingerprints are SARIF's: stable
across runs and unique in the report, as GitLab needs to tell new issues from old.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dcmencaps_lint.formats.sarif import fingerprints, where
from dcmencaps_lint.model import Report, Severity

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding

SEVERITIES = {Severity.INFO: "info", Severity.WARNING: "minor", Severity.ERROR: "major"}


def _issue(path: str, finding: Finding, fingerprint: str) -> dict[str, Any]:
    description = f"{finding.code} {finding.message}"
    if where(finding):
        description += f" ({where(finding)})"
    return {
        "type": "issue",
        "description": description,
        "check_name": finding.code,
        "fingerprint": fingerprint,
        "severity": SEVERITIES[finding.severity],
        "location": {"path": path, "lines": {"begin": 1}},
    }


def render_gitlab(report: Report, **_: object) -> str:
    issues = [
        _issue(file.path, finding, fingerprint)
        for file in report.files
        for finding, fingerprint in fingerprints(file)
    ]
    return json.dumps(issues, indent=2) + "\n"

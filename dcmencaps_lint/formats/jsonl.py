"""JSON Lines: one file object per line as each file finishes, then a summary line.

For PACS ingest: a consumer can act on each instance as soon as its line arrives. Each
line is the same file object as in the JSON report (schema_version 1); the last line is
`{"summary": {...}, "schema_version": 1, "tool": {...}}`.
"""

from __future__ import annotations

import json

from dcmencaps_lint.formats.json import SCHEMA_VERSION, file_dict, summary_dict, tool_dict
from dcmencaps_lint.model import FileReport, Report, Summary


def file_line(file: FileReport) -> str:
    return json.dumps(file_dict(file), separators=(",", ":")) + "\n"


def summary_line(summary: Summary) -> str:
    record = {
        "summary": summary_dict(summary),
        "schema_version": SCHEMA_VERSION,
        "tool": tool_dict(),
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def render_jsonl(report: Report, **_: object) -> str:
    return "".join(file_line(f) for f in report.files) + summary_line(report.summary)

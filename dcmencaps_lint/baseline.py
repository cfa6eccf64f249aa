"""Baselines: adopt the linter on an existing archive by recording what it finds today.

`--write-baseline FILE` records every current finding, keyed by the SHA-256 of the
file's content and the rule code, with the count; `--baseline FILE` then drops the
findings whose (content hash, code) is recorded. Keying on the content, not the path,
means a moved or renamed file keeps its baseline, a copy shares it, and a file whose
bytes change loses it (all its findings come back).

When a (hash, code) is recorded, every finding of that code in that content is dropped,
whatever the recorded count: the same bytes give the same findings, so a different
count can only come from a newer linter finding more in an old file, and such findings
belong to the baseline's decision, not to a new defect. The count is kept for people.

Findings dropped by the baseline do not count anywhere: not in the report, the summary
or the exit code. The baseline filter does not apply to what `--write-baseline` writes,
so the two together refresh a baseline. Files that could not be read (no hash) are
never suppressed. Hashing reads every byte of every file, unlike a plain lint run.

Format (JSON, `schema_version` 1): {"schema_version": 1, "tool": {...}, "entries":
[{"sha256": ..., "path": ..., "code": ..., "count": n}]}, sorted by path then code;
`path` is the first file seen with that content, for people only.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from dcmencaps_lint.model import FileReport, Severity

SCHEMA_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

Key = tuple[str, str]  # (content sha256, rule code)


class BaselineError(Exception):
    """A baseline file that cannot be used; the message is one line."""


def entries(files: Iterable[FileReport]) -> list[dict[str, Any]]:
    """One entry per (content hash, code) among the files' findings."""
    seen: dict[Key, dict[str, Any]] = {}
    for file in files:
        if file.content_sha256 is None:
            continue
        for code, count in Counter(f.code for f in file.findings).items():
            key = (file.content_sha256, code)
            if key not in seen:  # a copy of the same bytes has the same findings
                seen[key] = {"sha256": key[0], "path": file.path, "code": code, "count": count}
    return sorted(seen.values(), key=lambda e: (e["path"], e["code"], e["sha256"]))


def dumps(files: Iterable[FileReport]) -> str:
    from dcmencaps_lint.formats.json import tool_dict

    data = {"schema_version": SCHEMA_VERSION, "tool": tool_dict(), "entries": entries(files)}
    return json.dumps(data, indent=2) + "\n"


def write(path: str | os.PathLike[str], files: Iterable[FileReport]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dumps(files))


def load(path: str | os.PathLike[str]) -> frozenset[Key]:
    """The (content hash, code) keys recorded in a baseline file."""
    shown = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise BaselineError(f"{shown}: cannot read the baseline: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{shown}: not a JSON baseline: {exc}") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise BaselineError(
            f"{shown}: not an encaps-lint baseline of schema_version {SCHEMA_VERSION}"
        )
    items = data.get("entries")
    if not isinstance(items, list):
        raise BaselineError(f"{shown}: 'entries' must be a list")
    keys = set()
    for n, entry in enumerate(items):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and _SHA256.match(entry["sha256"])
            and isinstance(entry.get("code"), str)
        ):
            raise BaselineError(f"{shown}: entry {n} needs a 'sha256' (64 hex digits) and a 'code'")
        keys.add((entry["sha256"], entry["code"]))
    return frozenset(keys)


def suppress(file: FileReport, known: frozenset[Key], fail_on: Severity | None) -> FileReport:
    """The file's report less the findings the baseline records, its status redone."""
    from dcmencaps_lint.engine import file_status

    digest = file.content_sha256
    if digest is None or not file.findings:
        return file
    kept = tuple(f for f in file.findings if (digest, f.code) not in known)
    if len(kept) == len(file.findings):
        return file
    offsets = {f.offset for f in kept}
    excerpts = tuple(e for e in file.excerpts if e.offset in offsets)
    return file._replace(findings=kept, status=file_status(kept, fail_on), excerpts=excerpts)

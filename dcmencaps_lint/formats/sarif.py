"""SARIF 2.1.0, in two flavours.

`sarif` follows the standard: a DICOM file is a binary artifact, so each result's region
is a byte region (`byteOffset`, `byteLength`, absolute in the file) and never a text
region (SARIF 2.1.0 §3.30). `sarif-github` is what GitHub code scanning accepts: it
rejects byte regions and wants `startLine`, so the region is line 1 and the byte
coordinates go to `result.properties` and the message.

`partialFingerprints` are stable across runs: a hash of the path, the file's content
(its SHA-256 when the engine computed one, else its SOP Instance UID), the code and the
location (element, offset, item, frame). GitLab Code Quality reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dcmencaps_lint.docs import markdown_page, sections, text_page
from dcmencaps_lint.model import FileReport, Report, Severity
from dcmencaps_lint.registry import Rule, load_rules

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "encapsLint/v1"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_uri(path: str) -> str:
    """A URI reference for a path: relative stays relative, absolute becomes file://.

    Everything but unreserved characters and '/' is percent-encoded (UTF-8; undecodable
    file-name bytes as themselves), so ':' in a first segment cannot pose as a scheme.
    """
    posix = path.replace(os.sep, "/")
    escaped = quote(posix, safe="/", errors="surrogateescape")
    return "file://" + escaped if posix.startswith("/") else escaped


def _fingerprint_key(file: FileReport, finding: Finding) -> str:
    content = file.content_sha256 or file.sop_instance_uid or ""
    parts = (file.path, content, finding.code, finding.element, finding.offset)
    return "|".join(str(p) for p in (*parts, finding.item, finding.frame))


def fingerprints(file: FileReport) -> Iterator[tuple[Finding, str]]:
    """Each finding with a fingerprint stable across runs and unique within the file."""
    seen: dict[str, int] = {}
    for finding in file.findings:
        key = _fingerprint_key(file, finding)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same code at the same place twice: number the repeats
            key += f"|{seen[key]}"
        data = key.encode("utf-8", "surrogateescape")
        yield finding, hashlib.sha256(data).hexdigest()


def where(finding: Finding) -> str:
    """'byte 1338, item 0, frame 2': the coordinates a line-based viewer cannot show."""
    parts = [] if finding.offset is None else [f"byte {finding.offset}"]
    if finding.item is not None:
        parts.append(f"item {finding.item}")
    if finding.frame is not None:
        parts.append(f"frame {finding.frame}")
    return ", ".join(parts)


def _descriptor(code: str, finding: Finding, rule: Rule | None) -> dict[str, Any]:
    if rule is None:  # a plugin that is not installed here: what the finding says
        return {"id": code, "name": finding.name, "shortDescription": {"text": finding.name}}
    what = sections(rule).get("What it checks") or rule.summary
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": what, "markdown": what},
        "help": {"text": text_page(rule), "markdown": markdown_page(rule)},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["dicom", rule.family], "reference": rule.reference},
    }


def _rules(report: Report) -> list[dict[str, Any]]:
    """One reportingDescriptor per rule that has a result, by code."""
    registry = load_rules()
    first: dict[str, Finding] = {}
    for file in report.files:
        for finding in file.findings:
            first.setdefault(finding.code, finding)
    return [_descriptor(c, first[c], registry.get(c)) for c in sorted(first)]


def _properties(file: FileReport, finding: Finding) -> dict[str, Any]:
    props: dict[str, Any] = {
        "byteOffset": finding.offset,
        "byteLength": finding.length,
        "item": finding.item,
        "frame": finding.frame,
        "element": finding.element,
        "reference": finding.reference,
        "sopInstanceUid": file.sop_instance_uid,
    }
    return {key: value for key, value in props.items() if value not in (None, "")}


def _result(
    file: FileReport,
    finding: Finding,
    fingerprint: str,
    artifact: int,
    rule_index: int,
    *,
    github: bool,
) -> dict[str, Any]:
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": artifact_uri(file.path), "index": artifact}
    }
    message = finding.message
    prints = {FINGERPRINT_KEY: fingerprint}
    if github:
        # GitHub rejects byte regions and needs startLine: the file's first "line".
        physical["region"] = {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 2}
        if where(finding):
            message = f"{message} ({where(finding)})"
        prints["primaryLocationLineHash"] = fingerprint  # the only one GitHub reads
    elif finding.offset is not None:
        region: dict[str, int] = {"byteOffset": finding.offset}
        if finding.length is not None:
            region["byteLength"] = finding.length
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    logical = [finding.element] if finding.element else []
    if finding.item is not None:
        logical.append(f"Item[{finding.item}]")
    if finding.frame is not None:
        logical.append(f"Frame[{finding.frame}]")
    if logical:  # "(7FE0,0010)/Item[0]/Frame[2]"
        location["logicalLocations"] = [
            {"fullyQualifiedName": "/".join(logical), "kind": "element"}
        ]
    return {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": prints,
        "properties": _properties(file, finding),
    }


def _artifact(file: FileReport) -> dict[str, Any]:
    artifact: dict[str, Any] = {
        "location": {"uri": artifact_uri(file.path)},
        "mimeType": "application/dicom",
        "roles": ["analysisTarget"],
    }
    if file.content_sha256:
        artifact["hashes"] = {"sha-256": file.content_sha256}
    return artifact


def sarif_log(report: Report, *, github: bool = False) -> dict[str, Any]:
    from dcmencaps_lint import __version__

    rules = _rules(report)
    index = {descriptor["id"]: i for i, descriptor in enumerate(rules)}
    linted = [f for f in report.files if f.status != "skipped"]
    results = [
        _result(file, finding, fingerprint, artifact, index[finding.code], github=github)
        for artifact, file in enumerate(linted)
        for finding, fingerprint in fingerprints(file)
    ]
    driver = {"name": "encaps-lint", "version": __version__, "semanticVersion": __version__}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {**driver, "rules": rules}},
                "invocations": [{"executionSuccessful": True}],
                "artifacts": [_artifact(f) for f in linted],
                "results": results,
            }
        ],
    }


def render_sarif(report: Report, **_: object) -> str:
    return json.dumps(sarif_log(report), indent=2) + "\n"


def render_sarif_github(report: Report, **_: object) -> str:
    return json.dumps(sarif_log(report, github=True), indent=2) + "\n"

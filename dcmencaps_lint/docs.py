"""Rule documentation: the sections of a rule's docstring, rendered as its page.

A rule's docstring is its documentation, in sections with underlined headings (the
NumPy docstring style pydicom uses): What it checks, Why it matters, Example, How to
fix, Reference. `encaps-lint --explain` prints the page; `scripts/make_rule_docs.py`
writes it to rules/<CODE>.md, and a test keeps those files in sync.
"""

from __future__ import annotations

import re

from dcmencaps_lint.registry import Rule

SECTIONS = ("What it checks", "Why it matters", "Example", "How to fix", "Reference")
_HEADING = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-+$", re.M)


def sections(rule: Rule) -> dict[str, str]:
    """Section title -> text, in docstring order."""
    found = list(_HEADING.finditer(rule.doc))
    result: dict[str, str] = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(rule.doc)
        result[match["title"]] = rule.doc[match.end() : end].strip("\n").rstrip()
    return result


def missing_sections(rule: Rule) -> list[str]:
    present = sections(rule)
    return [title for title in SECTIONS if not present.get(title, "").strip()]


def _facts(rule: Rule) -> list[tuple[str, str]]:
    facts = [
        ("Code", rule.code),
        ("Name", rule.name),
        ("Severity", rule.severity.label),
        ("Reference", rule.reference),
    ]
    if rule.deep:
        facts.append(("Deep", "yes: runs with --deep or when selected by code or name"))
    if rule.origin != "dcmencaps_lint":
        facts.append(("Plugin", rule.origin))
    return facts


def markdown_page(rule: Rule) -> str:
    """The rule's page under rules/, in Markdown."""
    lines = [f"# {rule.code} {rule.name}", "", rule.summary + ".", ""]
    lines += [f"- **{key}**: {value}" for key, value in _facts(rule)]
    for title, text in sections(rule).items():
        lines += ["", f"## {title}", "", text]
    return "\n".join(lines) + "\n"


def text_page(rule: Rule) -> str:
    """The rule's page for a terminal (`--explain`)."""
    lines = [f"{rule.code} {rule.name}", "", rule.summary + ".", ""]
    lines += [f"{key + ':':<11}{value}" for key, value in _facts(rule)]
    for title, text in sections(rule).items():
        lines += ["", title, "-" * len(title), text]
    return "\n".join(lines) + "\n"


def markdown_index(rules: list[Rule]) -> str:
    """rules/README.md: one row per rule, grouped by family."""
    lines = [
        "# encaps-lint rules",
        "",
        "Every rule, generated from the rules themselves by `python scripts/make_rule_docs.py`",
        "(a test fails when a page is missing or stale). `encaps-lint --explain CODE` shows",
        "the same page in a terminal.",
        "",
        "| code | name | severity | summary |",
        "|---|---|---|---|",
    ]
    for r in rules:
        deep = " (deep)" if r.deep else ""
        lines.append(
            f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.label} | {r.summary}{deep} |"
        )
    return "\n".join(lines) + "\n"

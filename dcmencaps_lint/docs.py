"""Rule documentation: the sections of a rule's docstring, rendered as its page.

A rule's docstring is its documentation, in sections with underlined headings (the
NumPy docstring style pydicom uses): What it checks, Why it matters, Example, How to
fix, Reference. `encaps-lint --explain` prints the page; `scripts/make_rule_docs.py`
writes it to rules/<CODE>.md, and a test keeps those files in sync.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dcmencaps_lint.context import Shape
from dcmencaps_lint.registry import Deep, FixAvailability, Rule

SECTIONS = ("What it checks", "Why it matters", "Example", "How to fix", "Reference")
_HEADING = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-+$", re.M)


def sections(rule: Rule) -> dict[str, str]:
    """Section title -> text, in docstring order."""
    doc = rule.doc  # cleaned on each access: once here
    found = list(_HEADING.finditer(doc))
    result: dict[str, str] = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(doc)
        result[match["title"]] = doc[match.end() : end].strip("\n").rstrip()
    return result


def missing_sections(rule: Rule) -> list[str]:
    present = sections(rule)
    return [title for title in SECTIONS if not present.get(title, "").strip()]


# What each shape a rule may declare (when=) means, on its page.
RUNS_WHERE = {
    Shape.EOT: "the data set has an Extended Offset Table or its Lengths",
    Shape.BOT_VALUES: "the Basic Offset Table has values",
    Shape.FRAMES: "Number of Frames is more than 1",
    Shape.IRREGULAR_ITEMS: "the items are not the regular run (a Basic Offset Table item, "
    "fragments of even, non-zero, defined length, a Sequence Delimitation Item of length 0)",
}


def _facts(rule: Rule) -> list[tuple[str, str]]:
    facts = [
        ("Code", rule.code),
        ("Name", rule.name),
        ("Severity", rule.severity.label),
        ("Reference", rule.reference),
    ]
    if rule.decode:
        facts.append(("Decode", "yes: runs with --decode or when selected by code or name"))
    elif rule.deep is Deep.WHOLE:
        facts.append(("Deep", "yes: runs with --deep or when selected by code or name"))
    elif rule.deep is Deep.PART:
        facts.append(
            (
                "Deep",
                "in part: the checks that read whole fragments run with --deep or when "
                "selected by code or name",
            )
        )
    if rule.when is not Shape.NONE:
        where = [text for shape, text in RUNS_WHERE.items() if rule.when & shape]
        facts.append(("Runs", "where " + " and ".join(where)))
    facts.append(("Fix", fix_label(rule)))
    if rule.origin != "dcmencaps_lint":
        facts.append(("Plugin", rule.origin))
    return facts


def fix_label(rule: Rule) -> str:
    """Whether the rule offers a fix: never, sometimes or always, and whether it is unsafe."""
    if rule.fix is FixAvailability.NEVER:
        return "never"
    unsafe = ", unsafe (changes codestream bytes: with --unsafe-fixes only)"
    return rule.fix.value + (unsafe if rule.unsafe_fix else ", safe")


def fix_kind(rule: Rule) -> str | None:
    """The fix column of a rule table: safe, unsafe, or None when the rule offers none."""
    if rule.fix is FixAvailability.NEVER:
        return None
    return "unsafe" if rule.unsafe_fix else "safe"


def catalogue(rules: Iterable[Rule]) -> list[dict[str, object]]:
    """The rules as `--list-rules --format json` prints them."""
    return [
        {
            "code": r.code,
            "name": r.name,
            "severity": r.severity.label,
            "summary": r.summary,
            "reference": r.reference,
            "deep": {Deep.WHOLE: "yes", Deep.PART: "part"}.get(r.deep, "no"),
            "decode": r.decode,
            "fix": fix_kind(r),
            "origin": r.origin,
        }
        for r in rules
    ]


def deep_label(rule: Rule) -> str:
    """The deep column of a rule table: yes, part or nothing."""
    return {Deep.WHOLE: "yes", Deep.PART: "part"}.get(rule.deep, "")


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


# Family -> (title, one line on what it covers), in the order data flows through the linter.
FAMILIES = {
    "PRS": (
        "the file could not be linted",
        "The engine's own findings: not DICOM, unreadable, unparsable, or a rule crashed.",
    ),
    "TSX": (
        "transfer syntax and the Pixel Data element",
        "The transfer syntax against Pixel Data's VR and length, Number of Frames, the lossy flag.",
    ),
    "ITM": (
        "the item sequence",
        "The items of encapsulated Pixel Data: tags, lengths, the BOT item, the delimiter.",
    ),
    "BOT": (
        "Basic Offset Table",
        "The first item's 32-bit offset to each frame: length, count, origin, order, 4 GiB.",
    ),
    "EOT": (
        "Extended Offset Table",
        "(7FE0,0001) and (7FE0,0002): 64-bit offsets and lengths, one fragment per frame.",
    ),
    "FRG": (
        "fragments and frames",
        "How fragments map to frames: counts, one fragment per frame, one frame per fragment.",
    ),
    "CSM": (
        "per-frame codestream",
        "Each frame's codestream by codec: start and end markers, headers against attributes.",
    ),
    "DEC": (
        "damage inside a frame (with --decode)",
        "The coded data inside frames whose markers and headers are right: read whole frames.",
    ),
}

READING = """\
## How to read a finding

A finding names its rule by code and name (both work with `--select`, `--ignore` and
`--explain`) and has a severity: `error` breaks a "shall" of the DICOM Standard,
`warning` is a "should" or a known interoperability hazard, `info` is worth knowing (it
fails a run only with `--fail-on info`). `offset` is the absolute byte offset in the
file (hex in the text format): for an item length it is the 4-byte length field, for an
offset table entry the entry itself. `frame` counts from 1, as DICOM does; `item` 0 is
the Basic Offset Table item and fragments are items 1..n. `element` names the Pixel Data
element (nested ones too, e.g. in an Icon Image Sequence) or the attribute at fault.
When one defect implies another, only the root cause is reported. Deep rules read whole
fragments: they run with `--deep`, or when selected by code or name (a partly deep rule
runs its other checks always). Each page says whether the rule offers a fix (`--fix`).
"""


def markdown_index(rules: list[Rule]) -> str:
    """rules/README.md: how to read a finding, then the rules grouped by family."""
    lines = [
        "# encaps-lint rules",
        "",
        "Every rule, generated from the rules themselves by `python scripts/make_rule_docs.py`",
        "(a test fails when a page is missing or stale). `encaps-lint --explain CODE` shows",
        "the same page in a terminal.",
        "",
        READING,
    ]
    present = {r.family for r in rules}
    families = [f for f in FAMILIES if f in present] + sorted(present - FAMILIES.keys())
    for family in families:
        title, description = FAMILIES.get(family, ("", ""))
        lines += [f"## {family}" + (f": {title}" if title else ""), ""]
        lines += [description, ""] if description else []
        lines += ["| code | name | severity | deep | summary |", "|---|---|---|---|---|"]
        lines += [
            f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.label} | "
            f"{deep_label(r)} | {r.summary} |"
            for r in rules
            if r.family == family
        ]
        lines.append("")
    return "\n".join(lines)

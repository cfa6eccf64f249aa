"""Add a rule: its declaration and check in its family's module, its tests, its page.

    python scripts/add_rule.py CSM rle-segment-odd-length --severity warning \\
        --ref "PS3.5 G.5" --summary "An RLE segment offset is odd" --codecs "{Codec.RLE}"

takes the family's next free code, appends a skeleton rule to the family's module
(dcmencaps_lint/rules/<family>.py; --module for another, e.g. csm_header), a test class
to tests/test_rules_<module>.py, and writes rules/<CODE>.md and rules/README.md. Nothing
else needs to change: the module is already in registry.BUILTIN_MODULES. The skeleton
reports nothing and its first test fails until the rule is written: fill in the
docstring's sections, the check, and the bytes of a broken file.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDS = {
    "dataset": ("DATASET", "Context"),
    "pixel": ("PIXEL", "PixelContext"),
    "items": ("ITEMS", "ItemsContext"),
    "encapsulated": ("ENCAPSULATED", "EncapsulatedContext"),
}

RULE = '''

@rule(
    "{code}",
    "{name}",
    Severity.{severity},
    ref="{ref}",
    summary="{summary}",{needs}{codecs}
    fix=FixAvailability.NEVER,
)
def {function}(ctx: {context}) -> Iterator[Problem]:
    """
    What it checks
    --------------
    TODO: what the rule reports, exactly, and what it leaves to other rules.

    Why it matters
    --------------
    TODO: what readers do with such files (name them, cite their messages).

    Example
    -------
    TODO: the bytes of a bad case, annotated, and the good form.

    How to fix
    ----------
    TODO: what to change in the file, or in the writer.

    Reference
    ---------
    TODO: the clause of the Standard, quoted or paraphrased.
    """
    yield from ()  # TODO: yield Problem(message, offset=..., length=..., frame=..., item=...)
'''

TEST = """

class Test{camel}:
    def test_flags_the_broken_bytes(self) -> None:
        pytest.fail("{code}: build the exact bytes of a broken file, then assert_findings()")

    def test_a_valid_file_is_quiet(self) -> None:
        pytest.fail("{code}: lint a valid file of the syntaxes the rule applies to")
"""


def next_code(family: str) -> str:
    sys.path.insert(0, str(ROOT))
    from dcmencaps_lint.registry import load_rules

    taken = [int(r.code[3:]) for r in load_rules() if r.family == family]
    return f"{family}{max(taken, default=0) + 1:03d}"


def _ensure_imports(source: str, module: str, names: list[str]) -> str:
    """Add `from module import name` for each name the file's imports lack."""
    head = source.split("\n\n\n", 1)[0]  # the docstring and the imports
    missing = [name for name in names if not re.search(rf"\b{name}\b", head)]
    if not missing:
        return source
    line = f"from {module} import {', '.join(missing)}\n"
    anchor = source.find("\nfrom ")
    anchor = anchor + 1 if anchor >= 0 else len(head) + 1
    return source[:anchor] + line + source[anchor:]


def _tidy(paths: list[Path]) -> None:
    """Sort the imports and format the two edited files, when ruff is installed."""
    for command in (["check", "--fix", "--select", "I,F401"], ["format"]):
        subprocess.run(
            [sys.executable, "-m", "ruff", *command, *map(str, paths)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )


def add_rule(args: argparse.Namespace) -> list[Path]:
    family = args.family.upper()
    if not re.fullmatch(r"[A-Z]{3}", family):
        raise SystemExit(f"add_rule: a family is three letters, not {args.family!r}")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", args.name):
        raise SystemExit(f"add_rule: a rule name is kebab-case, not {args.name!r}")
    module = args.module or family.lower()
    module_path = ROOT / "dcmencaps_lint" / "rules" / f"{module}.py"
    test_path = ROOT / "tests" / f"test_rules_{module}.py"
    if not module_path.is_file():
        raise SystemExit(f"add_rule: no module {module_path}: a new family is a new module")
    code = next_code(family)
    function = args.name.replace("-", "_")
    needs_value, context = NEEDS[args.needs]
    rule_source = RULE.format(
        code=code,
        name=args.name,
        severity=args.severity.upper(),
        ref=args.ref,
        summary=args.summary,
        needs="" if args.needs == "encapsulated" else f"\n    needs=Needs.{needs_value},",
        codecs=f"\n    codecs={args.codecs}," if args.codecs else "",
        function=function,
        context=context,
    )
    source = module_path.read_text().rstrip("\n") + "\n" + rule_source
    context_names = [context] + (["Needs"] if args.needs != "encapsulated" else [])
    for module_name, names in (
        ("collections.abc", ["Iterator"]),
        ("dcmencaps_lint.context", context_names),
        ("dcmencaps_lint.model", ["Problem", "Severity"]),
        ("dcmencaps_lint.registry", ["FixAvailability", "rule"]),
        ("dcmencaps_lint.transfer_syntax", _syntax_names(args.codecs or "", source)),
    ):
        source = _ensure_imports(source, module_name, names)
    module_path.write_text(source)

    camel = "".join(part.capitalize() for part in args.name.split("-"))
    tests = test_path.read_text() if test_path.is_file() else f'"""{code}."""\n'
    tests = tests.rstrip("\n") + "\n" + TEST.format(camel=camel, code=code)
    if not re.search(r"^import pytest$", tests, re.M):
        tests = tests.replace("\nfrom ", "\nimport pytest\nfrom ", 1)
    test_path.write_text(tests)
    _tidy([module_path, test_path])

    # A fresh interpreter: this one has the module loaded as it was before the edit.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_rule_docs.py")], env=env, check=True
    )
    print(
        f"{code} {args.name}: {module_path.relative_to(ROOT)}, {test_path.relative_to(ROOT)}, "
        f"rules/{code}.md"
    )
    return [module_path, test_path, ROOT / "rules" / f"{code}.md", ROOT / "rules" / "README.md"]


def _syntax_names(codecs: str, source: str) -> list[str]:
    """The names in a --codecs expression that transfer_syntax.py defines and the module
    does not define itself."""
    from dcmencaps_lint import transfer_syntax

    names = re.findall(r"\b[A-Za-z_][A-Za-z_0-9]*\b", codecs)
    own = set(re.findall(r"^([A-Z_][A-Z_0-9]*) =", source, re.M))
    return [n for n in dict.fromkeys(names) if hasattr(transfer_syntax, n) and n not in own]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family", help="the three-letter family, e.g. CSM")
    parser.add_argument("name", help="the rule's kebab-case name")
    parser.add_argument("--severity", choices=("error", "warning", "info"), default="error")
    parser.add_argument("--ref", required=True, help="the clause of the Standard")
    parser.add_argument("--summary", required=True, help="one line, no final period")
    parser.add_argument("--needs", choices=sorted(NEEDS), default="encapsulated")
    parser.add_argument("--codecs", help="a codec set, e.g. JPEG_FAMILY or '{Codec.RLE}'")
    parser.add_argument("--module", help="the family's module when not <family>.py")
    add_rule(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

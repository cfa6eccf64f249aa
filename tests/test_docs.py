"""Rule documentation: every rule complete and declared in full, rules/ in sync, --explain.

The catalogue is the registry itself (registry.BUILTIN_MODULES); rules/README.md and the
pages under rules/ are generated from it and committed, so a changed code, name,
severity or page shows in review and fails `test_page_is_current` until regenerated.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from dcmencaps_lint.cli import main
from dcmencaps_lint.docs import FAMILIES, SECTIONS, markdown_page, missing_sections, sections
from dcmencaps_lint.registry import BUILTIN_MODULES, Rule, load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"

BUILTIN = [r for r in load_rules() if r.origin == "dcmencaps_lint"]
by_code = pytest.mark.parametrize("r", BUILTIN, ids=[r.code for r in BUILTIN])


def make_rule_docs() -> ModuleType:
    """scripts/make_rule_docs.py, imported from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "make_rule_docs", ROOT / "scripts" / "make_rule_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_codes_are_numbered_from_one_in_each_family() -> None:
    """A new rule takes the next free number of its family; codes are never renumbered
    or reused (a removed code would be listed here as retired)."""
    by_family: dict[str, list[str]] = {}
    for r in BUILTIN:
        by_family.setdefault(r.family, []).append(r.code)
    assert set(by_family) == set(FAMILIES)
    for family, codes in by_family.items():
        assert codes == [f"{family}{n:03d}" for n in range(1, len(codes) + 1)]


def _declarations() -> list[tuple[str, ast.Call]]:
    """(module, call) of every rule declaration in the built-in rule modules."""
    found = []
    for name in BUILTIN_MODULES:
        module = importlib.import_module(name)
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "rule":
                found.append((name, node))
    return found


def test_every_rule_declares_its_fix_availability() -> None:
    """Each @rule(...) says fix=... outright ("never" until --fix offers one)."""
    declarations = _declarations()
    assert len(declarations) == sum(r.check is not None for r in BUILTIN)
    missing = [
        f"{module}: {ast.literal_eval(call.args[0])}"
        for module, call in declarations
        if not any(keyword.arg == "fix" for keyword in call.keywords)
    ]
    assert missing == []


class TestRuleMetadata:
    @by_code
    def test_code_and_name_shape(self, r: Rule) -> None:
        assert re.fullmatch(r"[A-Z]{3}\d{3}", r.code)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.name)

    def test_codes_and_names_are_unique(self) -> None:
        keys = [r.code for r in BUILTIN] + [r.name for r in BUILTIN]
        assert len(keys) == len(set(keys))

    @by_code
    def test_summary_is_one_line_without_a_period(self, r: Rule) -> None:
        assert r.summary.strip() == r.summary != ""
        assert "\n" not in r.summary
        assert not r.summary.endswith(".")

    @by_code
    def test_reference_is_given(self, r: Rule) -> None:
        assert r.reference.strip()

    @by_code
    def test_family_is_described(self, r: Rule) -> None:
        assert r.family in FAMILIES


class TestDocstrings:
    @by_code
    def test_all_five_sections_in_order(self, r: Rule) -> None:
        assert missing_sections(r) == []
        assert list(sections(r)) == list(SECTIONS)

    @by_code
    def test_nothing_before_the_first_section(self, r: Rule) -> None:
        """sections() drops text before the first heading, so there must be none."""
        assert r.doc.startswith(f"{SECTIONS[0]}\n{'-' * len(SECTIONS[0])}\n")

    @by_code
    def test_every_section_has_text(self, r: Rule) -> None:
        assert all(text.strip() for text in sections(r).values())


class TestRulePages:
    def test_make_rule_docs_check_passes(self, capsys: pytest.CaptureFixture[str]) -> None:
        status = make_rule_docs().main(["--check"])
        assert status == 0, capsys.readouterr().out

    @by_code
    def test_page_is_current(self, r: Rule) -> None:
        page = RULES_DIR / f"{r.code}.md"
        assert page.is_file()
        assert page.read_text() == markdown_page(r)

    @by_code
    def test_listed_in_the_index(self, r: Rule) -> None:
        index = (RULES_DIR / "README.md").read_text()
        assert f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.label} |" in index
        assert f"\n## {r.family}: {FAMILIES[r.family][0]}\n" in index

    def test_the_index_explains_how_to_read_a_finding(self) -> None:
        index = (RULES_DIR / "README.md").read_text()
        assert "## How to read a finding" in index
        assert index.index("## How to read a finding") < index.index("## PRS")


class TestExplain:
    @pytest.mark.parametrize(
        "key",
        [k for r in BUILTIN for k in (r.code, r.name)],
        ids=[k for r in BUILTIN for k in (r.code, r.name)],
    )
    def test_explain_prints_every_section(self, key: str) -> None:
        r = load_rules().get(key)
        assert r is not None
        result = CliRunner().invoke(main, ["--explain", key])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == f"{r.code} {r.name}"
        assert r.summary + "." in lines
        assert f"Reference: {r.reference}" in lines
        for title, text in sections(r).items():
            assert f"\n{title}\n{'-' * len(title)}\n{text}\n" in result.stdout

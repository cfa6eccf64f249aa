"""The shape of the package: no import cycle, no mutated frozen object, no cache keyed by
id(), rule bodies free of the applicability guards their declarations express, and the
codec sets declarations use agreeing with the transfer syntax table."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from builders import encapsulated, jpeg_frame

import dcmencaps_lint
from dcmencaps_lint import transfer_syntax
from dcmencaps_lint.registry import load_rules
from dcmencaps_lint.transfer_syntax import (
    FRAME_BASED,
    ONE_FRAGMENT_PER_FRAME,
    TRANSFER_SYNTAXES,
    VIDEO,
    Codec,
    syntaxes_where,
)

PACKAGE = Path(dcmencaps_lint.__file__).parent
MODULES = {
    ".".join(("dcmencaps_lint", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    ): path
    for path in sorted(PACKAGE.rglob("*.py"))
}
RULE_MODULES = {
    name: path for name, path in MODULES.items() if name.startswith("dcmencaps_lint.rules.")
}


def _imports(module: str, path: Path) -> set[str]:
    """The package's modules `module` imports anywhere: at the top, inside functions, or
    for type checking only (a cycle through any of them is a cycle in the design)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` names a module; anything else, the package
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if n in MODULES else node.module for n in names]
        else:
            continue
        found.update(n for n in names if n in MODULES and n != module)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _cycle() -> list[str] | None:
    """One import cycle of the package, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(GRAPH[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_import_graph_is_read() -> None:
    """Guards the next test against passing on an empty graph."""
    assert "dcmencaps_lint.context" in GRAPH["dcmencaps_lint.engine"]
    assert "dcmencaps_lint.registry" in GRAPH["dcmencaps_lint.rules.bot"]
    assert "dcmencaps_lint.scanner" in GRAPH["dcmencaps_lint.source"]  # a lazy import


def test_no_import_cycle() -> None:
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_the_cycle_finder_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        GRAPH, "dcmencaps_lint.model", GRAPH["dcmencaps_lint.model"] | {"dcmencaps_lint.engine"}
    )
    cycle = _cycle()
    assert cycle is not None and cycle[0] == cycle[-1]


def _calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)]


# The methods in which a read-only class (one whose __setattr__ refuses) sets its own
# attributes: its constructor and its copy.
BUILDERS = {"__init__", "_copy"}


def _outside_builders(source: str) -> str:
    """The source less the builders of read-only classes."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
        if "__setattr__" not in {m.name for m in methods}:
            continue
        for method in methods:
            if method.name in BUILDERS:
                assert method.end_lineno is not None
                lines[method.lineno - 1 : method.end_lineno] = [""] * (
                    method.end_lineno - method.lineno + 1
                )
    return "\n".join(lines)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_frozen_object_is_mutated_and_no_cache_is_keyed_by_id(module: str) -> None:
    source = _outside_builders(MODULES[module].read_text())
    assert "__dict__" not in source
    assert "object.__setattr__" not in source
    assert "vars(self)" not in source
    assert not [call for call in _calls(MODULES[module]) if getattr(call.func, "id", "") == "id"]


def test_only_the_builders_of_read_only_classes_set_their_attributes() -> None:
    """Guards the test above: it looks everywhere but there."""
    builders = "class A:\n    def __init__(self):\n        object.__setattr__(self, 'a', 1)\n"
    read_only = builders + "    def __setattr__(self, name, value):\n        raise AttributeError\n"
    assert "object.__setattr__" not in _outside_builders(read_only)
    assert "object.__setattr__" in _outside_builders(builders)  # not read-only: a mutation
    elsewhere = read_only + "    def thaw(self):\n        object.__setattr__(self, 'a', 2)\n"
    assert "object.__setattr__" in _outside_builders(elsewhere)


# What the context classes guarantee (context.py) and what `codecs=` / `syntaxes=` say.
CONTEXT_ATTRIBUTES = {"ts", "walk", "frame_map", "pixel"}
SYNTAX_PROPERTIES = {"video", "fragmentable", "one_fragment_per_frame", "frame_based", "retired"}


def _guards(path: Path) -> list[str]:
    """Tests a rule module makes that a declaration says instead: `ctx.walk is None`,
    `ctx.ts.video`, `ts.one_fragment_per_frame`..."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.Is | ast.IsNot):
            left = node.left
            none = isinstance(node.comparators[0], ast.Constant)
            if isinstance(left, ast.Attribute) and left.attr in CONTEXT_ATTRIBUTES and none:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Attribute) and node.attr in SYNTAX_PROPERTIES:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Assert):
            text = ast.unparse(node.test)
            if any(f"ctx.{name}" in text for name in CONTEXT_ATTRIBUTES):
                found.append(f"line {node.lineno}: assert {text}")
    return found


# TSX003 reports an unknown transfer syntax: there `ctx.ts is None` is the finding itself.
SUBJECTS = {"dcmencaps_lint.rules.tsx": ["ctx.ts is None"]}


@pytest.mark.parametrize("module", sorted(RULE_MODULES))
def test_rule_modules_hold_no_applicability_guards(module: str) -> None:
    found = [guard.split(": ", 1)[1] for guard in _guards(RULE_MODULES[module])]
    assert found == SUBJECTS.get(module, [])


def test_the_guard_finder_finds_guards(tmp_path: Path) -> None:
    path = tmp_path / "rule.py"
    path.write_text(
        "def check(ctx):\n"
        "    assert ctx.walk is not None\n"
        "    if ctx.ts is None or ctx.ts.video:\n"
        "        return\n"
    )
    assert len(_guards(path)) == 4  # the assert, its comparison, `is None`, `.video`


def test_codec_sets_agree_with_the_syntax_table() -> None:
    for ts in TRANSFER_SYNTAXES.values():
        assert (ts.codec in VIDEO) == ts.video, ts.uid
        assert (ts.codec in FRAME_BASED) == ts.frame_based, ts.uid
        assert (ts.codec in ONE_FRAGMENT_PER_FRAME) == ts.one_fragment_per_frame, ts.uid
        assert (ts.codec is not Codec.NATIVE) == ts.encapsulated, ts.uid


def test_syntaxes_where() -> None:
    retired = syntaxes_where(lambda ts: ts.retired)
    assert "1.2.840.10008.1.2.2" in retired  # Explicit VR Big Endian
    assert "1.2.840.10008.1.2.4.50" not in retired
    assert syntaxes_where(lambda ts: False) == frozenset()


def test_every_declared_syntax_exists() -> None:
    for r in load_rules():
        assert r.syntaxes is None or r.syntaxes <= TRANSFER_SYNTAXES.keys(), r.code
        assert r.syntaxes is None or r.syntaxes, f"{r.code} applies to no syntax"
        assert r.codecs is None or r.codecs, f"{r.code} applies to no codec"


def test_the_plugin_api_is_exported() -> None:
    for name in ("rule", "Needs", "Deep", "Problem", "Severity", "FixAvailability", "Codec"):
        assert name in dcmencaps_lint.__all__
        assert getattr(dcmencaps_lint, name) is not None
    for name in ("Context", "PixelContext", "ItemsContext", "EncapsulatedContext"):
        assert getattr(dcmencaps_lint, name).__module__ == "dcmencaps_lint.context"
    assert transfer_syntax.Codec is dcmencaps_lint.Codec


def test_a_lint_that_fixes_nothing_does_not_import_the_fix_vocabulary(tmp_path: Path) -> None:
    """fixes.py is for the rules that offer fixes and for the fixer: its classes cost
    start-up time (see its docstring)."""
    path = tmp_path / "broken.dcm"
    path.write_bytes(encapsulated([jpeg_frame(), jpeg_frame()[:-2] + b"\x00\x00"]).data)
    child = (
        "import sys\n"
        "from dcmencaps_lint.cli import main\n"
        f"sys.argv = ['encaps-lint', {str(path)!r}, '--format', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('dcmencaps_lint.fixes' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert '"CSM002"' in done.stdout
    assert done.stderr.strip() == "False"

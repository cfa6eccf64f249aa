"""Rule declarations, plugin loading through entry points, and rule selection.

Built-in rules load through the same entry-point group as third-party ones, one
module per family. A module contributes every `Rule` object it defines at top level.
There is no module-global registry: `load_rules()` builds a fresh `RuleSet`, so each
worker process loads its own.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.machinery import PathFinder
from typing import TYPE_CHECKING

from dcmencaps_lint.model import Finding, Severity

if TYPE_CHECKING:
    from dcmencaps_lint.context import Context

ENTRY_POINT_GROUP = "dcmencaps_lint.rules"
BUILTIN_MODULES = (
    "dcmencaps_lint.rules.prs",
    "dcmencaps_lint.rules.tsx",
    "dcmencaps_lint.rules.itm",
    "dcmencaps_lint.rules.bot",
    "dcmencaps_lint.rules.eot",
    "dcmencaps_lint.rules.frg",
    "dcmencaps_lint.rules.csm",
    "dcmencaps_lint.rules.csm_header",
)
log = logging.getLogger("dcmencaps_lint")

Check = Callable[["Context"], Iterable[Finding]]


class Needs:
    """What a rule needs before it can run, from least to most."""

    ENGINE = "engine"  # emitted by the engine itself (PRS): no check function
    DATASET = "dataset"  # the parsed data set: runs once per file
    PIXEL = "pixel"  # a Pixel Data element's header: runs for each, nested ones too
    ITEMS = "items"  # an item walk, whatever the transfer syntax
    ENCAPSULATED = "encapsulated"  # an item walk under a known encapsulated TS


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    reference: str
    summary: str
    check: Check | None
    needs: str = Needs.ENCAPSULATED
    deep: bool = False
    doc: str = ""
    origin: str = "dcmencaps_lint"
    # The rule's verdict on a frame depends only on the frame's leading and trailing
    # bytes, its fragment structure and the data set: alike frames share it
    # (frame_groups.py).
    per_frame: bool = False

    @property
    def family(self) -> str:
        return self.code[:3]


def rule(
    code: str,
    name: str,
    severity: Severity,
    *,
    ref: str,
    summary: str,
    needs: str = Needs.ENCAPSULATED,
    deep: bool = False,
    per_frame: bool = False,
) -> Callable[[Check], Rule]:
    """Declare a rule; the decorated function's docstring is its documentation."""

    def declare(check: Check) -> Rule:
        doc = inspect.getdoc(check) or ""
        return Rule(
            code, name, severity, ref, summary, check, needs, deep, doc, per_frame=per_frame
        )

    return declare


def engine_rule(
    code: str, name: str, severity: Severity, *, ref: str, summary: str, doc: str
) -> Rule:
    """Declare a rule whose findings the engine itself emits (the file could not be linted)."""
    return Rule(
        code, name, severity, ref, summary, None, Needs.ENGINE, False, inspect.cleandoc(doc)
    )


class RegistryError(Exception):
    """Two rule packages claim the same code or name."""


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    load_warnings: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    _by_key: dict[str, Rule] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for r in self.rules:
            self._by_key[r.code] = r
            self._by_key[r.name] = r

    def get(self, code_or_name: str) -> Rule | None:
        return self._by_key.get(code_or_name) or self._by_key.get(code_or_name.upper())

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)


def _rules_in(obj: object) -> list[Rule]:
    if isinstance(obj, Rule):
        return [obj]
    if isinstance(obj, list | tuple):
        return [r for r in obj if isinstance(r, Rule)]
    return [value for value in vars(obj).values() if isinstance(value, Rule)]


@lru_cache(maxsize=1)
def load_rules() -> RuleSet:
    """Every built-in and plugin rule, sorted by code."""
    sources: list[tuple[str, Callable[[], object]]] = [
        (name, lambda name=name: importlib.import_module(name)) for name in BUILTIN_MODULES
    ]
    labels: dict[str, str] = {}  # origin -> how --version names the plugin
    if _may_have_plugins():
        from importlib.metadata import entry_points

        seen_targets = set(BUILTIN_MODULES)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.value in seen_targets:
                continue
            seen_targets.add(ep.value)
            dist = ep.dist.name if ep.dist else ep.value
            labels[f"{dist}:{ep.name}"] = f"{dist} ({ep.name})"
            sources.append((f"{dist}:{ep.name}", ep.load))

    rules: dict[str, Rule] = {}
    names: dict[str, Rule] = {}
    warnings: list[str] = []
    plugins: list[str] = []  # only those that loaded
    for origin, load in sources:
        try:
            found = _rules_in(load())
        except Exception as exc:  # a broken plugin must not take the linter down
            if origin in BUILTIN_MODULES:
                raise
            warnings.append(f"rule plugin {origin} failed to load: {type(exc).__name__}: {exc}")
            continue
        if origin in labels:
            plugins.append(labels[origin])
        for r in found:
            if rules.get(r.code) is not None and rules[r.code].check is r.check:
                continue  # the same rule imported into another module, not a clash
            if origin not in BUILTIN_MODULES:
                r = _with_origin(r, origin)
            for key, table in ((r.code, rules), (r.name, names)):
                if key in table:
                    raise RegistryError(
                        f"rule {key} is defined by both {table[key].origin} and {r.origin}"
                    )
                table[key] = r
    for message in warnings:
        log.warning(message)
    ordered = tuple(sorted(rules.values(), key=lambda r: r.code))
    return RuleSet(ordered, tuple(warnings), tuple(plugins))


def _may_have_plugins() -> bool:
    """False only when no distribution declares an entry point of the group that is not
    one of BUILTIN_MODULES: then importlib.metadata (some 20 ms to import, `email` and
    `zipfile` with it) has nothing to add.

    This reads what importlib.metadata's own path finder reads (see
    importlib.metadata.FastPath and Lookup): each sys.path folder's *.dist-info and
    *.egg-info folders (and an *.egg folder's EGG-INFO), their entry_points.txt. Anything
    it cannot judge as surely (another distribution finder, a zip file on sys.path, an
    unreadable file, a line it does not expect) answers True: importlib.metadata decides.
    """
    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return True  # a finder of distributions we cannot read ahead
    for entry in sys.path:
        root = entry or "."
        try:
            names = os.listdir(root)
        except OSError:
            if os.path.exists(root):
                return True  # a zip file, say: importlib.metadata reads inside it
            continue
        egg = os.path.basename(root).lower().endswith(".egg")
        for name in names:
            low = name.lower()
            metadata = low.endswith((".dist-info", ".egg-info")) or (egg and low == "egg-info")
            if metadata and _declares_plugins(os.path.join(root, name, "entry_points.txt")):
                return True
    return False


def _declares_plugins(path: str) -> bool:
    """Whether an entry_points.txt has an entry in the group other than a built-in one
    (parsed as importlib.metadata.Sectioned does)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False  # no entry points at all
    except (OSError, ValueError):
        return True
    if ENTRY_POINT_GROUP not in text:
        return False
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == ENTRY_POINT_GROUP:
            _, equals, value = line.partition("=")
            if not equals or value.strip() not in BUILTIN_MODULES:
                return True
    return False


def _with_origin(r: Rule, origin: str) -> Rule:
    from dataclasses import replace

    return replace(r, origin=origin)


class SelectionError(ValueError):
    """A selector names no rule, family or prefix."""


@dataclass(frozen=True)
class Selection:
    """Which rules run: codes, prefixes, families or names; the most specific wins."""

    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    deep: bool = False

    def validate(self, rules: RuleSet) -> None:
        for selector in (*self.select, *self.ignore):
            if selector.upper() == "ALL":
                continue
            if not any(_specificity(selector, r) for r in rules):
                raise SelectionError(f"unknown rule code, prefix or name: {selector!r}")

    def enabled(self, r: Rule) -> bool:
        chosen = max((_specificity(s, r) for s in self.select), default=0)
        dropped = max((_specificity(s, r) for s in self.ignore), default=0)
        if chosen == 0 or dropped >= chosen:
            return False
        # Deep rules read whole payloads: only with --deep or when named outright.
        return not r.deep or self.deep or chosen == _EXACT


_EXACT = 100


def _specificity(selector: str, r: Rule) -> int:
    """0 when the selector does not match the rule; higher is more specific."""
    s = selector.strip()
    if s.upper() == "ALL":
        return 1
    if s.upper() == r.code or s.lower() == r.name:
        return _EXACT
    if r.code.startswith(s.upper()) and len(s) >= 1:
        return 1 + len(s)
    return 0

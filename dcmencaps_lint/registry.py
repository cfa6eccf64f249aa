"""Rule declarations, rule loading, and rule selection.

A rule is one declaration (`@rule(...)` on its check function): its code, name, severity,
reference, what it needs (the context class it gets), where it applies (codecs, transfer
syntaxes, top-level Pixel Data only), whether it reads whole payloads (`deep`), whether
its verdict on a frame depends only on the frame's facts (`per_frame`) and whether it
offers a fix. The function's docstring is its page. The engine runs a rule only where
its declaration says it applies, so rule bodies hold no such guards.

The built-in rules are the modules of BUILTIN_MODULES, one per family: adding a rule to a
family touches only that module. Third-party rules register under the entry-point
group `dcmencaps_lint.rules` (see the README). A module contributes every `Rule` object
it defines at top level. There is no module-global registry: `load_rules()` builds a
fresh `RuleSet`, so each worker process loads its own.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing's
# NamedTuple compiles each string annotation, some 8 us a field at every start-up.
import enum
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from importlib.machinery import PathFinder
from typing import Any, NamedTuple

from dcmencaps_lint.context import Needs, Shape
from dcmencaps_lint.model import Problem, Severity
from dcmencaps_lint.transfer_syntax import Codec, TransferSyntax

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
    "dcmencaps_lint.rules.dec",
)

# A check takes the context class its `needs` names (context.py), which the engine
# guarantees; hence Any for its argument here.
Check = Callable[[Any], Iterable[Problem]]


class Deep(enum.IntEnum):
    """Whether a rule reads whole fragment payloads. Such reads happen only with --deep,
    or for a rule selected by its code or name."""

    NO = 0
    PART = 1  # some of its checks read payloads; the others always run
    WHOLE = 2  # every check reads payloads: the rule runs only when deep reads are on


class FixAvailability(enum.Enum):
    """Whether a rule offers a fix for its findings (the edits are in fixes.py)."""

    NEVER = "never"
    SOMETIMES = "sometimes"  # for some of its findings (the message says when not)
    ALWAYS = "always"


class DeclarationError(ValueError):
    """A rule declaration that contradicts itself."""


class Rule(NamedTuple):
    """One rule's declaration and check (made by `rule()`); `_replace` makes a variant."""

    code: str
    name: str
    severity: Severity
    reference: str
    summary: str
    check: Check | None
    needs: Needs = Needs.ENCAPSULATED
    deep: Deep = Deep.NO
    docstring: str = ""  # as written; `doc` is it cleaned up
    origin: str = "dcmencaps_lint"
    # The rule's verdict on a frame depends only on the frame's facts (facts.py), so
    # frames with equal facts share it.
    per_frame: bool = False
    codecs: frozenset[Codec] | None = None  # None: any (a known TS where given)
    syntaxes: frozenset[str] | None = None  # transfer syntax UIDs; None: any
    top_level: bool = False  # not for Pixel Data nested in sequences (icons)
    fix: FixAvailability = FixAvailability.NEVER
    unsafe_fix: bool = False  # its fixes change codestream bytes or what the data set says
    # of the image (--unsafe-fixes)
    when: Shape = Shape.NONE  # runs only on elements that have all of this (context.Shape)
    # reads whole frames to check their coded data: runs with --decode, or when selected
    # by its code or name (and always with deep reads: Deep.WHOLE)
    decode: bool = False

    @property
    def family(self) -> str:
        return self.code[:3]

    @property
    def doc(self) -> str:
        """The rule's page: its docstring, indentation removed (on demand: cleaning the
        76 built-in rules' docstrings at every start-up costs milliseconds, and so does
        importing inspect)."""
        import inspect

        return inspect.cleandoc(self.docstring)

    def applies_to(self, ts: TransferSyntax | None) -> bool:
        """The declaration's codecs and syntaxes admit this transfer syntax."""
        if self.codecs is None and self.syntaxes is None:
            return True
        if ts is None:
            return False
        in_codecs = self.codecs is None or ts.codec in self.codecs
        return in_codecs and (self.syntaxes is None or ts.uid in self.syntaxes)


def rule(
    code: str,
    name: str,
    severity: Severity,
    *,
    ref: str,
    summary: str,
    needs: Needs = Needs.ENCAPSULATED,
    deep: Deep | bool = Deep.NO,
    per_frame: bool = False,
    codecs: Iterable[Codec] | None = None,
    syntaxes: Iterable[str] | None = None,
    top_level: bool = False,
    fix: FixAvailability = FixAvailability.NEVER,
    unsafe_fix: bool = False,
    when: Shape = Shape.NONE,
    decode: bool = False,
) -> Callable[[Check], Rule]:
    """Declare a rule; the decorated function's docstring is its documentation.

    needs: the least the rule needs (context.Needs), which is the context class it gets.
    codecs / syntaxes: the transfer syntaxes it applies to, by codec or by UID.
    top_level: only the top-level Pixel Data element, not icons in sequences.
    deep: Deep.WHOLE (or True) when it reads whole payloads, Deep.PART when some checks do.
    per_frame: its verdict on a frame depends only on the frame's facts (facts.py).
    when: what an element must have for the rule to have anything to check (context.Shape).
    fix: whether it offers a fix (an edit of fixes.py); unsafe_fix: its fixes change codestream
    bytes, or what the data set says of the image (applied with --unsafe-fixes only).
    decode: it reads whole frames to check their coded data (--decode; implies deep).
    """
    depth = (Deep.WHOLE if deep else Deep.NO) if isinstance(deep, bool) else deep
    if decode:
        depth = Deep.WHOLE
    if needs is Needs.ENGINE:
        raise DeclarationError(f"{code}: needs=ENGINE is for engine_rule(), which has no check")
    if per_frame and (needs is not Needs.ENCAPSULATED or depth is not Deep.NO):
        raise DeclarationError(f"{code}: a per-frame rule needs ENCAPSULATED and is not deep")
    if unsafe_fix and fix is FixAvailability.NEVER:
        raise DeclarationError(f"{code}: unsafe_fix without a fix")

    def declare(check: Check) -> Rule:
        return Rule(
            code,
            name,
            severity,
            ref,
            summary,
            check,
            needs=needs,
            deep=depth,
            docstring=check.__doc__ or "",
            per_frame=per_frame,
            codecs=None if codecs is None else frozenset(codecs),
            syntaxes=None if syntaxes is None else frozenset(syntaxes),
            top_level=top_level,
            fix=fix,
            unsafe_fix=unsafe_fix,
            when=when,
            decode=decode,
        )

    return declare


def engine_rule(
    code: str, name: str, severity: Severity, *, ref: str, summary: str, doc: str
) -> Rule:
    """Declare a rule whose findings the engine itself emits (the file could not be linted)."""
    return Rule(code, name, severity, ref, summary, None, Needs.ENGINE, docstring=doc)


class RegistryError(Exception):
    """Two rule packages claim the same code or name."""


class RuleSet:
    """The rules loaded (iterating gives them, by code), what went wrong loading
    plugins, and the plugins loaded. Read-only: load_rules() shares one."""

    __slots__ = ("_by_key", "load_warnings", "plugins", "rules")
    rules: tuple[Rule, ...]
    load_warnings: tuple[str, ...]
    plugins: tuple[str, ...]

    def __init__(
        self,
        rules: tuple[Rule, ...],
        load_warnings: tuple[str, ...] = (),
        plugins: tuple[str, ...] = (),
    ) -> None:
        by_key = {r.code: r for r in rules} | {r.name: r for r in rules}
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "load_warnings", load_warnings)
        object.__setattr__(self, "plugins", plugins)
        object.__setattr__(self, "_by_key", by_key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a rule set is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a rule set is read-only: cannot delete {name!r}")

    def get(self, code_or_name: str) -> Rule | None:
        """The rule of this code or name (a code in any case)."""
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
    if may_have_plugins():
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.value.strip() in BUILTIN_MODULES:
                continue  # a built-in family registered again (a repackaging): no plugin
            dist = ep.dist.name if ep.dist else ep.value
            labels[f"{dist}:{ep.name}"] = f"{dist} ({ep.name})"
            sources.append((f"{dist}:{ep.name}", ep.load))

    rules: dict[str, Rule] = {}
    names: dict[str, Rule] = {}
    declared: dict[str, Rule] = {}  # code -> the Rule object as its module declared it
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
            if declared.get(r.code) is r:
                continue  # the same rule object imported into another module: no clash
            declared.setdefault(r.code, r)
            if origin not in BUILTIN_MODULES:
                r = _with_origin(r, origin)
            for key, table in ((r.code, rules), (r.name, names)):
                if key in table:
                    raise RegistryError(
                        f"rule {key} is defined by both {table[key].origin} and {r.origin}"
                    )
                table[key] = r
    if warnings:
        import logging  # here: logging costs start-up time, and plugins seldom fail

        for message in warnings:
            logging.getLogger("dcmencaps_lint").warning(message)
    ordered = tuple(sorted(rules.values(), key=lambda r: r.code))
    return RuleSet(ordered, tuple(warnings), tuple(plugins))


def may_have_plugins() -> bool:
    """False only when no installed distribution declares an entry point in the group:
    then importlib.metadata (some 20 ms to import, `email` and `zipfile` with it) has
    nothing to add. The built-in rules are not entry points (BUILTIN_MODULES).

    This looks where importlib.metadata's own path finder looks (see
    importlib.metadata.FastPath): each sys.path folder's *.dist-info and *.egg-info
    folders (and an *.egg folder's EGG-INFO), for an entry_points.txt that names the
    group. Anything it cannot judge as surely (another distribution finder, a zip file
    on sys.path, an unreadable file) answers True: importlib.metadata decides.
    """
    key = (tuple(sys.path), tuple(map(id, sys.meta_path)))
    found = _plugins_seen.get(key)
    if found is None:
        found = _plugins_seen[key] = _may_have_plugins()
    return found


# may_have_plugins' answers: the command asks before it loads the rules, which ask
# again (a scan of every folder on sys.path, a millisecond or two).
_plugins_seen: dict[tuple[tuple[str, ...], tuple[int, ...]], bool] = {}


def _may_have_plugins() -> bool:
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
            if metadata and _names_the_group(os.path.join(root, name, "entry_points.txt")):
                return True
    return False


def _names_the_group(path: str) -> bool:
    """Whether an entry_points.txt has a section for the group."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False  # no entry points at all
    except (OSError, ValueError):
        return True
    return f"[{ENTRY_POINT_GROUP}]" in text.replace(" ", "")


def _with_origin(r: Rule, origin: str) -> Rule:
    return r._replace(origin=origin)


class SelectionError(ValueError):
    """A selector names no rule, family or prefix."""


class Selection(NamedTuple):
    """Which rules run: codes, prefixes, families or names; the most specific wins."""

    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    deep: bool = False
    decode: bool = False  # --decode: the rules that check frames' coded data run

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
        if r.decode:  # a decode rule: with --decode, or selected by its code or name
            return self.decode or chosen == _EXACT
        # A rule that only reads whole payloads runs when deep reads are on for it.
        return r.deep is not Deep.WHOLE or self.deep_reads(r)

    def deep_reads(self, r: Rule) -> bool:
        """Whether a deep rule may read whole payloads: with --deep, or when it is
        selected by its code or name."""
        if r.deep is Deep.NO:
            return False
        exact = max((_specificity(s, r) for s in self.select), default=0) == _EXACT
        return (self.decode if r.decode else self.deep) or exact


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

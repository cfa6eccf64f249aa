"""Rule selection: ALL, families, prefixes, codes and names; the most specific match wins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from builders import encapsulated, jpeg_frame

from dcmencaps_lint import lint_file
from dcmencaps_lint.model import Problem, Severity
from dcmencaps_lint.registry import (
    Deep,
    Needs,
    Rule,
    RuleSet,
    Selection,
    SelectionError,
    load_rules,
)


def enabled(
    select: tuple[str, ...],
    ignore: tuple[str, ...] = (),
    deep: bool = False,
    decode: bool = False,
) -> set[str]:
    selection = Selection(select, ignore, deep, decode)
    rules = load_rules()
    selection.validate(rules)
    return {r.code for r in rules if selection.enabled(r)}


def codes(*prefixes: str) -> set[str]:
    """Codes with these prefixes that run without --deep (wholly deep rules need naming)."""
    return {
        r.code for r in load_rules() if r.code.startswith(prefixes) and r.deep is not Deep.WHOLE
    }


def _nothing(ctx: object) -> Iterator[Problem]:
    return iter(())


def fake(code: str, name: str, *, deep: Deep = Deep.NO) -> Rule:
    return Rule(code, name, Severity.ERROR, "-", "a test rule", _nothing, Needs.DATASET, deep)


ALL = codes("")


class TestSelectors:
    def test_default_is_all(self) -> None:
        assert Selection().select == ("ALL",)
        assert enabled(("ALL",)) == ALL
        assert enabled(("all",)) == ALL
        assert len(ALL) >= 48

    def test_family(self) -> None:
        assert enabled(("BOT",)) == codes("BOT")
        assert enabled(("bot",)) == codes("BOT")
        assert len(codes("BOT")) == 10

    def test_prefix(self) -> None:
        assert enabled(("BOT00",)) == codes("BOT00")
        assert "BOT010" not in enabled(("BOT00",))
        assert enabled(("EOT01",)) == {"EOT010", "EOT011"}

    def test_code(self) -> None:
        assert enabled(("BOT004",)) == {"BOT004"}
        assert enabled(("bot004",)) == {"BOT004"}

    def test_name(self) -> None:
        assert enabled(("bot-offset-not-item-start",)) == {"BOT004"}
        assert enabled(("BOT-OFFSET-NOT-ITEM-START",)) == {"BOT004"}

    def test_several(self) -> None:
        assert enabled(("BOT004", "missing-eoi", "EOT01")) == {
            "BOT004",
            "CSM002",
            "EOT010",
            "EOT011",
        }

    def test_ignore_only(self) -> None:
        assert enabled(("ALL",), ("BOT",)) == ALL - codes("BOT")
        assert enabled(("ALL",), ("ALL",)) == set()

    def test_empty_select_runs_nothing(self) -> None:
        assert enabled(()) == set()


class TestMostSpecificWins:
    def test_selected_code_beats_ignored_family(self) -> None:
        assert enabled(("BOT004",), ("BOT",)) == {"BOT004"}

    def test_ignored_code_beats_selected_family(self) -> None:
        assert enabled(("BOT",), ("BOT004",)) == codes("BOT") - {"BOT004"}

    def test_longer_prefix_wins(self) -> None:
        assert enabled(("BOT",), ("BOT00",)) == {"BOT010"}
        assert enabled(("BOT00",), ("BOT",)) == codes("BOT00")
        assert enabled(("ALL",), ("BOT",)) == ALL - codes("BOT")
        assert enabled(("BOT",), ("ALL",)) == codes("BOT")

    def test_name_is_as_specific_as_code(self) -> None:
        assert enabled(("bot-offset-not-item-start",), ("BOT",)) == {"BOT004"}
        assert enabled(("BOT",), ("bot-offset-not-item-start",)) == codes("BOT") - {"BOT004"}

    @pytest.mark.parametrize(
        ("select", "ignore"),
        [
            ("BOT004", "BOT004"),
            ("bot-offset-not-item-start", "BOT004"),
            ("BOT004", "bot-offset-not-item-start"),
        ],
    )
    def test_equal_specificity_ignore_wins(self, select: str, ignore: str) -> None:
        assert "BOT004" not in enabled((select,), (ignore,))

    def test_equal_prefix_ignore_wins(self) -> None:
        assert enabled(("BOT", "ITM"), ("BOT",)) == codes("ITM")

    def test_through_lint_file(self) -> None:
        data = encapsulated([jpeg_frame(), jpeg_frame()], bot=[0, 42], end=b"").data

        def found(**kw: list[str]) -> list[str]:
            return sorted(f.code for f in lint_file(data, **kw).findings)

        assert found() == ["BOT004", "ITM006"]
        assert found(select=["BOT004"], ignore=["BOT"]) == ["BOT004"]
        assert found(select=["BOT"], ignore=["BOT004"]) == []
        assert found(ignore=["ITM"]) == ["BOT004"]


class TestUnknownSelectors:
    @pytest.mark.parametrize("selector", ["XYZ", "BOT999", "BOT0041", "no-such-rule", "B0T", ""])
    def test_unknown_selector_raises(self, selector: str) -> None:
        with pytest.raises(SelectionError, match="unknown rule"):
            Selection((selector,)).validate(load_rules())
        with pytest.raises(SelectionError):
            Selection(("ALL",), (selector,)).validate(load_rules())

    def test_lint_file_rejects_unknown_selector(self) -> None:
        with pytest.raises(SelectionError):
            lint_file(encapsulated([jpeg_frame()]).data, select=["NOPE"])

    def test_selection_error_is_a_value_error(self) -> None:
        assert issubclass(SelectionError, ValueError)


class TestDeepRules:
    @pytest.fixture
    def rules(self) -> RuleSet:
        return RuleSet(
            (
                fake("ZZZ001", "shallow-one"),
                fake("ZZZ002", "deep-one", deep=Deep.WHOLE),
                fake("ZZZ003", "partly-deep", deep=Deep.PART),
            )
        )

    @staticmethod
    def run(rules: RuleSet, *select: str, deep: bool = False, ignore: tuple[str, ...] = ()) -> set:
        selection = Selection(select, ignore, deep)
        selection.validate(rules)
        return {r.code for r in rules if selection.enabled(r)}

    def test_deep_rule_needs_deep(self, rules: RuleSet) -> None:
        assert self.run(rules, "ALL") == {"ZZZ001", "ZZZ003"}
        assert self.run(rules, "ZZZ") == {"ZZZ001", "ZZZ003"}
        assert self.run(rules, "ZZZ00") == {"ZZZ001", "ZZZ003"}
        assert self.run(rules, "ALL", deep=True) == {"ZZZ001", "ZZZ002", "ZZZ003"}
        assert self.run(rules, "ZZZ", deep=True) == {"ZZZ001", "ZZZ002", "ZZZ003"}

    def test_deep_rule_runs_when_named_exactly(self, rules: RuleSet) -> None:
        assert self.run(rules, "ZZZ002") == {"ZZZ002"}
        assert self.run(rules, "deep-one") == {"ZZZ002"}
        assert self.run(rules, "ALL", "ZZZ002") == {"ZZZ001", "ZZZ002", "ZZZ003"}

    def test_deep_rule_can_still_be_ignored(self, rules: RuleSet) -> None:
        assert self.run(rules, "ALL", deep=True, ignore=("ZZZ002",)) == {"ZZZ001", "ZZZ003"}
        assert self.run(rules, "ZZZ002", ignore=("ZZZ002",)) == set()

    @pytest.mark.parametrize(
        ("select", "deep", "reads"),
        [
            (("ALL",), False, set()),
            (("ZZZ",), False, set()),
            (("ALL",), True, {"ZZZ002", "ZZZ003"}),
            (("ZZZ003",), False, {"ZZZ003"}),
            (("partly-deep",), False, {"ZZZ003"}),
            (("ZZZ002",), False, {"ZZZ002"}),
        ],
    )
    def test_deep_reads_one_meaning_for_whole_and_partly_deep_rules(
        self, rules: RuleSet, select: tuple[str, ...], deep: bool, reads: set[str]
    ) -> None:
        """Whole payloads are read with --deep or for a rule named by code or name,
        whether the rule reads them in all its checks or in some."""
        selection = Selection(select, (), deep)
        assert {r.code for r in rules if selection.deep_reads(r)} == reads
        assert not selection.deep_reads(rules.rules[0])  # a rule that never reads them

    def test_built_in_deep_rules_follow_the_same_rule(self) -> None:
        deep = {r.code for r in load_rules() if r.deep is Deep.WHOLE and not r.decode}
        assert not deep & enabled(("ALL",))
        assert deep <= enabled(("ALL",), deep=True)
        for code in deep:
            assert enabled((code,)) == {code}


class TestDecodeRules:
    """The DEC rules read whole frames: they run with --decode, or named by code or
    name, never with --deep alone or by their family."""

    DEC = frozenset({"DEC001", "DEC002", "DEC003", "DEC004"})

    def test_they_are_the_decode_rules(self) -> None:
        rules = load_rules()
        assert {r.code for r in rules if r.decode} == self.DEC
        assert all(r.deep is Deep.WHOLE for r in rules if r.decode)

    def test_when_they_run(self) -> None:
        assert not self.DEC & enabled(("ALL",))
        assert not self.DEC & enabled(("ALL",), deep=True)
        assert not self.DEC & enabled(("DEC",))
        assert enabled(("ALL",), decode=True) >= self.DEC
        assert enabled(("DEC",), decode=True) == self.DEC
        assert enabled(("DEC003",)) == {"DEC003"}
        assert enabled(("jpeg-scan-incomplete",)) == {"DEC003"}
        assert not enabled(("ALL",), ("DEC002",), decode=True) & {"DEC002"}
        assert enabled(("ALL",), decode=True) == enabled(("ALL",)) | self.DEC

    def test_they_read_whole_frames_only_when_they_run(self) -> None:
        rules = load_rules()
        dec3 = rules.get("DEC003")
        assert dec3 is not None
        assert Selection(("ALL",), (), False, True).deep_reads(dec3)
        assert Selection(("DEC003",)).deep_reads(dec3)
        assert not Selection(("ALL",), (), True, False).deep_reads(dec3)

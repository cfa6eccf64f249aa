"""The fix vocabulary (fixes.py) and what a rule may declare of its fixes."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from dcmencaps_lint import fixes
from dcmencaps_lint.context import Needs
from dcmencaps_lint.fixes import Edit
from dcmencaps_lint.model import Problem, Severity
from dcmencaps_lint.registry import DeclarationError, Deep, FixAvailability, rule

EDITS = [
    fixes.EmptyBot(),
    fixes.MoveOffsetsToEot(),
    fixes.RebuildBot(),
    fixes.RebuildEot(),
    fixes.RemoveEot(),
    fixes.PadFragment(3),
    fixes.DropItem(1234),
    fixes.AppendDelimiter(),
    fixes.JoinFragments(2, 4),
    fixes.SplitAtCodestreams(),
    fixes.VrAsOb(1282),
    fixes.WrapInItems(),
    fixes.ItemsWithUndefinedLength(),
    fixes.TrimFragment(2, 5000),
    fixes.SetLossyFlag(1000),
    fixes.UnwrapJp2(2),
    fixes.RepadRleSegments(2),
    fixes.AddLossyFlag(),
]


def test_every_edit_is_listed_here() -> None:
    kinds = {type(edit) for edit in EDITS}
    declared = {
        value
        for value in vars(fixes).values()
        if isinstance(value, type) and issubclass(value, Edit) and value is not Edit
    }
    assert kinds == declared


@pytest.mark.parametrize("edit", EDITS, ids=lambda edit: type(edit).__name__)
def test_an_edit_describes_itself_and_travels(edit: Edit) -> None:
    text = edit.describe()
    assert text and text[0].islower() and not text.endswith(".")
    assert pickle.loads(pickle.dumps(edit)) == edit  # worker processes send findings back
    assert hash(edit) == hash(pickle.loads(pickle.dumps(edit)))
    with pytest.raises(AttributeError):
        edit.safe = not edit.safe  # type: ignore[misc]


def test_an_edit_says_what_it_is() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Edit()  # type: ignore[abstract]


def test_the_numbers_say_which_part() -> None:
    assert fixes.PadFragment(3).describe() == "pad fragment 3 with one trailing 00 byte"
    assert fixes.JoinFragments(2, 4).describe() == "join fragments 2-4 into one"


def test_only_edits_that_change_codestream_bytes_or_claims_are_unsafe() -> None:
    """Cutting codestream bytes or JP2 boxes, padding RLE segments, and saying the image
    was compressed lossily."""
    unsafe = [type(e).__name__ for e in EDITS if not e.safe]
    assert unsafe == [
        "TrimFragment",
        "SetLossyFlag",
        "UnwrapJp2",
        "RepadRleSegments",
        "AddLossyFlag",
    ]


def _nothing(ctx: object) -> Iterator[Problem]:
    return iter(())


class TestDeclarations:
    def test_a_rule_says_never_unless_told(self) -> None:
        declared = rule("ZZZ001", "z", Severity.INFO, ref="-", summary="z")(_nothing)
        assert (declared.fix, declared.unsafe_fix) == (FixAvailability.NEVER, False)

    def test_unsafe_fixes_need_a_fix(self) -> None:
        with pytest.raises(DeclarationError, match="unsafe_fix without a fix"):
            rule("ZZZ001", "z", Severity.INFO, ref="-", summary="z", unsafe_fix=True)

    @pytest.mark.parametrize(
        "keywords",
        [{"needs": Needs.ITEMS}, {"needs": Needs.DATASET}, {"deep": Deep.PART}, {"deep": True}],
    )
    def test_per_frame_rules_need_the_frame_map_and_read_no_payloads(
        self, keywords: dict[str, Any]
    ) -> None:
        with pytest.raises(DeclarationError, match="per-frame"):
            rule("ZZZ001", "z", Severity.INFO, ref="-", summary="z", per_frame=True, **keywords)

    def test_engine_rules_are_not_declared_with_rule(self) -> None:
        with pytest.raises(DeclarationError, match="engine_rule"):
            rule("ZZZ001", "z", Severity.INFO, ref="-", summary="z", needs=Needs.ENGINE)

    def test_deep_true_means_whole(self) -> None:
        declared = rule("ZZZ001", "z", Severity.INFO, ref="-", summary="z", deep=True)(_nothing)
        assert declared.deep is Deep.WHOLE

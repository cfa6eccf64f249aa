"""What a rule sees: the context class its needs name, the memo, the reads the context
refuses (raw reads for per-frame rules, payloads outside deep reads), and the shape of
element a rule declared with when= runs on."""

from __future__ import annotations

from pathlib import Path

import pydicom.data
import pytest
from builders import (
    JPEG_BASELINE,
    RLE_LOSSLESS,
    Built,
    context_of,
    encapsulated,
    jpeg_frame,
    native,
)

from dcmencaps_lint.context import (
    Context,
    ContractError,
    EncapsulatedContext,
    ItemsContext,
    Needs,
    PixelContext,
    Shape,
)
from dcmencaps_lint.dataset import DatasetError, NotDicomError
from dcmencaps_lint.engine import Options, _Run
from dcmencaps_lint.facts import End, Start, Verdict
from dcmencaps_lint.registry import load_rules

SAMPLES = Path(__file__).parent.parent / "samples"
PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"


class TestLevels:
    def test_each_need_has_its_class(self) -> None:
        assert [c.LEVEL for c in (Context, PixelContext, ItemsContext, EncapsulatedContext)] == [
            Needs.DATASET,
            Needs.PIXEL,
            Needs.ITEMS,
            Needs.ENCAPSULATED,
        ]

    def test_an_encapsulated_file(self) -> None:
        ctx = context_of(encapsulated([jpeg_frame()] * 2))
        assert type(ctx) is EncapsulatedContext
        assert ctx.ts is not None and ctx.walk is not None and ctx.frame_map is not None
        assert len(ctx.frame_map.frames) == 2

    def test_an_unknown_transfer_syntax_is_walked_but_not_mapped(self) -> None:
        ctx = context_of(encapsulated([jpeg_frame()]), ts="1.2.3.4")
        assert type(ctx) is ItemsContext
        assert (ctx.ts, ctx.frame_map) == (None, None)
        with pytest.raises(ContractError, match="transfer syntax is unknown"):
            _ = ctx.syntax

    def test_native_pixel_data(self) -> None:
        ctx = context_of(native())
        assert type(ctx) is PixelContext
        assert ctx.pixel is not None and ctx.walk is None

    def test_no_pixel_data(self) -> None:
        data = native().data
        ctx = context_of(data[: native().pixel_offset])
        assert type(ctx) is Context and ctx.pixel is None


def _frame_count(ctx: Context, _: None) -> int:
    calls.append(1)
    assert ctx.frame_map is not None
    return len(ctx.frame_map.frames)


calls: list[int] = []


def test_memo_computes_once_for_every_copy_of_an_element_context() -> None:
    calls.clear()
    ctx = context_of(encapsulated([jpeg_frame()] * 3))
    assert isinstance(ctx, EncapsulatedContext)
    assert ctx.memo(_frame_count, None) == 3
    copy = ctx.with_frames(ctx.frame_map.frames[:1])
    assert copy.memo(_frame_count, None) == 3  # kept from the first call, not recomputed
    assert calls == [1]
    assert ctx.with_deep_reads().memo(_frame_count, None) == 3
    assert calls == [1]


class TestPerFrameContract:
    def frame_context(self, frames: list[bytes]) -> EncapsulatedContext:
        ctx = context_of(encapsulated(frames, ts=JPEG_BASELINE))
        assert isinstance(ctx, EncapsulatedContext)
        return ctx.with_frames(ctx.frame_map.frames)

    def test_facts_are_served(self) -> None:
        frame = jpeg_frame(200)
        ctx = self.frame_context([frame])
        first = ctx.frame_map.frames[0]
        offset = ctx.walk.fragments[0].value_offset
        facts = ctx.frame_facts(first)
        assert facts.start == Start(offset, b"\xff\xd8", Verdict.OK)
        end = offset + len(frame)
        assert facts.end == End(end - 2, b"\xff\xd9", end, end - 2)
        assert ctx.jpeg_header(first) is facts.header is not None
        assert ctx.j2k_header(first) is None

    def test_raw_reads_are_refused(self) -> None:
        ctx = self.frame_context([jpeg_frame(200)])
        first = ctx.frame_map.frames[0]
        with pytest.raises(ContractError, match="frame_facts"):
            ctx.frame_head(first, 2)
        with pytest.raises(ContractError, match="frame_facts"):
            ctx.frame_tail(first, 2)
        with pytest.raises(ContractError):
            ctx.read(0, 4)
        with pytest.raises(ContractError):
            ctx.fragment(1)
        item = ctx.walk.fragments[0]
        with pytest.raises(ContractError):
            next(ctx.with_deep_reads().payload_chunks(item))

    def test_other_rules_read_what_they_need(self) -> None:
        ctx = context_of(encapsulated([jpeg_frame(200)], ts=RLE_LOSSLESS))
        assert isinstance(ctx, EncapsulatedContext)
        first = ctx.frame_map.frames[0]
        assert len(ctx.frame_head(first, 64)[1]) == 64  # the RLE header: not a per-frame rule
        assert ctx.read(0, 4) == bytes(4)


def test_payloads_are_read_with_deep_reads_only() -> None:
    ctx = context_of(encapsulated([jpeg_frame(200)]))
    assert isinstance(ctx, ItemsContext)
    item = ctx.fragment(1)
    with pytest.raises(ContractError, match="deep"):
        next(ctx.payload_chunks(item))
    chunks = list(ctx.with_deep_reads().payload_chunks(item))
    assert b"".join(chunk for _, chunk in chunks) == jpeg_frame(200)


# a Sequence Delimitation Item of length 4 (and its 4 bytes)
_DELIMITER_OF_LENGTH_4 = b"\xfe\xff\xdd\xe0\x04\x00\x00\x00\0\0\0\0"
# a zero-length Item Delimitation Item, walked past, before a fragment
_SKIPPED_THEN_FRAGMENT = (
    b"\xfe\xff\x0d\xe0\0\0\0\0"
    + b"\xfe\xff\x00\xe0"
    + len(jpeg_frame()).to_bytes(4, "little")
    + jpeg_frame()
)


class TestShape:
    """A rule declared with when= is called only where the element has that shape, and
    its declaration is exact: where the shape is missing, the rule finds nothing."""

    WHEN = tuple(r for r in load_rules() if r.when is not Shape.NONE)

    def test_declarations(self) -> None:
        declared = {r.code: r.when for r in self.WHEN}
        eot = {f"EOT{n:03}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)}
        bot_values = {f"BOT{n:03}" for n in (1, 2, 3, 4, 5, 6, 8, 9, 10)}
        assert {code for code, when in declared.items() if when is Shape.EOT} == eot
        assert {code for code, when in declared.items() if when is Shape.BOT_VALUES} == bot_values
        frames = {code for code, when in declared.items() if when is Shape.FRAMES}
        assert frames == {"BOT007", "EOT009", "FRG002", "FRG004"}
        irregular = {code for code, when in declared.items() if when is Shape.IRREGULAR_ITEMS}
        assert irregular == {f"ITM{n:03}" for n in range(1, 10)}

    @pytest.mark.parametrize(
        ("built", "shape"),
        [
            (encapsulated([jpeg_frame()], bot="empty"), Shape.NONE),
            (encapsulated([jpeg_frame()]), Shape.BOT_VALUES),
            (encapsulated([jpeg_frame()] * 3, bot="empty"), Shape.FRAMES),
            (encapsulated([jpeg_frame()] * 3), Shape.BOT_VALUES | Shape.FRAMES),
            (encapsulated([jpeg_frame()] * 3, bot="empty", eot="auto"), Shape.EOT | Shape.FRAMES),
            # each way out of the regular run of items
            (encapsulated([jpeg_frame()], bot="none"), Shape.IRREGULAR_ITEMS),
            (encapsulated([[jpeg_frame(), b""]], bot="empty"), Shape.IRREGULAR_ITEMS),
            (encapsulated([jpeg_frame() + b"\0"], bot="empty"), Shape.IRREGULAR_ITEMS),
            (
                encapsulated([jpeg_frame()], bot=b"\xfe\xff\x00\xe0\x01\x00\x00\x00\0"),
                Shape.IRREGULAR_ITEMS | Shape.BOT_VALUES,
            ),
            (encapsulated([jpeg_frame()], bot="empty", end=b""), Shape.IRREGULAR_ITEMS),
            (
                encapsulated([jpeg_frame()], bot="empty", end=_DELIMITER_OF_LENGTH_4),
                Shape.IRREGULAR_ITEMS,
            ),
            (encapsulated([], bot="empty"), Shape.IRREGULAR_ITEMS),
            (
                encapsulated([jpeg_frame()], bot="empty", items=_SKIPPED_THEN_FRAGMENT),
                Shape.IRREGULAR_ITEMS,
            ),
        ],
    )
    def test_the_plan_follows_the_shape(self, built: Built, shape: Shape) -> None:
        ctx = context_of(built)
        assert ctx.shape == shape
        plan = _Run(load_rules(), Options()).rules_for(ctx, top_level=True)
        planned = {r.code for rules in plan for r in rules}
        fitting = {r.code for r in self.WHEN if r.when & shape == r.when and r.applies_to(ctx.ts)}
        assert planned & {r.code for r in self.WHEN} == fitting

    def test_rules_find_nothing_where_their_shape_is_missing(self) -> None:
        """Every sample and every pydicom test file without the shape, each such rule
        called anyway: no problem, so leaving it out changes no report."""
        paths = sorted(SAMPLES.rglob("*.dcm")) + sorted(PYDICOM_FILES.glob("*.dcm"))
        called = 0
        for path in paths:
            try:
                ctx = context_of(path.read_bytes())
            except (NotDicomError, DatasetError):
                continue
            for r in self.WHEN:
                shaped = r.when & ctx.shape == r.when
                if shaped or r.needs > ctx.LEVEL or r.check is None or not r.applies_to(ctx.ts):
                    continue
                assert list(r.check(ctx)) == [], (r.code, path.name)
                called += 1
        assert called > 100


class TestReadOnly:
    """Contexts and walks are shared by every rule (and a per-frame verdict by every
    frame of a group): no rule may change one."""

    def test_a_context_refuses_changes_and_copies_every_attribute(self) -> None:
        ctx = context_of(encapsulated([jpeg_frame()] * 2))
        with pytest.raises(AttributeError, match="read-only"):
            ctx.deep = True  # type: ignore[misc]
        with pytest.raises(AttributeError, match="read-only"):
            del ctx.walk
        deep = ctx.with_deep_reads()
        assert type(deep) is type(ctx) and deep.deep and not ctx.deep
        for name in Context.__slots__:  # every attribute set by __init__, kept by the copy
            if name != "deep":
                assert getattr(deep, name) is getattr(ctx, name), name

    def test_a_walk_refuses_changes(self) -> None:
        walk = context_of(encapsulated([jpeg_frame()])).walk
        assert walk is not None
        with pytest.raises(AttributeError, match="read-only"):
            walk.stop_offset = 0  # type: ignore[misc]
        assert walk._replace(item_facts=None) == walk  # item facts are not compared
        assert walk._replace(stop_offset=1) != walk

    def test_a_rule_set_refuses_changes(self) -> None:
        rules = load_rules()
        with pytest.raises(AttributeError, match="read-only"):
            rules.rules = ()  # type: ignore[misc]
        with pytest.raises(AttributeError, match="read-only"):
            del rules.rules
        assert rules.get("itm004") is rules.get("odd-length-item") is not None

"""fixer.layout and fixer.check: each edit on the exact bytes of a broken file, written
with writer.write_file, then linted again and its frames compared with the old file's.

For each edit: the finding it repairs is gone, no new finding appears, every frame is
byte for byte the old one (one pad byte aside), the bytes in front of Pixel Data are the
old ones (the Extended Offset Table's values aside), and the BOT and the Extended Offset
Table agree with the new layout. Edits that cannot be applied say why (CannotFix), and
`check` refuses a new file whose frames or findings differ.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from pathlib import Path

import pydicom
import pytest
from builders import (
    ITEM_DELIM,
    Built,
    context_of,
    encapsulated,
    header,
    item,
    jpeg_frame,
)
from pydicom.encaps import generate_frames
from test_fuzz import BASE_SEED, mutants
from test_real_files import EXPECTED, ROOTS

from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.dataset import DatasetError, NotDicomError, ParsedDataset
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.fixer import CannotFix, Layout, check, layout
from dcmencaps_lint.fixes import (
    AppendDelimiter,
    DropItem,
    Edit,
    EmptyBot,
    MoveOffsetsToEot,
    PadFragment,
    RebuildBot,
)
from dcmencaps_lint.model import FileReport
from dcmencaps_lint.writer import WriteRefused, write_file

ODD = jpeg_frame(33)  # SOI, APP0, filler, EOI: 33 bytes
NOTHING_MOVED = Layout([], frozenset(), {}, {})  # the frames where they were, as they were


def _context(data: bytes) -> tuple[EncapsulatedContext, ParsedDataset]:
    ctx = context_of(data)
    assert isinstance(ctx, EncapsulatedContext)
    return ctx, ctx.dataset


def _codes(report: FileReport) -> list[str]:
    return sorted(f.code for f in report.findings)


def _fixed(tmp_path: Path, built: Built | bytes, edits: Collection[Edit], fixed: set[str]) -> bytes:
    """The file with `edits` applied, written and checked as --fix will; its bytes."""
    data = built.data if isinstance(built, Built) else built
    old_path, new_path = tmp_path / "old.dcm", tmp_path / "new.dcm"
    old_path.write_bytes(data)
    old, _ = _context(data)
    old_report = lint_file(data)
    assert fixed <= set(_codes(old_report))  # the defects are there to repair
    new_layout = layout(old, edits)

    def verify(path: str) -> str | None:
        data = Path(path).read_bytes()
        new, _ = _context(data)
        return check(old, old_report, new, lint_file(data), new_layout, fixed)

    write_file(old_path, new_layout.pieces, new_path, verify)
    assert old_path.read_bytes() == data  # the old file is never touched
    return new_path.read_bytes()


def _table_codes(data: bytes) -> list[str]:
    return [c for c in _codes(lint_file(data)) if c[:3] in ("BOT", "EOT", "ITM")]


def test_append_the_missing_delimiter(tmp_path: Path) -> None:
    built = encapsulated([jpeg_frame(), jpeg_frame(40)], end=b"")
    new = _fixed(tmp_path, built, [AppendDelimiter()], {"ITM006"})
    assert new == built.data + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    assert _codes(lint_file(new)) == []


@pytest.mark.parametrize("eot", [None, "auto"], ids=["bot", "bot-and-eot"])
def test_pad_an_odd_fragment_and_keep_the_tables_true(tmp_path: Path, eot: str | None) -> None:
    """Fragment 2 of 3 gains a pad byte: fragment 3 moves one byte on, and the BOT (or,
    with an Extended Offset Table, its offsets and Lengths; the BOT stays empty) follow."""
    frames = [jpeg_frame(), ODD, jpeg_frame(48)]
    built = encapsulated(frames, eot=eot, bot="empty" if eot else "auto")
    assert _codes(lint_file(built.data)) == ["ITM004"]
    new = _fixed(tmp_path, built, [PadFragment(2)], {"ITM004"})
    assert _codes(lint_file(new)) == []
    ctx, dataset = _context(new)
    assert list(ctx.walk.fragment_lengths) == [32, 34, 48]
    assert len(new) == len(built.data) + 1
    if not eot:
        assert ctx.walk.bot_offsets == (0, 40, 82)
        return
    assert ctx.walk.bot_offsets == ()
    assert list(ctx.eot_offsets) == [0, 40, 82]
    assert list(ctx.eot_lengths) == [32, 34, 48]
    # in front of Pixel Data only the values of the two tables changed
    assert dataset.eot is not None and dataset.eot_lengths is not None
    assert new[: dataset.eot.value_offset] == built.data[: dataset.eot.value_offset]
    assert dataset.eot_lengths.value_offset > dataset.eot.value_offset + 24


def test_drop_an_empty_item_between_fragments(tmp_path: Path) -> None:
    first, second = jpeg_frame(), jpeg_frame(40)
    raw = item(first) + header(ITEM_DELIM, 0) + item(second)
    built = encapsulated([first, second], items=raw)
    ctx, _ = _context(built.data)
    (empty,) = ctx.walk.skipped
    new = _fixed(tmp_path, built, [DropItem(empty.offset)], {"ITM002"})
    assert _codes(lint_file(new)) == []
    assert len(new) == len(built.data) - 8


def test_rebuild_a_wrong_bot(tmp_path: Path) -> None:
    built = encapsulated([jpeg_frame(), jpeg_frame(40), jpeg_frame()], bot=[0, 42, 90])
    wrong = {c for c in _codes(lint_file(built.data)) if c.startswith("BOT")}
    assert wrong
    new = _fixed(tmp_path, built, [RebuildBot()], wrong)
    assert _table_codes(new) == []
    assert _context(new)[0].walk.bot_offsets == (0, 40, 88)


def test_empty_the_bot(tmp_path: Path) -> None:
    built = encapsulated([jpeg_frame(), jpeg_frame()], bot=[0, 42])
    new = _fixed(tmp_path, built, [EmptyBot()], {"BOT004"})
    assert _context(new)[0].walk.bot_offsets == ()
    assert _table_codes(new) == []


def test_several_edits_at_once(tmp_path: Path) -> None:
    """A pad, a dropped empty item and the missing delimiter, with a BOT to keep true."""
    first, second, third = ODD, jpeg_frame(), ODD
    raw = item(first) + item(second) + header(ITEM_DELIM, 0) + item(third)
    built = encapsulated([first, second, third], items=raw, end=b"")
    ctx, _ = _context(built.data)
    edits = [PadFragment(1), PadFragment(3), DropItem(ctx.walk.skipped[0].offset)]
    new = _fixed(tmp_path, built, [*edits, AppendDelimiter()], {"ITM002", "ITM004", "ITM006"})
    assert _codes(lint_file(new)) == []
    assert _context(new)[0].walk.bot_offsets == (0, 42, 82)


@pytest.mark.parametrize(
    ("built", "edits", "why"),
    [
        (encapsulated([ODD]), [PadFragment(2)], "not there or not of odd length"),
        (encapsulated([jpeg_frame()]), [PadFragment(1)], "not there or not of odd length"),
        (encapsulated([jpeg_frame()]), [DropItem(7)], "not an empty item"),
        (
            encapsulated([jpeg_frame()], end=b"\xfe\xff\x00\xe0\xff\x00\x00\x00"),
            [AppendDelimiter()],
            "did not end at a delimiter",
        ),
        (encapsulated([jpeg_frame()], end=b""), [PadFragment(1)], "did not end"),
    ],
    ids=["no-such-fragment", "even-fragment", "not-an-empty-item", "truncated", "no-delim"],
)
def test_edits_that_cannot_apply_say_why(built: Built, edits: list[Edit], why: str) -> None:
    ctx, _ = _context(built.data)
    with pytest.raises(CannotFix, match=why):
        layout(ctx, edits)


def test_check_refuses_other_frames_and_new_findings(tmp_path: Path) -> None:
    built = encapsulated([jpeg_frame(), jpeg_frame(40)], end=b"")
    old, _ = _context(built.data)
    report = lint_file(built.data)
    fixed = encapsulated([jpeg_frame(), jpeg_frame(40)])
    changed = encapsulated([jpeg_frame(), jpeg_frame(40, fill=0x12)])
    worse = encapsulated([jpeg_frame(), jpeg_frame(40)[:-2] + b"\x00\x00"])
    for data, reason in [
        (fixed.data, None),
        (changed.data, "frame 2 differs from the old file's"),
        (worse.data, "frame 2 differs"),  # the frames are compared first
        (built.data, "still found: ITM006"),
    ]:
        new, _ = _context(data)
        got = check(old, report, new, lint_file(data), NOTHING_MOVED, {"ITM006"})
        assert (got or "").startswith(reason or "") and (got is None) == (reason is None)
    # a new finding, frames alike: a file whose EOT lengths are wrong
    bad_eot = encapsulated([jpeg_frame(), jpeg_frame(40)], bot="empty", eot=([0, 40], [32, 41]))
    new, _ = _context(bad_eot.data)
    got = check(old, report, new, lint_file(bad_eot.data), NOTHING_MOVED, {"ITM006"})
    assert got == "new findings: EOT005"


def test_a_refused_layout_never_replaces_the_file(tmp_path: Path) -> None:
    built = encapsulated([jpeg_frame(), jpeg_frame(40)], end=b"")
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    old, _ = _context(built.data)
    pieces = layout(old, [AppendDelimiter()]).pieces
    with pytest.raises(WriteRefused, match="still found: ITM006"):
        write_file(
            path,
            pieces,
            path,
            lambda p: check(
                old,
                lint_file(built.data),
                _context(built.data)[0],  # as if the new file were the old one
                lint_file(built.data),
                NOTHING_MOVED,
                {"ITM006"},
            ),
        )
    assert path.read_bytes() == built.data


def _edits_for(ctx: EncapsulatedContext, codes: Collection[str]) -> list[Edit]:
    """The edits that repair a file's item-structure findings."""
    edits: list[Edit] = []
    if "ITM004" in codes:
        edits += [PadFragment(n) for n, f in enumerate(ctx.walk.fragments, 1) if f.length % 2]
    if "ITM002" in codes:
        edits += [DropItem(empty.offset) for empty in ctx.walk.skipped]
    if "ITM006" in codes:
        edits.append(AppendDelimiter())
    return edits


REPAIRABLE = {"ITM002", "ITM004", "ITM006"}
REAL_WITH_REPAIRS = sorted(
    name for name, e in EXPECTED.items() if REPAIRABLE & {code for code, _ in e["findings"]}
)


def test_real_files_are_repaired_or_left_with_a_reason(tmp_path: Path) -> None:
    """pydicom's and pydicom-data's files with item-structure findings: each is repaired
    (the findings gone, the frames the same: `check` passed) or the fixer says why not;
    the old file is never changed (see _fixed)."""
    repaired = []
    for name in REAL_WITH_REPAIRS:
        prefix, relative = name.split("/", 1)
        data = (ROOTS[prefix] / relative).read_bytes()
        codes = set(_codes(lint_file(data))) & REPAIRABLE
        ctx, _ = _context(data)
        try:
            new = _fixed(tmp_path, data, _edits_for(ctx, codes), codes)
        except (CannotFix, WriteRefused) as exc:
            assert str(exc), name  # a reason, never a bare refusal
            continue
        assert not set(_codes(lint_file(new))) & codes, name
        repaired.append(name)
    assert "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm" in repaired


def test_a_real_file_without_its_delimiter_is_readable_again(tmp_path: Path) -> None:
    """pydicom-data's emri_small_jpeg_2k_lossless_too_short.dcm ends after its last
    fragment: pydicom drops the whole Pixel Data element. With the delimiter appended it
    reads all 10 frames, the same bytes as the fragments of the old file."""
    data = (ROOTS["pydicom-data"] / "emri_small_jpeg_2k_lossless_too_short.dcm").read_bytes()
    with pytest.warns(UserWarning, match="End of file reached before delimiter"):
        assert "PixelData" not in pydicom.dcmread(io.BytesIO(data))
    new = _fixed(tmp_path, data, [AppendDelimiter()], {"ITM006"})
    ds = pydicom.dcmread(io.BytesIO(new))
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    ctx, _ = _context(data)
    assert frames == [data[f.value_offset : f.value_offset + f.length] for f in ctx.walk.fragments]


def test_fuzz_mutants_are_repaired_or_refused_never_broken(tmp_path: Path) -> None:
    """The first 1,000 fuzz mutants (test_fuzz.py) with the edits their item findings
    call for: each is repaired and checked, or refused with a reason; nothing else is
    raised. Most are refused (the mutations break the walk itself: an unexpected tag, a
    header cut short), and a few fail the check (an edit that does not repair all)."""
    outcomes = {"repaired": 0, "refused": 0, "nothing to do": 0}
    for _, data in mutants(1_000, BASE_SEED):
        try:
            ctx = context_of(data)
        except (NotDicomError, DatasetError):
            outcomes["nothing to do"] += 1
            continue
        codes = set(_codes(lint_file(data))) & REPAIRABLE
        if not isinstance(ctx, EncapsulatedContext) or not codes:
            outcomes["nothing to do"] += 1
            continue
        try:
            new = _fixed(tmp_path, data, _edits_for(ctx, codes), codes)
        except (CannotFix, WriteRefused) as exc:
            assert str(exc)
            outcomes["refused"] += 1
            continue
        assert not set(_codes(lint_file(new))) & codes
        outcomes["repaired"] += 1
    assert outcomes["repaired"] >= 1 and outcomes["refused"] > 100, outcomes


def test_move_the_offsets_to_an_extended_offset_table(tmp_path: Path) -> None:
    """BOT009's fix (its finding needs 4 GiB of fragments; the edit does not): the BOT
    emptied, and an Extended Offset Table and its Lengths written right before Pixel
    Data, of the frames' items; the new file has no finding and the same frames."""
    frames = [jpeg_frame(), jpeg_frame(40), jpeg_frame(48)]
    built = encapsulated(frames, bot=[0, 42, 88])  # BOT004: one wrong value
    new = _fixed(tmp_path, built, [MoveOffsetsToEot()], {"BOT004"})
    assert _codes(lint_file(new)) == []
    ctx, dataset = _context(new)
    assert ctx.walk.bot_offsets == ()
    assert list(ctx.eot_offsets or ()) == [0, 40, 88]
    assert list(ctx.eot_lengths or ()) == [32, 40, 48]
    assert dataset.eot is not None and dataset.eot.offset == built.pixel_offset
    added = 2 * (12 + 24) - 12  # the two elements, the BOT's three values gone
    assert len(new) == len(built.data) + added
    assert new[: built.pixel_offset] == built.data[: built.pixel_offset]


def test_no_extended_offset_table_of_guessed_frames(tmp_path: Path) -> None:
    """Frame 1 in two fragments, an empty BOT: which fragments are a frame is only
    guessed from markers, so no table of them is written."""
    built = encapsulated([[jpeg_frame()[:16], jpeg_frame()[16:]], jpeg_frame(40)], bot="empty")
    old, _ = _context(built.data)
    with pytest.raises(CannotFix, match="not known to be one fragment each"):
        layout(old, [MoveOffsetsToEot()])

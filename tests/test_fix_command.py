"""`encaps-lint --fix` and `--fix-dir`: each rule that offers a fix, end to end.

For each: the broken file's finding is gone after the fix, no new finding appears, every
frame is the old frame byte for byte (a pad byte aside), and the report says what was
fixed (text, JSON). --fix-dir leaves the inputs as they were (bytes and mtime); a fix
that cannot be applied leaves the file as it was and says why in the finding.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import (
    H264_HP41,
    ITEM_DELIM,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    MPEG2_MPML,
    RLE_LOSSLESS,
    Built,
    context_of,
    dataset_prefix,
    encapsulated,
    header,
    item,
    jpeg_frame,
    pixel_data_header,
    rle_frame,
    u64,
)
from click.testing import CliRunner, Result
from instances import file_frames
from test_fuzz import BASE_SEED, mutants
from test_real_files import EXPECTED, ROOTS
from test_rules_csm import J2K, JP2, rle
from test_rules_eot import TestEOT011, starts_of, three_frames, with_raw_eot

from dcmencaps_lint import writer
from dcmencaps_lint.cli import main
from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.engine import Options, iter_lint_paths, lint_file
from dcmencaps_lint.registry import FixAvailability, Selection, load_rules

ODD = jpeg_frame(33)
RLE = rle_frame(size=80)
THREE = [jpeg_frame(), jpeg_frame(40), jpeg_frame(48)]


def _frames(data: bytes) -> list[bytes]:
    """Each frame's bytes (its fragments' values joined), a trailing pad byte dropped."""
    ctx = context_of(data)
    assert isinstance(ctx, EncapsulatedContext)
    fragments = ctx.walk.fragments
    frames = []
    for frame in ctx.frame_map.frames:
        parts = fragments[frame.first_fragment - 1 : frame.last_fragment]
        value = b"".join(data[f.value_offset : f.value_offset + f.length] for f in parts)
        frames.append(value)
    return frames


def _unpadded(frames: list[bytes], old: list[bytes]) -> list[bytes]:
    return [
        new[: len(was)] if new[len(was) :] in (b"", b"\x00") else new
        for new, was in zip(frames, old, strict=True)
    ]


# code -> a file with that finding (and its fix offered)
BROKEN: dict[str, Built] = {
    "ITM002": encapsulated(
        THREE[:2], items=item(THREE[0]) + header(ITEM_DELIM, 0) + item(THREE[1])
    ),
    "ITM004": encapsulated([jpeg_frame(), ODD, jpeg_frame()]),
    "ITM006": encapsulated(THREE, end=b""),
    "BOT001": encapsulated(THREE, bot=item(b"\x00" * 10)),
    "BOT002": encapsulated(THREE, bot=[4, 40, 88]),
    "BOT003": encapsulated(THREE, bot=[0, 88, 40]),
    "BOT004": encapsulated(THREE, bot=[0, 42, 88]),
    "BOT005": encapsulated(THREE, bot=[0, 40, 900]),
    "BOT006": encapsulated(THREE, bot=[0, 40]),
    "BOT008": encapsulated(THREE, eot="auto"),
    "BOT010": encapsulated([jpeg_frame()], ts=MPEG2_MPML, bot=[0]),
    "EOT004": encapsulated(THREE, bot="empty", eot=([0, 42, 88], [32, 40, 48])),
    "EOT005": encapsulated(THREE, bot="empty", eot=([0, 40, 88], [32, 41, 48])),
    "EOT007": encapsulated(THREE, bot="empty", eot=([0, 88, 40], [32, 48, 40])),
    # the EOT removed (RemoveEot): one of the pair, values of 12 bytes, too few, empty ones,
    # one under a video syntax
    "EOT001": with_raw_eot(three_frames(), eot=u64(starts_of(three_frames())), eot_lengths=None),
    "EOT002": with_raw_eot([jpeg_frame()], eot=u64([0]) + b"\x00" * 4, eot_lengths=u64([32])),
    "EOT003": encapsulated(
        three_frames(), bot="empty", eot=(starts_of(three_frames())[:2], [32, 32])
    ),
    "EOT010": with_raw_eot(three_frames(), eot=b"", eot_lengths=b""),
    "EOT011": encapsulated([TestEOT011.STREAM], ts=H264_HP41, bot="empty", eot=([0], [32])),
    "TSX009": encapsulated(THREE, vr="OW"),
    "FRG003": encapsulated([RLE, [RLE[:40], RLE[40:]], RLE], ts=RLE_LOSSLESS),
}


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["-j", "1", *args])


def _fix(data: bytes, where: str, tmp_path: Path) -> tuple[Result, dict, bytes]:
    """`--fix` on a file of these bytes, in place or with --fix-dir (the input then left
    as it was): the run, the file's JSON entry, and the bytes written."""
    path = tmp_path / "in" / "image.dcm"
    path.parent.mkdir()
    path.write_bytes(data)
    if where == "in place":
        result = _run("--fix", "--format", "json", str(path))
        written = path
    else:
        result = _run("--fix-dir", str(tmp_path / "out"), "--format", "json", str(path))
        written = tmp_path / "out" / "image.dcm"
        assert path.read_bytes() == data
    (entry,) = json.loads(result.stdout)["files"]
    return result, entry, written.read_bytes()


# Unsafe fixes (with --unsafe-fixes only): code -> a file with that finding.
UNSAFE: dict[str, Built] = {
    "CSM003": encapsulated([jpeg_frame(), jpeg_frame(40) + b"\x00\x00\x00\x00", jpeg_frame()]),
    # JPEG Baseline (always lossy) that says it is not, or nothing
    "TSX005": encapsulated(THREE, extra={"LossyImageCompression": "00"}),
    "TSX006": encapsulated(THREE, extra={"LossyImageCompression": None}),
    # frame 2 a JP2 file (signature, file type, the codestream box)
    "CSM006": encapsulated([J2K, JP2, J2K], ts=J2K_LOSSLESS),
    # segment 1 of 7 bytes, not padded: segment 2 at the odd offset 71
    "CSM024": encapsulated([RLE, rle(2, [64, 71]), RLE], ts=RLE_LOSSLESS),
}


def test_every_rule_that_offers_a_fix_has_a_case_here() -> None:
    offering = {r.code for r in load_rules() if r.fix is not FixAvailability.NEVER}
    # BOT009 needs 4 GiB: test_fixer covers EmptyBot; TSX001's file has no items to
    # compare frames by: test_a_bare_codestream_is_wrapped_in_items; FRG001's fix makes
    # frames the old file's map did not have: test_fragments_holding_two_codestreams_*
    assert offering - {"BOT009", "TSX001", "FRG001"} == set(BROKEN) | set(UNSAFE)
    unsafe = {r.code for r in load_rules() if r.unsafe_fix}
    assert unsafe == set(UNSAFE)


@pytest.mark.parametrize("code", sorted(BROKEN))
@pytest.mark.parametrize("where", ["in place", "fix-dir"])
def test_the_fix_repairs_and_keeps_the_frames(code: str, where: str, tmp_path: Path) -> None:
    built = BROKEN[code]
    before = lint_file(built.data)
    assert code in {f.code for f in before.findings}
    assert all(f.fix is not None for f in before.findings if f.code == code)
    result, entry, new = _fix(built.data, where, tmp_path)
    assert code in {f["code"] for f in entry["fixes"]}, entry
    assert code not in {f["code"] for f in entry["findings"]}
    after = lint_file(new)
    assert {f.code for f in after.findings} <= {f.code for f in before.findings} - {code}
    assert _unpadded(_frames(new), _frames(built.data)) == _frames(built.data)
    assert json.loads(result.stdout)["summary"]["fixed"] >= 1


def _state(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_fix_dir_writes_repaired_copies_below_it_and_leaves_the_inputs(tmp_path: Path) -> None:
    inputs = tmp_path / "archive"
    (inputs / "day1").mkdir(parents=True)
    (inputs / "day1" / "a.dcm").write_bytes(BROKEN["ITM006"].data)
    (inputs / "day1" / "b.dcm").write_bytes(encapsulated(THREE).data)  # nothing to fix
    (inputs / "c.dcm").write_bytes(BROKEN["BOT004"].data)
    single = tmp_path / "single.dcm"
    single.write_bytes(BROKEN["ITM004"].data)
    before = _state(tmp_path)
    out = tmp_path / "fixed"
    result = _run("--fix-dir", str(out), str(inputs), str(single))
    assert result.exit_code == 0, result.output
    assert {k: v for k, v in _state(tmp_path).items() if not k.startswith("fixed")} == before
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.dcm")) == [
        "c.dcm",
        "day1/a.dcm",
        "single.dcm",
    ]
    assert result.stdout.strip().endswith("3 fixed")


def test_a_fix_that_cannot_be_applied_says_why_and_changes_nothing(tmp_path: Path) -> None:
    """Two frames in three fragments and a wrong BOT: which fragment starts frame 2 is
    known only from markers (a guess), so the BOT is not rebuilt."""
    built = encapsulated([[jpeg_frame()[:16], jpeg_frame()[16:]], jpeg_frame(40)], bot=[0, 30])
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    mtime = path.stat().st_mtime_ns
    result = _run("--fix", str(path))
    assert result.exit_code == 1
    assert "(not fixed: the frames are not known well enough to rebuild the BOT)" in result.stdout
    assert path.read_bytes() == built.data and path.stat().st_mtime_ns == mtime
    assert "fixed" not in result.stdout.splitlines()[-1]


def test_nothing_to_fix_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "image.dcm"
    path.write_bytes(BROKEN["BOT001"].data)
    first = _run("--fix", str(path))
    assert first.exit_code == 0 and first.stdout.strip().endswith("1 fixed")
    mtime = path.stat().st_mtime_ns
    second = _run("--fix", str(path))
    assert second.exit_code == 0 and "fixed" not in second.stdout
    assert path.stat().st_mtime_ns == mtime


def test_standard_input_cannot_be_fixed() -> None:
    result = CliRunner().invoke(main, ["--fix", "-"], input=BROKEN["ITM006"].data)
    assert result.exit_code == 2
    assert "--fix cannot write back to standard input" in result.stderr


def test_worker_processes_fix_as_one_process_does(tmp_path: Path) -> None:
    reports = []
    for jobs in ("1", "2"):
        folder = tmp_path / jobs
        folder.mkdir()
        for code, built in BROKEN.items():
            (folder / f"{code}.dcm").write_bytes(built.data)
        result = CliRunner().invoke(main, ["--fix", "-j", jobs, "--format", "json", str(folder)])
        data = json.loads(result.stdout)
        for entry in data["files"]:
            entry["path"] = Path(entry["path"]).name
        reports.append(data)
        assert sorted(p.read_bytes() for p in folder.iterdir()) == sorted(
            p.read_bytes() for p in (tmp_path / "1").iterdir()
        )
    assert reports[0] == reports[1]


def test_the_report_of_a_fix_run_follows_the_schema(tmp_path: Path) -> None:
    from importlib import resources

    import jsonschema

    schema = json.loads(
        resources.files("dcmencaps_lint").joinpath("schema/report.schema.json").read_bytes()
    )
    for code, built in BROKEN.items():
        (tmp_path / f"{code}.dcm").write_bytes(built.data)
    document = json.loads(_run("--fix", "--format", "json", str(tmp_path)).stdout)
    assert document["summary"]["fixed"] == sum(len(f.get("fixes", [])) for f in document["files"])
    jsonschema.Draft202012Validator(schema).validate(document)
    fixed = document["files"][0]["fixes"][0]
    assert set(fixed) == {"code", "name", "message", "offset"}


def test_the_real_files_with_fixable_findings(tmp_path: Path) -> None:
    """pydicom's and pydicom-data's files whose findings offer fixes, through
    --fix-dir: each written file has none of the fixed codes and the same frames; a
    file not written says why in its findings."""
    offering = {
        r.code for r in load_rules() if r.fix is not FixAvailability.NEVER and not r.unsafe_fix
    }
    names = [n for n, e in EXPECTED.items() if offering & {code for code, _ in e["findings"]}]
    folder = tmp_path / "in"
    for name in names:
        prefix, relative = name.split("/", 1)
        target = folder / prefix / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOTS[prefix] / relative).read_bytes())
    result = _run("--fix-dir", str(tmp_path / "out"), "--format", "json", str(folder))
    written = 0
    for entry in json.loads(result.stdout)["files"]:
        fixed = {f["code"] for f in entry.get("fixes", [])}
        if not fixed:  # not written: every finding that offered a fix says why
            assert all("(not fixed: " in f["message"] for f in entry["findings"] if f["fix"]), entry
            continue
        written += 1
        path = Path(entry["path"])
        assert path.is_relative_to(tmp_path / "out")
        original = folder / path.relative_to(tmp_path / "out")
        assert not fixed & {f["code"] for f in entry["findings"]}
        old, new = original.read_bytes(), path.read_bytes()
        assert _unpadded(_frames(new), _frames(old)) == _frames(old)
    assert written >= 10, result.stdout[-2000:]


def test_the_real_files_decode_to_the_same_pixels_after_the_fix(tmp_path: Path) -> None:
    """Decoded with pydicom and pylibjpeg (JPEG, JPEG-LS, JPEG 2000 and RLE plugins, in
    the test extra): each repaired file's pixels equal the old file's. The one pydicom
    cannot read before (no delimiter: no Pixel Data) decodes after the fix to the pixels
    of pydicom-data's uncompressed emri_small.dcm."""
    import numpy as np
    import pydicom

    offering = {
        r.code for r in load_rules() if r.fix is not FixAvailability.NEVER and not r.unsafe_fix
    }
    names = [n for n, e in EXPECTED.items() if offering & {code for code, _ in e["findings"]}]
    unreadable = "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm"
    assert unreadable in names
    for name in names:
        prefix, relative = name.split("/", 1)
        old = ROOTS[prefix] / relative
        new = tmp_path / prefix / relative
        result = _run("--fix-dir", str(new.parent), str(old))
        assert result.stdout.splitlines()[-1].endswith("fixed"), (name, result.stdout)
        after = pydicom.dcmread(new).pixel_array
        if name == unreadable:
            reference = pydicom.dcmread(ROOTS["pydicom-data"] / "emri_small.dcm").pixel_array
        else:
            reference = pydicom.dcmread(old).pixel_array
        assert np.array_equal(after, reference), name


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe-fixes"])
def test_fuzz_mutants_through_fix_dir(unsafe: bool, tmp_path: Path) -> None:
    """1,500 fuzz mutants (test_fuzz.py) through `--fix --fix-dir` (and with
    `--unsafe-fixes`): no error, no fixer that raised; every file written lints without
    the codes fixed in it, and every finding that offered a fix it applies in a file not
    written says why."""
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for number, (_, data) in enumerate(mutants(1_500, BASE_SEED)):
        (folder / f"{number:05d}.dcm").write_bytes(data)
    options = Options(Selection(), fix=True, fix_dir=str(out), unsafe_fixes=unsafe)
    written = refused = 0
    for report in iter_lint_paths([folder], options=options, jobs=1):
        assert not [f for f in report.findings if f.code == "PRS005"], report
        assert "the fixer raised" not in " ".join(f.message for f in report.findings)
        if report.fixes:
            written += 1
            again = lint_file(report.path)
            assert not {f.code for f in report.fixes} & {f.code for f in again.findings}
        else:
            offered = [f for f in report.findings if f.fix is not None and (f.fix.safe or unsafe)]
            refused += bool(offered)
            assert all("(not fixed: " in f.message for f in offered), report
    assert written > 20 and refused > 20, (written, refused)


def test_diff_writes_nothing_and_shows_each_planned_fix(tmp_path: Path) -> None:
    for code, built in BROKEN.items():
        (tmp_path / f"{code}.dcm").write_bytes(built.data)
    before = _state(tmp_path)
    result = _run("--diff", str(tmp_path))
    assert result.exit_code == 1  # fixes are pending
    assert _state(tmp_path) == before
    for code in BROKEN:
        assert f"{code}.dcm: would fix: {code} " in result.stdout
    assert "fixed" not in result.stdout.splitlines()[-1]


def test_diff_shows_the_bytes_that_change(tmp_path: Path) -> None:
    """ITM004 on fragment 2 of 3, with a BOT: the BOT's third entry, fragment 2's length
    field, and the pad byte inserted after its value."""
    built = BROKEN["ITM004"]
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    result = _run("--diff", "--format", "json", str(path))
    (entry,) = json.loads(result.stdout)["files"]
    length_field = built.item_length_field(2)
    pad_at = built.items[2] + 8 + 33
    bot_entry = built.items[0] + 8 + 8
    assert entry["planned"] == [
        "ITM004 pad fragment 2 with one trailing 00 byte",
        f"  0x{bot_entry:08X}-0x{bot_entry + 1:08X} -> 0x{bot_entry:08X}-0x{bot_entry + 1:08X}: "
        "51 -> 52",  # frame 3 starts at 81, then 82
        f"  0x{length_field:08X}-0x{length_field + 1:08X} -> "
        f"0x{length_field:08X}-0x{length_field + 1:08X}: 21 -> 22",
        f"  0x{pad_at:08X}-0x{pad_at:08X} -> 0x{pad_at:08X}-0x{pad_at + 1:08X}: (nothing) -> 00",
    ]
    assert path.read_bytes() == built.data
    # and --fix writes exactly that
    _run("--fix", str(path))
    new = path.read_bytes()
    expected = bytearray(built.data)
    expected[bot_entry], expected[length_field] = 0x52, 0x22
    expected[pad_at:pad_at] = b"\x00"
    assert new == expected


def test_diff_on_a_clean_file_and_with_fix(tmp_path: Path) -> None:
    path = tmp_path / "image.dcm"
    path.write_bytes(encapsulated(THREE).data)
    clean = _run("--diff", str(path))
    assert clean.exit_code == 0 and "would fix" not in clean.stdout
    both = _run("--diff", "--fix", str(path))
    assert both.exit_code == 2
    assert "--diff writes nothing" in both.stderr


def test_an_unsafe_fix_only_with_unsafe_fixes(tmp_path: Path) -> None:
    """CSM003: four bytes after frame 2's EOI. Without --unsafe-fixes nothing is
    written or planned; with it the bytes go, and frame 2 is the old one up to its EOI."""
    built = UNSAFE["CSM003"]
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    mtime = path.stat().st_mtime_ns
    safe_only = _run("--fix", str(path))
    assert "CSM003" in safe_only.stdout and "not fixed" not in safe_only.stdout
    assert path.read_bytes() == built.data and path.stat().st_mtime_ns == mtime
    assert "would fix" not in _run("--diff", str(path)).stdout
    planned = _run("--diff", "--unsafe-fixes", str(path)).stdout
    assert f"would fix: CSM003 cut fragment 2 at byte {built.items[2] + 8 + 40}" in planned
    fixed = _run("--fix", "--unsafe-fixes", "--format", "json", str(path))
    (entry,) = json.loads(fixed.stdout)["files"]
    assert [f["code"] for f in entry["fixes"]] == ["CSM003"] and entry["findings"] == []
    old_frames, new_frames = _frames(built.data), _frames(path.read_bytes())
    assert new_frames == [old_frames[0], old_frames[1][:40], old_frames[2]]
    assert len(path.read_bytes()) == len(built.data) - 4


def test_fix_dir_never_writes_over_an_input(tmp_path: Path) -> None:
    """--fix-dir naming the folder being linted: each file would land on itself."""
    path = tmp_path / "image.dcm"
    path.write_bytes(BROKEN["ITM006"].data)
    result = _run("--fix-dir", str(tmp_path), str(tmp_path))
    assert "(not fixed: --fix-dir would write over the file itself)" in result.stdout
    assert path.read_bytes() == BROKEN["ITM006"].data


@pytest.mark.parametrize(
    ("frames", "eot"),
    [
        ([[RLE[:41], RLE[41:]], RLE], None),  # two odd fragments: joined, no pad of their own
        ([[RLE[:40], RLE[40:60], RLE[60:]], RLE[:-1]], None),  # three, and an odd frame after
        ([RLE, [RLE[:40], RLE[40:]]], "auto"),  # the Extended Offset Table follows
    ],
    ids=["odd-parts", "three-parts", "eot"],
)
def test_a_split_frame_is_joined_into_one_fragment(
    frames: list, eot: str | None, tmp_path: Path
) -> None:
    """FRG003's fix: the frame's bytes in one fragment, in order (a pad only where their
    sum is odd), the offset tables rebuilt, the other fixes of the file applied with it."""
    built = encapsulated(frames, ts=RLE_LOSSLESS, eot=eot)
    path = tmp_path / "split.dcm"
    path.write_bytes(built.data)
    result = _run("--fix", "--format", "json", str(path))
    (entry,) = json.loads(result.stdout)["files"]
    assert "FRG003" in {f["code"] for f in entry["fixes"]}, entry
    new = path.read_bytes()
    after = lint_file(new)
    assert after.findings == (), after.findings
    ctx = context_of(new)
    assert all(frame.fragment_count == 1 for frame in ctx.frame_map.frames)
    assert _unpadded(_frames(new), _frames(built.data)) == _frames(built.data)


def test_a_split_frame_of_unknown_frames_is_not_joined(tmp_path: Path) -> None:
    """With an empty BOT and several frames, which fragments make a frame is not known:
    no join is offered, the file is left as it was."""
    built = encapsulated([RLE, [RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS, bot="empty")
    assert [f.fix for f in lint_file(built.data).findings if f.code == "FRG003"] == [None]
    path = tmp_path / "split.dcm"
    path.write_bytes(built.data)
    _run("--fix", str(path))
    assert path.read_bytes() == built.data


def _rle_image(values: bytes) -> bytes:
    """One 4x4 8-bit RLE Lossless frame of these 16 values: a header of one segment,
    the segment a literal run, padded to an even length (PS3.5 G)."""
    segment = bytes([len(values) - 1]) + values + b"\x80"  # 80H: a no-op run, the pad
    return (1).to_bytes(4, "little") + (64).to_bytes(4, "little") + bytes(56) + segment


def test_a_joined_rle_frame_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    """pydicom decodes the split file (its BOT says where frame 2 starts) and the joined
    one to the same pixels, which are the values encoded."""
    import numpy as np
    import pydicom

    images = [bytes(range(n * 16, n * 16 + 16)) for n in range(3)]
    frames = [_rle_image(values) for values in images]
    split = frames[1][:40], frames[1][40:]
    built = encapsulated([frames[0], list(split), frames[2]], ts=RLE_LOSSLESS)
    path = tmp_path / "split.dcm"
    path.write_bytes(built.data)
    expected = np.frombuffer(b"".join(images), dtype=np.uint8).reshape(3, 4, 4)
    assert np.array_equal(pydicom.dcmread(path).pixel_array, expected)
    assert "FRG003" in {f.code for f in lint_file(path).findings}
    _run("--fix", str(path))
    assert lint_file(path).findings == ()
    assert np.array_equal(pydicom.dcmread(path).pixel_array, expected)


def _defined_length_file(codestream: bytes) -> bytes:
    return dataset_prefix(JPEG_BASELINE) + pixel_data_header(length=len(codestream)) + codestream


@pytest.mark.parametrize("where", ["in place", "fix-dir"])
@pytest.mark.parametrize("odd", [False, True], ids=["even", "odd"])
def test_a_bare_codestream_is_wrapped_in_items(where: str, odd: bool, tmp_path: Path) -> None:
    """TSX001's fix: the defined-length value, one whole codestream, becomes the one
    fragment of an undefined-length value (empty BOT, the fragment, a delimiter), its
    bytes as they were (a 00 pad byte after an odd one)."""
    codestream = jpeg_frame(33 if odd else 32)
    assert len(codestream) % 2 == odd
    data = _defined_length_file(codestream)
    before = lint_file(data)
    assert [f.fix is not None for f in before.findings if f.code == "TSX001"] == [True]
    _, entry, new = _fix(data, where, tmp_path)
    assert "TSX001" in {f["code"] for f in entry["fixes"]}, entry
    assert lint_file(new).findings == ()
    assert _frames(new) == [codestream + b"\0" * odd]
    assert new.startswith(data[: len(data) - len(codestream) - 4] + b"\xff\xff\xff\xff")


@pytest.mark.parametrize(
    "value",
    [
        bytes(64),  # native bytes under a JPEG syntax: no start marker
        jpeg_frame()[:-2] + b"\x00\x00",  # no end marker
        jpeg_frame() + jpeg_frame(),  # two codestreams? one frame, an end marker inside
    ],
    ids=["native", "no-end", "two"],
)
def test_a_value_that_is_not_one_codestream_is_not_wrapped(value: bytes) -> None:
    """Only a value that is surely one codestream of a single frame is wrapped; two
    codestreams end with an end marker too, so a second start marker inside is checked
    by the frames' count, not here: Number of Frames 2 offers no fix."""
    if value.count(b"\xff\xd8") > 1:
        data = dataset_prefix(JPEG_BASELINE, number_of_frames=2)
        data += pixel_data_header(length=len(value)) + value
    else:
        data = _defined_length_file(value)
    (finding,) = [f for f in lint_file(data).findings if f.code == "TSX001"]
    assert finding.fix is None


def test_a_wrapped_real_jpeg_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    """pydicom's SC_rgb_jpeg_dcmtk.dcm with its one frame written as a defined-length
    value (which pydicom 3 refuses to decode): after the fix, the original's pixels."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.encaps import generate_frames

    original = Path(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")).read_bytes()
    (frame,) = generate_frames(pydicom.dcmread(io.BytesIO(original)).PixelData, number_of_frames=1)
    pixel = context_of(original).pixel
    assert pixel is not None
    path = tmp_path / "bare.dcm"  # the data set as it was, then a defined length and the frame
    path.write_bytes(original[: pixel.value_offset - 4] + len(frame).to_bytes(4, "little") + frame)
    before = lint_file(path)
    assert "TSX001" in {f.code for f in before.findings}
    pixels = pydicom.dcmread(io.BytesIO(original)).pixel_array  # (pydicom 3 cannot read it)
    _run("--fix", str(path))
    assert "TSX001" not in {f.code for f in lint_file(path).findings}
    assert np.array_equal(pydicom.dcmread(path).pixel_array, pixels)


@pytest.mark.parametrize("when", ["writing new bytes", "copying"])
def test_a_full_disk_during_fix_leaves_the_file_and_says_why(
    when: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC in the middle of `--fix`'s write: the file keeps its bytes and its mtime, no
    temporary file is left, and the finding says why it was not fixed."""
    path = tmp_path / "image.dcm"
    data = BROKEN["BOT002"].data
    path.write_bytes(data)
    mtime = path.stat().st_mtime_ns
    real_write, real_copy, real_sendfile = os.write, os.copy_file_range, os.sendfile

    def temporary(fd: int) -> bool:  # the writer's new file, not the report or a log
        return os.readlink(f"/proc/self/fd/{fd}").endswith(writer.SUFFIX)

    def write(fd: int, chunk: bytes) -> int:
        if when == "writing new bytes" and temporary(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, chunk)

    def copy(source: int, fd: int, *rest: int) -> int:
        if temporary(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(source, fd, *rest)

    def sendfile(fd: int, source: int, *rest: int) -> int:
        if temporary(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_sendfile(fd, source, *rest)

    monkeypatch.setattr(os, "write", write)
    if when == "copying":
        monkeypatch.setattr(os, "copy_file_range", copy)
        monkeypatch.setattr(os, "sendfile", sendfile)
    result = _run("--fix", "--format", "json", str(path))
    (entry,) = json.loads(result.stdout)["files"]
    (finding,) = [f for f in entry["findings"] if f["code"] == "BOT002"]
    assert "not fixed: No space left on device" in finding["message"]
    assert not entry.get("fixes")  # (the field is there only when something was fixed)
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.dcm"]


def test_fix_killed_at_any_moment_leaves_the_old_file_or_the_repaired_one(
    tmp_path: Path,
) -> None:
    """`encaps-lint --fix` killed (SIGKILL) at random moments while it rewrites a 32 MiB
    file: the file is always exactly the old one or the repaired one."""
    frames = [jpeg_frame(16 * 1024 + 2 * (n % 7)) for n in range(2000)]
    built = encapsulated(frames, bot=[0, 8] + [16] * 1998)  # BOT002..: the BOT is rebuilt
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    result = _run("--fix", str(path))
    repaired = path.read_bytes()
    assert repaired != built.data and lint_file(repaired).findings == (), result.stdout
    digests = {
        hashlib.sha256(built.data).hexdigest(): "old",
        hashlib.sha256(repaired).hexdigest(): "new",
    }
    chance = random.Random(20261204)
    outcomes = set()
    for _ in range(10):
        path.write_bytes(built.data)
        child = subprocess.Popen(
            [sys.executable, "-m", "dcmencaps_lint", "--fix", "-j", "1", "-q", str(path)],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(chance.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        outcomes.add(digests[hashlib.sha256(path.read_bytes()).hexdigest()])
        for leftover in tmp_path.iterdir():  # a killed fix may leave its temporary file
            if leftover.name != "image.dcm":
                assert leftover.name.startswith(".image.dcm.")
                leftover.unlink()
    assert outcomes <= {"old", "new"}
    assert "old" in outcomes, outcomes  # some kills landed before the rename


def test_removing_the_eot_lowers_a_group_length_before_it(tmp_path: Path) -> None:
    """(7FE0,0000) counts the bytes of group 7FE0 that follow it (here to the end of the
    file): after the EOT elements are cut it still does, and still tells the truth."""
    built = BROKEN["EOT001"]
    at = built.eot_value_offset - 12  # the EOT element's first byte
    group = len(built.data) - at
    data = built.data[:at] + b"\xe0\x7f\x00\x00UL\x04\x00" + group.to_bytes(4, "little")
    data += built.data[at:]
    before = lint_file(data)
    assert {f.code for f in before.findings} == {"EOT001"}
    _, entry, new = _fix(data, "in place", tmp_path)
    assert [f["code"] for f in entry["fixes"]] == ["EOT001"] and not entry["findings"]
    assert b"\xe0\x7f\x01\x00" not in new
    assert len(new) == len(data) - 12 - 8 * 3  # the element: its header, three offsets
    value = int.from_bytes(new[at + 8 : at + 12], "little")
    assert new[at : at + 8] == b"\xe0\x7f\x00\x00UL\x04\x00"
    assert value == len(new) - (at + 12)  # the bytes after it, to the end of Pixel Data
    assert _frames(new) == _frames(data)


def test_the_lossy_flag_is_set_only_with_unsafe_fixes(tmp_path: Path) -> None:
    """TSX005: "00" on a JPEG Baseline image. Without --unsafe-fixes the file stays as it
    is; with it the two bytes of the value become "01" and nothing else changes."""
    built = UNSAFE["TSX005"]
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    (finding,) = [f for f in lint_file(built.data).findings if f.code == "TSX005"]
    assert finding.offset is not None and built.data[finding.offset : finding.offset + 2] == b"00"
    assert "TSX005" in _run("--fix", str(path)).stdout
    assert path.read_bytes() == built.data
    fixed = _run("--fix", "--unsafe-fixes", "--format", "json", str(path))
    (entry,) = json.loads(fixed.stdout)["files"]
    assert [f["code"] for f in entry["fixes"]] == ["TSX005"] and entry["findings"] == []
    new = path.read_bytes()
    at = finding.offset
    assert new == built.data[:at] + b"01" + built.data[at + 2 :]


def _codestreams(data: bytes) -> list[bytes]:
    """Every fragment's value, a trailing pad byte dropped where the value is a JPEG
    codestream (FF D9, then 00)."""
    ctx = context_of(data)
    assert isinstance(ctx, EncapsulatedContext)
    values = [data[f.value_offset : f.value_offset + f.length] for f in ctx.walk.fragments]
    return [v[:-1] if v.endswith(b"\xff\xd9\x00") else v for v in values]


@pytest.mark.parametrize("bot", ["empty", "auto"])
@pytest.mark.parametrize("where", ["in place", "fix-dir"])
def test_fragments_holding_two_codestreams_are_split_one_frame_each(
    bot: str, where: str, tmp_path: Path
) -> None:
    """FRG001: three frames, two of them in fragment 1 (the second of odd length). The
    fragment is cut where the second codestream starts: three fragments, one frame
    each, the odd one padded; a BOT with values has three now."""
    first, second, third = jpeg_frame(), jpeg_frame(33), jpeg_frame(48)
    built = encapsulated([first + second, third], number_of_frames=3, bot=bot)
    before = {f.code for f in lint_file(built.data).findings}
    assert "FRG001" in before
    _, entry, new = _fix(built.data, where, tmp_path)
    assert "FRG001" in {f["code"] for f in entry["fixes"]}, entry
    assert entry["findings"] == []
    assert _codestreams(new) == [first, second, third]
    ctx = context_of(new)
    assert isinstance(ctx, EncapsulatedContext)
    assert [f.fragment_count for f in ctx.frame_map.frames] == [1, 1, 1]
    assert ctx.walk.fragments[1].length == 34  # 33 bytes and a pad
    expected_bot = [] if bot == "empty" else [0, 8 + 32, 8 + 32 + 8 + 34]
    assert list(ctx.walk.bot_offsets) == expected_bot


def test_a_split_that_does_not_make_the_frames_is_refused(tmp_path: Path) -> None:
    """Number of Frames 4, but only three codestreams in two fragments: no split can make
    four frames, so nothing is written and the finding says why."""
    built = encapsulated([jpeg_frame() + jpeg_frame(40), jpeg_frame(48)], number_of_frames=4)
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    result = _run("--fix", str(path))
    assert "(not fixed: the 3 codestreams found do not make the 4 frames one each)" in (
        result.stdout
    )
    assert path.read_bytes() == built.data


def test_a_split_real_multiframe_jpeg_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    """pydicom-data's color3d_jpeg_baseline.dcm (120 frames) with frames 1 and 2 written
    in one fragment, as some writers do (pydicom then cannot read it: fewer fragments
    than frames). After the fix, all 120 frames decode to the original's pixels."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(get_testdata_file("color3d_jpeg_baseline.dcm"))
    pixels = ds.pixel_array
    frames = list(generate_frames(ds.PixelData, number_of_frames=120))
    ds.PixelData = encapsulate([frames[0] + frames[1], *frames[2:]], has_bot=False)
    path = tmp_path / "shared.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert "FRG001" in {f.code for f in lint_file(path).findings}
    result = _run("--fix", str(path))
    assert result.stdout.strip().endswith("1 fixed"), result.stdout
    assert "FRG001" not in {f.code for f in lint_file(path).findings}
    assert np.array_equal(pydicom.dcmread(path).pixel_array, pixels)


@pytest.mark.parametrize("eot", [None, "auto"])
def test_a_jp2_frame_is_unwrapped_only_with_unsafe_fixes(eot: str | None, tmp_path: Path) -> None:
    """CSM006: frame 2 is a JP2 file. Without --unsafe-fixes the file stays; with it
    frame 2 is the codestream of the jp2c box alone, and the tables follow."""
    built = encapsulated(
        [J2K, JP2, J2K], ts=J2K_LOSSLESS, bot="auto" if eot is None else "empty", eot=eot
    )
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    assert "CSM006" in _run("--fix", str(path)).stdout
    assert path.read_bytes() == built.data
    planned = _run("--diff", "--unsafe-fixes", str(path)).stdout
    assert "would fix: CSM006 keep only the codestream of fragment 2 (its JP2 jp2c box's)" in (
        planned
    )
    fixed = _run("--fix", "--unsafe-fixes", "--format", "json", str(path))
    (entry,) = json.loads(fixed.stdout)["files"]
    assert [f["code"] for f in entry["fixes"]] == ["CSM006"] and entry["findings"] == []
    new = path.read_bytes()
    assert _frames(new) == [J2K, J2K, J2K]
    assert lint_file(new).findings == ()


def test_pydicoms_jp2_wrapped_file_unwrapped_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    """pydicom's GDCMJ2K_TextGBR.dcm: its frame is a JP2 file (CSM006). Unwrapped with
    --unsafe-fixes, the bare codestream decodes to the pixels the JP2 file gave."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file

    original = Path(get_testdata_file("GDCMJ2K_TextGBR.dcm"))
    path = tmp_path / "jp2.dcm"
    path.write_bytes(original.read_bytes())
    assert "CSM006" in {f.code for f in lint_file(path).findings}
    pixels = pydicom.dcmread(original).pixel_array
    result = _run("--fix", "--unsafe-fixes", str(path))
    assert result.stdout.strip().endswith("1 fixed"), result.stdout
    assert "CSM006" not in {f.code for f in lint_file(path).findings}
    assert np.array_equal(pydicom.dcmread(path).pixel_array, pixels)


def test_odd_rle_segments_are_padded_only_with_unsafe_fixes(tmp_path: Path) -> None:
    """CSM024: frame 2's first segment is 7 bytes and its second 9 (80-byte frame,
    segments at 64 and 71). With --unsafe-fixes each gets a 00 byte after it, the second
    offset becomes 72; the segments' bytes are the old ones."""
    segments = bytes(range(1, 8)) + bytes(range(11, 20))
    frame = struct.pack("<16I", 2, 64, 71, *[0] * 13) + segments
    right = struct.pack("<16I", 2, 64, 72, *[0] * 13) + bytes(16)  # segments of 8 and 8
    sixteen_bits = {"BitsAllocated": 16, "BitsStored": 16, "HighBit": 15}  # 2 segments
    built = encapsulated([right, frame, right], ts=RLE_LOSSLESS, extra=sixteen_bits)
    assert {f.code for f in lint_file(built.data).findings} == {"CSM024"}
    path = tmp_path / "image.dcm"
    path.write_bytes(built.data)
    assert "CSM024" in _run("--fix", str(path)).stdout
    assert path.read_bytes() == built.data
    fixed = _run("--fix", "--unsafe-fixes", "--format", "json", str(path))
    (entry,) = json.loads(fixed.stdout)["files"]
    assert [f["code"] for f in entry["fixes"]] == ["CSM024"] and entry["findings"] == []
    header = struct.pack("<16I", 2, 64, 72, *[0] * 13)
    padded = bytes(range(1, 8)) + b"\x00" + bytes(range(11, 20)) + b"\x00"
    assert _frames(path.read_bytes()) == [right, header + padded, right]


def test_pydicoms_odd_rle_segments_padded_decode_to_the_same_doses(tmp_path: Path) -> None:
    """pydicom's rtdose_rle.dcm (odd segments in frames 2, 6-10, 14 and 15, written by
    pydicom 2.4's encoder): after --unsafe-fixes, CSM024 is gone and every frame decodes
    to the values it had."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file

    original = Path(get_testdata_file("rtdose_rle.dcm"))
    path = tmp_path / "rtdose.dcm"
    path.write_bytes(original.read_bytes())
    assert "CSM024" in {f.code for f in lint_file(path).findings}
    result = _run("--fix", "--unsafe-fixes", str(path))
    assert "fixed" in result.stdout.splitlines()[-1], result.stdout
    assert "CSM024" not in {f.code for f in lint_file(path).findings}
    assert np.array_equal(pydicom.dcmread(path).pixel_array, pydicom.dcmread(original).pixel_array)


@pytest.mark.parametrize("delimiter", ["none", "inside the length"])
@pytest.mark.parametrize("where", ["in place", "fix-dir"])
def test_items_written_with_a_length_get_the_undefined_length(
    delimiter: str, where: str, tmp_path: Path
) -> None:
    """TSX001 where the defined-length value is items already (a BOT with values, three
    fragments; the delimiter left out or counted in the length): the length becomes
    FFFFFFFFH and the delimiter follows the items, which is the file a conformant writer
    makes, byte for byte."""
    built = encapsulated(THREE)
    assert built.delimiter is not None
    start = built.value_offset
    end = built.delimiter + (8 if delimiter == "inside the length" else 0)
    value = built.data[start:end]
    data = built.data[: start - 4] + len(value).to_bytes(4, "little") + value
    (finding,) = [f for f in lint_file(data).findings if f.code == "TSX001"]
    assert finding.fix is not None
    _, entry, new = _fix(data, where, tmp_path)
    assert [f["code"] for f in entry["fixes"]] == ["TSX001"] and entry["findings"] == []
    assert new == built.data


def test_a_value_that_is_not_only_items_keeps_its_length(tmp_path: Path) -> None:
    """A defined-length value that starts with an item tag but ends in bytes that are no
    item: the fixer's walk does not fill it, so nothing is written and the finding says
    why."""
    built = encapsulated(THREE)
    assert built.delimiter is not None
    value = built.data[built.value_offset : built.delimiter] + b"\x00" * 6
    data = built.data[: built.value_offset - 4] + len(value).to_bytes(4, "little") + value
    path = tmp_path / "image.dcm"
    path.write_bytes(data)
    result = _run("--fix", str(path))
    assert "(not fixed: the Pixel Data value is not a BOT item and fragments, whole)" in (
        result.stdout
    )
    assert path.read_bytes() == data


@functools.cache
def _real_frames(name: str, count: int) -> tuple[tuple[bytes, ...], dict[str, object]]:
    """The first `count` frames of one of pydicom's multi-frame files, and the attributes
    that describe them."""
    frames, attributes = file_frames(name)
    return frames[:count], dict(attributes)


def _pixels_of(name: str, count: int, ts: str = JPEG_BASELINE) -> object:
    """How pydicom decodes those frames, written as a clean file of their own."""
    import pydicom

    frames, attributes = _real_frames(name, count)
    clean = encapsulated(list(frames), ts=ts, extra=attributes)
    return pydicom.dcmread(io.BytesIO(clean.data)).pixel_array


def _real_jpeg_defects() -> dict[str, Built]:
    """Each safe fix's defect, built from three real JPEG Baseline frames (pydicom-data's
    color3d_jpeg_baseline.dcm; frame 1 ends FF D9 00, an odd codestream and its pad)."""
    frames, attributes = _real_frames("color3d_jpeg_baseline.dcm", 3)
    f0, f1, f2 = frames
    s1 = 8 + len(f0)
    s2 = s1 + 8 + len(f1)
    sizes = [len(f) for f in frames]

    def built(fragments: list[bytes] | None = None, **options: object) -> Built:
        return encapsulated(fragments or list(frames), extra=attributes, **options)  # type: ignore[arg-type]

    return {
        "BOT001": built(bot=item(b"\x00" * 10)),
        "BOT002": built(bot=[4, s1, s2]),
        "BOT003": built(bot=[0, s2, s1]),
        "BOT004": built(bot=[0, s1 + 2, s2]),
        "BOT005": built(bot=[0, s1, 10**6]),
        "BOT006": built(bot=[0, s1]),
        "BOT008": built(eot="auto"),
        "EOT001": with_raw_eot(frames, eot=u64([0, s1, s2]), eot_lengths=None, extra=attributes),
        "EOT002": with_raw_eot(
            frames, eot=u64([0, s1, s2]) + bytes(4), eot_lengths=u64(sizes), extra=attributes
        ),
        "EOT003": built(bot="empty", eot=([0, s1], sizes[:2])),
        "EOT004": built(bot="empty", eot=([0, s1 + 2, s2], sizes)),
        "EOT005": built(bot="empty", eot=([0, s1, s2], [sizes[0], sizes[1] + 2, sizes[2]])),
        "EOT007": built(bot="empty", eot=([0, s2, s1], [sizes[0], sizes[2], sizes[1]])),
        "EOT010": with_raw_eot(frames, eot=b"", eot_lengths=b"", extra=attributes),
        "ITM002": built(items=item(f0) + header(ITEM_DELIM, 0) + item(f1) + item(f2)),
        "ITM004": built([f0[:-1], f1, f2]),  # the pad byte left out: 49,011 bytes
        "ITM006": built(end=b""),
        "TSX009": built(vr="OW"),
        "FRG001": built([f0 + f1, f2], number_of_frames=3),
    }


REAL_JPEG_CODES = [
    *("BOT001", "BOT002", "BOT003", "BOT004", "BOT005", "BOT006", "BOT008"),
    *("EOT001", "EOT002", "EOT003", "EOT004", "EOT005", "EOT007", "EOT010"),
    *("ITM002", "ITM004", "ITM006", "TSX009"),
    "FRG001",
]


def test_the_real_jpeg_cases_are_those_built() -> None:
    assert sorted(REAL_JPEG_CODES) == sorted(_real_jpeg_defects())


@pytest.mark.parametrize("code", REAL_JPEG_CODES)
def test_real_jpeg_frames_decode_to_the_same_pixels_after_the_fix(
    code: str, tmp_path: Path
) -> None:
    """Safe fixes on real JPEG codestreams: after --fix the file's three frames decode
    (pydicom with pylibjpeg) to the pixels of the original file's first three."""
    import numpy as np
    import pydicom

    built = _real_jpeg_defects()[code]
    assert code in {f.code for f in lint_file(built.data).findings}
    _, entry, new = _fix(built.data, "in place", tmp_path)
    assert code in {f["code"] for f in entry["fixes"]}, entry
    assert code not in {f.code for f in lint_file(new).findings}
    pixels = _pixels_of("color3d_jpeg_baseline.dcm", 3)
    assert np.array_equal(pydicom.dcmread(io.BytesIO(new)).pixel_array, pixels)


def test_real_rle_frames_joined_decode_to_the_same_pixels(tmp_path: Path) -> None:
    """FRG003 on real RLE frames (pydicom's rtdose_rle.dcm, 32-bit doses): frame 2
    written as two fragments; after --fix, one again, and all three decode as before."""
    import numpy as np
    import pydicom

    (f0, f1, f2), attributes = _real_frames("rtdose_rle.dcm", 3)
    pixels = _pixels_of("rtdose_rle.dcm", 3, RLE_LOSSLESS)
    built = encapsulated([f0, [f1[:100], f1[100:]], f2], ts=RLE_LOSSLESS, extra=attributes)
    assert "FRG003" in {f.code for f in lint_file(built.data).findings}
    _, entry, new = _fix(built.data, "fix-dir", tmp_path)
    assert "FRG003" in {f["code"] for f in entry["fixes"]}, entry
    assert np.array_equal(pydicom.dcmread(io.BytesIO(new)).pixel_array, pixels)


@pytest.mark.parametrize("name", ["color3d_jpeg_baseline.dcm", "rtdose_rle.dcm"])
def test_the_reference_pixels_are_the_original_files(name: str) -> None:
    """The pixels the tests above compare with are those of the file the frames came
    from (its first three frames), not only of a copy made here."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file

    ts = RLE_LOSSLESS if "rle" in name else JPEG_BASELINE
    original = pydicom.dcmread(get_testdata_file(name)).pixel_array[:3]
    assert np.array_equal(_pixels_of(name, 3, ts), original)


@pytest.mark.parametrize("before", ["absent", "empty", "absent, a sequence before"])
def test_the_lossy_flag_is_added_only_with_unsafe_fixes(before: str, tmp_path: Path) -> None:
    """TSX006: a JPEG Baseline image without Lossy Image Compression (or with an empty
    one; or with a sequence of undefined length earlier in the data set, which the walk
    to the element's place passes item by item). With --unsafe-fixes the element "01" is
    added where its tag puts it, and pydicom reads it there; the frames stay."""
    import pydicom

    extra: dict[str, object] = {"LossyImageCompression": "" if before == "empty" else None}
    built = encapsulated(THREE, extra=extra)
    data = built.data
    if before == "absent, a sequence before":
        # (0008,1140) Referenced Image Sequence, undefined length: one item of undefined
        # length holding (0008,1150) UI, then the item's and the sequence's delimiters
        nested = b"\x08\x00\x50\x11UI\x04\x001.2\x00"
        sequence = (
            b"\x08\x00\x40\x11SQ\x00\x00\xff\xff\xff\xff"
            + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
            + nested
            + b"\xfe\xff\x0d\xe0"
            + bytes(4)
            + b"\xfe\xff\xdd\xe0"
            + bytes(4)
        )
        at = data.index(b"\x08\x00\x60\x00CS")  # (0008,0060) Modality: the sequence after it
        at += 8 + int.from_bytes(data[at + 6 : at + 8], "little")
        data = data[:at] + sequence + data[at:]
    assert {f.code for f in lint_file(data).findings} == {"TSX006"}
    path = tmp_path / "image.dcm"
    path.write_bytes(data)
    assert "TSX006" in _run("--fix", str(path)).stdout and path.read_bytes() == data
    fixed = _run("--fix", "--unsafe-fixes", "--format", "json", str(path))
    (entry,) = json.loads(fixed.stdout)["files"]
    assert [f["code"] for f in entry["fixes"]] == ["TSX006"] and entry["findings"] == []
    new = path.read_bytes()
    assert pydicom.dcmread(path).LossyImageCompression == "01"
    assert _frames(new) == _frames(data)
    assert len(new) == len(data) + (2 if before == "empty" else 10)


def test_adding_the_lossy_flag_grows_a_group_length(tmp_path: Path) -> None:
    """(0028,0000) before group 0028's elements counts their bytes: after the element is
    added it counts 10 more, as many as are there."""
    built = encapsulated(THREE, extra={"LossyImageCompression": None})
    data = built.data
    at = data.index(b"\x28\x00\x02\x00US")  # (0028,0002), the group's first element
    end = at
    while data[end : end + 2] == b"\x28\x00":  # group 0028: short VRs here, 8-byte headers
        end += 8 + int.from_bytes(data[end + 6 : end + 8], "little")
    data = data[:at] + b"\x28\x00\x00\x00UL\x04\x00" + (end - at).to_bytes(4, "little") + data[at:]
    assert {f.code for f in lint_file(data).findings} == {"TSX006"}
    path = tmp_path / "image.dcm"
    path.write_bytes(data)
    fixed = _run("--fix", "--unsafe-fixes", "--format", "json", str(path))
    (entry,) = json.loads(fixed.stdout)["files"]
    assert [f["code"] for f in entry["fixes"]] == ["TSX006"] and entry["findings"] == []
    new = path.read_bytes()
    assert int.from_bytes(new[at + 8 : at + 12], "little") == end - at + 10
    group_end = at + 12
    while new[group_end : group_end + 2] == b"\x28\x00":
        group_end += 8 + int.from_bytes(new[group_end + 6 : group_end + 8], "little")
    assert group_end - (at + 12) == end - at + 10  # what it counts is there

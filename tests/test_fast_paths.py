"""The fast paths give exactly the results of the careful ones.

Two optimisations must never change a finding: the walker's fast loops over ordinary
items (the compiled core's, or Python's over a file on disk) and the grouping of frames
by their facts for the per-frame rules (facts.py). Each test lints the same bytes both
ways and compares the whole report, on the compiled core and on its Python twin.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from builders import (
    ITEM,
    J2K_LOSSLESS,
    JPEG_LS_LOSSLESS,
    Built,
    delimiter,
    encapsulated,
    frame_groups_of,
    header,
    item,
    j2k_frame,
    jpeg_frame,
)

from dcmencaps_lint import core, engine, facts, reader, walker
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import StopReason


def _frames(count: int, make=jpeg_frame) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [make(64) for _ in range(count)]


def _broken_some(count: int, make=jpeg_frame) -> list[bytes]:  # type: ignore[no-untyped-def]
    frames = _frames(count, make)
    frames[5] = frames[25] = frames[5][:-2] + b"\x00\x00"  # no end marker, twice alike
    frames[17] = b"\x00\x00" + frames[17][2:]  # not a codestream
    frames[30] = b"\xff\xff" + frames[30]  # fill before the start marker
    return frames


CASES: dict[str, Built] = {
    "valid-jpeg-40": encapsulated(_frames(40)),
    "valid-j2k-40-eot": encapsulated(
        _frames(40, j2k_frame), ts=J2K_LOSSLESS, bot="empty", eot="auto"
    ),
    "broken-jpeg-40": encapsulated(_broken_some(40)),
    "broken-jls-40": encapsulated(_broken_some(40), ts=JPEG_LS_LOSSLESS, bot="empty"),
    "broken-j2k-40": encapsulated(_broken_some(40, j2k_frame), ts=J2K_LOSSLESS),
    "odd-and-truncated": encapsulated(
        _frames(20), items=b"".join(item(f) for f in _frames(19)) + header(ITEM, 4000) + b"\0" * 9
    ),
    "undefined-length-in-run": encapsulated(
        [jpeg_frame()],
        items=item(jpeg_frame()) + header(ITEM, 0xFFFFFFFF) + jpeg_frame() + delimiter(),
        number_of_frames=2,
    ),
    "unexpected-tag-in-run": encapsulated(
        [jpeg_frame()], items=item(jpeg_frame()) + header(0xFFFEE00D, 0) + item(jpeg_frame())
    ),
    "delimiter-with-length": encapsulated([jpeg_frame()] * 3, end=delimiter(4)),
    "length-past-end": encapsulated([jpeg_frame()], items=header(ITEM, 0xFFFFFFF0), end=b""),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("small_file", [0, reader.SMALL_FILE])
def test_memory_mapped_walk_equals_careful_walk(
    name: str, small_file: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, implementation: str
) -> None:
    """From a file (read whole, or as it is needed) as from bytes."""
    monkeypatch.setattr(reader, "SMALL_FILE", small_file)
    built = CASES[name]
    path = tmp_path / "file.dcm"
    path.write_bytes(built.data)
    from_path = lint_file(path, path="x")
    from_bytes = lint_file(built.data, path="x")
    assert from_path == from_bytes


@pytest.mark.parametrize("name", list(CASES))
def test_grouped_frames_give_the_findings_of_every_frame(
    name: str, monkeypatch: pytest.MonkeyPatch, implementation: str
) -> None:
    data = CASES[name].data
    grouped = lint_file(data)
    monkeypatch.setattr(facts, "MIN_FRAMES", 10**9)  # every frame on its own
    one_by_one = lint_file(data)
    assert grouped == one_by_one


def test_grouping_is_used_and_flags_only_the_broken_frames(
    monkeypatch: pytest.MonkeyPatch, implementation: str
) -> None:
    formed: list[list[facts.FrameGroup] | None] = []
    group = facts.group_frames
    monkeypatch.setattr(
        engine, "group_frames", lambda *args: formed.append(group(*args)) or formed[-1]
    )
    report = lint_file(CASES["broken-jpeg-40"].data)
    frames = sorted({f.frame for f in report.findings if f.code.startswith("CSM")})
    assert frames == [6, 18, 26, 31]  # 26 is alike 6: found when 6's group is re-checked
    assert report.frames_found == 40
    # the valid frames and the two alike broken ones shared verdicts: 4 groups, not 40
    assert len(formed) == 1 and formed[0] is not None
    assert sorted(len(g.members) for g in formed[0]) == [1, 1, 2, 36]


def _many(count: int) -> list[bytes]:
    """Frames of differing sizes (so windows end mid-item), a few broken or odd."""
    frames = [jpeg_frame(64 + 37 * (n % 11)) for n in range(count)]
    frames[70] = frames[70][:-2] + b"\x00\x00"  # no end marker
    frames[71] = b"\x00\x00" + frames[71][2:]  # not a codestream
    frames[150] = frames[150][:40]  # shorter than the compared head and tail
    frames[199] = frames[199] + b"\xff\xd9\x00\x00"  # bytes after the end marker
    return frames


DENSE_CASES: dict[str, Built] = {
    **CASES,
    "jpeg-300-eot": encapsulated(_many(300), bot="empty", eot="auto"),
    "jpeg-300-bot": encapsulated(_many(300)),
    "j2k-300": encapsulated(
        [j2k_frame(64 + 5 * (n % 7)) for n in range(300)], ts=J2K_LOSSLESS, bot="empty"
    ),
    "truncated-after-300": encapsulated(
        _many(300),
        items=b"".join(item(f) for f in _many(300)) + header(ITEM, 4000) + b"\0" * 9,
    ),
}


READ_MODES = ["windowed", "pread"]


def _fast_loops(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Python's fast loops from the second item on: through 4 KiB windows, or (items
    never dense) one pread per item. (The compiled core's windows are its own.)"""
    monkeypatch.setattr(walker, "DENSE_PROBE", 2)
    monkeypatch.setattr(reader, "SMALL_FILE", 0)  # no file read whole: the loops read it
    monkeypatch.setattr(reader, "WINDOW_SIZE", 4096)  # items straddle window edges
    if mode == "pread":
        monkeypatch.setattr(walker, "DENSE_SPACING", 0)


@pytest.mark.parametrize("mode", READ_MODES)
@pytest.mark.parametrize("name", list(DENSE_CASES))
def test_windowed_reads_equal_careful_reads(
    name: str, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, implementation: str
) -> None:
    """The walker's fast loops and the grouping (whole-slide images: through memory-
    mapped windows, or one pread per item) give what the careful reads give, across
    window edges."""
    _fast_loops(monkeypatch, mode)
    monkeypatch.setattr(facts, "MIN_FRAMES", 2)
    built = DENSE_CASES[name]
    path = tmp_path / "file.dcm"
    path.write_bytes(built.data)
    windowed = lint_file(path, path="x")
    assert windowed == lint_file(built.data, path="x")
    monkeypatch.setattr(facts, "MIN_FRAMES", 10**9)
    assert windowed == lint_file(built.data, path="x")


def test_windowed_walk_reads_through_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's windowed loop is really taken (so the test above tests something)."""
    monkeypatch.setattr(core, "_core", None)
    monkeypatch.setattr(reader, "SMALL_FILE", 0)
    monkeypatch.setattr(walker, "DENSE_PROBE", 2)
    monkeypatch.setattr(reader, "WINDOW_SIZE", 4096)
    callers: list[str] = []
    window = reader.ByteReader.window

    def recorded(self: reader.ByteReader, offset: int, count: int) -> object:
        callers.append(sys._getframe(1).f_code.co_name)
        return window(self, offset, count)

    monkeypatch.setattr(reader.ByteReader, "window", recorded)
    path = tmp_path / "file.dcm"
    path.write_bytes(DENSE_CASES["jpeg-300-eot"].data)
    lint_file(path)
    # ~75 KB of items through 4 KiB windows
    assert callers.count("_dense_items") > 10


@pytest.mark.parametrize("mode", READ_MODES)
@pytest.mark.parametrize("first_distinct", [0, 5, 40])
def test_frames_are_grouped_from_a_file_as_from_bytes(
    first_distinct: int,
    mode: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    implementation: str,
) -> None:
    """Frames that differ from the one before, then a run of alike frames (Python's
    grouping compares leading bytes before it parses): the same groups from a file and
    from bytes, and the run in one group."""
    _fast_loops(monkeypatch, mode)
    frames = [jpeg_frame(64) + bytes(2 * n) for n in range(first_distinct)]  # distinct ends
    frames[1:2] = [b"\x00\x00" + jpeg_frame(64)[2:]] if first_distinct > 1 else []
    frames += [jpeg_frame(300)] * 100
    built = encapsulated(frames, bot="empty", eot="auto")
    path = tmp_path / "file.dcm"
    path.write_bytes(built.data)
    unread = frame_groups_of(path)
    assert unread == frame_groups_of(built.data)
    run = next(members for members in unread if len(frames) in members)
    assert run[-100:] == list(range(len(frames) - 99, len(frames) + 1))


@pytest.mark.parametrize("cut_at", [0.3, 0.6, 0.95])
def test_a_file_cut_short_while_linted_is_read_not_mapped(
    cut_at: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mapped page past the end of a shrunk file would kill the process (SIGBUS): a
    file cut after it was opened (cp over it, say) is read, and the walk says where
    the data ended."""
    monkeypatch.setattr(reader, "SMALL_FILE", 0)
    monkeypatch.setattr(walker, "DENSE_PROBE", 2)
    monkeypatch.setattr(reader, "WINDOW_SIZE", 4096)
    built = DENSE_CASES["jpeg-300-eot"]
    path = tmp_path / "file.dcm"
    path.write_bytes(built.data)
    fileobj, size = reader.open_path(path)
    with fileobj:
        byte_reader = reader.ByteReader(fileobj, size)
        cut = int(size * cut_at)
        os.truncate(path, cut)
        result = walker.walk(byte_reader, built.items[0])
        window, _ = byte_reader.window(cut - 100, 8)  # would reach past the new end
        byte_reader.close()
    assert isinstance(window, bytes)  # read, not mapped
    assert result.stop in (StopReason.PARTIAL_HEADER, StopReason.TRUNCATED)
    # the item the cut went through still counts as whole: the size is the one opened
    assert cut - 8 < result.stop_offset < size


DENSE_MUTANTS = int(os.environ.get("ENCAPS_LINT_DENSE_MUTANTS", "150"))


@pytest.mark.parametrize("mode", READ_MODES)
def test_mutants_of_dense_files_lint_the_same_windowed_and_careful(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, implementation: str
) -> None:
    """Seeded mutants (bit flips, marker bytes, end markers, cuts) of whole-slide-like
    files: the fast walks and the grouping give the careful reads' report, and nothing
    raises. ENCAPS_LINT_DENSE_MUTANTS=N for a longer run."""
    _fast_loops(monkeypatch, mode)
    monkeypatch.setattr(facts, "MIN_FRAMES", 2)
    bases = [
        encapsulated([jpeg_frame(64 + 37 * (n % 11)) for n in range(120)], bot="empty", eot="auto"),
        encapsulated([jpeg_frame(200)] * 120),
        encapsulated([j2k_frame(64 + 5 * (n % 7)) for n in range(120)], ts=J2K_LOSSLESS),
    ]
    rng = random.Random(5)
    path = tmp_path / "mutant.dcm"
    for _ in range(DENSE_MUTANTS):
        base = rng.choice(bases)
        data = bytearray(base.data)
        kind = rng.randrange(4)
        for _ in range(rng.randrange(1, 6)):
            at = rng.randrange(base.items[0], len(data))  # in the items
            if kind == 0:
                data[at] ^= 1 << rng.randrange(8)
            elif kind == 1:
                data[at] = rng.choice([0x00, 0xFF, 0xD9, 0xD8, 0xFE, 0xE0])
            elif kind == 2:
                data[at : at + 2] = b"\xff\xd9"
            else:
                del data[at:]
                break
        path.write_bytes(data)
        assert lint_file(path, path="x") == lint_file(bytes(data), path="x")

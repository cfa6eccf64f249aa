"""The compiled core (core.py, _core.c) against its pure-Python twin.

The two must give the same reports, byte for byte, on every input: every fuzz mutant of
test_fuzz.py is linted both ways here (from bytes and from a file), and CI also runs the
whole suite once with ENCAPS_LINT_PUREPYTHON=1 and compares every report of both runs
(tests/record_reports.py). The core reads hostile bytes: the tests here also call it
with arguments no caller makes.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import subprocess
import sys
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import context_of, encapsulated, frame_groups_of, item, jpeg_frame
from click.testing import CliRunner
from test_fast_paths import DENSE_CASES
from test_frame_facts import CORPUS
from test_fuzz import BASE_SEED, MUTANTS, mutants
from test_scanner import BUILT, REAL_FILES, SOURCES, mutant, scanned

from dcmencaps_lint import core, facts, reader, scanner
from dcmencaps_lint.cli import main
from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.dataset import DatasetError, NotDicomError
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.formats.json import file_dict
from dcmencaps_lint.model import LENGTHS, FileReport, Items

SWITCHED_OFF = os.environ.get(core.SWITCH, "") not in ("", "0")


def test_the_core_is_built_and_used_unless_switched_off() -> None:
    """`pip install .` builds the core where gcc is (every machine this runs on); the
    suite runs on it, and once more with ENCAPS_LINT_PUREPYTHON=1 (.ci/run)."""
    assert core.enabled() is not SWITCHED_OFF
    version = CliRunner().invoke(main, ["--version"]).output
    assert core.description() in version
    assert ("compiled core (C)" in version) is not SWITCHED_OFF


def _json(report: FileReport) -> dict[str, object]:
    return file_dict(report)


@contextlib.contextmanager
def _pure_python() -> Iterator[None]:
    """Inside `with`: the pure-Python path."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(core, "_core", None)
        yield


def test_every_fuzz_mutant_gives_the_same_report_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each from bytes and from a file. Frames are grouped from 2 on, so that the core's
    grouping runs on every mutant of more than one frame. ENCAPS_LINT_FUZZ_MUTANTS=N
    lints more of them."""
    monkeypatch.setattr(facts, "MIN_FRAMES", 2)
    path = tmp_path / "mutant.dcm"

    def three_ways(data: bytes) -> list[dict[str, object]]:
        """From bytes, from a file read whole (it is small), from a file read as needed."""
        reports = [_json(lint_file(data, path="x")), _json(lint_file(path, path="x"))]
        with monkeypatch.context() as patched:
            patched.setattr(reader, "SMALL_FILE", 0)
            reports.append(_json(lint_file(path, path="x")))
        return reports

    compared = 0
    for name, data in mutants(MUTANTS, BASE_SEED):
        path.write_bytes(data)
        compiled = three_ways(data)
        with _pure_python():
            python = three_ways(data)
        assert compiled == python, name
        assert compiled[0] == compiled[1] == compiled[2], name
        compared += 1
    assert compared == MUTANTS


CASES = {**{f"facts-{k}": v for k, v in CORPUS.items()}, **DENSE_CASES}


@pytest.mark.parametrize("name", list(CASES))
def test_the_core_groups_frames_as_python_does(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same partition of the frames, not only the same reports: from the facts the
    core noted while it walked, from the core's reads of the file, and from Python."""
    monkeypatch.setattr(facts, "MIN_FRAMES", 2)
    monkeypatch.setattr(reader, "SMALL_FILE", 0)  # the file through its descriptor
    data = CASES[name].data
    path = tmp_path / "file.dcm"
    path.write_bytes(data)
    noted = frame_groups_of(data), frame_groups_of(path)
    read = frame_groups_of(data, noted=False), frame_groups_of(path, noted=False)
    with _pure_python():
        python = frame_groups_of(data), frame_groups_of(path)
    assert noted == read == python


@pytest.mark.skipif(SWITCHED_OFF, reason="the compiled core is switched off in this run")
def test_the_core_scans_data_sets_as_python_does() -> None:
    """scanner.py's walk in C (the data set in front of Pixel Data) answers as the
    Python walk does, on every real file, every built file and their mutants. The one
    difference allowed: the core leaves files with an icon's Pixel Data nested in a
    sequence to the Python walk (then the answer is Python's anyway)."""
    inputs = [path.read_bytes() for path in REAL_FILES.values()] + list(BUILT.values())
    inputs += [mutant(data, seed)[0] for data in SOURCES.values() for seed in range(300)]
    inputs += [data for _, data in mutants(MUTANTS, BASE_SEED)]
    by_core = 0
    for data in inputs:
        reader_of = reader.ByteReader(io.BytesIO(data), len(data))
        from_core = core.scan_dataset(reader_of, scanner.CORE_TABLES)
        compiled = scanned(data)
        with _pure_python():
            python = scanned(data)
        assert compiled == python
        if from_core is not None:
            by_core += 1
        else:
            assert python is None or python.nested  # the core declined as Python does
    assert by_core > 1_000


def _chunks_apart() -> bytes:
    """~45 MB of dense items: the core reads them a block at a time (_core.c, BLOCK:
    1 MiB), two walkers each on its half. Frames of differing lengths, so items straddle
    every block edge, some broken on the way."""
    frames = [jpeg_frame(15_000 + 74 * (n % 13)) for n in range(3_000)]
    for n in range(0, 3_000, 97):
        frames[n] = frames[n][:-2] + b"\x00\x00"  # no end marker
    for n in range(40, 3_000, 311):
        frames[n] = b"\x00\x00" + frames[n][2:]  # not a codestream
    return encapsulated(frames, bot="empty", eot="auto").data


def test_a_file_of_many_chunks_reads_the_same_through_the_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same report and the same partition of the frames from C and Python, for a
    file of many of the core's blocks."""
    path = tmp_path / "chunks.dcm"
    path.write_bytes(_chunks_apart())
    assert path.stat().st_size > 40 * (1 << 20)
    compiled = _json(lint_file(path, path="x")), frame_groups_of(path)
    read = frame_groups_of(path, noted=False)
    with _pure_python():
        python = _json(lint_file(path, path="x")), frame_groups_of(path)
    assert compiled == python
    assert read == python[1]
    found = {(f["code"], f["frame"]) for f in compiled[0]["findings"]}  # type: ignore[union-attr]
    # broken frames in the last chunk were found: the walk got there
    assert {("CSM002", 2911), ("CSM014", 2840)} <= found


def _two_walkers_cases() -> dict[str, tuple[bytes, bool]]:
    """~28 MB of dense items each, enough for a second walker (_core.c, SPLIT_MIN: 16 MiB
    left after the walk's first 64 items), which starts at an item header near the
    middle. With whether its work is kept (the first walker lands on its start)."""
    codestreams = [jpeg_frame(15_000 + 74 * (n % 13)) for n in range(1_800)]
    for n in range(0, 1_800, 97):
        codestreams[n] = codestreams[n][:-2] + b"\x00\x00"  # no end marker
    for n in range(40, 1_800, 311):
        codestreams[n] = b"\x00\x00" + codestreams[n][2:]  # not a codestream
    frames = [item(codestream) for codestream in codestreams]
    # a fragment across the middle whose bytes chain up as items: the second walker
    # starts inside it; the first walks over it as one item and passes that start
    look_alike = item(b"".join(item(bytes([n % 251]) * 4_000) for n in range(2_400)))

    def broken_at(n: int) -> list[bytes]:  # item n's tag is no item tag: the walk stops there
        return [*frames[:n], b"\x00\x00" + frames[n][2:], *frames[n + 1 :]]

    cases = {
        "met": (frames, True),
        "look-alike across the middle": ([*frames[:600], look_alike, *frames[1_200:]], False),
        "stopped before the middle": (broken_at(500), False),
        "stopped after the middle": (broken_at(1_500), True),
    }
    return {  # one frame per item: the frames' facts are grouped (facts.py)
        name: (encapsulated(items=b"".join(raw), bot="empty", number_of_frames=len(raw)).data, kept)
        for name, (raw, kept) in cases.items()
    }


@pytest.mark.skipif(SWITCHED_OFF, reason="the compiled core is switched off in this run")
@pytest.mark.parametrize("name", list(_two_walkers_cases()))
def test_two_walkers_walk_as_one(name: str, tmp_path: Path) -> None:
    """The same walk, facts, groups and report from a file and from bytes as the pure-
    Python path's, whether the second walker's work is kept or dropped."""
    data, kept = _two_walkers_cases()[name]
    path = tmp_path / "two.dcm"
    path.write_bytes(data)
    started, met = core._core.split_counts()
    compiled = [_json(lint_file(target, path="x")) for target in (path, data)]
    groups = frame_groups_of(path), frame_groups_of(data)
    walks = context_of(data).walk, context_of(data).walk  # type: ignore[attr-defined]
    now_started, now_met = core._core.split_counts()
    affinity = getattr(os, "sched_getaffinity", None)
    if (len(affinity(0)) if affinity else os.cpu_count() or 1) >= 2:
        assert now_started - started >= 4  # every walk above had a second walker
        assert (now_met - met > 0) is kept
    else:  # one processor to run on: one walker (_core.c, processors)
        assert (now_started, now_met) == (started, met)
    with _pure_python():
        python = _json(lint_file(path, path="x"))
        python_groups = frame_groups_of(path)
        python_walk = context_of(data).walk  # type: ignore[attr-defined]
    assert compiled == [python, python]
    assert groups == (python_groups, python_groups)
    assert walks == (python_walk, python_walk)
    assert len(python_walk.fragments) >= 500


def test_offset_tables_and_length_bits_are_judged_as_python_does() -> None:
    """core.table_matches and core.bits_of, C against Python, on tables that match,
    differ by one entry or in length, and hold values no parser makes (negative, past
    2^64, not ints)."""
    import random

    chance = random.Random(11)
    cases: list[tuple[list[object], list[object], int]] = [([], [], 0), ([0], [], 5)]
    cases.append(([(1 << 64) - 5], [5], 10))  # 5 - 10 wraps round to the entry in 64 bits
    for _ in range(2_000):
        base = chance.choice([0, 8, 1 << 33, chance.randrange(1 << 40)])
        table: list[object] = sorted(chance.randrange(1 << 34) for _ in range(chance.randrange(6)))
        offsets: list[object] = [value + base for value in table]  # type: ignore[operator]
        if offsets and chance.random() < 0.5:
            at = chance.randrange(len(offsets))
            offsets[at] = chance.choice([offsets[at] + 1, -1, 1 << 70, 0, base - 1])  # type: ignore[operator]
        if table and chance.random() < 0.1:
            table[chance.randrange(len(table))] = chance.choice([-3, 1 << 65])
        if chance.random() < 0.1:
            offsets.append(base)
        cases.append((table, offsets, base))
    # tables as parse_u64_list makes them (arrays of 64-bit values, read in place by C)
    cases += [
        (array("Q", table), offsets, base)  # type: ignore[arg-type]
        for table, offsets, base in cases[:1_000]
        if all(0 <= value < 1 << 64 for value in table)  # type: ignore[operator]
    ]
    compiled = [core.table_matches(*case) for case in cases]  # type: ignore[arg-type]
    bits = [core.bits_of(case[1]) for case in cases if all(v >= 0 for v in case[1])]  # type: ignore[operator]
    with _pure_python():
        assert compiled == [core.table_matches(*case) for case in cases]  # type: ignore[arg-type]
        assert bits == [core.bits_of(case[1]) for case in cases if all(v >= 0 for v in case[1])]  # type: ignore[operator]
    assert 800 < compiled.count(True) < 2_500


def _every_frames_facts(data: bytes) -> list[tuple[object, ...]]:
    """Each frame's facts, with what equality leaves out (repr: the types of the fields;
    the headers' `reached`), for a marker-coded element; [] for any other file."""
    try:
        ctx = context_of(data)
    except (NotDicomError, DatasetError):
        return []
    if not isinstance(ctx, EncapsulatedContext) or not core.family(ctx.ts.codec):
        return []
    found = []
    for frame in ctx.frame_map.frames:
        facts_of = facts.frame_facts(ctx.reader, ctx.walk.fragments, ctx.ts.codec, frame)
        reached = getattr(facts_of.header, "reached", None)
        found.append((facts_of, repr(facts_of), reached))
    return found


def test_the_core_computes_each_frames_facts_as_python_does() -> None:
    """What the rules see of a frame (Start, End, the header, positions and field types
    included), from C and from Python: on the facts corpus, the dense cases and the
    fuzz mutants."""
    inputs = [built.data for built in CASES.values()]
    inputs += [data for _, data in mutants(MUTANTS, BASE_SEED)]
    frames = 0
    for data in inputs:
        compiled = _every_frames_facts(data)
        with _pure_python():
            python = _every_frames_facts(data)
        assert compiled == python
        frames += len(compiled)
    assert frames > 5_000


@pytest.mark.skipif(SWITCHED_OFF, reason="the compiled core is switched off in this run")
@pytest.mark.parametrize("name", ["valid-jpeg-40", "valid-j2k-40-eot", "jpeg-300-bot"])
def test_the_core_notes_each_items_facts_as_it_walks(name: str) -> None:
    """(So the test above compares the noted facts with something.)"""
    ctx = context_of(CASES[name])
    assert isinstance(ctx, EncapsulatedContext)
    noted = ctx.walk.item_facts
    assert noted is not None and noted.family == core.family(ctx.ts.codec)
    items = len(ctx.walk.fragments) + (ctx.walk.bot is not None)
    assert len(noted.heads) == len(noted.tails) == 4 * items


@pytest.mark.skipif(SWITCHED_OFF, reason="the compiled core is switched off in this run")
class TestHostileCalls:
    """Arguments no caller makes: errors, never a crash or a read out of bounds."""

    compiled = core._core

    def test_fragment_numbers_out_of_range(self) -> None:
        offsets, lengths = [0, 100], [50, 50]
        with pytest.raises(IndexError):
            self.compiled.frame_groups(-1, 200, bytes(200), 1, offsets, lengths, lengths, [1], [3])
        with pytest.raises(ValueError):
            self.compiled.frame_groups(-1, 200, bytes(200), 1, offsets, lengths, lengths, [0], [1])
        with pytest.raises(ValueError):  # no codec family 7
            self.compiled.frame_groups(-1, 200, b"", 7, offsets, lengths, lengths, None, None)

    def test_offsets_and_lengths_past_the_data(self) -> None:
        """Fragments that claim bytes the buffer has not: read as cut short."""
        huge = 0xFFFF_FFFF
        offsets, lengths = [0, 10, 1 << 40], [huge, 8, huge]
        groups = self.compiled.frame_groups(
            -1, 1 << 50, b"\xff\xd8\xff\xd9" * 4, 1, offsets, lengths, lengths, None, None
        )
        assert sorted(n for g in groups for n in g) == [1, 2, 3]

    @pytest.mark.parametrize("family", [0, core.JPEG, core.J2K])
    def test_items_stop_at_the_end_of_the_data(self, family: int) -> None:
        item = b"\xfe\xff\x00\xe0\x04\x00\x00\x00\xff\xd8\xff\xd9"
        data = item * 3 + b"\xfe\xff\x00\xe0\xff\xff"  # a last header cut short
        walked = self.compiled.items(-1, 1 << 40, data, 0, 1 << 40, family)
        # native columns: uint64 offsets, uint32 lengths (walker.py makes arrays of them)
        assert walked[:3] == (struct.pack("=3Q", 0, 12, 24), struct.pack("=3I", 4, 4, 4), 36)
        if family:
            heads, tails, ends = walked[3]
            assert len(heads) == len(tails) == 12 and len(ends) == 1  # three alike items
        else:
            assert walked[3] is None

    def test_groups_of_items_without_facts(self) -> None:
        heads = tails = bytes(8)  # two items' ids
        with pytest.raises(IndexError):  # frame 2 starts at item 3
            self.compiled.groups_of(heads, tails, b"\x01", 1, None, None, 2)
        with pytest.raises(IndexError):  # head id 0 has no `ends` entry
            self.compiled.groups_of(heads, tails, b"", 0, None, None, 2)
        with pytest.raises(TypeError):
            self.compiled.groups_of(heads, tails, b"\x01", 0, [1], None, 1)
        # consecutive frames as a range, the others as a sequence of uint32 (a memoryview)
        assert self.compiled.groups_of(heads, tails, b"\x01", 0, None, None, 2) == [range(1, 3)]
        heads = struct.pack("<4I", 0, 1, 0, 0)
        groups = self.compiled.groups_of(heads, bytes(16), b"\x01\x01", 0, None, None, 4)
        assert [list(group) for group in groups] == [[1, 3, 4], [2]]
        assert isinstance(groups[1], range) and groups[0].tolist() == [1, 3, 4]

    def test_a_bad_descriptor_is_an_os_error(self) -> None:
        with pytest.raises(OSError):
            self.compiled.items(987654, 100, None, 0, 100)

    def test_columns_must_be_unsigned_numbers(self) -> None:
        for column in (b"\0" * 8, array("d", [0.0]), array("q", [0]), ["0"], [-1], 0):
            with pytest.raises((TypeError, OverflowError)):
                self.compiled.frame_groups(-1, 8, bytes(8), 1, column, [8], [8], None, None)
            with pytest.raises((TypeError, OverflowError)):
                self.compiled.table_matches(column, [0], 0)
            with pytest.raises((TypeError, OverflowError)):
                self.compiled.bits_of(column)

    def test_columns_as_arrays_or_sequences_agree(self) -> None:
        data = b"\xff\xd8\xff\xd9" * 8
        offsets, lengths = [0, 8, 16], [4, 6, 4]
        as_lists = self.compiled.frame_groups(
            -1, 32, data, 1, offsets, lengths, lengths, None, None
        )
        for offset_column, length_column in (
            (array("Q", offsets), array(LENGTHS, lengths)),
            (tuple(offsets), tuple(lengths)),
            (array("Q", offsets), array("Q", lengths)),
        ):
            groups = self.compiled.frame_groups(
                -1, 32, data, 1, offset_column, length_column, length_column, None, None
            )
            assert [list(g) for g in groups] == [list(g) for g in as_lists]
        assert self.compiled.table_matches(array("Q", [0, 8]), array("Q", [4, 12]), 4)
        assert self.compiled.bits_of(array(LENGTHS, [4, 6, 1])) == 7
        assert self.compiled.lowest(array(LENGTHS, [4, 6, 1])) == 1
        assert self.compiled.lowest(array(LENGTHS)) is None


def test_the_walk_keeps_its_columns_as_native_numbers() -> None:
    """No int object per item: a walk's offsets are an array('Q'), its lengths an array of
    32-bit numbers, on both paths; facts.group_frames hands them to the core as they are."""
    ctx = context_of(encapsulated([jpeg_frame()] * 3))
    assert ctx.walk is not None
    fragments = ctx.walk.fragments
    assert isinstance(fragments, Items)
    assert fragments.offsets.typecode == "Q" and fragments.lengths.typecode == LENGTHS
    assert array(LENGTHS).itemsize == 4
    assert list(fragments.lengths) == [len(jpeg_frame())] * 3


def test_a_machine_without_a_compiler_still_installs(tmp_path: Path) -> None:
    """setup.py's build of the core warns instead of failing when the compiler is
    missing (here: CC names no program), so `pip install .` succeeds there and the
    pure-Python path runs; with a compiler it builds."""
    root = Path(__file__).parent.parent
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(root / name, tmp_path / name)
    shutil.copytree(root / "dcmencaps_lint", tmp_path / "dcmencaps_lint", ignore=_built)
    command = [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", "out"]
    environment = {**os.environ, "CC": str(tmp_path / "no-such-compiler")}
    environment.pop(core.SWITCH, None)
    environment.pop("LD_PRELOAD", None)  # the sanitizer run's runtime is not for gcc
    failed = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert failed.returncode == 0, failed.stderr
    assert "the compiled core was not built" in failed.stderr
    assert not list((tmp_path / "out").rglob("_core*.so"))
    built = subprocess.run(command, cwd=tmp_path, env={**environment, "CC": "gcc"}, check=True)
    assert built.returncode == 0 and list((tmp_path / "out").rglob("_core*.so"))


def _built(folder: str, names: list[str]) -> list[str]:
    """What a copy of the package leaves out: whatever a build made."""
    return [n for n in names if n.endswith(".so") or n == "__pycache__"]

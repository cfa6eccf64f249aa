"""Mutation fuzzing: damaged copies of real files must still get a report, and stay unchanged.

Each mutant is a deterministic (seeded `random.Random`) copy of a valid sample
(samples/valid/*.dcm) or of a file shipped with pydicom whose Pixel Data is
encapsulated, with one to three mutations: bit flips, byte overwrites, truncation at a
random point, hostile item lengths (FFFFFFFF, FFFFFFF0, odd, huge) written into item
headers found by walking, swapped, duplicated or dropped items, delimiters inserted at
odd places, and scrambled Basic / Extended Offset Table entries.

For every mutant `lint_file` returns a FileReport with a known status, no rule raised
(PRS005), every finding's offset lies in 0..len(data), and the input is unchanged.

- test_mutants: MUTANTS mutants (default 4,000; about 13 s on a 2-core machine), linted
  from a bytearray and from a file object; every fourth also in deep mode; every tenth
  also written to disk and linted by path (sha256 and mtime compared before and after).
  `ENCAPS_LINT_FUZZ_MUTANTS=100000 python -m pytest tests/test_fuzz.py` runs a long
  campaign (`ENCAPS_LINT_FUZZ_SEED` picks another series).
- test_three_thousand_mutants_through_lint_paths: the acceptance run of issue 6: 3,000
  mutants written to disk and linted as paths by `lint_paths`; 0 tracebacks, 0 files
  without a result, 0 inputs changed, peak memory (tracemalloc and ru_maxrss growth)
  under 1 GB (about 22 s: tracemalloc slows it down).

A failure names the mutant (source, seed, mutations) so it can be rebuilt with
`mutant(SOURCES[...], seed)`.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import resource
import struct
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom.data
from builders import encapsulated, jpeg_frame
from measure import with_peak

from dcmencaps_lint.engine import lint_file, lint_paths
from dcmencaps_lint.model import FileReport, Item
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.source import parse_dataset
from dcmencaps_lint.walker import walk

MUTANTS = int(os.environ.get("ENCAPS_LINT_FUZZ_MUTANTS", "4000"))
BASE_SEED = int(os.environ.get("ENCAPS_LINT_FUZZ_SEED", "0"))
ACCEPTANCE_MUTANTS = 3000
GIB = 1 << 30
STATUSES = {"passed", "failed", "error", "skipped"}

SAMPLES = Path(__file__).parent.parent / "samples" / "valid"
PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"

ITEM_TAG = b"\xfe\xff\x00\xe0"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0"
ITEM_DELIMITER = b"\xfe\xff\x0d\xe0"
HOSTILE_LENGTHS = (0xFFFFFFFF, 0xFFFFFFF0, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, 0)


@dataclass(frozen=True)
class Layout:
    """Where the Pixel Data items and the EOT values of a file lie (what mutations aim at)."""

    pixel_offset: int  # the Pixel Data element's tag
    items: tuple[Item, ...]  # BOT (when present) and fragments, in file order
    bot: Item | None
    delimiter: int | None
    eot: tuple[int, int] | None  # (value offset, length) of the EOT
    eot_lengths: tuple[int, int] | None


def layout_of(data: bytes) -> Layout | None:
    """The layout of encapsulated Pixel Data, or None when there is none to find."""
    fileobj = io.BytesIO(data)
    try:
        ds = parse_dataset(fileobj, ByteReader(fileobj, len(data)))
        pixel = ds.pixel_data
        if pixel is None or not pixel.undefined_length:
            return None
        w = walk(ByteReader(fileobj, len(data)), pixel.value_offset)
    except Exception:  # a mutant the parse rejects: mutations fall back to raw bytes
        return None
    items = ((w.bot,) if w.bot else ()) + tuple(w.fragments)

    def value(element: object) -> tuple[int, int] | None:
        if element is None or element.value_offset < 0:  # type: ignore[attr-defined]
            return None
        return element.value_offset, element.length  # type: ignore[attr-defined]

    return Layout(
        pixel.offset,
        items,
        w.bot,
        w.delimiter.offset if w.delimiter else None,
        value(ds.eot),
        value(ds.eot_lengths),
    )


def is_encapsulated(path: Path) -> bool:
    layout = layout_of(path.read_bytes())
    return layout is not None and len(layout.items) > 1


def _sources() -> list[Path]:
    # Listed here, never through pydicom.data.get_testdata_files (it downloads).
    shipped = [p for p in sorted(PYDICOM_FILES.glob("*.dcm")) if is_encapsulated(p)]
    return sorted(SAMPLES.glob("*.dcm")) + shipped


SOURCES = _sources()
SOURCE_BYTES = {p: p.read_bytes() for p in SOURCES}


# Mutations: each takes (rng, data, layout) and returns the new bytes and a description.


def _pixel_position(rng: random.Random, data: bytes, layout: Layout | None) -> int:
    """A position, most often inside Pixel Data where the linter does its own reading."""
    if layout is not None and rng.random() < 0.8:
        return rng.randrange(layout.pixel_offset, len(data))
    return rng.randrange(len(data))


def bit_flips(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    out = bytearray(data)
    flips = [
        (_pixel_position(rng, data, layout), rng.randrange(8)) for _ in range(rng.randint(1, 8))
    ]
    for position, bit in flips:
        out[position] ^= 1 << bit
    return bytes(out), f"bit flips {flips}"


def overwrite(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    position = _pixel_position(rng, data, layout)
    fill = rng.choice([b"\xff", b"\x00", None])
    count = rng.randint(1, 16)
    patch = fill * count if fill is not None else rng.randbytes(count)
    return data[:position] + patch + data[position + len(patch) :], f"overwrite {position}"


def truncate(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    position = _pixel_position(rng, data, layout)
    return data[:position], f"truncate at {position}"


def hostile_length(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    if layout is None or not layout.items:
        return overwrite(rng, data, layout)
    targets = [i.length_offset for i in layout.items]
    if layout.delimiter is not None:
        targets.append(layout.delimiter + 4)
    at = rng.choice(targets)
    (old,) = struct.unpack_from("<I", data, at)
    length = rng.choice([*HOSTILE_LENGTHS, old + 1, old - 1, old + 2, rng.getrandbits(32)])
    length &= 0xFFFFFFFF
    return data[:at] + struct.pack("<I", length) + data[at + 4 :], f"length {length:#x} at {at}"


def _item_bytes(data: bytes, item: Item) -> bytes:
    return data[item.offset : item.end]


def swap_items(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    if layout is None or len(layout.items) < 2:
        return bit_flips(rng, data, layout)
    a, b = sorted(rng.sample(range(len(layout.items)), 2))
    first, second = layout.items[a], layout.items[b]
    out = (
        data[: first.offset]
        + _item_bytes(data, second)
        + data[first.end : second.offset]
        + _item_bytes(data, first)
        + data[second.end :]
    )
    return out, f"swap items {a} and {b}"


def duplicate_item(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    if layout is None or not layout.items:
        return bit_flips(rng, data, layout)
    index = rng.randrange(len(layout.items))
    chosen = layout.items[index]
    copy = _item_bytes(data, chosen)
    return data[: chosen.end] + copy + data[chosen.end :], f"duplicate item {index}"


def drop_item(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    if layout is None or not layout.items:
        return truncate(rng, data, layout)
    index = rng.randrange(len(layout.items))
    chosen = layout.items[index]
    return data[: chosen.offset] + data[chosen.end :], f"drop item {index}"


def insert_delimiter(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    tag = rng.choice([SEQUENCE_DELIMITER, ITEM_DELIMITER, ITEM_TAG])
    length = rng.choice([0, 0, 4, 0xFFFFFFFF, rng.getrandbits(32)])
    if layout is not None and layout.items and rng.random() < 0.5:
        chosen = rng.choice(layout.items)  # between items, or in the middle of a value
        at = rng.choice([chosen.offset, chosen.end, (chosen.value_offset + chosen.end) // 2])
    else:
        at = _pixel_position(rng, data, layout)
    insert = tag + struct.pack("<I", length)
    return data[:at] + insert + data[at:], f"insert {insert.hex()} at {at}"


def scramble_tables(rng: random.Random, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
    """Rewrite BOT (4-byte) or EOT / EOT Lengths (8-byte) entries: shuffled or hostile."""
    tables = []
    if layout is not None and layout.bot is not None and layout.bot.available >= 4:
        tables.append((layout.bot.value_offset, layout.bot.available, 4))
    for table in (layout.eot, layout.eot_lengths) if layout is not None else ():
        if table is not None and table[1] >= 8:
            tables.append((table[0], table[1], 8))
    if not tables:
        return hostile_length(rng, data, layout)
    start, length, size = rng.choice(tables)
    count = length // size
    fmt = "<I" if size == 4 else "<Q"
    entries = [struct.unpack_from(fmt, data, start + i * size)[0] for i in range(count)]
    how = rng.choice(["shuffle", "hostile", "shift"])
    if how == "shuffle":
        rng.shuffle(entries)
    elif how == "shift":
        entries = [e + rng.choice([-2, -1, 1, 2, 8]) for e in entries]
    else:
        top = (1 << (8 * size)) - 1
        i = rng.randrange(count)
        entries[i] = rng.choice([top, top - 15, 1 << (8 * size - 1), rng.getrandbits(8 * size)])
    packed = b"".join(struct.pack(fmt, e % (1 << (8 * size))) for e in entries)
    return data[:start] + packed + data[start + len(packed) :], f"{how} table at {start}"


MUTATIONS = (
    bit_flips,
    overwrite,
    truncate,
    hostile_length,
    hostile_length,
    swap_items,
    duplicate_item,
    drop_item,
    insert_delimiter,
    scramble_tables,
    scramble_tables,
)


def mutant(source: Path, seed: int) -> tuple[bytes, list[str]]:
    """The mutant of `source` that `seed` makes: the same bytes on every run."""
    rng = random.Random(seed)
    data = SOURCE_BYTES[source]
    done = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        if not data:
            break
        mutation = rng.choice(MUTATIONS)
        data, what = mutation(rng, data, layout_of(data))
        done.append(what)
    return data, done


def mutants(count: int, base_seed: int) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of `count` mutants, spread evenly over the sources, made one at a
    time (thousands held at once would raise the test process's peak memory, which
    test_guarantees measures in the processes it starts)."""
    for index in range(count):
        source = SOURCES[index % len(SOURCES)]
        seed = base_seed * 1_000_003 + index
        data, done = mutant(source, seed)
        yield f"{source.name} seed {seed}: {'; '.join(done)}", data


def problems(report: object, size: int) -> list[str]:
    """What is wrong with a report for an input of `size` bytes (empty: nothing)."""
    if not isinstance(report, FileReport):
        return [f"not a FileReport: {report!r}"]
    found = []
    if report.status not in STATUSES:
        found.append(f"status {report.status!r}")
    for f in report.findings:
        if f.code == "PRS005":  # a rule raised: a traceback the engine caught
            found.append(f.message)
        if f.offset is not None and not 0 <= f.offset <= size:
            found.append(f"{f.code} offset {f.offset} outside 0..{size}")
        if f.frame is not None and f.frame < 1:
            found.append(f"{f.code} frame {f.frame}")
        if f.item is not None and f.item < 0:
            found.append(f"{f.code} item {f.item}")
    return found


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_sources_are_the_samples_and_pydicoms_encapsulated_files() -> None:
    names = {p.name for p in SOURCES}
    assert {p.name for p in SAMPLES.glob("*.dcm")} <= names
    assert {"JPEG2000.dcm", "SC_rgb_rle.dcm", "JPEG-lossy.dcm", "examples_ybr_color.dcm"} <= names
    assert len(SOURCES) >= 30


def test_mutants_are_deterministic() -> None:
    assert list(mutants(20, BASE_SEED)) == list(mutants(20, BASE_SEED))
    # A mutation can leave the bytes as they were (a one-entry table shuffled), rarely.
    made = list(mutants(100, BASE_SEED))
    same = [
        name
        for i, (name, data) in enumerate(made)
        if data == SOURCE_BYTES[SOURCES[i % len(SOURCES)]]
    ]
    assert len(same) < 10, same


def test_mutants(tmp_path: Path) -> None:
    failures: list[str] = []
    for index, (name, data) in enumerate(mutants(MUTANTS, BASE_SEED)):
        buffer = bytearray(data)
        found = problems(lint_file(buffer), len(data))
        if bytes(buffer) != data:
            found.append("the bytearray was changed")
        stream = io.BytesIO(data)
        stream.seek(7 % max(1, len(data)))
        position = stream.tell()
        found += problems(lint_file(stream, deep=index % 4 == 0), len(data))
        if stream.getvalue() != data or stream.tell() != position:
            found.append("the file object was changed or moved")
        if index % 10 == 0:
            path = tmp_path / f"mutant-{index}.dcm"
            path.write_bytes(data)
            before = digest(path)
            found += problems(lint_file(path, deep=True), len(data))
            if digest(path) != before:
                found.append("the file on disk was changed")
            path.unlink()
        failures += [f"{name}: {problem}" for problem in found]
    assert not failures, "\n".join(failures[:20])


def test_three_thousand_mutants_through_lint_paths(tmp_path: Path) -> None:
    """Issue 6's acceptance run: 3,000 mutants of real files, as files on disk."""
    names: dict[str, str] = {}  # path -> mutant
    before: dict[str, tuple[str, int]] = {}
    for index, (name, data) in enumerate(mutants(ACCEPTANCE_MUTANTS, BASE_SEED + 1)):
        path = tmp_path / f"{index:05d}.dcm"
        path.write_bytes(data)
        names[str(path)] = name
        before[str(path)] = digest(path)

    tracebacks: list[str] = []  # escaped from lint_paths, or caught as PRS005
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    try:
        files = lint_paths(list(names)).files
        _, peak = tracemalloc.get_traced_memory()
    except Exception as exc:
        tracebacks.append(f"lint_paths raised {type(exc).__name__}: {exc}")
        files, peak = (), 0
    finally:
        tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024

    results = {r.path: r for r in files}
    bad_results = []
    for path, result in results.items():
        tracebacks += [f"{names[path]}: {f.message}" for f in result.findings if f.code == "PRS005"]
        found = problems(result, os.path.getsize(path))
        bad_results += [f"{names[path]}: {p}" for p in found if not p.startswith("rule ")]
    missing = [name for path, name in names.items() if path not in results]
    changed = [name for path, name in names.items() if digest(Path(path)) != before[path]]

    assert (len(files), len(tracebacks), len(missing), len(changed)) == (3000, 0, 0, 0), (
        tracebacks + missing + changed
    )[:20]
    assert bad_results == []
    assert peak < GIB
    assert rss_growth < GIB


def file_with(data: bytes, before: bytes, insert: bytes) -> bytes:
    """`data` with `insert` placed in front of the first `before` after the preamble."""
    at = data.index(before, 132)
    return data[:at] + insert + data[at:]


class TestRegressions:
    """Bugs the fuzzing found, each on the exact bytes that showed it."""

    def test_unknown_vr_in_sop_instance_uid(self) -> None:
        """pydicom raised NotImplementedError converting it; the UID is now read from its
        bytes, whatever the VR says."""
        data = encapsulated([jpeg_frame()]).data
        at = data.index(b"\x08\x00\x18\x00UI", 132)
        data = data[: at + 4] + b"ZZ" + data[at + 6 :]
        report = lint_file(data)
        expected = ("passed", (), "1.2.826.0.1.3680043.8.498.1")
        assert (report.status, report.findings, report.sop_instance_uid) == expected

    def test_empty_element_with_unknown_vr(self) -> None:
        """A zero-length element with VR 44 00: pydicom's get_item converted it and raised
        (nested Pixel Data search); it is now read raw."""
        built = encapsulated([jpeg_frame()])
        data = file_with(built.data, b"\x08\x00\x60\x00CS", BOGUS_EMPTY_ELEMENT)
        report = lint_file(data)
        assert (report.status, report.findings) == ("passed", ())
        assert report.fragments == 1

    def test_empty_element_with_unknown_vr_and_no_pixel_data(self) -> None:
        """The same in a file cut inside the Pixel Data tag: the check that values lie in
        the file converted it and raised."""
        built = encapsulated([jpeg_frame()])
        data = file_with(built.data, b"\x08\x00\x60\x00CS", BOGUS_EMPTY_ELEMENT)
        data = data[: built.pixel_offset + len(BOGUS_EMPTY_ELEMENT) + 4]
        report = lint_file(data)
        # no crash; and a file that ends inside an element header is not "complete"
        assert [(f.code, f.offset) for f in report.findings] == [("PRS002", len(data) - 4)]

    def test_hostile_length_in_front_of_pixel_data_read_from_disk(self, tmp_path: Path) -> None:
        """pydicom read the value of a length FFFFFFF0 with one read(FFFFFFF0), and a real
        file's read allocates that much first: 4 GiB for a 600-byte file."""
        built = encapsulated([jpeg_frame()])
        hostile = struct.pack("<HH2sHI", 0x0029, 0x1010, b"OB", 0, 0xFFFFFFF0)
        data = built.data[: built.pixel_offset] + hostile + built.data[built.pixel_offset :]
        path = tmp_path / "hostile.dcm"
        path.write_bytes(data)
        lint_file(data)  # imports and rules loaded outside the measurement
        report, peak = with_peak(lambda: lint_file(path))
        assert peak < 16 * 1024 * 1024
        [finding] = report.findings
        # the value runs past the end of the file: reported where the value starts
        assert (finding.code, finding.offset) == ("PRS002", built.pixel_offset + len(hostile))


# (0008,0020) with the VR bytes 44 00 (not a VR) and a 16-bit length of 0
BOGUS_EMPTY_ELEMENT = b"\x08\x00\x20\x00D\x00\x00\x00"

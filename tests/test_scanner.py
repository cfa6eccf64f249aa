"""The data-set scanner answers exactly as the pydicom path does, or declines.

`scan_dataset` (dcmencaps_lint/scanner.py) reads the common file without pydicom. For
every file it either returns None (pydicom parses the file) or a ParsedDataset equal to
what `parse_dataset(..., scan=False)` (the pydicom path) returns: on every file shipped
with pydicom and pydicom-data, on samples/, on builder-made files of every kind, and on
seeded random mutations of them. It must also accept the common files, so that a
scanner that always declines fails here.
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import data_store
import pydicom.data
import pytest
from builders import (
    EXPLICIT_LE,
    H264_HP41,
    HTJ2K_LOSSLESS,
    IMPLICIT_LE,
    J2K_LOSSLESS,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    MPEG2_MPML,
    RLE_LOSSLESS,
    encapsulated,
    j2k_frame,
    jpeg_frame,
    native,
    rle_frame,
)
from measure import with_peak
from pydicom.dataset import Dataset
from test_nested import (
    ICON_SQ,
    MISSING_EOI,
    ODD_FRAGMENTS,
    REFERENCED_SQ,
    VALID,
    icon,
    undefined_length_sequence,
    with_icons,
)

from dcmencaps_lint import reader as reader_module
from dcmencaps_lint.dataset import MAX_NESTING, DatasetError, NotDicomError, ParsedDataset
from dcmencaps_lint.reader import ByteReader, open_path
from dcmencaps_lint.scanner import scan_dataset
from dcmencaps_lint.source import parse_dataset

ROOT = Path(__file__).parent.parent
ROOTS = {
    "pydicom": Path(pydicom.data.__file__).parent / "test_files",
    "pydicom-data": Path(data_store.__file__).parent / "data",
    "samples": ROOT / "samples",
}
# Listed here, never through pydicom.data.get_testdata_files (it downloads).
REAL_FILES = {
    f"{prefix}/{path.relative_to(root).as_posix()}": path
    for prefix, root in ROOTS.items()
    for path in sorted(root.rglob("*"))
    if path.is_file()
}
# pydicom's files with encapsulated Pixel Data the scanner leaves to pydicom, and why.
DECLINED_ENCAPSULATED = {
    "SC_rgb_jpeg.dcm",  # the data set is in implicit VR under JPEG Baseline
    "rtdose_rle.dcm",  # VR UN on standard attributes: pydicom converts them
    "rtdose_rle_1frame.dcm",
}


def reference(data: bytes) -> ParsedDataset | Exception:
    """What the pydicom path makes of `data`: its ParsedDataset or the error it raised."""
    fileobj = io.BytesIO(data)
    try:
        return parse_dataset(fileobj, ByteReader(fileobj, len(data)), scan=False)
    except (NotDicomError, DatasetError) as exc:
        return exc


def scanned(data: bytes) -> ParsedDataset | None:
    return scan_dataset(ByteReader(io.BytesIO(data), len(data)))


def assert_agrees(data: bytes) -> ParsedDataset | None:
    """The scanner declines or equals the pydicom path; returns what it scanned."""
    found = scanned(data)
    if found is not None:
        expected = reference(data)
        assert not isinstance(expected, Exception), f"pydicom path raised {expected!r}"
        assert found == expected
    return found


class TestRealFiles:
    @pytest.mark.parametrize("name", sorted(REAL_FILES))
    def test_declines_or_agrees(self, name: str) -> None:
        assert_agrees(REAL_FILES[name].read_bytes())

    def test_accepts_the_common_encapsulated_files(self) -> None:
        accepted, declined = [], []
        for path in sorted(ROOTS["pydicom"].glob("*.dcm")):
            data = path.read_bytes()
            parsed = reference(data)
            if isinstance(parsed, Exception) or not encapsulated_pixel_data(parsed):
                continue
            (accepted if scanned(data) is not None else declined).append(path.name)
        assert set(declined) == DECLINED_ENCAPSULATED
        assert len(accepted) >= 36  # JPEG, JPEG-LS, JPEG 2000 and RLE files
        assert {"JPEG2000.dcm", "MR_small_RLE.dcm", "JPGExtended.dcm"} <= set(accepted)

    @pytest.mark.parametrize("path", sorted(ROOTS["samples"].rglob("*.dcm")), ids=str)
    def test_accepts_every_sample(self, path: Path) -> None:
        # Broken ones too: their defects lie in the Pixel Data, after what is scanned.
        assert assert_agrees(path.read_bytes()) is not None


def encapsulated_pixel_data(parsed: ParsedDataset) -> bool:
    from dcmencaps_lint.transfer_syntax import lookup

    syntax = lookup(parsed.transfer_syntax_uid or "")
    return parsed.pixel_data is not None and syntax is not None and syntax.encapsulated


def two_levels_deep(inner_undefined: bool, outer_undefined: bool) -> bytes:
    """An icon inside an item of (0008,1140) Referenced Image Sequence."""
    outer = Dataset()
    outer.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    outer.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    outer.IconImageSequence = [icon(VALID)]
    outer["IconImageSequence"].is_undefined_length = inner_undefined
    outer.is_undefined_length_sequence_item = outer_undefined
    data = encapsulated([jpeg_frame()], extra={"ReferencedImageSequence": [outer]}).data
    return undefined_length_sequence(data, REFERENCED_SQ) if outer_undefined else data


def icons_in_undefined_length_items() -> bytes:
    first, second = icon(VALID), icon(ODD_FRAGMENTS)
    first.is_undefined_length_sequence_item = True
    second.is_undefined_length_sequence_item = True
    return with_icons(first, second).data


def nested_too_deep() -> bytes:
    """Sequences nested one level deeper than nested_pixel_data() looks."""
    item = Dataset()
    item.IconImageSequence = [icon(VALID)]
    for _ in range(MAX_NESTING):
        outer = Dataset()
        outer.ReferencedImageSequence = [item]
        item = outer
    return encapsulated([jpeg_frame()], extra={"ReferencedImageSequence": [item]}).data


BUILT: dict[str, bytes] = {
    "jpeg-baseline": encapsulated([jpeg_frame()]).data,
    "jpeg-3-frames-eot": encapsulated([jpeg_frame()] * 3, eot="auto").data,
    "jpeg-lossless": encapsulated([jpeg_frame()], ts=JPEG_LOSSLESS_SV1).data,
    "jpeg-ls": encapsulated([jpeg_frame()] * 2, ts=JPEG_LS_LOSSLESS, bot="empty").data,
    "j2k": encapsulated([j2k_frame()] * 2, ts=J2K_LOSSLESS, eot="auto").data,
    "htj2k": encapsulated([j2k_frame()], ts=HTJ2K_LOSSLESS).data,
    "rle": encapsulated([rle_frame()], ts=RLE_LOSSLESS).data,
    "mpeg2": encapsulated([jpeg_frame()], ts=MPEG2_MPML, bot="empty").data,
    "h264": encapsulated([[jpeg_frame(), jpeg_frame()]], ts=H264_HP41).data,
    "fragmented": encapsulated([[jpeg_frame(16), jpeg_frame(16)]] * 2).data,
    "eot-empty": encapsulated([jpeg_frame()], eot=([], [])).data,
    "nof-empty": encapsulated([jpeg_frame()], number_of_frames="").data,
    "nof-odd": encapsulated([jpeg_frame()], number_of_frames=" 1 ").data,
    "ow": encapsulated([jpeg_frame()], vr="OW").data,
    "no-lossy": encapsulated([jpeg_frame()], extra={"LossyImageCompression": None}).data,
    "patient": encapsulated(
        [jpeg_frame()],
        extra={"PatientName": "Doe^Jane", "PatientID": "X1", "InstitutionName": "Here"},
    ).data,
    "native-explicit": native(EXPLICIT_LE).data,
    "native-implicit": native(IMPLICIT_LE).data,
    "implicit-encapsulated": encapsulated([jpeg_frame()], ts=IMPLICIT_LE).data,
    "icon-defined": with_icons(icon(VALID)).data,
    "icon-undefined": undefined_length_sequence(with_icons(icon(VALID)).data),
    "icons-two": with_icons(icon(VALID), icon(MISSING_EOI)).data,
    "icon-native": with_icons(icon(native=b"\x00" * 16)).data,
    "icon-items-undefined": icons_in_undefined_length_items(),
    **{
        f"two-levels-{outer}-{inner}": two_levels_deep(inner == "undefined", outer == "undefined")
        for outer in ("defined", "undefined")
        for inner in ("defined", "undefined")
    },
    "too-deep": nested_too_deep(),
}
# Built files the pydicom path must parse (anything else is the scanner's business).
DECLINED_BUILT = {"native-implicit", "implicit-encapsulated", "too-deep"}


class TestBuiltFiles:
    @pytest.mark.parametrize("name", sorted(BUILT))
    def test_accepts_and_agrees(self, name: str) -> None:
        found = assert_agrees(BUILT[name])
        assert (found is None) is (name in DECLINED_BUILT)

    def test_finds_icons_with_their_paths(self) -> None:
        found = scanned(BUILT["two-levels-undefined-defined"])
        assert found is not None
        assert [n.path for n in found.nested] == ["(0008,1140)[0]/(0088,0200)[0]/(7FE0,0010)"]
        both = scanned(BUILT["icons-two"])
        assert both is not None
        paths = ["(0088,0200)[0]/(7FE0,0010)", "(0088,0200)[1]/(7FE0,0010)"]
        assert [n.path for n in both.nested] == paths

    def test_identifying_ranges_are_found(self) -> None:
        found = scanned(BUILT["patient"])
        assert found is not None and len(found.identifying) == 3

    def test_describe_is_left_to_pydicom(self) -> None:
        data = BUILT["patient"]
        fileobj = io.BytesIO(data)
        described = parse_dataset(fileobj, ByteReader(fileobj, len(data)), describe=True)
        assert ("PatientName", "Doe^Jane") in described.descriptive


# Robustness: seeded mutations aimed at the data set in front of Pixel Data.

MUTANTS = int(os.environ.get("ENCAPS_LINT_SCANNER_MUTANTS", "1500"))
SOURCES = {
    "icon-undefined": BUILT["icon-undefined"],
    "two-levels": BUILT["two-levels-undefined-undefined"],
    "jpeg-3-frames-eot": BUILT["jpeg-3-frames-eot"],
    "j2k-2-frames-eot": (ROOT / "samples/valid/j2k-2-frames-eot.dcm").read_bytes(),
    "MR_small_RLE": (ROOTS["pydicom"] / "MR_small_RLE.dcm").read_bytes(),
    "examples_ybr_color": (ROOTS["pydicom"] / "examples_ybr_color.dcm").read_bytes(),
}
HOSTILE = (0xFFFFFFFF, 0xFFFFFFF0, 0x7FFFFFFF, 0x80000000, 0, 1, 2, 0xFFFF, 0xFFFE)


def length_fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of length fields in front of Pixel Data: of every explicit-VR
    element header and of every item and delimiter, found by their bytes."""
    end = data.find(b"\xe0\x7f\x10\x00")
    fields = []
    for at in range(132, end - 8):
        vr = data[at + 4 : at + 6]
        if vr.isalpha() and vr.isupper() and data[at + 1] < 0x80:
            long = vr in (b"OB", b"OW", b"OV", b"SQ", b"UN", b"UT", b"UC", b"UR")
            fields.append((at + 8, 4) if long else (at + 6, 2))
        if data[at : at + 2] == b"\xfe\xff":
            fields.append((at + 4, 4))
    return fields


def mutant(data: bytes, seed: int) -> tuple[bytes, str]:
    """`data` with one to three mutations, most inside the data set."""
    rng = random.Random(seed)
    end = data.find(b"\xe0\x7f\x10\x00") + 12
    fields = length_fields(data)
    done = []
    for _ in range(rng.randint(1, 3)):
        if not data:
            break
        kind = rng.choice(["flip", "overwrite", "truncate", "length", "length"])
        at = rng.randrange(min(end, len(data)))
        if kind == "flip":
            bit = rng.randrange(8)
            data = data[:at] + bytes([data[at] ^ 1 << bit]) + data[at + 1 :]
        elif kind == "overwrite":
            patch = rng.randbytes(rng.randint(1, 8))
            data = data[:at] + patch + data[at + len(patch) :]
        elif kind == "truncate":
            data = data[:at]
        elif fields:
            at, size = rng.choice(fields)
            value = rng.choice([*HOSTILE, rng.getrandbits(8 * size)]) & (1 << 8 * size) - 1
            if at + size <= len(data):
                data = data[:at] + value.to_bytes(size, "little") + data[at + size :]
        done.append(f"{kind} at {at}")
    return data, ", ".join(done)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_mutants_decline_or_agree(source: str) -> None:
    accepted = 0
    for seed in range(MUTANTS // len(SOURCES)):
        data, what = mutant(SOURCES[source], seed)
        found, peak = with_peak(lambda data=data: scanned(data))  # type: ignore[misc]
        # Reads are bounded by the file, whatever its length fields say.
        assert peak < 3 * len(data) + (1 << 20), f"seed {seed}: {what}: peak {peak}"
        if found is None:
            continue
        accepted += 1
        expected = reference(data)
        assert not isinstance(expected, Exception), f"seed {seed}: {what}: {expected!r}"
        assert found == expected, f"seed {seed}: {what}"
    assert accepted > 0  # some mutations (inside values) keep the file common


@pytest.mark.parametrize("small_file", [0, reader_module.SMALL_FILE])
def test_files_on_disk_are_read_by_pages_to_the_same_result(
    small_file: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On disk the scanner reads whole pages (or slices of a small file read whole),
    from a file object exactly what it needs: the answer is the same, mutants included."""
    monkeypatch.setattr(reader_module, "SMALL_FILE", small_file)
    cases = dict(BUILT)
    for source, data in SOURCES.items():
        cases |= {f"{source}-{seed}": mutant(data, seed)[0] for seed in range(0, 300, 3)}
    for name, data in cases.items():
        path = tmp_path / "file.dcm"
        path.write_bytes(data)
        fileobj, size = open_path(path)
        with fileobj:
            reader = ByteReader(fileobj, size)
            assert reader.on_disk or (reader.data is not None and size <= small_file)
            assert scan_dataset(reader) == scanned(data), name


def test_hostile_length_in_front_of_pixel_data_is_declined_cheaply() -> None:
    data = bytearray(BUILT["icon-defined"])
    at = data.index(ICON_SQ) + 8
    struct.pack_into("<I", data, at, 0xFFFFFFF0)
    found, peak = with_peak(lambda: scanned(bytes(data)))
    assert found is None
    assert peak < 3 * len(data) + (1 << 20)


# Linting a common file never imports pydicom.

CHILD = """
import sys
from dcmencaps_lint.engine import lint_file
for path in sys.argv[1:]:
    report = lint_file(path)
    assert report.status in ("passed", "failed"), (path, report.status, report.findings)
print(sorted(m for m in sys.modules if m == "pydicom" or m.startswith("pydicom.")))
"""


def test_linting_a_common_file_never_imports_pydicom(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))  # the benchmarks package
    try:
        from benchmarks.generate import write_small_files
    finally:
        sys.path.remove(str(ROOT))
    jpeg = tmp_path / "jpeg.dcm"
    jpeg.write_bytes(BUILT["jpeg-3-frames-eot"])
    write_small_files(tmp_path / "small", 1, 9_600)
    paths = [str(jpeg), str(tmp_path / "small" / "00000.dcm")]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *paths], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr

"""The DEC rules (--decode). DEC003 jpeg-scan-incomplete: the exact bytes of damaged
JPEG frames (cut and closed with EOI, an invalid Huffman code, extra coded data, a
missing scan), built from real encoders' frames (pydicom-data's, Pillow's with restart
intervals and subsampling). DEC001/DEC002/DEC004 with the decoders of the test extra
(pylibjpeg, Pillow, CharLS): JPEG 2000 and JPEG-LS frames cut and closed, a short RLE
segment, no decoder installed. Every real file of pydicom and pydicom-data is clean but
the one tests/data/README.md explains; --decode gates the rules.
"""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from builders import JPEG_BASELINE, JPEG_LOSSLESS_SV1, Built, encapsulated
from instances import ATTRIBUTES, real_frames

from dcmencaps_lint import decoding, lint_file, lint_paths
from dcmencaps_lint.scan import check_frame

J2K = "1.2.840.10008.1.2.4.90"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
JPEG_LS = "1.2.840.10008.1.2.4.80"
RLE = "1.2.840.10008.1.2.5"

Image = pytest.importorskip("PIL.Image", reason="Pillow is a test dependency")


def pillow_jpeg(mode: str = "RGB", size: tuple[int, int] = (100, 60), **options: object) -> bytes:
    image = Image.effect_noise(size, 40).convert(mode)
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def cut_in_half(codestream: bytes) -> tuple[bytes, int]:
    """The codestream's scan cut after half its bytes and closed with EOI; where the EOI is."""
    sos = codestream.find(b"\xff\xda")
    half = sos + (len(codestream) - sos) // 2
    if codestream[half - 1] == 0xFF:  # not between FF and its stuffed 00
        half -= 1
    return codestream[:half] + b"\xff\xd9", half


def even(codestream: bytes) -> bytes:
    return codestream + b"\x00" if len(codestream) % 2 else codestream


def three_frames(ts: str, middle: bytes, source: tuple[tuple[bytes, ...], tuple]) -> tuple:
    frames, attributes = source
    built = encapsulated([frames[0], even(middle), frames[2]], ts=ts, extra=dict(attributes))
    return built, built.items[2] + 8  # the second frame's first byte


def test_a_baseline_scan_cut_and_closed_with_eoi() -> None:
    frames, _ = real_frames(JPEG_BASELINE)
    cut, eoi = cut_in_half(frames[1])
    built, start = three_frames(JPEG_BASELINE, cut, real_frames(JPEG_BASELINE))
    assert lint_file(built.data).findings == ()  # every marker is right
    (finding,) = lint_file(built.data, decode=True).findings
    assert (finding.code, finding.severity.label, finding.frame) == ("DEC003", "error", 2)
    assert finding.offset == start + eoi
    assert finding.message.startswith("frame 2: scan 1: the coded data ends after ")
    assert finding.message.endswith(" of 2400 MCUs")


def single_frame(name: str) -> tuple[bytes, dict[str, object]]:
    """The frame of one of pydicom's single-frame files and its Image Pixel attributes."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.encaps import generate_frames

    ds = pydicom.dcmread(get_testdata_file(name))
    (frame,) = generate_frames(ds.PixelData, number_of_frames=1)
    return frame, {k: ds[k].value for k in ATTRIBUTES if k in ds}


def test_a_lossless_scan_cut_counts_samples() -> None:
    frame, attributes = single_frame("JPGLosslessP14SV1_1s_1f_8b.dcm")
    cut, eoi = cut_in_half(frame)
    built = encapsulated(
        [frame, even(cut), frame], ts=JPEG_LOSSLESS_SV1, extra={**attributes, "NumberOfFrames": "3"}
    )
    (finding,) = lint_file(built.data, decode=True).findings
    assert (finding.code, finding.frame, finding.offset) == ("DEC003", 2, built.items[2] + 8 + eoi)
    assert finding.message.endswith(" of 786432 samples")


def test_an_invalid_huffman_code() -> None:
    frames, _ = real_frames(JPEG_BASELINE)
    damaged = bytearray(frames[1])
    at = damaged.find(b"\xff\xda") + 2 + 12 + 40  # inside the scan's coded data
    damaged[at : at + 6] = b"\xff\x00" * 3  # 24 one-bits: no Huffman code is all ones
    built, start = three_frames(JPEG_BASELINE, bytes(damaged), real_frames(JPEG_BASELINE))
    (finding,) = lint_file(built.data, decode=True).findings
    assert (finding.code, finding.frame) == ("DEC003", 2)
    assert "an invalid Huffman code after" in finding.message
    assert start + at - 4 <= finding.offset <= start + at + 6


def test_coded_data_after_the_last_mcu() -> None:
    frames, _ = real_frames(JPEG_BASELINE)
    frame = frames[1]
    scan_end = frame.rindex(b"\xff\xd9")
    longer = frame[:scan_end] + b"\x12\x34\x56\x78" + frame[scan_end:]
    built, start = three_frames(JPEG_BASELINE, longer, real_frames(JPEG_BASELINE))
    (finding,) = lint_file(built.data, decode=True).findings
    assert finding.code == "DEC003" and finding.frame == 2
    assert "goes on after the 2400 MCUs" in finding.message
    assert start + scan_end - 2 <= finding.offset <= start + scan_end


@pytest.mark.parametrize(
    "options",
    [
        {"restart_marker_blocks": 5},
        {"restart_marker_rows": 1},
        {"subsampling": 0},
        {"subsampling": 2},
        {"quality": 100},
    ],
)
def test_restart_intervals_and_subsampling(options: dict[str, object]) -> None:
    """Pillow's (libjpeg-turbo's) frames: clean whole, DEC003 cut, at the EOI."""
    for mode in ("RGB", "L"):
        frame = pillow_jpeg(mode, **options)
        assert check_frame(frame) is None
        cut, eoi = cut_in_half(frame)
        problem = check_frame(cut)
        assert problem is not None and problem.position == eoi, problem
        assert "the coded data ends after" in problem.message


def test_restart_markers_count_intervals() -> None:
    frame = pillow_jpeg("L", size=(64, 64), restart_marker_blocks=4)  # 64 MCUs, 16 RSTs
    assert frame.count(b"\xff\xdd") == 1
    rst = [i for i in range(len(frame) - 1) if frame[i] == 0xFF and 0xD0 <= frame[i + 1] <= 0xD7]
    assert len(rst) == 15
    dropped = frame[: rst[7]] + frame[rst[8] :]  # an interval lost with its marker
    problem = check_frame(dropped)
    assert problem is not None and "ends after 60 of 64 MCUs" in problem.message


def test_a_missing_scan_of_a_component() -> None:
    """Two components coded in two scans (non-interleaved); EOI after the first."""
    grey = pillow_jpeg("L", size=(32, 16))
    sof = grey.index(b"\xff\xc0")
    sos = grey.index(b"\xff\xda")
    eoi = grey.rindex(b"\xff\xd9")
    length, precision, rows, columns = struct.unpack(">HBHH", grey[sof + 2 : sof + 9])
    two = b"\xff\xc0" + struct.pack(">HBHHB", 8 + 6, precision, rows, columns, 2)
    two += bytes([1, 0x11, 0, 2, 0x11, 0])
    scan_of = grey[sos:eoi]  # SOS (component 1, tables 0/0) and its coded data
    second = scan_of.replace(b"\xff\xda\x00\x08\x01\x01", b"\xff\xda\x00\x08\x01\x02", 1)
    assert second != scan_of
    head = grey[:sof] + two + grey[sof + 2 + length : sos]
    assert check_frame(head + scan_of + second + b"\xff\xd9") is None
    problem = check_frame(head + scan_of + b"\xff\xd9")
    assert problem is not None and problem.message == "EOI before a scan of component(s) 2"
    assert problem.position == len(head + scan_of)


def test_frames_it_cannot_count_give_nothing() -> None:
    progressive = pillow_jpeg("RGB", progressive=True)
    assert check_frame(cut_in_half(progressive)[0]) is None  # SOF2: not counted
    assert check_frame(b"\xff\xd8\xff\xd9") is None  # no frame header
    assert check_frame(b"") is None and check_frame(b"\xff\xd8\xff") is None
    frame = pillow_jpeg("L")
    no_tables = frame.replace(b"\xff\xc4", b"\xff\xfe", 1)  # the DHT made a comment
    assert check_frame(no_tables) is None


def test_every_mutation_of_a_frame_is_judged_without_error() -> None:
    """Hostile bytes: truncations and byte flips anywhere give a result, never an
    exception (the header rules and the fuzz suite cover the rest of the file)."""
    frame = pillow_jpeg("RGB", size=(24, 16), restart_marker_blocks=2)
    for cut in range(0, len(frame), 7):
        check_frame(frame[:cut])
        check_frame(frame[:cut] + b"\xff\xd9")
    for at in range(0, len(frame), 3):
        for value in (0x00, 0xFF, 0xD9, 0xDA, 0xC4, 0x80):
            flipped = bytearray(frame)
            flipped[at] = value
            check_frame(bytes(flipped))


def test_the_compiled_walk_agrees_with_the_python_one() -> None:
    """scan.py's walk and its C twin (core.jpeg_scan) on whole, cut and mutated frames of
    real encoders: the same answer for every one (CI runs this under ASan/UBSan)."""
    from dcmencaps_lint import core
    from dcmencaps_lint.scan import walk_frame

    if not core.enabled():
        pytest.skip("the compiled core is not built (the pure-Python run of CI)")
    chooser = random.Random(5)
    frames = [real_frames(JPEG_BASELINE)[0][1], single_frame("JPGLosslessP14SV1_1s_1f_8b.dcm")[0]]
    frames += [
        pillow_jpeg(mode, size=(40, 24), restart_marker_blocks=blocks, subsampling=sub)
        for mode in ("RGB", "L")
        for blocks, sub in ((0, 2), (3, 0), (1, 1))
    ]
    variants = []
    for frame in frames:
        head = frame[:6000] + b"\xff\xd9"  # large frames: their start, closed
        variants += [frame, cut_in_half(frame)[0]] if len(frame) < 20_000 else []
        variants.append(head)
        for _ in range(40):
            mutated = bytearray(head)
            for _ in range(chooser.randrange(1, 4)):
                values = (0x00, 0xFF, 0xD9, 0xDA, 0xC4, 0xDD, 0xD0, chooser.randrange(256))
                mutated[chooser.randrange(len(mutated))] = chooser.choice(values)
            cut = chooser.randrange(len(head))
            variants += [bytes(mutated), head[:cut], head[:cut] + b"\xff\xd9"]
    assert [core.jpeg_scan(v) for v in variants] == [walk_frame(v) for v in variants]
    assert sum(walk_frame(v) is not None for v in variants) > 50  # findings were compared


def test_the_rule_runs_only_with_decode_or_its_code(tmp_path: Path) -> None:
    frames, attributes = real_frames(JPEG_BASELINE)
    cut, _ = cut_in_half(frames[0])
    built = encapsulated([even(cut)], ts=JPEG_BASELINE, extra=dict(attributes))
    path = built.write(tmp_path / "cut.dcm")
    assert lint_file(path).findings == ()
    assert [f.code for f in lint_file(path, select=["DEC003"]).findings] == ["DEC003"]
    assert [f.code for f in lint_file(path, select=["jpeg-scan-incomplete"]).findings] == ["DEC003"]
    assert lint_file(path, select=["DEC"]).findings == ()  # a family needs --decode
    assert lint_file(path, decode=True, ignore=["DEC003"]).findings == ()

    def cli(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "dcmencaps_lint", "--format", "json", *args, str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        return json.loads(done.stdout)

    assert cli()["summary"]["errors"] == 0
    assert [f["code"] for f in cli("--decode")["files"][0]["findings"]] == ["DEC003"]
    (tmp_path / "encaps-lint.toml").write_text("decode = true\n")
    assert [f["code"] for f in cli()["files"][0]["findings"]] == ["DEC003"]


def test_real_files_have_no_dec_finding_but_the_explained_one() -> None:
    """Every file of pydicom and pydicom-data with --decode: the JPEG ones (baseline,
    extended, lossless) give 0 DEC003; the only DEC finding is the one tests/data/
    README.md explains (a delimiter tag written over the SIZ segment)."""
    from pydicom.data import get_testdata_files

    report = lint_paths(get_testdata_files(), select=["DEC"], decode=True)
    jpeg = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57"}
    jpeg.add(JPEG_LOSSLESS_SV1)
    linted = [f for f in report.files if f.transfer_syntax and f.transfer_syntax.uid in jpeg]
    assert len(linted) >= 20
    found = [(Path(f.path).name, x.code, x.frame) for f in report.files for x in f.findings]
    assert found == [("JPEG2000-embedded-sequence-delimiter.dcm", "DEC001", 1)]
    readme = (Path(__file__).parent / "data" / "README.md").read_text()
    assert "`pydicom/JPEG2000-embedded-sequence-delimiter.dcm` | DEC001" in readme


def frames_of(name: str) -> tuple[tuple[bytes, ...], dict[str, object]]:
    from instances import file_frames

    frames, attributes = file_frames(name)
    return frames, dict(attributes)


def three_built(ts: str, name: str, second: bytes) -> Built:
    """A 3-frame file of `name`'s frames, its second frame replaced."""
    frames, attributes = frames_of(name)
    return encapsulated(
        [frames[0], even(second), frames[2]],
        ts=ts,
        extra={**attributes, "NumberOfFrames": "3"},
    )


def with_second(ts: str, name: str, second: bytes) -> tuple[bytes, int]:
    """three_built's bytes, and where its second frame starts."""
    built = three_built(ts, name, second)
    return built.data, built.items[2] + 8


@pytest.mark.parametrize(
    ("ts", "name", "decoder"),
    [
        (J2K, "emri_small_jpeg_2k_lossless.dcm", "pylibjpeg: Error decoding the J2K data"),
        (JPEG_LS, "emri_small_jpeg_ls_lossless.dcm", "pyjpegls: Decoding error"),
    ],
)
def test_a_frame_cut_and_closed_does_not_decode(ts: str, name: str, decoder: str) -> None:
    frames, _ = frames_of(name)
    cut = frames[1][: len(frames[1]) // 2] + b"\xff\xd9"  # EOC / EOI
    data, start = with_second(ts, name, cut)
    assert lint_file(data).findings == ()
    (finding,) = lint_file(data, decode=True).findings
    assert (finding.code, finding.severity.label, finding.frame) == ("DEC001", "error", 2)
    assert finding.offset == start
    assert finding.message.startswith("frame 2 does not decode: ")
    assert decoder in finding.message


def test_an_htj2k_frame_cut_and_closed_does_not_decode() -> None:
    """HTJ2K frames encoded by imagecodecs (OpenJPH): clean whole; the second cut in half
    and closed with EOC is DEC001 (OpenJPEG refuses it), the first and third intact."""
    imagecodecs = pytest.importorskip("imagecodecs", reason="imagecodecs is a test dependency")
    import numpy as np

    chooser = np.random.default_rng(1)
    frames = [
        even(imagecodecs.htj2k_encode(chooser.integers(0, 4096, (64, 64)).astype(np.uint16)))
        for _ in range(3)
    ]
    attributes = {
        "Rows": 64,
        "Columns": 64,
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "BitsAllocated": 16,
        "BitsStored": 12,
        "HighBit": 11,
        "PixelRepresentation": 0,
        "NumberOfFrames": "3",
    }
    whole = encapsulated(frames, ts=HTJ2K_LOSSLESS, extra=attributes)
    assert lint_file(whole.data, decode=True).findings == ()
    cut = frames[1][: len(frames[1]) // 2] + b"\xff\xd9"
    built = encapsulated([frames[0], even(cut), frames[2]], ts=HTJ2K_LOSSLESS, extra=attributes)
    (finding,) = lint_file(built.data, decode=True).findings
    assert (finding.code, finding.severity.label, finding.frame) == ("DEC001", "error", 2)
    assert finding.offset == built.items[2] + 8
    assert "pylibjpeg: Error decoding the J2K data" in finding.message


def test_a_short_rle_segment_decodes_to_another_size() -> None:
    frames, _ = frames_of("emri_small_RLE.dcm")
    frame = frames[1]
    segments = struct.unpack("<16I", frame[:64])
    last = segments[segments[0]]
    short = frame[: last + (len(frame) - last) // 2]
    data, start = with_second(RLE, "emri_small_RLE.dcm", short)
    (finding,) = lint_file(data, decode=True).findings
    assert (finding.code, finding.severity.label, finding.frame) == ("DEC002", "error", 2)
    assert finding.offset == start
    assert "decodes to another size than the attributes say" in finding.message


def test_valid_frames_of_every_codec_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the decoders: no DEC finding. Without any (the extra not installed):
    DEC004 once per file, and DEC003 still counts the JPEG scans."""
    files = {
        JPEG_BASELINE: "color3d_jpeg_baseline.dcm",
        J2K: "emri_small_jpeg_2k_lossless.dcm",
        JPEG_LS: "emri_small_jpeg_ls_lossless.dcm",
        RLE: "emri_small_RLE.dcm",
    }
    built = [three_built(ts, name, frames_of(name)[0][1]) for ts, name in files.items()]
    for each in built:
        assert lint_file(each.data, decode=True).findings == ()
    monkeypatch.setattr(decoding, "plugins_for", lambda uid: ())
    for each in built:
        (finding,) = lint_file(each.data, decode=True).findings
        assert (finding.code, finding.severity.label) == ("DEC004", "info")
        assert "no installed decoder supports" in finding.message
        assert finding.offset == each.pixel_offset  # the Pixel Data element
    cut, _ = cut_in_half(frames_of(files[JPEG_BASELINE])[0][1])
    data, _ = with_second(JPEG_BASELINE, files[JPEG_BASELINE], cut)
    assert sorted(f.code for f in lint_file(data, decode=True).findings) == ["DEC003", "DEC004"]


def test_a_decoder_not_capable_of_a_precision_is_not_asked() -> None:
    """pydicom's JPEG-lossy.dcm (12-bit JPEG Extended): Pillow cannot decode 12 bits,
    pylibjpeg's libjpeg refuses it where libjpeg-turbo (DCMTK) decodes it: neither is
    asked, so no DEC001; JPGExtended.dcm likewise."""
    from pydicom.data import get_testdata_file

    for name in ("JPEG-lossy.dcm", "JPGExtended.dcm"):
        assert lint_file(get_testdata_file(name), select=["DEC"], decode=True).findings == ()

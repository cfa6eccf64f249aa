"""TSX: the transfer syntax and the Pixel Data element (TSX001-TSX010)."""

from __future__ import annotations

import io
import struct
from dataclasses import replace

import pydicom
import pytest
from builders import (
    EXPLICIT_LE,
    IMPLICIT_LE,
    ITEM,
    ITEM_DELIM,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    RLE_LOSSLESS,
    SEQ_DELIM,
    SOP_CLASS_SC,
    SOP_INSTANCE,
    UNDEFINED,
    Built,
    bot_item,
    dataset_prefix,
    delimiter,
    encapsulated,
    findings,
    header,
    item,
    j2k_frame,
    jpeg_frame,
    native,
    pixel_data_header,
    rle_frame,
    u64,
)
from pydicom.dataset import Dataset, FileMetaDataset

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.findings import Finding
from dcmencaps_lint.model import Severity

UNKNOWN_TS = "1.2.3.4"
FLAGGED_LOSSY = {"LossyImageCompression": "01"}  # JPEG Baseline files must say so (TSX006)


def key(f: Finding) -> tuple[object, ...]:
    return (f.code, f.severity, f.offset, f.frame)


def with_defined_length(built: Built) -> bytes:
    """The file with Pixel Data's undefined length replaced by the real value length."""
    data = bytearray(built.data)
    field_at = built.value_offset - 4
    data[field_at : field_at + 4] = struct.pack("<I", len(data) - built.value_offset)
    return bytes(data)


class TestEncapsulatedDefinedLength:
    def test_valid_is_quiet(self) -> None:
        assert findings(encapsulated([jpeg_frame()]), "TSX001") == []

    def test_native_defined_length_is_quiet(self) -> None:
        assert findings(native(), "TSX001") == []

    def test_defined_length_under_encapsulated_ts(self) -> None:
        built = encapsulated([jpeg_frame()])
        [f] = findings(with_defined_length(built), "TSX001")
        # The Pixel Data length field: tag (4) + VR (2) + reserved (2) in front of it.
        assert key(f) == ("TSX001", Severity.ERROR, built.pixel_offset + 8, None)
        assert f.offset == built.value_offset - 4

    def test_raw_codestream_with_defined_length(self) -> None:
        prefix = dataset_prefix(JPEG_BASELINE)
        frame = jpeg_frame()
        data = prefix + pixel_data_header(length=len(frame)) + frame
        [f] = findings(data, "TSX001")
        assert key(f) == ("TSX001", Severity.ERROR, len(prefix) + 8, None)


class TestNativeUndefinedLength:
    def test_valid_explicit_is_quiet(self) -> None:
        assert findings(native(EXPLICIT_LE), "TSX002") == []

    def test_valid_implicit_is_quiet(self) -> None:
        assert findings(native(IMPLICIT_LE), "TSX002") == []

    def test_encapsulated_is_quiet(self) -> None:
        assert findings(encapsulated([jpeg_frame()]), "TSX002") == []

    def test_explicit_vr_le(self) -> None:
        built = native(EXPLICIT_LE, length=None)
        [f] = findings(built, "TSX002")
        assert key(f) == ("TSX002", Severity.ERROR, built.pixel_offset + 8, None)

    def test_implicit_vr_le(self) -> None:
        built = native(IMPLICIT_LE, length=None)
        [f] = findings(built, "TSX002")
        # Implicit VR: the length field follows the tag directly.
        assert key(f) == ("TSX002", Severity.ERROR, built.pixel_offset + 4, None)

    def test_native_undefined_length_runs_no_item_rules(self) -> None:
        built = native(EXPLICIT_LE, length=None)
        assert [f.code for f in lint_file(built.data).findings] == ["TSX002"]


class TestUnknownTransferSyntax:
    def test_known_ts_is_quiet(self) -> None:
        assert findings(encapsulated([jpeg_frame()]), "TSX003") == []
        assert findings(native(), "TSX003") == []

    @pytest.mark.parametrize(
        "uid",
        [
            "1.2.840.10008.1.2.1.98",  # Encapsulated Uncompressed: pydicom 3.0 lacks these
            "1.2.840.10008.1.2.4.110",
            "1.2.840.10008.1.2.4.112",
            "1.2.840.10008.1.2.8.1",
            "1.2.840.10008.1.2.4.201",
            "1.2.840.10008.1.2.4.205",
            "1.2.840.10008.1.2.4.102.1",
            "1.2.840.10008.1.2.4.106.1",
        ],
    )
    def test_current_ts_unknown_to_pydicom_is_quiet(self, uid: str) -> None:
        # pydicom will not write some of these: the builder swaps them in
        report = lint_file(encapsulated([jpeg_frame()], ts=uid).data)
        assert report.transfer_syntax is not None and report.transfer_syntax.uid == uid
        assert "TSX003" not in [f.code for f in report.findings]

    def test_unknown_ts(self) -> None:
        built = encapsulated([jpeg_frame()], ts=UNKNOWN_TS)
        report = lint_file(built.data)
        [f] = report.findings
        uid_offset = built.data.index(UNKNOWN_TS.encode())
        assert (f.code, f.severity, f.offset, f.frame) == (
            "TSX003",
            Severity.WARNING,
            uid_offset,
            None,
        )
        assert f.element == "(0002,0010)"
        assert UNKNOWN_TS in f.message
        assert report.status == "passed"  # a warning does not fail at the default gate

    def test_bot_defect_not_reported_under_unknown_ts(self) -> None:
        known = encapsulated([jpeg_frame()], bot=[4])
        assert findings(known, "BOT002")  # the defect is real under a known TS
        unknown = encapsulated([jpeg_frame()], ts=UNKNOWN_TS, bot=[4])
        assert sorted(f.code for f in lint_file(unknown.data).findings) == ["TSX003"]

    def test_item_rules_still_run_under_unknown_ts(self) -> None:
        built = encapsulated([jpeg_frame() + b"\xff"], ts=UNKNOWN_TS, bot="empty")
        codes = sorted(f.code for f in lint_file(built.data).findings)
        assert codes == ["ITM004", "TSX003"]
        [f] = findings(built, "ITM004")
        assert (f.offset, f.item) == (built.item_length_field(1), 1)


class TestOffsetTableInNativeTs:
    def test_encapsulated_with_eot_is_quiet(self) -> None:
        built = encapsulated([jpeg_frame(), jpeg_frame()], eot="auto", bot="empty")
        assert findings(built, "TSX007") == []

    def test_native_without_eot_is_quiet(self) -> None:
        assert findings(native(), "TSX007") == []

    @pytest.mark.parametrize("ts", [EXPLICIT_LE, IMPLICIT_LE])
    def test_eot_pair_in_native_file(self, ts: str) -> None:
        built = native(ts, eot=u64([0]), eot_lengths=u64([16]))
        header = 8 if ts == IMPLICIT_LE else 12
        assert built.eot_value_offset is not None
        assert built.eot_lengths_value_offset is not None
        result = findings(built, "TSX007")
        assert [(*key(f), f.element) for f in result] == [
            ("TSX007", Severity.ERROR, built.eot_value_offset - header, None, "(7FE0,0001)"),
            (
                "TSX007",
                Severity.ERROR,
                built.eot_lengths_value_offset - header,
                None,
                "(7FE0,0002)",
            ),
        ]
        assert all("native" in f.message for f in result)

    def test_eot_without_pixel_data(self) -> None:
        data = dataset_prefix(EXPLICIT_LE, eot=u64([0, 16]), eot_lengths=u64([16, 16]))
        report = lint_file(data)
        eot_at = data.find(b"\xe0\x7f\x01\x00OV")
        lengths_at = data.find(b"\xe0\x7f\x02\x00OV")
        assert [key(f) for f in report.findings] == [
            ("TSX007", Severity.ERROR, eot_at, None),
            ("TSX007", Severity.ERROR, lengths_at, None),
        ]
        assert all("absent" in f.message for f in report.findings)
        assert report.status == "failed"

    def test_only_eot_lengths_in_native_file(self) -> None:
        built = native(eot_lengths=u64([16]))
        assert built.eot_lengths_value_offset is not None
        [f] = findings(built, "TSX007")
        assert key(f) == ("TSX007", Severity.ERROR, built.eot_lengths_value_offset - 12, None)
        assert f.element == "(7FE0,0002)"


def encapsulated_with_nof(value: str) -> tuple[bytes, int]:
    """(file, NoF value offset) for values the shared builder cannot locate (empty)."""
    prefix = dataset_prefix(JPEG_BASELINE, number_of_frames=value)
    data = prefix + pixel_data_header() + bot_item([0]) + item(jpeg_frame()) + delimiter()
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    elem = ds.get_item(0x00280008)
    where = getattr(elem, "value_tell", None) or elem.file_tell
    # Cross-check with the bytes: tag, VR "IS", 2-byte length, then the value.
    assert data.find(b"\x28\x00\x08\x00IS") + 8 == where
    return data, where


def encapsulated_with_raw_nof(value: str) -> tuple[Built, bytes]:
    """A file whose NoF bytes are `value` as written, even where pydicom refuses it."""
    raw = value.encode() + b" " * (len(value) % 2)
    built = encapsulated([jpeg_frame()], number_of_frames="9" * len(raw))
    assert built.nof_value_offset is not None
    at = built.nof_value_offset
    assert built.data[at : at + len(raw)] == b"9" * len(raw)
    return built, built.data[:at] + raw + built.data[at + len(raw) :]


class TestNumberOfFramesInvalid:
    @pytest.mark.parametrize("value", ["1", "3", None])
    def test_valid_is_quiet(self, value: str | None) -> None:
        frames = [jpeg_frame()] * (int(value) if value else 1)
        built = encapsulated(frames, number_of_frames=value)
        assert findings(built, "TSX008") == []

    @pytest.mark.parametrize("value", ["0", "-1", "abc", "2.5"])
    def test_invalid(self, value: str) -> None:
        built, data = encapsulated_with_raw_nof(value)
        assert built.nof_value_offset is not None
        [f] = findings(data, "TSX008")
        assert key(f) == ("TSX008", Severity.ERROR, built.nof_value_offset, None)
        assert f.element == "(0028,0008)"
        assert repr(value) in f.message

    def test_empty(self) -> None:
        data, value_offset = encapsulated_with_nof("")
        [f] = findings(data, "TSX008")
        assert key(f) == ("TSX008", Severity.ERROR, value_offset, None)
        assert "''" in f.message

    def test_frame_count_rules_skip_invalid_nof(self) -> None:
        built = encapsulated(
            [jpeg_frame(), jpeg_frame()], number_of_frames="0", extra=FLAGGED_LOSSY
        )
        codes = {f.code for f in lint_file(built.data).findings}
        assert codes == {"TSX008"}


RETIRED_JPEG = "1.2.840.10008.1.2.4.52"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81"
J2K = "1.2.840.10008.1.2.4.91"
HTJ2K = "1.2.840.10008.1.2.4.203"
JPIP = "1.2.840.10008.1.2.4.94"


def ts_value_offset(data: bytes) -> int:
    """Where the Transfer Syntax UID value is, by its bytes and by pydicom."""
    where = data.find(b"\x02\x00\x10\x00UI") + 8
    meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
    assert meta.get_item(0x00020010).file_tell == where
    return where


def lossy_flag_value_offset(data: bytes) -> int:
    """Where the Lossy Image Compression value is, by its bytes and by pydicom."""
    where = data.find(b"\x28\x00\x10\x21CS") + 8
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    assert ds.get_item(0x00282110).value_tell == where
    return where


def without_lossy_flag(built: Built) -> Built:
    """The file without (0028,2110), whether or not the builder wrote one."""
    at = built.data.find(b"\x28\x00\x10\x21CS")
    if at < 0:
        return built
    (length,) = struct.unpack_from("<H", built.data, at + 6)
    cut = 8 + length

    def moved(offset: int | None) -> int | None:
        return offset - cut if offset is not None and offset > at else offset

    out = replace(
        built,
        data=built.data[:at] + built.data[at + cut :],
        pixel_offset=moved(built.pixel_offset),
        value_offset=moved(built.value_offset),
        items=[moved(i) for i in built.items],
        delimiter=moved(built.delimiter),
        eot_value_offset=moved(built.eot_value_offset),
        eot_lengths_value_offset=moved(built.eot_lengths_value_offset),
    )
    ds = pydicom.dcmread(io.BytesIO(out.data), stop_before_pixels=True)
    assert 0x00282110 not in ds
    return out


def jls_frame(near: int) -> bytes:
    """A JPEG-LS frame (4 x 4, 8 bits, 1 component) whose scan has this NEAR value."""
    sof55 = b"\xff\xf7\x00\x0b\x08\x00\x04\x00\x04\x01\x01\x11\x00"
    sos = b"\xff\xda\x00\x08\x01\x01\x00" + bytes([near]) + b"\x00\x00"
    return b"\xff\xd8" + sof55 + sos + b"\x12\x34\x56\x78\x9a" + b"\xff\xd9"


def j2k_coded_frame(*, reversible: bool = True, quantization: int = 0) -> bytes:
    """A JPEG 2000 codestream (4 x 4, 8 bits, 1 component) with this COD / QCD."""
    siz = struct.pack(">HHH8IH", 0xFF51, 41, 0, 4, 4, 0, 0, 4, 4, 0, 0, 1) + b"\x07\x01\x01"
    cod = struct.pack(">HHBBHBBBBBB", 0xFF52, 12, 0, 0, 1, 0, 0, 4, 4, 0, int(reversible))
    spqcd = b"\x40" if quantization == 0 else b"\x40\x00"
    qcd = struct.pack(">HHB", 0xFF5C, 3 + len(spqcd), 2 << 5 | quantization) + spqcd
    sot = struct.pack(">HHHIBB", 0xFF90, 10, 0, 0, 0, 1)
    stream = b"\xff\x4f" + siz + cod + qcd + sot + b"\xff\x93\x80\x80" + b"\xff\xd9"
    return stream + b"\x00" * (len(stream) % 2)


LOSSY_J2K = j2k_coded_frame(reversible=False, quantization=2)
LOSSLESS_J2K = j2k_coded_frame()


class TestRetiredTransferSyntax:
    def test_current_ts_is_quiet(self) -> None:
        assert findings(encapsulated([jpeg_frame()], extra=FLAGGED_LOSSY), "TSX004") == []
        assert findings(native(), "TSX004") == []

    @pytest.mark.parametrize(
        "uid", [RETIRED_JPEG, "1.2.840.10008.1.2.4.58", "1.2.840.10008.1.2.4.66"]
    )
    def test_retired_jpeg(self, uid: str) -> None:
        built = encapsulated([jpeg_frame(), jpeg_frame()], ts=uid, extra=FLAGGED_LOSSY)
        [f] = findings(built, "TSX004")  # once per file, not once per frame
        assert key(f) == ("TSX004", Severity.INFO, ts_value_offset(built.data), None)
        assert f.element == "(0002,0010)"
        assert uid in f.message

    def test_explicit_vr_big_endian(self) -> None:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = SOP_CLASS_SC
        meta.MediaStorageSOPInstanceUID = SOP_INSTANCE
        meta.TransferSyntaxUID = BIG_ENDIAN
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = SOP_CLASS_SC
        ds.SOPInstanceUID = SOP_INSTANCE
        ds.add_new(0x7FE00010, "OW", b"\x00" * 16)
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True, little_endian=False)
        data = buffer.getvalue()
        report = lint_file(data)
        assert [key(f) for f in report.findings] == [
            ("TSX004", Severity.INFO, ts_value_offset(data), None)
        ]
        assert report.status == "passed"  # info does not fail the default gate

    def test_retired_ts_without_pixel_data_is_quiet(self) -> None:
        report = lint_file(dataset_prefix(RETIRED_JPEG))
        assert report.findings == ()
        assert report.status == "skipped"


class TestLossyFlagContradicts:
    @pytest.mark.parametrize(
        ("ts", "frame", "flag"),
        [
            (JPEG_BASELINE, jpeg_frame(), "01"),
            (JPEG_LOSSLESS_SV1, jpeg_frame(), "00"),  # lossless TS
            (JPEG_LS_NEAR, jls_frame(0), "00"),  # NEAR 0 is lossless
            (J2K, LOSSLESS_J2K, "00"),  # reversible, no quantization
            (J2K, LOSSY_J2K, "01"),
        ],
    )
    def test_valid_is_quiet(self, ts: str, frame: bytes, flag: str) -> None:
        built = encapsulated([frame], ts=ts, extra={"LossyImageCompression": flag})
        assert findings(built, "TSX005") == []

    def test_lossy_ts(self) -> None:
        built = encapsulated([jpeg_frame()], extra={"LossyImageCompression": "00"})
        [f] = findings(built, "TSX005")
        assert key(f) == ("TSX005", Severity.ERROR, lossy_flag_value_offset(built.data), None)
        assert (f.length, f.element) == (2, "(0028,2110)")
        assert "JPEG Baseline" in f.message

    def test_lossy_jpeg_ls_names_the_first_lossy_frame(self) -> None:
        frames = [jls_frame(0), jls_frame(2), jls_frame(3)]
        built = encapsulated(frames, ts=JPEG_LS_NEAR, extra={"LossyImageCompression": "00"})
        [f] = findings(built, "TSX005")  # once per file
        assert key(f) == ("TSX005", Severity.ERROR, lossy_flag_value_offset(built.data), 2)
        assert "frame 2" in f.message and "NEAR 2" in f.message

    @pytest.mark.parametrize(
        "frame",
        [LOSSY_J2K, j2k_coded_frame(reversible=False), j2k_coded_frame(quantization=1)],
        ids=["irreversible-quantized", "irreversible", "quantized"],
    )
    def test_lossy_j2k(self, frame: bytes) -> None:
        built = encapsulated([frame], ts=J2K, extra={"LossyImageCompression": "00"})
        [f] = findings(built, "TSX005")
        assert key(f) == ("TSX005", Severity.ERROR, lossy_flag_value_offset(built.data), 1)

    def test_lossy_htj2k(self) -> None:
        built = encapsulated([LOSSY_J2K], ts=HTJ2K, extra={"LossyImageCompression": "00"})
        [f] = findings(built, "TSX005")
        assert key(f) == ("TSX005", Severity.ERROR, lossy_flag_value_offset(built.data), 1)

    def test_lossy_codestream_in_lossless_ts_is_left_to_csm012(self) -> None:
        flag = {"LossyImageCompression": "00"}
        built = encapsulated([jls_frame(2)], ts=JPEG_LS_LOSSLESS, extra=flag)
        assert findings(built, "TSX005") == []
        built = encapsulated([LOSSY_J2K], ts=J2K_LOSSLESS, extra=flag)
        assert findings(built, "TSX005") == []

    def test_absent_flag_is_tsx006_not_tsx005(self) -> None:
        built = without_lossy_flag(encapsulated([jpeg_frame()]))
        assert findings(built, "TSX005") == []
        assert [f.code for f in findings(built, "TSX006")] == ["TSX006"]


class TestLossyFlagAbsent:
    @pytest.mark.parametrize(
        ("ts", "frame"),
        [
            (JPEG_LOSSLESS_SV1, jpeg_frame()),
            (JPEG_LS_LOSSLESS, jls_frame(0)),
            (J2K_LOSSLESS, LOSSLESS_J2K),
            (RLE_LOSSLESS, rle_frame()),
            (JPEG_LS_NEAR, jls_frame(0)),
            (J2K, LOSSLESS_J2K),
            (J2K, j2k_frame()),  # no COD / QCD: lossiness unknown
        ],
    )
    def test_lossless_without_flag_is_quiet(self, ts: str, frame: bytes) -> None:
        built = without_lossy_flag(encapsulated([frame], ts=ts))
        assert findings(built, "TSX006") == []

    def test_flagged_lossy_is_quiet(self) -> None:
        assert findings(encapsulated([jpeg_frame()], extra=FLAGGED_LOSSY), "TSX006") == []
        built = encapsulated([jls_frame(2)], ts=JPEG_LS_NEAR, extra=FLAGGED_LOSSY)
        assert findings(built, "TSX006") == []

    def test_native_is_quiet(self) -> None:
        assert findings(native(), "TSX006") == []

    def test_lossy_ts(self) -> None:
        built = without_lossy_flag(encapsulated([jpeg_frame(), jpeg_frame()]))
        [f] = findings(built, "TSX006")
        assert key(f) == ("TSX006", Severity.WARNING, None, None)
        assert f.element == "(0028,2110)"
        assert "absent" in f.message

    def test_empty_flag_counts_as_absent(self) -> None:
        built = encapsulated([jpeg_frame()], extra={"LossyImageCompression": ""})
        [f] = findings(built, "TSX006")
        assert key(f) == ("TSX006", Severity.WARNING, None, None)
        assert "empty" in f.message

    def test_near_lossless_jpeg_ls(self) -> None:
        built = without_lossy_flag(encapsulated([jls_frame(0), jls_frame(2)], ts=JPEG_LS_NEAR))
        [f] = findings(built, "TSX006")
        assert key(f) == ("TSX006", Severity.WARNING, None, 2)
        assert "frame 2" in f.message and "NEAR 2" in f.message

    def test_lossy_j2k(self) -> None:
        built = without_lossy_flag(encapsulated([LOSSY_J2K], ts=J2K))
        [f] = findings(built, "TSX006")
        assert key(f) == ("TSX006", Severity.WARNING, None, 1)
        assert "irreversible" in f.message

    def test_defined_length_is_tsx001_only(self) -> None:
        built = without_lossy_flag(encapsulated([jpeg_frame()]))
        codes = [f.code for f in lint_file(with_defined_length(built)).findings]
        assert codes == ["TSX001"]


def with_icon(vr: str) -> tuple[bytes, int]:
    """(file, nested Pixel Data tag offset): an encapsulated icon in an Icon Image Sequence."""
    prefix = dataset_prefix(J2K_LOSSLESS)
    icon = pixel_data_header(vr=vr) + item(b"") + item(j2k_frame()) + delimiter()
    sequence = (
        struct.pack("<HH2sHI", 0x0088, 0x0200, b"SQ", 0, UNDEFINED)
        + header(ITEM, UNDEFINED)
        + icon
        + header(ITEM_DELIM, 0)
        + header(SEQ_DELIM, 0)
    )
    top = pixel_data_header() + item(b"") + item(j2k_frame()) + delimiter()
    return prefix + sequence + top, len(prefix) + 12 + 8


class TestEncapsulatedVrNotOb:
    def test_valid_is_quiet(self) -> None:
        assert findings(encapsulated([jpeg_frame()], extra=FLAGGED_LOSSY), "TSX009") == []
        assert findings(with_icon("OB")[0], "TSX009") == []

    def test_implicit_vr_pixel_data_is_quiet(self) -> None:
        prefix = dataset_prefix(J2K_LOSSLESS)
        data = prefix + pixel_data_header(implicit=True) + item(b"") + item(j2k_frame())
        assert findings(data + delimiter(), "TSX009") == []

    @pytest.mark.parametrize("vr", ["OW", "UN"])
    def test_not_ob(self, vr: str) -> None:
        built = encapsulated([j2k_frame()], ts=J2K_LOSSLESS, vr=vr)
        [f] = findings(built, "TSX009")
        assert key(f) == ("TSX009", Severity.WARNING, built.pixel_offset + 4, None)
        assert (f.length, f.element) == (2, "(7FE0,0010)")
        assert built.data[f.offset : f.offset + 2] == vr.encode()
        assert vr in f.message

    def test_nested_pixel_data(self) -> None:
        data, nested_at = with_icon("OW")
        [f] = findings(data, "TSX009")
        assert key(f) == ("TSX009", Severity.WARNING, nested_at + 4, None)
        assert f.element == "(0088,0200)[0]/(7FE0,0010)"
        assert data[f.offset : f.offset + 2] == b"OW"

    def test_defined_length_is_tsx001_only(self) -> None:
        built = encapsulated([j2k_frame()], ts=J2K_LOSSLESS, vr="OW")
        codes = [f.code for f in lint_file(with_defined_length(built)).findings]
        assert codes == ["TSX001"]

    def test_native_ts_is_tsx002_only(self) -> None:
        prefix = dataset_prefix(EXPLICIT_LE)
        data = prefix + pixel_data_header(vr="OW") + item(b"") + item(b"\x00" * 16)
        codes = [f.code for f in lint_file(data + delimiter()).findings]
        assert codes == ["TSX002"]


class TestPixelDataWithJpip:
    def test_without_pixel_data_is_quiet(self) -> None:
        report = lint_file(dataset_prefix(JPIP))
        assert report.findings == ()
        assert report.status == "skipped"

    def test_other_encapsulated_ts_is_quiet(self) -> None:
        assert findings(encapsulated([j2k_frame()], ts=J2K), "TSX010") == []

    @pytest.mark.parametrize(
        "uid",
        [
            JPIP,
            "1.2.840.10008.1.2.4.95",
            "1.2.840.10008.1.2.4.204",
            "1.2.840.10008.1.2.4.205",
        ],
    )
    def test_pixel_data_present(self, uid: str) -> None:
        built = encapsulated([j2k_frame(), j2k_frame()], ts=uid)
        report = lint_file(built.data)
        [f] = report.findings  # the root cause only: the items are not walked
        assert key(f) == ("TSX010", Severity.ERROR, built.pixel_offset, None)
        assert f.length == built.value_offset - built.pixel_offset
        assert uid in f.message
        assert report.status == "failed"

    def test_defined_length_is_not_tsx001(self) -> None:
        built = encapsulated([j2k_frame()], ts=JPIP)
        report = lint_file(with_defined_length(built))
        assert [key(f) for f in report.findings] == [
            ("TSX010", Severity.ERROR, built.pixel_offset, None)
        ]

    def test_broken_items_and_vr_are_not_reported(self) -> None:
        built = encapsulated([j2k_frame() + b"\xff"], ts=JPIP, bot=[4, 8], vr="OW", end=b"")
        report = lint_file(built.data)
        assert [key(f) for f in report.findings] == [
            ("TSX010", Severity.ERROR, built.pixel_offset, None)
        ]

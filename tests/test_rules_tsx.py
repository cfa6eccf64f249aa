"""TSX: the transfer syntax and the Pixel Data element (TSX001-TSX003, TSX007, TSX008)."""

from __future__ import annotations

import io
import struct

import pydicom
import pytest
from builders import (
    EXPLICIT_LE,
    IMPLICIT_LE,
    JPEG_BASELINE,
    Built,
    bot_item,
    dataset_prefix,
    delimiter,
    encapsulated,
    item,
    jpeg_frame,
    native,
    pixel_data_header,
    u64,
)

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Finding, Severity

UNKNOWN_TS = "1.2.3.4"


def findings(data: bytes | Built, code: str) -> list[Finding]:
    raw = data.data if isinstance(data, Built) else data
    return [f for f in lint_file(raw).findings if f.code == code]


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
        # pydicom will not write some of these: write a same-length UID, then swap it in.
        stand_in = "1.2." + "9" * (len(uid) - 4)
        data = encapsulated([jpeg_frame()], ts=stand_in).data
        assert data.count(stand_in.encode()) == 1
        report = lint_file(data.replace(stand_in.encode(), uid.encode()))
        assert report.transfer_syntax is not None and report.transfer_syntax.uid == uid
        assert "TSX003" not in [f.code for f in report.findings]

    def test_unknown_ts(self) -> None:
        report = lint_file(encapsulated([jpeg_frame()], ts=UNKNOWN_TS).data)
        [f] = report.findings
        assert (f.code, f.severity, f.offset, f.frame) == ("TSX003", Severity.WARNING, None, None)
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
        built = encapsulated([jpeg_frame(), jpeg_frame()], number_of_frames="0")
        codes = {f.code for f in lint_file(built.data).findings}
        assert codes == {"TSX008"}

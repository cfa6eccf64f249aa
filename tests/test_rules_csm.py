"""CSM: how each frame's codestream is framed (CSM001-CSM008, CSM014, CSM022, CSM023)."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest
from builders import (
    HTJ2K_LOSSLESS,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    RLE_LOSSLESS,
    Built,
    assert_findings,
    codes,
    encapsulated,
    findings,
    j2k_frame,
    jpeg_frame,
    rle_frame,
    where,
)
from click.testing import CliRunner

from dcmencaps_lint.cli import main
from dcmencaps_lint.context import PAYLOAD_CHUNK
from dcmencaps_lint.model import Severity

JPEG_SYNTAXES = [JPEG_BASELINE, JPEG_LOSSLESS_SV1, JPEG_LS_LOSSLESS]
J2K_SYNTAXES = [J2K_LOSSLESS, HTJ2K_LOSSLESS]
JPEG_XL = "1.2.840.10008.1.2.4.110"
JPEG_XL_RECOMPRESSION = "1.2.840.10008.1.2.4.111"
DEFLATED_FRAMES = "1.2.840.10008.1.2.8.1"
ENCAPSULATED_UNCOMPRESSED = "1.2.840.10008.1.2.1.98"

JPEG = jpeg_frame(32)
J2K = j2k_frame(32)
ZEROS = b"\x00" * 32
APP0_FIRST = b"\xff\xe0" + JPEG[2:]  # a JPEG marker, not SOI: CSM001
NO_MARKER = b"\xff\x00" + JPEG[2:]  # FF 00 is stuffed data, not a marker: CSM014
FILL_BEFORE_SOI = b"\xff\xff" + JPEG[:-4] + b"\xff\xd9"  # FF FF FF D8 ...: CSM023's
NO_EOI = JPEG[:-2] + b"\x00\x00"
EOI_AND_PAD = JPEG[:-3] + b"\xff\xd9\x00"
EOI_AND_MORE = JPEG[:-6] + b"\xff\xd9\x00\x00\x00\x00"  # CSM003's, not CSM002's
SOC_WITHOUT_SIZ = b"\xff\x4f\xff\x52" + J2K[4:]
TILE_PART_FIRST = b"\xff\x90\x00\x0a" + J2K[4:]
NO_EOC = J2K[:-2] + b"\x00\x00"
EOC_AND_PAD = J2K[:-3] + b"\xff\xd9\x00"
EOC_AND_FF = J2K[:-2] + b"\xff\xd9\xff\xff"  # D_CLUNIE_CT1_J2KR-style trailing FF bytes
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
JP2 = (
    JP2_SIGNATURE
    + b"\x00\x00\x00\x14ftypjp2 \x00\x00\x00\x00jp2 "
    + struct.pack(">I", 8 + len(J2K))
    + b"jp2c"
    + J2K
)
JXL_CODESTREAM = b"\xff\x0a" + b"\x33" * 30
JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n" + b"\x33" * 20


def tail_of(built: Built, fragment: int, size: int) -> int:
    """Absolute offset of the last 2 bytes of a fragment whose value is `size` bytes."""
    return built.fragment_value(fragment) + size - 2


def truncated(frames: list[bytes], ts: str, cut: int) -> bytes:
    """A file whose last fragment loses its last `cut` bytes, with no delimiter."""
    return encapsulated(frames, ts=ts, end=b"").data[:-cut]


def rle(segments: int, offsets: list[int], size: int = 80) -> bytes:
    """An RLE frame: the header as given (unlisted offsets are 0), then zeros to `size`."""
    words = [*offsets, *[0] * (15 - len(offsets))]
    return struct.pack("<16I", segments, *words) + b"\x00" * (size - 64)


def rle_field(built: Built, fragment: int, field: int) -> int:
    """Absolute offset of the 32-bit RLE header field `field` (0 = the segment count)."""
    return built.fragment_value(fragment) + 4 * field


def even(data: bytes) -> bytes:
    return data + b"\x00" * (len(data) % 2)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


PIXELS = bytes(range(256)) * 4
DEFLATE = even(raw_deflate(PIXELS))
ZLIB_WRAPPED = even(zlib.compress(PIXELS))
GZIP_WRAPPED = even(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + raw_deflate(PIXELS))


class TestMissingSoi:
    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_frame_starts_with_another_marker(self, ts: str) -> None:
        built = encapsulated([APP0_FIRST], ts=ts)
        found = findings(built, "CSM001")
        assert where(found) == [("CSM001", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == 2
        assert "FF E0" in found[0].message

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        # Frame 1 spans two fragments, so frame 2 starts in fragment 3.
        built = encapsulated([[JPEG[:16], JPEG[16:]], APP0_FIRST, JPEG], ts=ts)
        assert_findings(built, "CSM001", [(Severity.ERROR, built.fragment_value(3), 2, 3)])

    def test_frame_found_by_markers(self) -> None:
        frames = [[JPEG[:16], JPEG[16:]], [APP0_FIRST[:16], APP0_FIRST[16:]]]
        built = encapsulated(frames, bot="empty")
        assert_findings(built, "CSM001", [(Severity.ERROR, built.fragment_value(3), 2, 3)])

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_fill_before_soi_is_not_missing_soi(self, ts: str) -> None:
        built = encapsulated([FILL_BEFORE_SOI], ts=ts)
        assert findings(built, "CSM001") == []

    @pytest.mark.parametrize(
        "frame",
        [ZEROS, NO_MARKER, J2K, JP2, JXL_CODESTREAM],
        ids=["zeros", "ff00", "j2k", "jp2", "jxl"],
    )
    def test_no_marker_or_another_codec_is_csm014(self, frame: bytes) -> None:
        built = encapsulated([frame])
        assert findings(built, "CSM001") == []
        assert len(findings(built, "CSM014")) == 1

    def test_not_checked_for_j2k(self) -> None:
        built = encapsulated([APP0_FIRST], ts=J2K_LOSSLESS)
        assert findings(built, "CSM001") == []

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([JPEG, [JPEG[:16], JPEG[16:]]], ts=ts), "CSM001") == []


class TestMissingEoi:
    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_frame_ends_without_eoi(self, ts: str) -> None:
        built = encapsulated([NO_EOI], ts=ts)
        found = findings(built, "CSM002")
        assert where(found) == [("CSM002", Severity.ERROR, tail_of(built, 1, len(NO_EOI)), 1, 1)]
        assert found[0].length == 2

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        # Frame 2 spans fragments 2-3: the finding is at the end of fragment 3.
        built = encapsulated([JPEG, [NO_EOI[:16], NO_EOI[16:]], JPEG], ts=ts)
        assert_findings(
            built, "CSM002", [(Severity.ERROR, tail_of(built, 3, len(NO_EOI) - 16), 2, 3)]
        )

    def test_missing_soi_and_eoi_are_both_reported(self) -> None:
        built = encapsulated([APP0_FIRST[:-2] + b"\x00\x00"])
        assert codes(built) >= {"CSM001", "CSM002"}

    def test_one_pad_byte_is_fine(self) -> None:
        assert findings(encapsulated([EOI_AND_PAD, EOI_AND_PAD]), "CSM002") == []

    def test_eoi_followed_by_more_bytes_is_not_missing_eoi(self) -> None:
        assert findings(encapsulated([EOI_AND_MORE]), "CSM002") == []

    def test_eoi_further_back_than_64_bytes_counts_as_missing(self) -> None:
        frame = jpeg_frame(64) + b"\x00" * 64
        built = encapsulated([frame])
        assert_findings(built, "CSM002", [(Severity.ERROR, tail_of(built, 1, len(frame)), 1, 1)])
        assert findings(built, "CSM003") == []

    def test_not_reported_for_a_frame_that_is_not_jpeg(self) -> None:
        # Raw pixels: CSM014 is the root cause, the missing EOI follows from it.
        built = encapsulated([ZEROS])
        assert findings(built, "CSM002") == []
        assert len(findings(built, "CSM014")) == 1

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_truncated_last_fragment_is_itm005(self, ts: str) -> None:
        data = truncated([JPEG, JPEG], ts, cut=6)
        assert findings(data, "ITM005") != []
        assert findings(data, "CSM002") == []

    def test_not_checked_for_j2k(self) -> None:
        assert findings(encapsulated([NO_EOI], ts=J2K_LOSSLESS), "CSM002") == []

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([JPEG, [JPEG[:16], JPEG[16:]]], ts=ts), "CSM002") == []


class TestTrailingBytesAfterEndMarker:
    @pytest.mark.parametrize("ts", JPEG_SYNTAXES + J2K_SYNTAXES)
    def test_four_bytes_after_the_end_marker(self, ts: str) -> None:
        frame = JPEG[:-6] if ts in JPEG_SYNTAXES else J2K[:-6]
        frame += b"\xff\xd9\x00\x00\x00\x00"
        built = encapsulated([frame], ts=ts)
        found = findings(built, "CSM003")
        first_trailing = built.fragment_value(1) + len(frame) - 4
        assert where(found) == [("CSM003", Severity.WARNING, first_trailing, 1, 1)]
        assert found[0].length == 4
        assert found[0].message.startswith("4 bytes (00 00 00 00) follow the")
        assert ("EOI" if ts in JPEG_SYNTAXES else "EOC") in found[0].message
        assert codes(built) & {"CSM002", "CSM005"} == set()

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_trailing_ff_bytes(self, ts: str) -> None:
        built = encapsulated([EOC_AND_FF], ts=ts)
        found = findings(built, "CSM003")
        first_trailing = built.fragment_value(1) + len(EOC_AND_FF) - 2
        assert where(found) == [("CSM003", Severity.WARNING, first_trailing, 1, 1)]
        assert found[0].message.startswith("2 bytes (FF FF) follow the EOC")

    def test_only_frame_two_is_bad(self) -> None:
        # Frame 2 spans fragments 2-3: the trailing bytes are at the end of fragment 3.
        built = encapsulated([JPEG, [EOI_AND_MORE[:16], EOI_AND_MORE[16:]], JPEG])
        first_trailing = built.fragment_value(3) + len(EOI_AND_MORE) - 16 - 4
        assert_findings(built, "CSM003", [(Severity.WARNING, first_trailing, 2, 3)])

    def test_many_trailing_bytes_are_counted(self) -> None:
        frame = JPEG + b"\x00" * 40
        built = encapsulated([frame])
        (found,) = findings(built, "CSM003")
        assert (found.offset, found.length) == (built.fragment_value(1) + len(JPEG), 40)
        assert found.message.startswith("40 bytes (00 00 00 00 00 00 00 00 ...) follow the EOI")

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES + J2K_SYNTAXES)
    def test_one_pad_byte_is_fine(self, ts: str) -> None:
        frame = EOI_AND_PAD if ts in JPEG_SYNTAXES else EOC_AND_PAD
        assert findings(encapsulated([frame], ts=ts), "CSM003") == []

    def test_not_reported_for_a_jp2_file(self) -> None:
        built = encapsulated([JP2 + b"\x00\x00\x00\x00"], ts=J2K_LOSSLESS)
        assert findings(built, "CSM003") == []

    def test_not_checked_for_rle(self) -> None:
        frame = rle(1, [64], size=64) + b"\x00\x10\xff\xd9\x00\x00"
        assert findings(encapsulated([frame], ts=RLE_LOSSLESS), "CSM003") == []

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES + J2K_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        frame = JPEG if ts in JPEG_SYNTAXES else J2K
        assert findings(encapsulated([frame, [frame[:16], frame[16:]]], ts=ts), "CSM003") == []


class TestMissingSoc:
    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    @pytest.mark.parametrize("frame", [SOC_WITHOUT_SIZ, TILE_PART_FIRST], ids=["no-siz", "sot"])
    def test_frame_starts_with_another_marker(self, ts: str, frame: bytes) -> None:
        built = encapsulated([frame], ts=ts)
        found = findings(built, "CSM004")
        assert where(found) == [("CSM004", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == 4
        assert findings(built, "CSM014") == []

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    @pytest.mark.parametrize("frame", [ZEROS, JPEG], ids=["zeros", "jpeg"])
    def test_no_marker_or_another_codec_is_csm014(self, ts: str, frame: bytes) -> None:
        built = encapsulated([frame], ts=ts)
        assert findings(built, "CSM004") == []
        assert len(findings(built, "CSM014")) == 1

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_jp2_file_is_csm006(self, ts: str) -> None:
        built = encapsulated([JP2], ts=ts)
        assert findings(built, "CSM004") == []
        assert len(findings(built, "CSM006")) == 1

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        built = encapsulated([[J2K[:16], J2K[16:]], SOC_WITHOUT_SIZ, J2K], ts=ts)
        assert_findings(built, "CSM004", [(Severity.ERROR, built.fragment_value(3), 2, 3)])

    def test_not_checked_for_jpeg(self) -> None:
        assert findings(encapsulated([SOC_WITHOUT_SIZ]), "CSM004") == []

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([J2K, [J2K[:16], J2K[16:]]], ts=ts), "CSM004") == []


class TestMissingEoc:
    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_frame_ends_without_eoc(self, ts: str) -> None:
        built = encapsulated([NO_EOC], ts=ts)
        found = findings(built, "CSM005")
        assert where(found) == [("CSM005", Severity.ERROR, tail_of(built, 1, len(NO_EOC)), 1, 1)]
        assert found[0].length == 2

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        built = encapsulated([J2K, [NO_EOC[:16], NO_EOC[16:]], J2K], ts=ts)
        assert_findings(
            built, "CSM005", [(Severity.ERROR, tail_of(built, 3, len(NO_EOC) - 16), 2, 3)]
        )

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_missing_soc_and_eoc_are_both_reported(self, ts: str) -> None:
        built = encapsulated([SOC_WITHOUT_SIZ[:-2] + b"\x00\x00"], ts=ts)
        assert codes(built) >= {"CSM004", "CSM005"}

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_not_reported_for_a_jp2_file_or_raw_pixels(self, ts: str) -> None:
        built = encapsulated([JP2[:-2] + b"\x00\x00", ZEROS], ts=ts)
        assert findings(built, "CSM005") == []
        assert codes(built) >= {"CSM006", "CSM014"}

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_one_pad_byte_is_fine(self, ts: str) -> None:
        assert findings(encapsulated([EOC_AND_PAD], ts=ts), "CSM005") == []

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_truncated_last_fragment_is_itm005(self, ts: str) -> None:
        data = truncated([J2K, J2K], ts, cut=6)
        assert findings(data, "ITM005") != []
        assert findings(data, "CSM005") == []

    def test_not_checked_for_jpeg(self) -> None:
        assert findings(encapsulated([NO_EOC]), "CSM005") == []

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([J2K, [J2K[:16], J2K[16:]]], ts=ts), "CSM005") == []


class TestJp2Wrapper:
    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_frame_is_a_jp2_file(self, ts: str) -> None:
        built = encapsulated([JP2], ts=ts)
        found = findings(built, "CSM006")
        assert where(found) == [("CSM006", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == 12
        assert "00 00 00 0C 6A 50 20 20 0D 0A 87 0A" in found[0].message

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_reported_once(self, ts: str) -> None:
        # The root cause: not also a missing SOC, an unrecognised codestream or a missing EOC.
        built = encapsulated([JP2 + b"\x00\x00\x00\x08free"], ts=ts)
        assert {c for c in codes(built) if c.startswith("CSM")} == {"CSM006"}

    def test_only_frame_two_is_bad(self) -> None:
        built = encapsulated([J2K, [JP2[:24], JP2[24:]], J2K], ts=J2K_LOSSLESS)
        assert_findings(built, "CSM006", [(Severity.ERROR, built.fragment_value(2), 2, 2)])

    def test_under_jpeg_it_is_csm014(self) -> None:
        built = encapsulated([JP2])
        assert findings(built, "CSM006") == []
        (found,) = findings(built, "CSM014")
        assert "JP2" in found.message

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([J2K, [J2K[:16], J2K[16:]]], ts=ts), "CSM006") == []


class TestRleHeaderInvalid:
    def test_fragment_shorter_than_the_header(self) -> None:
        built = encapsulated([rle_frame(1)[:32]], ts=RLE_LOSSLESS)
        found = findings(built, "CSM007")
        assert where(found) == [("CSM007", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert "32 bytes" in found[0].message
        assert found[0].length == 32

    @pytest.mark.parametrize(
        ("frame", "field", "words"),
        [
            (rle(0, []), 0, "segment count is 0"),
            (rle(16, [64, 72]), 0, "segment count is 16"),
            (rle(1, [66]), 1, "segment 1 offset is 66, not 64"),
            (rle(2, [64, 80]), 2, "segment 2 offset 80 is at or past the end of the 80-byte"),
            (rle(2, [64, 200]), 2, "segment 2 offset 200 is at or past the end"),
            (rle(3, [64, 72, 70]), 3, "segment 3 offset 70 is not greater than segment 2's"),
            (rle(3, [64, 72, 72]), 3, "segment 3 offset 72 is not greater"),
            (rle(1, [64, 0, 12]), 3, "unused offset 3 is 12, not 0"),
        ],
        ids=[
            "count-0",
            "count-16",
            "first-offset",
            "at-end",
            "past-end",
            "decreasing",
            "repeated",
            "unused",
        ],
    )
    def test_header_defect(self, frame: bytes, field: int, words: str) -> None:
        built = encapsulated([frame], ts=RLE_LOSSLESS)
        found = findings(built, "CSM007")
        assert where(found) == [("CSM007", Severity.ERROR, rle_field(built, 1, field), 1, 1)]
        assert found[0].length == 4
        assert words in found[0].message

    def test_one_finding_per_kind_in_field_order(self) -> None:
        # Segment 4 goes back, and unused offsets 5 and 6 are set (one finding, at 5);
        # segments 2 and 3 are odd too, which in a header wrong anyway is not reported.
        frame = rle(4, [64, 71, 73, 66, 1, 2], size=96)
        built = encapsulated([frame], ts=RLE_LOSSLESS)
        found = findings(built, "CSM007")
        assert where(found) == [
            ("CSM007", Severity.ERROR, rle_field(built, 1, field), 1, 1) for field in (4, 5)
        ]
        assert findings(built, "CSM024") == []

    def test_odd_offsets_alone_are_csm024s(self) -> None:
        built = encapsulated([rle(2, [64, 71])], ts=RLE_LOSSLESS)
        assert findings(built, "CSM007") == []
        assert len(findings(built, "CSM024")) == 1

    def test_bad_count_hides_the_offsets(self) -> None:
        built = encapsulated([rle(20, [1, 3, 2])], ts=RLE_LOSSLESS)
        assert [f.offset for f in findings(built, "CSM007")] == [rle_field(built, 1, 0)]

    def test_offsets_count_from_the_frame_not_the_fragment(self) -> None:
        # A frame split over two fragments is FRG003's; its offsets still point into it.
        frame = rle(2, [64, 100], size=128)
        built = encapsulated([[frame[:80], frame[80:]]], ts=RLE_LOSSLESS)
        assert findings(built, "CSM007") == []
        assert findings(built, "FRG003") != []

    def test_another_codec_is_csm014(self) -> None:
        built = encapsulated([JPEG], ts=RLE_LOSSLESS)
        assert findings(built, "CSM007") == []
        assert len(findings(built, "CSM014")) == 1

    def test_truncated_fragment_is_itm005(self) -> None:
        data = truncated([rle_frame(1), rle_frame(1)], RLE_LOSSLESS, cut=30)
        assert findings(data, "ITM005") != []
        assert findings(data, "CSM007") == []

    def test_not_checked_for_jpeg(self) -> None:
        assert findings(encapsulated([JPEG]), "CSM007") == []

    def test_valid(self) -> None:
        frames = [rle_frame(1), rle(1, [64], size=64 + 2), rle(3, [64, 80, 96], size=112)]
        built = encapsulated(frames, ts=RLE_LOSSLESS)
        assert findings(built, "CSM007") == []


class TestRleSegmentCountMismatch:
    def test_two_segments_for_8_bit_grayscale(self) -> None:
        built = encapsulated([rle_frame(2)], ts=RLE_LOSSLESS)
        found = findings(built, "CSM008")
        assert where(found) == [("CSM008", Severity.ERROR, rle_field(built, 1, 0), 1, 1)]
        assert found[0].length == 4
        assert "has 2 segments" in found[0].message
        assert "needs 1" in found[0].message

    @pytest.mark.parametrize(
        ("samples", "bits", "segments"),
        [(1, 8, 1), (1, 16, 2), (1, 12, 2), (3, 8, 3), (3, 16, 6), (1, 32, 4), (1, 1, 1)],
    )
    def test_matching_counts_are_quiet(self, samples: int, bits: int, segments: int) -> None:
        extra = {"SamplesPerPixel": samples, "BitsAllocated": bits}
        built = encapsulated([rle_frame(segments)], ts=RLE_LOSSLESS, extra=extra)
        assert findings(built, "CSM008") == []

    def test_one_segment_for_16_bit(self) -> None:
        extra = {"BitsAllocated": 16, "BitsStored": 16, "HighBit": 15}
        built = encapsulated([rle_frame(1), rle_frame(2)], ts=RLE_LOSSLESS, extra=extra)
        assert_findings(built, "CSM008", [(Severity.ERROR, rle_field(built, 1, 0), 1, 1)])

    @pytest.mark.parametrize(
        "extra",
        [{"SamplesPerPixel": None}, {"BitsAllocated": None}, {"BitsAllocated": 0}],
        ids=["no-samples", "no-bits", "zero-bits"],
    )
    def test_skipped_without_valid_attributes(self, extra: dict) -> None:
        built = encapsulated([rle_frame(2)], ts=RLE_LOSSLESS, extra=extra)
        assert findings(built, "CSM008") == []

    def test_invalid_count_is_csm007_only(self) -> None:
        built = encapsulated([rle(16, [64])], ts=RLE_LOSSLESS)
        assert findings(built, "CSM008") == []
        assert len(findings(built, "CSM007")) == 1

    def test_short_fragment_is_csm007_only(self) -> None:
        built = encapsulated([rle_frame(2)[:32]], ts=RLE_LOSSLESS)
        assert findings(built, "CSM008") == []

    def test_valid(self) -> None:
        built = encapsulated([rle_frame(1), rle_frame(1)], ts=RLE_LOSSLESS)
        assert findings(built, "CSM008") == []


class TestUnrecognisedCodestream:
    @pytest.mark.parametrize(
        ("ts", "frame", "what"),
        [
            (JPEG_BASELINE, ZEROS, "no known signature"),
            (JPEG_BASELINE, NO_MARKER, "no known signature"),
            (JPEG_BASELINE, J2K, "a JPEG 2000 codestream (SOC)"),
            (JPEG_LS_LOSSLESS, JXL_CODESTREAM, "a JPEG XL codestream"),
            (JPEG_LOSSLESS_SV1, JXL_CONTAINER, "a JPEG XL codestream"),
            (JPEG_BASELINE, JP2, "a JP2 file (signature box)"),
            (J2K_LOSSLESS, JPEG, "a JPEG or JPEG-LS codestream (SOI)"),
            (J2K_LOSSLESS, FILL_BEFORE_SOI, "a JPEG or JPEG-LS codestream (SOI)"),
            (HTJ2K_LOSSLESS, ZEROS, "no known signature"),
            (HTJ2K_LOSSLESS, JXL_CODESTREAM, "a JPEG XL codestream"),
            (RLE_LOSSLESS, JPEG, "a JPEG or JPEG-LS codestream (SOI)"),
            (RLE_LOSSLESS, J2K, "a JPEG 2000 codestream (SOC)"),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_frame_is_not_this_codec(self, ts: str, frame: bytes, what: str) -> None:
        built = encapsulated([frame], ts=ts)
        found = findings(built, "CSM014")
        assert where(found) == [("CSM014", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == 4
        assert f"starts with {frame[:4].hex(' ').upper()}: {what}, not" in found[0].message
        frame_codes = {"CSM001", "CSM002", "CSM003", "CSM004", "CSM005", "CSM006", "CSM007"}
        assert codes(built) & (frame_codes | {"CSM008", "CSM023"}) == set()

    @pytest.mark.parametrize("ts", [JPEG_XL, JPEG_XL_RECOMPRESSION])
    @pytest.mark.parametrize("frame", [JPEG, J2K, ZEROS], ids=["jpeg", "j2k", "zeros"])
    def test_jpeg_xl(self, ts: str, frame: bytes) -> None:
        built = encapsulated([frame], ts=ts)
        found = findings(built, "CSM014")
        assert where(found) == [("CSM014", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert "not a JPEG XL signature" in found[0].message

    @pytest.mark.parametrize("frame", [JXL_CODESTREAM, JXL_CONTAINER], ids=["bare", "container"])
    def test_jpeg_xl_valid(self, frame: bytes) -> None:
        assert findings(encapsulated([frame, frame], ts=JPEG_XL), "CSM014") == []

    @pytest.mark.parametrize("ts", [DEFLATED_FRAMES, ENCAPSULATED_UNCOMPRESSED])
    def test_no_signature_to_check(self, ts: str) -> None:
        assert findings(encapsulated([ZEROS, JPEG], ts=ts), "CSM014") == []

    def test_only_frame_two_is_bad(self) -> None:
        built = encapsulated([[J2K[:16], J2K[16:]], JPEG, J2K], ts=J2K_LOSSLESS)
        assert_findings(built, "CSM014", [(Severity.ERROR, built.fragment_value(3), 2, 3)])

    @pytest.mark.parametrize(
        ("ts", "frame"),
        [
            (JPEG_BASELINE, JPEG),
            (JPEG_LS_LOSSLESS, FILL_BEFORE_SOI),
            (J2K_LOSSLESS, J2K),
            (HTJ2K_LOSSLESS, J2K),
            (RLE_LOSSLESS, rle_frame(1)),
        ],
        ids=["jpeg", "jpeg-ls-fill", "j2k", "htj2k", "rle"],
    )
    def test_valid(self, ts: str, frame: bytes) -> None:
        assert findings(encapsulated([frame, frame], ts=ts), "CSM014") == []


class TestDeflateStreamInvalid:
    @pytest.mark.parametrize(
        ("frame", "wrapper"), [(ZLIB_WRAPPED, "zlib"), (GZIP_WRAPPED, "gzip")], ids=str
    )
    @pytest.mark.parametrize("deep", [False, True])
    def test_wrapped_stream(self, frame: bytes, wrapper: str, deep: bool) -> None:
        built = encapsulated([frame], ts=DEFLATED_FRAMES)
        found = findings(built, "CSM022", deep=deep)
        assert where(found) == [("CSM022", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == 2
        assert f"a {wrapper} header ({frame[:2].hex(' ').upper()})" in found[0].message

    def test_only_frame_two_is_wrapped(self) -> None:
        built = encapsulated([DEFLATE, ZLIB_WRAPPED, DEFLATE], ts=DEFLATED_FRAMES)
        assert_findings(built, "CSM022", [(Severity.ERROR, built.fragment_value(2), 2, 2)])

    def test_trailing_bytes_with_deep(self) -> None:
        stream = raw_deflate(PIXELS)
        frame = even(stream + b"\x00\x00\x00")
        built = encapsulated([DEFLATE, frame], ts=DEFLATED_FRAMES)
        found = findings(built, "CSM022", deep=True)
        end = built.fragment_value(2) + len(stream)
        assert where(found) == [("CSM022", Severity.ERROR, end, 2, 2)]
        assert found[0].length == len(frame) - len(stream)
        assert found[0].message.startswith(f"{len(frame) - len(stream)} bytes follow the end")

    @pytest.mark.parametrize(
        ("select", "deep", "found"),
        [
            (["ALL"], False, False),
            (["CSM"], False, False),
            (["CSM02"], False, False),
            (["CSM022"], False, True),
            (["deflate-stream-invalid"], False, True),
            (["ALL", "CSM022"], False, True),
            (["CSM"], True, True),
        ],
    )
    def test_trailing_bytes_need_deep_reads(
        self, select: list[str], deep: bool, found: bool
    ) -> None:
        """The payload part of CSM022 runs as the deep rules do: with --deep, or when the
        rule is selected by its code or name (not by its family or a prefix)."""
        stream = raw_deflate(PIXELS)
        frame = even(stream + b"\x00\x00\x00")
        built = encapsulated([frame], ts=DEFLATED_FRAMES)
        expected = [("CSM022", Severity.ERROR, built.fragment_value(1) + len(stream), 1, 1)]
        assert where(findings(built, "CSM022", select=select, deep=deep)) == (
            expected if found else []
        )

    def test_selected_by_code_on_the_command_line(self, tmp_path: Path) -> None:
        frame = even(raw_deflate(PIXELS) + b"\x00\x00\x00")
        path = tmp_path / "deflate.dcm"
        path.write_bytes(encapsulated([frame], ts=DEFLATED_FRAMES).data)
        named = CliRunner().invoke(main, ["--select", "CSM022", str(path)])
        family = CliRunner().invoke(main, ["--select", "CSM", str(path)])
        assert (named.exit_code, family.exit_code) == (1, 0)
        assert "CSM022 error 4 bytes follow the end of frame 1's deflate stream" in named.output

    def test_stream_spanning_payload_chunks(self) -> None:
        # Incompressible pixels: the stream is longer than one payload chunk.
        pixels = random.Random(0).randbytes(PAYLOAD_CHUNK * 2 + 1000)
        stream = raw_deflate(pixels)
        frame = even(stream + b"\x00" * 6)
        built = encapsulated([frame], ts=DEFLATED_FRAMES)
        found = findings(built, "CSM022", deep=True)
        assert where(found) == [
            ("CSM022", Severity.ERROR, built.fragment_value(1) + len(stream), 1, 1)
        ]

    @pytest.mark.parametrize(
        ("frame", "words"),
        [
            (b"\xff" * 32, "invalid block type"),
            (raw_deflate(PIXELS)[:40], "the data ends before the deflate stream does"),
        ],
        ids=["garbage", "cut-short"],
    )
    def test_not_one_deflate_stream(self, frame: bytes, words: str) -> None:
        built = encapsulated([frame], ts=DEFLATED_FRAMES)
        found = findings(built, "CSM022", deep=True)
        assert where(found) == [("CSM022", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == len(frame)
        assert words in found[0].message
        assert findings(built, "CSM022") == []

    def test_split_frame_is_frg003_not_inflated(self) -> None:
        stream = raw_deflate(PIXELS)
        built = encapsulated([[stream[:40], even(stream[40:])]], ts=DEFLATED_FRAMES)
        assert findings(built, "CSM022", deep=True) == []
        assert findings(built, "FRG003") != []

    @pytest.mark.parametrize("odd", [False, True], ids=["even", "odd-and-padded"])
    def test_valid(self, odd: bool) -> None:
        stream = next(
            s for n in range(1, 100) if len(s := raw_deflate(PIXELS[: 10 * n])) % 2 == odd
        )
        frame = even(stream)
        assert len(frame) - len(stream) == odd
        built = encapsulated([frame, DEFLATE], ts=DEFLATED_FRAMES)
        assert findings(built, "CSM022", deep=True) == []

    def test_not_checked_for_other_syntaxes(self) -> None:
        assert findings(encapsulated([ZLIB_WRAPPED], ts=ENCAPSULATED_UNCOMPRESSED), "CSM022") == []


class TestFillBeforeSoi:
    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_two_fill_bytes(self, ts: str) -> None:
        built = encapsulated([FILL_BEFORE_SOI], ts=ts)
        found = findings(built, "CSM023")
        assert where(found) == [("CSM023", Severity.WARNING, built.fragment_value(1), 1, 1)]
        assert found[0].length == 2
        assert found[0].message == "frame 1 has 2 FF fill bytes before its SOI"

    def test_more_fill_than_the_first_read(self) -> None:
        frame = b"\xff" * 20 + JPEG[:-20]
        built = encapsulated([frame])
        (found,) = findings(built, "CSM023")
        assert (found.offset, found.length) == (built.fragment_value(1), 20)
        assert findings(built, "CSM001") == []

    def test_only_frame_two_is_bad(self) -> None:
        one_fill = b"\xff" + JPEG[:-5] + b"\xff\xd9"
        built = encapsulated([[JPEG[:16], JPEG[16:]], one_fill, JPEG])
        found = findings(built, "CSM023")
        assert where(found) == [("CSM023", Severity.WARNING, built.fragment_value(3), 2, 3)]
        assert found[0].length == 1

    def test_not_checked_for_j2k(self) -> None:
        built = encapsulated([FILL_BEFORE_SOI], ts=J2K_LOSSLESS)
        assert findings(built, "CSM023") == []

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([JPEG, [JPEG[:16], JPEG[16:]]], ts=ts), "CSM023") == []


class TestRleSegmentOddLength:
    def test_flags_the_broken_bytes(self) -> None:
        # pydicom's rtdose_rle.dcm: frame 2's fourth segment starts at 221.
        good, bad = rle(4, [64, 84, 112, 222], 330), rle(4, [64, 84, 112, 221], 330)
        built = encapsulated([good, bad, good], ts=RLE_LOSSLESS, extra={"BitsAllocated": 32})
        assert_findings(built, "CSM024", [(Severity.WARNING, rle_field(built, 2, 4), 2, 2)])
        (found,) = findings(built, "CSM024")
        assert found.length == 4
        assert found.message == (
            "RLE header of frame 2: segment 4 offset 221 is odd (segment 3 is not padded to "
            "an even length)"
        )
        assert findings(built, "CSM007") == []  # the frames decode: a warning, not an error

    def test_one_finding_per_frame_at_the_first_odd_offset(self) -> None:
        frame = rle(3, [64, 71, 77], size=96)
        built = encapsulated([frame, frame], ts=RLE_LOSSLESS, extra={"SamplesPerPixel": 3})
        assert_findings(
            built,
            "CSM024",
            [(Severity.WARNING, rle_field(built, n, 2), n, n) for n in (1, 2)],
        )

    @pytest.mark.parametrize(
        "frame",
        [
            rle(2, [64, 71, 3]),  # an unused offset is set
            rle(3, [64, 71, 69]),  # segment 3 goes back
            rle(2, [66, 71]),  # segment 1 is not at 64
            rle(2, [64, 81]),  # past the end of the 80-byte frame
        ],
        ids=["unused", "decreasing", "first-offset", "past-end"],
    )
    def test_a_header_wrong_otherwise_is_csm007s(self, frame: bytes) -> None:
        built = encapsulated([frame], ts=RLE_LOSSLESS)
        assert findings(built, "CSM024") == []
        assert findings(built, "CSM007") != []

    def test_short_frames_and_other_codecs_are_not_looked_at(self) -> None:
        assert findings(encapsulated([rle_frame(1)[:32]], ts=RLE_LOSSLESS), "CSM024") == []
        assert findings(encapsulated([JPEG], ts=RLE_LOSSLESS), "CSM024") == []

    def test_a_valid_file_is_quiet(self) -> None:
        frames = [rle_frame(1), rle(1, [64], size=64 + 2), rle(3, [64, 80, 96], size=112)]
        built = encapsulated(frames, ts=RLE_LOSSLESS)
        assert findings(built, "CSM024") == []
        assert findings(built, "CSM007") == []

"""FRG: fragments and frames."""

from __future__ import annotations

import pytest
from builders import (
    H264_HP41,
    HTJ2K_LOSSLESS,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    JPEG_LS_LOSSLESS,
    MPEG2_MPML,
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

from dcmencaps_lint.context import PAYLOAD_CHUNK
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Severity

FRAME_OF = {
    JPEG_BASELINE: jpeg_frame,
    JPEG_LS_LOSSLESS: jpeg_frame,
    J2K_LOSSLESS: j2k_frame,
    HTJ2K_LOSSLESS: j2k_frame,
}
JPEG = jpeg_frame(32)
RLE = rle_frame(size=80)


def split(frame: bytes, *, end_marker: bool = True) -> list[bytes]:
    """A frame cut in two fragments; without `end_marker` no fragment ends with FF D9."""
    tail = frame[16:] if end_marker else frame[16:-2] + b"\x00\x00"
    return [frame[:16], tail]


class TestFewerFragmentsThanFrames:
    def test_one_fragment_for_three_frames(self) -> None:
        built = encapsulated([JPEG], bot="empty", number_of_frames=3)
        assert_findings(built, "FRG001", [(Severity.ERROR, built.delimiter, None, None)])

    def test_two_fragments_for_three_frames_with_bot(self) -> None:
        built = encapsulated([JPEG, JPEG], number_of_frames=3)
        assert_findings(built, "FRG001", [(Severity.ERROR, built.delimiter, None, None)])

    def test_length_is_the_delimiter(self) -> None:
        built = encapsulated([JPEG], bot="empty", number_of_frames=2)
        (finding,) = findings(built, "FRG001")
        assert (finding.offset, finding.length) == (built.delimiter, 8)

    def test_not_reported_when_the_walk_is_truncated(self) -> None:
        # The truncated item (ITM005) is the root cause of the missing fragments.
        built = encapsulated([JPEG], bot="empty", number_of_frames=3, end=b"")
        data = built.data[:-4]
        report = lint_file(data)
        assert "ITM005" in {f.code for f in report.findings}
        assert "FRG001" not in {f.code for f in report.findings}

    @pytest.mark.parametrize(
        "built",
        [
            encapsulated([JPEG, JPEG, JPEG]),
            encapsulated([JPEG, JPEG], bot="empty"),
            encapsulated([split(JPEG), split(JPEG)], bot="empty"),
            encapsulated([JPEG]),
        ],
        ids=["bot", "empty-bot", "more-fragments", "single-frame"],
    )
    def test_valid(self, built: Built) -> None:
        assert findings(built, "FRG001") == []


class TestFrameBoundariesUndetermined:
    @pytest.mark.parametrize("ts", [JPEG_BASELINE, J2K_LOSSLESS])
    def test_markers_cannot_split(self, ts: str) -> None:
        frame = FRAME_OF[ts](32)
        built = encapsulated(
            [split(frame, end_marker=False), split(frame, end_marker=False)], ts=ts, bot="empty"
        )
        assert_findings(built, "FRG002", [(Severity.ERROR, built.items[1], None, 1)])
        assert "BOT007" not in codes(built)  # FRG002 is the finding when markers fail too

    @pytest.mark.parametrize("ts", [JPEG_BASELINE, J2K_LOSSLESS])
    def test_only_the_last_fragment_ends_with_a_marker(self, ts: str) -> None:
        # Markers give one frame for two: the boundary is still unknown.
        frame = FRAME_OF[ts](32)
        built = encapsulated([split(frame, end_marker=False), split(frame)], ts=ts, bot="empty")
        assert_findings(built, "FRG002", [(Severity.ERROR, built.items[1], None, 1)])

    @pytest.mark.parametrize("ts", [JPEG_BASELINE, J2K_LOSSLESS])
    def test_markers_split_gives_bot007_instead(self, ts: str) -> None:
        frame = FRAME_OF[ts](32)
        built = encapsulated([split(frame), split(frame)], ts=ts, bot="empty")
        found = codes(built)
        assert "FRG002" not in found
        assert "BOT007" in found

    @pytest.mark.parametrize(
        "built",
        [
            encapsulated([split(JPEG, end_marker=False), split(JPEG, end_marker=False)]),
            encapsulated(
                [split(JPEG, end_marker=False), split(JPEG, end_marker=False)],
                bot="empty",
                eot="auto",
            ),
            encapsulated([JPEG, JPEG], bot="empty"),
            encapsulated([split(JPEG, end_marker=False)], bot="empty"),
            encapsulated([split(JPEG), split(JPEG)], bot="empty"),
        ],
        ids=["bot", "eot", "one-per-fragment", "single-frame", "markers"],
    )
    def test_valid(self, built: Built) -> None:
        assert findings(built, "FRG002") == []


class TestOneFragmentPerFrameRequired:
    def test_single_frame_split(self) -> None:
        built = encapsulated([[RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS)
        assert_findings(built, "FRG003", [(Severity.ERROR, built.items[2], 1, 2)])

    def test_second_frame_split_with_bot(self) -> None:
        built = encapsulated([RLE, [RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS)
        assert_findings(built, "FRG003", [(Severity.ERROR, built.items[3], 2, 3)])

    def test_every_split_frame_is_reported(self) -> None:
        built = encapsulated([[RLE[:40], RLE[40:]], [RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS)
        assert_findings(
            built,
            "FRG003",
            [(Severity.ERROR, built.items[2], 1, 2), (Severity.ERROR, built.items[4], 2, 4)],
        )

    def test_empty_bot_without_frame_map(self) -> None:
        built = encapsulated([RLE, [RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS, bot="empty")
        assert lint_file(built.data).frame_map_source == "none"
        assert_findings(built, "FRG003", [(Severity.ERROR, built.items[3], None, 3)])
        assert "FRG002" not in codes(built)  # one-fragment syntaxes are FRG003's

    @pytest.mark.parametrize(
        "built",
        [
            encapsulated([RLE], ts=RLE_LOSSLESS),
            encapsulated([RLE, RLE], ts=RLE_LOSSLESS),
            encapsulated([RLE, RLE], ts=RLE_LOSSLESS, bot="empty"),
            encapsulated([[JPEG[:16], JPEG[16:]]]),
        ],
        ids=["single-frame", "bot", "empty-bot", "jpeg-may-split"],
    )
    def test_valid(self, built: Built) -> None:
        assert findings(built, "FRG003") == []


class TestFrameCountMismatch:
    def test_markers_give_more_frames(self) -> None:
        built = encapsulated([JPEG, JPEG, JPEG], bot="empty", number_of_frames=2)
        assert_findings(built, "FRG004", [(Severity.ERROR, built.items[1], None, 1)])

    def test_markers_give_fewer_frames(self) -> None:
        built = encapsulated(
            [split(JPEG), split(JPEG)], bot="empty", number_of_frames=3
        )  # 4 fragments, 2 frames by markers
        assert_findings(built, "FRG004", [(Severity.ERROR, built.items[1], None, 1)])

    def test_bot_count_mismatch_is_bot006(self) -> None:
        built = encapsulated([JPEG, JPEG, JPEG], number_of_frames=2)  # 3 BOT entries
        found = codes(built)
        assert "BOT006" in found
        assert "FRG004" not in found

    def test_eot_count_mismatch_is_eot003(self) -> None:
        built = encapsulated([JPEG, JPEG, JPEG], bot="empty", eot="auto", number_of_frames=2)
        found = codes(built)
        assert "EOT003" in found
        assert "FRG004" not in found

    def test_not_reported_when_frames_come_from_the_bot(self) -> None:
        # Markers would find 3 frames, but the BOT says 2 and is consistent.
        built = encapsulated([JPEG, [JPEG, JPEG]], number_of_frames=2)
        assert lint_file(built.data).frame_map_source == "bot"
        assert findings(built, "FRG004") == []

    @pytest.mark.parametrize(
        "built",
        [
            encapsulated([split(JPEG), split(JPEG)], bot="empty"),
            encapsulated([JPEG, JPEG]),
            encapsulated([JPEG, JPEG], bot="empty"),
        ],
        ids=["markers", "bot", "one-per-fragment"],
    )
    def test_valid(self, built: Built) -> None:
        assert findings(built, "FRG004") == []


START_LENGTH = {JPEG_BASELINE: 2, JPEG_LS_LOSSLESS: 2, J2K_LOSSLESS: 4, HTJ2K_LOSSLESS: 4}
OTHER = jpeg_frame(32, fill=0x33)


class TestFragmentSpansFrames:
    @pytest.mark.parametrize("ts", list(START_LENGTH))
    def test_two_codestreams_in_one_fragment(self, ts: str) -> None:
        frame = FRAME_OF[ts](32)
        built = encapsulated([frame + frame], ts=ts)
        [f] = findings(built, "FRG005", deep=True)
        assert where([f]) == [("FRG005", Severity.ERROR, built.fragment_value(1) + 32, 1, 1)]
        assert f.length == START_LENGTH[ts]
        assert "2 codestreams" in f.message

    def test_not_run_without_deep(self) -> None:
        built = encapsulated([JPEG + OTHER])
        assert findings(built, "FRG005") == []

    @pytest.mark.parametrize("pad", [b"\x00", b"\xff"], ids=["null", "ff-fill"])
    def test_one_pad_byte_between_codestreams(self, pad: bytes) -> None:
        first = jpeg_frame(31)  # odd: padded to even before the next codestream
        built = encapsulated([first + pad + OTHER])
        assert_findings(
            built, "FRG005", [(Severity.ERROR, built.fragment_value(1) + 32, 1, 1)], deep=True
        )

    def test_three_codestreams_are_one_finding_at_the_first_boundary(self) -> None:
        built = encapsulated([JPEG + OTHER + JPEG])
        [f] = findings(built, "FRG005", deep=True)
        assert where([f]) == [("FRG005", Severity.ERROR, built.fragment_value(1) + 32, 1, 1)]
        assert "3 codestreams" in f.message

    def test_frame_from_the_bot(self) -> None:
        # Two BOT entries for two frames, but frame 2's fragment holds two codestreams.
        built = encapsulated([JPEG, [jpeg_frame(16), OTHER + JPEG]])
        assert lint_file(built.data).frame_map_source == "bot"
        assert_findings(
            built, "FRG005", [(Severity.ERROR, built.fragment_value(3) + 32, 2, 3)], deep=True
        )

    def test_fragment_count_looks_right(self) -> None:
        # Three frames, three fragments: frames 1 and 2 share fragment 1 and frame 3
        # spans fragments 2 and 3. Counting fragments (FRG001) cannot see it.
        built = encapsulated([JPEG + OTHER, split(JPEG)[0], split(JPEG)[1]], bot="empty")
        assert_findings(
            built, "FRG005", [(Severity.ERROR, built.fragment_value(1) + 32, 1, 1)], deep=True
        )
        assert findings(built, "FRG001") == []

    def test_fewer_fragments_explained_is_frg001_only(self) -> None:
        # Number of Frames 2, one fragment with two codestreams: FRG001 says it all.
        built = encapsulated([JPEG + OTHER], bot="empty", number_of_frames=2)
        report = lint_file(built.data, deep=True)
        assert [f.code for f in report.findings if f.code.startswith("FRG")] == ["FRG001"]

    def test_fewer_fragments_not_explained_reports_both(self) -> None:
        # Number of Frames 4, two fragments, three codestreams: a frame is missing too.
        built = encapsulated([JPEG + OTHER, JPEG], bot="empty", number_of_frames=4)
        found = lint_file(built.data, deep=True).findings
        assert where([f for f in found if f.code.startswith("FRG")]) == [
            ("FRG005", Severity.ERROR, built.fragment_value(1) + 32, None, 1),
            ("FRG001", Severity.ERROR, built.delimiter, None, None),
        ]

    @pytest.mark.parametrize("shift", [-10, -7, -6, -5, -4, -3, -2, -1, 0, 4])
    @pytest.mark.parametrize(
        ("ts", "pad"),
        [(JPEG_BASELINE, b""), (J2K_LOSSLESS, b"\x00")],
        ids=["jpeg-4-bytes", "j2k-7-bytes"],
    )
    def test_found_once_across_a_chunk_edge(self, shift: int, ts: str, pad: bytes) -> None:
        # The end marker starts `shift` bytes from the edge of the first 1 MiB chunk; the
        # longest boundary (FF D9, pad, FF 4F FF 51) is 7 bytes.
        first = FRAME_OF[ts](PAYLOAD_CHUNK + shift + 2) + pad
        second = FRAME_OF[ts](64 - len(first) % 2)  # keeps the fragment even
        built = encapsulated([first + second], ts=ts)
        [f] = findings(built, "FRG005", deep=True)
        assert where([f]) == [
            ("FRG005", Severity.ERROR, built.fragment_value(1) + len(first), 1, 1)
        ]
        assert "2 codestreams" in f.message

    @pytest.mark.parametrize(
        "built",
        [
            encapsulated([JPEG, OTHER, JPEG]),
            encapsulated([split(JPEG), split(OTHER)], bot="empty"),
            encapsulated([JPEG[:-2] + b"\xff\xd9\x11\x11" + JPEG[4:]]),
            encapsulated([JPEG[:-2] + b"\xff\xd9\x00\x00" + OTHER]),
            encapsulated([JPEG + OTHER], ts=RLE_LOSSLESS),
            encapsulated([j2k_frame(32) + JPEG], ts=J2K_LOSSLESS),
        ],
        ids=[
            "one-per-fragment",
            "split-frames",
            "end-marker-then-data",
            "two-bytes-between",
            "rle-not-scanned",
            "other-codec-start",
        ],
    )
    def test_valid(self, built: Built) -> None:
        assert findings(built, "FRG005", deep=True) == []


VIDEO = b"\x00\x00\x01\xb3" + b"\x55" * 60


class TestVideoStreamFragmented:
    @pytest.mark.parametrize("ts", [MPEG2_MPML, H264_HP41, "1.2.840.10008.1.2.4.107"])
    def test_stream_in_two_fragments(self, ts: str) -> None:
        built = encapsulated([[VIDEO[:32], VIDEO[32:]]], ts=ts, bot="empty")
        [f] = findings(built, "FRG006")
        assert where([f]) == [("FRG006", Severity.ERROR, built.items[2], None, 2)]
        assert "2 fragments" in f.message

    def test_one_finding_for_many_fragments(self) -> None:
        built = encapsulated([[VIDEO[:16], VIDEO[16:32], VIDEO[32:]]], ts=H264_HP41, bot="empty")
        [f] = findings(built, "FRG006")
        assert where([f]) == [("FRG006", Severity.ERROR, built.items[2], None, 2)]
        assert "3 fragments" in f.message

    @pytest.mark.parametrize(
        "built",
        [
            encapsulated([VIDEO], ts=MPEG2_MPML, bot="empty"),
            encapsulated([[VIDEO[:32], VIDEO[32:]]], ts=MPEG2_MPML + ".1", bot="empty"),
            encapsulated([[VIDEO[:32], VIDEO[32:]]], ts=H264_HP41 + ".1", bot="empty"),
            encapsulated([JPEG, JPEG]),
        ],
        ids=["one-fragment", "fragmentable-mpeg2", "fragmentable-h264", "not-video"],
    )
    def test_valid(self, built: Built) -> None:
        assert findings(built, "FRG006") == []

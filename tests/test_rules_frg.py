"""FRG: fragments and frames."""

from __future__ import annotations

import pytest
from builders import (
    J2K_LOSSLESS,
    JPEG_BASELINE,
    RLE_LOSSLESS,
    Built,
    encapsulated,
    j2k_frame,
    jpeg_frame,
    rle_frame,
)

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Finding, Severity

FRAME_OF = {JPEG_BASELINE: jpeg_frame, J2K_LOSSLESS: j2k_frame}
JPEG = jpeg_frame(32)
RLE = rle_frame(size=80)


def findings(built: Built, code: str) -> list[Finding]:
    return [f for f in lint_file(built.data).findings if f.code == code]


def codes(built: Built) -> set[str]:
    return {f.code for f in lint_file(built.data).findings}


def where(found: list[Finding]) -> list[tuple[str, Severity, int | None, int | None, int | None]]:
    return [(f.code, f.severity, f.offset, f.frame, f.item) for f in found]


def split(frame: bytes, *, end_marker: bool = True) -> list[bytes]:
    """A frame cut in two fragments; without `end_marker` no fragment ends with FF D9."""
    tail = frame[16:] if end_marker else frame[16:-2] + b"\x00\x00"
    return [frame[:16], tail]


class TestFewerFragmentsThanFrames:
    def test_one_fragment_for_three_frames(self) -> None:
        built = encapsulated([JPEG], bot="empty", number_of_frames=3)
        assert where(findings(built, "FRG001")) == [
            ("FRG001", Severity.ERROR, built.delimiter, None, None)
        ]

    def test_two_fragments_for_three_frames_with_bot(self) -> None:
        built = encapsulated([JPEG, JPEG], number_of_frames=3)
        assert where(findings(built, "FRG001")) == [
            ("FRG001", Severity.ERROR, built.delimiter, None, None)
        ]

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
        assert where(findings(built, "FRG002")) == [
            ("FRG002", Severity.ERROR, built.items[1], None, 1)
        ]
        assert "BOT007" not in codes(built)  # FRG002 is the finding when markers fail too

    @pytest.mark.parametrize("ts", [JPEG_BASELINE, J2K_LOSSLESS])
    def test_only_the_last_fragment_ends_with_a_marker(self, ts: str) -> None:
        # Markers give one frame for two: the boundary is still unknown.
        frame = FRAME_OF[ts](32)
        built = encapsulated([split(frame, end_marker=False), split(frame)], ts=ts, bot="empty")
        assert where(findings(built, "FRG002")) == [
            ("FRG002", Severity.ERROR, built.items[1], None, 1)
        ]

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
        assert where(findings(built, "FRG003")) == [
            ("FRG003", Severity.ERROR, built.items[2], 1, 2)
        ]

    def test_second_frame_split_with_bot(self) -> None:
        built = encapsulated([RLE, [RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS)
        assert where(findings(built, "FRG003")) == [
            ("FRG003", Severity.ERROR, built.items[3], 2, 3)
        ]

    def test_every_split_frame_is_reported(self) -> None:
        built = encapsulated([[RLE[:40], RLE[40:]], [RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS)
        assert where(findings(built, "FRG003")) == [
            ("FRG003", Severity.ERROR, built.items[2], 1, 2),
            ("FRG003", Severity.ERROR, built.items[4], 2, 4),
        ]

    def test_empty_bot_without_frame_map(self) -> None:
        built = encapsulated([RLE, [RLE[:40], RLE[40:]]], ts=RLE_LOSSLESS, bot="empty")
        assert lint_file(built.data).frame_map_source == "none"
        assert where(findings(built, "FRG003")) == [
            ("FRG003", Severity.ERROR, built.items[3], None, 3)
        ]
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
        assert where(findings(built, "FRG004")) == [
            ("FRG004", Severity.ERROR, built.items[1], None, 1)
        ]

    def test_markers_give_fewer_frames(self) -> None:
        built = encapsulated(
            [split(JPEG), split(JPEG)], bot="empty", number_of_frames=3
        )  # 4 fragments, 2 frames by markers
        assert where(findings(built, "FRG004")) == [
            ("FRG004", Severity.ERROR, built.items[1], None, 1)
        ]

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

"""The frame map: which fragments form each frame, and which source said so."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from builders import (
    H264_HP41,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    RLE_LOSSLESS,
    Built,
    encapsulated,
    j2k_frame,
    jpeg_frame,
    native,
    rle_frame,
)

from dcmencaps_lint.dataset import parse_u64_list
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.facts import _Members
from dcmencaps_lint.frames import build_frame_map, ends_with_end_marker
from dcmencaps_lint.model import Frame, FrameMap, FrameMapSource, SingleFragmentFrames
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import lookup
from dcmencaps_lint.walker import walk

JPEG = jpeg_frame(32)
HEAD, TAIL = JPEG[:16], JPEG[16:]  # a JPEG frame split in two; only TAIL ends with EOI
NO_EOI = JPEG[16:-2] + b"\x00\x00"  # a fragment that ends without EOI


def frame_map(
    built: Built,
    *,
    ts: str | None = JPEG_BASELINE,
    number_of_frames: int | None = None,
    eot: Sequence[int] | None = None,
) -> FrameMap:
    reader = ByteReader(io.BytesIO(built.data), len(built.data))
    w = walk(reader, built.value_offset)
    return build_frame_map(
        reader, w, lookup(ts) if ts else None, number_of_frames, tuple(eot) if eot else None
    )


def relative(built: Built, *fragments: int) -> list[int]:
    """BOT/EOT-style offsets of the given fragments' item tags."""
    return [built.items[n] - built.items[1] for n in fragments]


class TestEot:
    def test_eot_gives_the_frames(self) -> None:
        built = encapsulated([JPEG, JPEG, JPEG], bot="empty")
        fm = frame_map(built, number_of_frames=3, eot=relative(built, 1, 2, 3))
        assert fm == FrameMap(FrameMapSource.EOT, (Frame(1, 1, 1), Frame(2, 2, 2), Frame(3, 3, 3)))

    def test_eot_wins_over_a_consistent_bot(self) -> None:
        # Both tables are usable and disagree: the EOT is trusted first.
        built = encapsulated([JPEG, JPEG, JPEG], bot=[0, 8 + len(JPEG)], number_of_frames=2)
        assert frame_map(built, number_of_frames=2) == FrameMap(
            FrameMapSource.BOT, (Frame(1, 1, 1), Frame(2, 2, 3))
        )
        fm = frame_map(built, number_of_frames=2, eot=relative(built, 1, 3))
        assert fm == FrameMap(FrameMapSource.EOT, (Frame(1, 1, 2), Frame(2, 3, 3)))

    @pytest.mark.parametrize(
        "eot",
        [[0, 7], [0], [0, 24, 48], [8, 48], [48, 0]],
        ids=["not-item-start", "too-few", "too-many", "first-not-zero", "decreasing"],
    )
    def test_inconsistent_eot_falls_back_to_bot(self, eot: list[int]) -> None:
        built = encapsulated([[HEAD, TAIL], [JPEG]])  # BOT: frame 2 starts at fragment 3
        fm = frame_map(built, number_of_frames=2, eot=eot)
        assert fm == FrameMap(FrameMapSource.BOT, (Frame(1, 1, 2), Frame(2, 3, 3)))


class TestBot:
    def test_bot_gives_the_frames(self) -> None:
        built = encapsulated([[HEAD, TAIL], [JPEG], [HEAD, NO_EOI, TAIL]])
        fm = frame_map(built, number_of_frames=3)
        assert fm == FrameMap(FrameMapSource.BOT, (Frame(1, 1, 2), Frame(2, 3, 3), Frame(3, 4, 6)))

    def test_single_frame_bot(self) -> None:
        built = encapsulated([[HEAD, TAIL]])
        fm = frame_map(built)
        assert fm == FrameMap(FrameMapSource.BOT, (Frame(1, 1, 2),))

    @pytest.mark.parametrize(
        "bot",
        [[0, 7], [4, 40], [0, 0], [0, 24, 48]],
        ids=["not-item-start", "first-not-zero", "not-increasing", "count-mismatch"],
    )
    def test_inconsistent_bot_falls_back_to_markers(self, bot: list[int]) -> None:
        built = encapsulated([[HEAD, TAIL], [HEAD, TAIL]], bot=bot)
        fm = frame_map(built, number_of_frames=2)
        assert fm == FrameMap(FrameMapSource.MARKERS, (Frame(1, 1, 2), Frame(2, 3, 4)))

    def test_inconsistent_bot_falls_back_to_one_per_fragment(self) -> None:
        built = encapsulated([JPEG, JPEG], bot=[0, 7])
        fm = frame_map(built, number_of_frames=2)
        assert fm == FrameMap(FrameMapSource.ONE_PER_FRAGMENT, (Frame(1, 1, 1), Frame(2, 2, 2)))

    def test_inconsistent_bot_falls_back_to_single_frame(self) -> None:
        built = encapsulated([[HEAD, TAIL]], bot=[8])
        fm = frame_map(built)
        assert fm == FrameMap(FrameMapSource.SINGLE_FRAME, (Frame(1, 1, 2),))


class TestWithoutTables:
    def test_single_frame(self) -> None:
        built = encapsulated([[HEAD, NO_EOI, TAIL]], bot="empty")
        fm = frame_map(built, number_of_frames=None)
        assert fm == FrameMap(FrameMapSource.SINGLE_FRAME, (Frame(1, 1, 3),))

    def test_one_per_fragment(self) -> None:
        built = encapsulated([JPEG, NO_EOI, JPEG], bot="empty")
        fm = frame_map(built, number_of_frames=3)
        assert fm == FrameMap(
            FrameMapSource.ONE_PER_FRAGMENT, (Frame(1, 1, 1), Frame(2, 2, 2), Frame(3, 3, 3))
        )

    def test_one_per_fragment_for_rle(self) -> None:
        built = encapsulated([rle_frame(), rle_frame()], ts=RLE_LOSSLESS, bot="empty")
        fm = frame_map(built, ts=RLE_LOSSLESS, number_of_frames=2)
        assert fm == FrameMap(FrameMapSource.ONE_PER_FRAGMENT, (Frame(1, 1, 1), Frame(2, 2, 2)))

    def test_markers(self) -> None:
        built = encapsulated([[HEAD, TAIL], [HEAD, NO_EOI, TAIL]], bot="empty")
        fm = frame_map(built, number_of_frames=2)
        assert fm == FrameMap(FrameMapSource.MARKERS, (Frame(1, 1, 2), Frame(2, 3, 5)))

    def test_markers_accept_one_pad_byte(self) -> None:
        padded = TAIL[:-3] + b"\xff\xd9\x00"
        built = encapsulated([[HEAD, padded], [HEAD, TAIL]], bot="empty")
        fm = frame_map(built, number_of_frames=2)
        assert fm == FrameMap(FrameMapSource.MARKERS, (Frame(1, 1, 2), Frame(2, 3, 4)))

    def test_markers_for_j2k(self) -> None:
        j2k = j2k_frame(32)
        built = encapsulated(
            [[j2k[:16], j2k[16:]], [j2k[:16], j2k[16:]]], ts=J2K_LOSSLESS, bot=None
        )
        fm = frame_map(built, ts=J2K_LOSSLESS, number_of_frames=2)
        assert fm == FrameMap(FrameMapSource.MARKERS, (Frame(1, 1, 2), Frame(2, 3, 4)))

    def test_markers_may_find_more_frames_than_declared(self) -> None:
        built = encapsulated([JPEG, JPEG, JPEG], bot="empty")
        fm = frame_map(built, number_of_frames=2)
        assert fm == FrameMap(
            FrameMapSource.MARKERS, (Frame(1, 1, 1), Frame(2, 2, 2), Frame(3, 3, 3))
        )

    def test_markers_that_do_not_split(self) -> None:
        built = encapsulated([[HEAD, NO_EOI], [HEAD, TAIL]], bot="empty")
        assert frame_map(built, number_of_frames=2) == FrameMap(FrameMapSource.NONE)

    def test_no_markers_for_rle(self) -> None:
        frames = [rle_frame()[:40], rle_frame()[40:], rle_frame()]
        built = encapsulated(frames, ts=RLE_LOSSLESS, bot="empty")
        assert frame_map(built, ts=RLE_LOSSLESS, number_of_frames=2) == FrameMap(
            FrameMapSource.NONE
        )

    def test_fewer_fragments_than_frames(self) -> None:
        built = encapsulated([JPEG], bot="empty")
        assert frame_map(built, number_of_frames=3) == FrameMap(FrameMapSource.NONE)


class TestNone:
    def test_no_fragments(self) -> None:
        built = encapsulated([], bot="empty")
        assert frame_map(built) == FrameMap(FrameMapSource.NONE)

    def test_unknown_transfer_syntax(self) -> None:
        built = encapsulated([JPEG])
        assert frame_map(built, ts=None) == FrameMap(FrameMapSource.NONE)

    def test_video(self) -> None:
        built = encapsulated([b"\x00\x00\x01\xb3" + b"\x00" * 12], ts=H264_HP41, bot="empty")
        assert frame_map(built, ts=H264_HP41) == FrameMap(FrameMapSource.NONE)


class TestHelpers:
    @pytest.mark.parametrize(
        ("tail", "expected"),
        [
            (b"\x00\xff\xd9", True),
            (b"\xff\xd9\x00", True),
            (b"\xd9\x00\x00", False),
            (b"\xff\xd9\x00\x00", False),
            (b"", False),
        ],
    )
    def test_ends_with_end_marker(self, tail: bytes, expected: bool) -> None:
        assert ends_with_end_marker(tail) is expected

    def test_parse_u64_list_ignores_a_partial_value(self) -> None:
        two = (1).to_bytes(8, "little") + (2**40).to_bytes(8, "little")
        assert list(parse_u64_list(two + b"\x01")) == [1, 2**40]
        assert list(parse_u64_list((1).to_bytes(8, "little") + b"\x01")) == [1]
        assert list(parse_u64_list(None)) == []
        assert list(parse_u64_list(b"")) == []


class TestNumberedFrames:
    """The lazy frame sequences behave like the tuples of Frames they stand for."""

    def cases(self) -> list[tuple[Sequence[Frame], tuple[Frame, ...]]]:
        single = tuple(Frame(n, n, n) for n in range(1, 6))
        frames = tuple(Frame(n, 2 * n - 1, 2 * n) for n in range(1, 9))
        members = _Members(frames, [2, 5, 6, 8])
        return [
            (SingleFragmentFrames(5), single),
            (members, (frames[1], frames[4], frames[5], frames[7])),
        ]

    def test_index_slice_iterate_compare(self) -> None:
        for lazy, expected in self.cases():
            assert len(lazy) == len(expected)
            assert tuple(lazy) == expected and lazy == expected
            assert [lazy[i] for i in range(-len(expected), len(expected))] == [
                expected[i] for i in range(-len(expected), len(expected))
            ]
            for window in (slice(1, 3), slice(None, None, -1), slice(-2, None), slice(9, 12)):
                assert lazy[window] == expected[window]
            with pytest.raises(IndexError):
                lazy[len(expected)]

    def test_single_fragment_frames_compare_by_count(self) -> None:
        assert SingleFragmentFrames(3) == SingleFragmentFrames(3) != SingleFragmentFrames(4)
        assert repr(SingleFragmentFrames(3)) == "SingleFragmentFrames(3)"


class TestFileReportFields:
    @pytest.mark.parametrize(
        ("built", "source", "frames", "fragments"),
        [
            (encapsulated([[HEAD, TAIL], [JPEG]]), "bot", 2, 3),
            (encapsulated([JPEG, JPEG], bot="empty", eot="auto"), "eot", 2, 2),
            (encapsulated([[HEAD, TAIL]], bot="empty"), "single-frame", 1, 2),
            (encapsulated([JPEG, JPEG], bot="empty"), "one-per-fragment", 2, 2),
            (encapsulated([[HEAD, TAIL], [HEAD, NO_EOI, TAIL]], bot="empty"), "markers", 2, 5),
            (encapsulated([[HEAD, NO_EOI], [HEAD, NO_EOI]], bot="empty"), "none", 0, 4),
        ],
        ids=["bot", "eot", "single-frame", "one-per-fragment", "markers", "none"],
    )
    def test_fields(self, built: Built, source: str, frames: int, fragments: int) -> None:
        report = lint_file(built.data)
        assert report.frame_map_source == source
        assert report.frames_found == frames
        assert report.fragments == fragments

    def test_native_has_no_frame_map(self) -> None:
        report = lint_file(native().data)
        assert report.frame_map_source is None
        assert report.frames_found is None
        assert report.fragments is None

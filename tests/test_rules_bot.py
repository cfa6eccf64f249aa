"""BOT001-BOT010: the Basic Offset Table item (rules/README.md, "BOT")."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from builders import (
    H264_HP41,
    ITEM,
    JPEG_BASELINE,
    MPEG2_MPML,
    RLE_LOSSLESS,
    assert_findings,
    bot_item,
    codes,
    dataset_prefix,
    delimiter,
    encapsulated,
    findings,
    header,
    item,
    jpeg_frame,
    pixel_data_header,
    rle_frame,
    u64,
    where,
)

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Severity

BOT_CODES = {f"BOT{n:03d}" for n in range(1, 11)}
EOT_CODES = {f"EOT{n:03d}" for n in range(1, 12)}


def three_frames() -> list[bytes]:
    return [jpeg_frame(), jpeg_frame(), jpeg_frame()]


def split(frame: bytes) -> list[bytes]:
    """One frame as two fragments of even length."""
    half = len(frame) // 2 // 2 * 2
    return [frame[:half], frame[half:]]


def frame_starts(frames: list[bytes]) -> list[int]:
    """BOT offsets of frames written one fragment each."""
    starts, position = [], 0
    for frame in frames:
        starts.append(position)
        position += 8 + len(frame)
    return starts


class TestValid:
    def test_correct_bot_three_frames(self) -> None:
        assert not codes(encapsulated(three_frames())) & BOT_CODES

    def test_empty_bot_single_frame(self) -> None:
        assert not codes(encapsulated([jpeg_frame()], bot="empty")) & BOT_CODES

    def test_empty_bot_one_fragment_per_frame(self) -> None:
        assert not codes(encapsulated(three_frames(), bot="empty")) & BOT_CODES


class TestTruncatedBot:
    def test_a_bot_running_past_the_end_is_only_itm005(self) -> None:
        # 4000 bytes announced, 40 zero bytes present: no BOT rule judges the entries.
        built = encapsulated([jpeg_frame()], bot=header(ITEM, 4000) + bytes(40), end=b"")
        found = lint_file(built.data).findings
        assert [(f.code, f.offset) for f in found] == [("ITM005", built.item_length_field(0))]


class TestBOT001:
    def test_length_10(self) -> None:
        frames = [jpeg_frame(), jpeg_frame()]
        raw = item(struct.pack("<2I", *frame_starts(frames)) + b"\x00\x00")
        built = encapsulated(frames, bot=raw)
        assert_findings(built, "BOT001", [(Severity.ERROR, built.item_length_field(0), None, 0)])
        # The entries cannot be trusted one by one: only the length is reported.
        assert codes(built) & BOT_CODES == {"BOT001"}

    def test_length_10_for_three_frames_is_not_a_count_mismatch(self) -> None:
        frames = three_frames()
        raw = item(struct.pack("<2I", *frame_starts(frames)[:2]) + b"\x00\x00")
        built = encapsulated(frames, bot=raw)
        assert codes(built) & BOT_CODES == {"BOT001"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames()), "BOT001")


class TestBOT002:
    def test_first_entry_8(self) -> None:
        frames = three_frames()
        starts = frame_starts(frames)
        built = encapsulated(frames, bot=[8, *starts[1:]])
        assert_findings(built, "BOT002", [(Severity.ERROR, built.bot_entry(0), 1, 0)])
        assert not findings(built, "BOT004")

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames()), "BOT002")


class TestBOT003:
    def test_decreasing(self) -> None:
        # Fragments of 32, 12 and 32 bytes start at 0, 40 and 60: [0, 60, 40] names
        # item starts only, out of order.
        frames = [jpeg_frame(32), jpeg_frame(12), jpeg_frame(32)]
        assert frame_starts(frames) == [0, 40, 60]
        built = encapsulated(frames, bot=[0, 60, 40])
        assert_findings(built, "BOT003", [(Severity.ERROR, built.bot_entry(2), 3, 0)])
        assert codes(built) & BOT_CODES == {"BOT003"}

    def test_repeated_entry(self) -> None:
        frames = three_frames()
        starts = frame_starts(frames)
        built = encapsulated(frames, bot=[0, starts[1], starts[1]])
        assert_findings(built, "BOT003", [(Severity.ERROR, built.bot_entry(2), 3, 0)])

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames()), "BOT003")


class TestBOT004:
    def test_entry_inside_a_fragment(self) -> None:
        frames = three_frames()
        starts = frame_starts(frames)
        built = encapsulated(frames, bot=[0, starts[1] - 20, starts[2]])
        assert_findings(built, "BOT004", [(Severity.ERROR, built.bot_entry(1), 2, 0)])

    def test_odd_entry(self) -> None:
        frames = three_frames()
        starts = frame_starts(frames)
        built = encapsulated(frames, bot=[0, starts[1] + 1, starts[2]])
        assert_findings(built, "BOT004", [(Severity.ERROR, built.bot_entry(1), 2, 0)])

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames()), "BOT004")


class TestBOT005:
    def test_entry_at_the_delimiter(self) -> None:
        frames = three_frames()
        built = encapsulated(frames)
        assert built.delimiter is not None
        at_delimiter = built.delimiter - built.items[1]
        built = encapsulated(frames, bot=[*frame_starts(frames)[:2], at_delimiter])
        assert_findings(built, "BOT005", [(Severity.ERROR, built.bot_entry(2), 3, 0)])
        assert not findings(built, "BOT004")

    def test_entry_past_the_delimiter(self) -> None:
        frames = three_frames()
        built = encapsulated(frames, bot=[*frame_starts(frames)[:2], 10_000])
        assert_findings(built, "BOT005", [(Severity.ERROR, built.bot_entry(2), 3, 0)])
        assert not findings(built, "BOT004")

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames()), "BOT005")


class TestBOT006:
    def test_two_entries_for_three_frames(self) -> None:
        frames = three_frames()
        built = encapsulated(frames, bot=frame_starts(frames)[:2])
        assert_findings(built, "BOT006", [(Severity.ERROR, built.item_length_field(0), None, 0)])

    def test_four_entries_for_three_frames(self) -> None:
        # dicom-rs wrote N+1 entries, the last one the end of the fragments.
        frames = three_frames()
        built = encapsulated(frames)
        assert built.delimiter is not None
        end = built.delimiter - built.items[1]
        built = encapsulated(frames, bot=[*frame_starts(frames), end])
        assert_findings(built, "BOT006", [(Severity.ERROR, built.item_length_field(0), None, 0)])
        # The extra entry is wrong only for being extra: reported once, as BOT006.
        assert codes(built) & BOT_CODES == {"BOT006"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames()), "BOT006")

    def test_empty_bot_is_not_a_mismatch(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty"), "BOT006")


class TestBOT007:
    def test_four_fragments_two_jpeg_frames(self) -> None:
        built = encapsulated([split(jpeg_frame()), split(jpeg_frame())], bot="empty")
        assert_findings(built, "BOT007", [(Severity.WARNING, built.items[0], None, 0)])
        report = lint_file(built.data)
        assert report.frame_map_source == "markers"
        assert report.frames_found == 2

    def test_correct_bot_is_quiet(self) -> None:
        built = encapsulated([split(jpeg_frame()), split(jpeg_frame())])
        assert not codes(built) & BOT_CODES

    def test_rle_reports_the_root_cause(self) -> None:
        built = encapsulated([split(rle_frame()), split(rle_frame())], ts=RLE_LOSSLESS, bot="empty")
        assert "FRG003" in codes(built)
        assert not findings(built, "BOT007")

    def test_with_eot_is_quiet(self) -> None:
        frames = [jpeg_frame(), jpeg_frame()]
        assert not findings(encapsulated(frames, bot="empty", eot="auto"), "BOT007")


class TestBOT008:
    def test_bot_values_with_eot(self) -> None:
        built = encapsulated(three_frames(), eot="auto")
        assert_findings(built, "BOT008", [(Severity.ERROR, built.item_length_field(0), None, 0)])

    def test_valid(self) -> None:
        built = encapsulated(three_frames(), bot="empty", eot="auto")
        assert not codes(built) & (BOT_CODES | EOT_CODES)


class TestBOT010:
    STREAM = b"\x00\x00\x01\xb3" + b"\x10" * 28  # an MPEG-2 sequence header, then filler

    def test_mpeg2_with_bot_values(self) -> None:
        built = encapsulated([self.STREAM], ts=MPEG2_MPML)
        assert_findings(built, "BOT010", [(Severity.ERROR, built.item_length_field(0), None, 0)])
        assert codes(built) & BOT_CODES == {"BOT010"}

    def test_h264_with_wrong_bot_values(self) -> None:
        # Every entry is wrong for one reason: the table should not be there.
        built = encapsulated([self.STREAM], ts=H264_HP41, bot=[8, 4])
        assert_findings(built, "BOT010", [(Severity.ERROR, built.item_length_field(0), None, 0)])
        assert codes(built) & BOT_CODES == {"BOT010"}

    def test_empty_bot_is_quiet(self) -> None:
        for ts in (MPEG2_MPML, H264_HP41):
            assert not codes(encapsulated([self.STREAM], ts=ts, bot="empty")) & BOT_CODES


# BOT009 and EOT009 need more than 4 GiB of fragments. SparseFile serves such a file
# from a few real byte segments and zeros in between, computed on each read.


class SparseFile(io.RawIOBase):
    """A read-only file of `size` bytes: zeros, except for the given segments.

    A plain RawIOBase without fileno, so the engine reads it with seek/read.
    """

    def __init__(self, size: int, segments: dict[int, bytes]) -> None:
        super().__init__()
        self._size = size
        self._segments = sorted(segments.items())
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        start = self._position
        count = max(0, min(len(view), self._size - start))
        view[:count] = bytes(count)
        for offset, data in self._segments:
            low, high = max(start, offset), min(start + count, offset + len(data))
            if low < high:
                view[low - start : high - start] = data[low - offset : high - offset]
        self._position += count
        return count


OFFSET_LIMIT = 1 << 32
# Each fragment item spans 2 GiB + 1 MiB, so the third frame starts past 2^32.
BIG_SPAN = (1 << 31) + (1 << 20)
BIG_FRAMES = 3


@dataclass
class BigFile:
    """Where the parts of a sparse file with BIG_FRAMES fragments of BIG_SPAN bytes are."""

    size: int
    segments: dict[int, bytes]
    items: list[int]  # absolute item tag offsets, [0] = BOT

    def open(self) -> SparseFile:
        return SparseFile(self.size, self.segments)

    def bot_entry(self, index: int) -> int:
        return self.items[0] + 8 + 4 * index

    @property
    def starts(self) -> list[int]:
        """Frame starts relative to the first fragment (64-bit, not wrapped)."""
        return [offset - self.items[1] for offset in self.items[1:]]


def big_file(*, bot: str, eot: bool) -> BigFile:
    """bot: "wrapped" (entries modulo 2^32) or "empty"; eot: write a correct EOT."""
    length = BIG_SPAN - 8
    starts = [BIG_SPAN * i for i in range(BIG_FRAMES)]
    prefix = dataset_prefix(
        JPEG_BASELINE,
        number_of_frames=BIG_FRAMES,
        eot=u64(starts) if eot else None,
        eot_lengths=u64([length] * BIG_FRAMES) if eot else None,
    )
    bot_bytes = bot_item([s % OFFSET_LIMIT for s in starts]) if bot == "wrapped" else item(b"")
    head = prefix + pixel_data_header() + bot_bytes
    segments = {0: head}
    items = [len(prefix) + len(pixel_data_header())]
    for start in starts:
        position = len(head) + start
        items.append(position)
        segments[position] = header(ITEM, length) + b"\xff\xd8\xff\xe0"
        segments[position + BIG_SPAN - 2] = b"\xff\xd9"
    end = len(head) + BIG_SPAN * BIG_FRAMES
    segments[end] = delimiter()
    return BigFile(end + 8, segments, items)


class TestSparseFile:
    def test_reads_segments_and_zeros(self) -> None:
        sparse = SparseFile(20, {4: b"abc", 18: b"xy"})
        assert sparse.read(20) == b"\0" * 4 + b"abc" + b"\0" * 11 + b"xy"
        sparse.seek(5)
        assert sparse.read(4) == b"bc\0\0"
        assert sparse.seek(0, io.SEEK_END) == 20
        assert sparse.read(4) == b""

    def test_big_file_layout(self) -> None:
        big = big_file(bot="wrapped", eot=False)
        assert big.size > OFFSET_LIMIT
        assert big.starts[-1] >= OFFSET_LIMIT > big.starts[-2]
        sparse = big.open()
        sparse.seek(big.items[-1])
        assert sparse.read(12) == header(ITEM, BIG_SPAN - 8) + b"\xff\xd8\xff\xe0"


class TestBOT009:
    def test_wrapped_entries(self) -> None:
        big = big_file(bot="wrapped", eot=False)
        report = lint_file(big.open())
        found = [f for f in report.findings if f.code == "BOT009"]
        first_past_limit = next(i for i, s in enumerate(big.starts) if s >= OFFSET_LIMIT)
        assert where(found) == [
            ("BOT009", Severity.ERROR, big.bot_entry(first_past_limit), first_past_limit + 1, 0)
        ]
        # The wrapped entry is smaller than the one before and lands inside fragment 1,
        # but that is the overflow again, not new defects.
        assert {f.code for f in report.findings} & BOT_CODES == {"BOT009"}

    def test_empty_bot_and_eot_is_quiet(self) -> None:
        report = lint_file(big_file(bot="empty", eot=True).open())
        assert not {f.code for f in report.findings} & (BOT_CODES | EOT_CODES)

    def test_empty_bot_without_eot(self) -> None:
        big = big_file(bot="empty", eot=False)
        report = lint_file(big.open())
        assert not {f.code for f in report.findings} & BOT_CODES
        assert where([f for f in report.findings if f.code == "EOT009"]) == [
            ("EOT009", Severity.INFO, big.items[0], None, None)
        ]

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames()), "BOT009")

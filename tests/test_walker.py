"""The tolerant item walker, called directly on bytes (no data set in front)."""

from __future__ import annotations

import io
import struct

import pytest
from builders import ITEM, ITEM_DELIM, SEQ_DELIM, UNDEFINED, bot_item, delimiter, header, item

from dcmencaps_lint import walker
from dcmencaps_lint.model import Item, StopReason, Walk
from dcmencaps_lint.reader import ByteReader

# Bytes in front of the first item, so that every offset below is absolute and non-zero.
LEAD = b"\x00" * 12
FRAGMENT_A = b"\xff\xd8\xff\xe0" + b"\x11" * 20 + b"\xff\xd9"  # 26 bytes
FRAGMENT_B = b"\xff\xd8\xff\xe0" + b"\x22" * 8 + b"\xff\xd9"  # 14 bytes


class CountingReader(ByteReader):
    """A ByteReader that records every (offset, bytes returned) it serves."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), len(data))
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, count: int) -> bytes:
        out = super().read(offset, count)
        self.reads.append((offset, len(out)))
        return out


def walk_of(body: bytes, data_end: int | None = None) -> Walk:
    data = LEAD + body
    return walker.walk(ByteReader(io.BytesIO(data), len(data)), len(LEAD), data_end)


def offsets_of(*parts: bytes) -> list[int]:
    """Absolute offsets where each of `parts` starts when laid out after LEAD."""
    starts, position = [], len(LEAD)
    for part in parts:
        starts.append(position)
        position += len(part)
    return starts


class TestStopReasons:
    def test_delimiter(self) -> None:
        parts = (bot_item([0, 34]), item(FRAGMENT_A), item(FRAGMENT_B), delimiter())
        bot_at, a_at, b_at, delim_at = offsets_of(*parts)
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.DELIMITER
        assert w.stop_offset == delim_at
        assert w.delimiter == Item(delim_at, SEQ_DELIM, 0, 0)
        assert w.bot == Item(bot_at, ITEM, 8, 8)
        assert w.fragments == (
            Item(a_at, ITEM, len(FRAGMENT_A), len(FRAGMENT_A)),
            Item(b_at, ITEM, len(FRAGMENT_B), len(FRAGMENT_B)),
        )
        assert w.bot_offsets == (0, 34)
        assert w.value_offset == len(LEAD)
        assert w.complete
        assert not w.bot_missing
        assert w.skipped == ()

    def test_delimiter_with_nonzero_length_is_still_the_end(self) -> None:
        parts = (item(b""), item(FRAGMENT_A), delimiter(4), b"\x00" * 4)
        delim_at = offsets_of(*parts)[2]
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.DELIMITER
        assert w.delimiter == Item(delim_at, SEQ_DELIM, 4, 0)

    def test_end_of_data(self) -> None:
        parts = (item(b""), item(FRAGMENT_A))
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.END_OF_DATA
        assert w.stop_offset == len(LEAD) + len(b"".join(parts))
        assert w.delimiter is None
        assert len(w.fragments) == 1
        assert w.complete

    def test_partial_header(self) -> None:
        parts = (item(b""), item(FRAGMENT_A), header(SEQ_DELIM, 0)[:5])
        partial_at = offsets_of(*parts)[2]
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.PARTIAL_HEADER
        assert w.stop_offset == partial_at
        assert w.delimiter is None
        assert not w.complete

    @pytest.mark.parametrize(
        "tag",
        [0xE000FFFE, 0x7FE00010, 0x00000000],
        ids=["byte-swapped-item", "pixel-data", "zeros"],
    )
    def test_unexpected_tag(self, tag: int) -> None:
        parts = (item(b""), item(FRAGMENT_A), header(tag, 2), b"\x00\x00", delimiter())
        bad_at = offsets_of(*parts)[2]
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.UNEXPECTED_TAG
        assert w.stop_offset == bad_at
        assert w.stop_tag == tag
        assert len(w.fragments) == 1
        assert not w.complete

    def test_item_delimiter_with_length_is_unexpected(self) -> None:
        parts = (item(b""), item(FRAGMENT_A), header(ITEM_DELIM, 2), b"\x00\x00", delimiter())
        bad_at = offsets_of(*parts)[2]
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.UNEXPECTED_TAG
        assert w.stop_offset == bad_at
        assert w.stop_tag == ITEM_DELIM
        assert w.skipped == ()

    def test_undefined_length(self) -> None:
        parts = (item(b""), item(FRAGMENT_A), header(ITEM, UNDEFINED), FRAGMENT_B, delimiter())
        undefined_at = offsets_of(*parts)[2]
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.UNDEFINED_LENGTH
        assert w.stop_offset == undefined_at
        assert w.fragments[-1] == Item(undefined_at, ITEM, UNDEFINED, 0)
        assert not w.fragments[-1].truncated
        assert not w.complete

    def test_truncated(self) -> None:
        cut = 6
        parts = (item(b""), item(FRAGMENT_A), item(FRAGMENT_B)[:-cut])
        truncated_at = offsets_of(*parts)[2]
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.TRUNCATED
        assert w.stop_offset == truncated_at
        last = w.fragments[-1]
        assert last == Item(truncated_at, ITEM, len(FRAGMENT_B), len(FRAGMENT_B) - cut)
        assert last.truncated
        assert last.end == len(LEAD) + len(b"".join(parts))
        assert not w.complete

    def test_empty_value(self) -> None:
        w = walk_of(b"")
        assert w.stop is StopReason.END_OF_DATA
        assert w.stop_offset == len(LEAD)
        assert w.bot is None
        assert w.fragments == ()
        assert w.bot_offsets == ()

    def test_data_end_bounds_the_walk(self) -> None:
        parts = (item(b""), item(FRAGMENT_A), item(FRAGMENT_B), delimiter())
        b_at = offsets_of(*parts)[2]
        # The caller says the value ends 4 bytes into the second fragment's value.
        w = walk_of(b"".join(parts), data_end=b_at + 8 + 4)
        assert w.data_end == b_at + 12
        assert w.stop is StopReason.TRUNCATED
        assert w.fragments[-1] == Item(b_at, ITEM, len(FRAGMENT_B), 4)

    def test_data_end_past_the_file_is_clamped(self) -> None:
        body = item(b"") + item(FRAGMENT_A)
        w = walk_of(body, data_end=10_000)
        assert w.data_end == len(LEAD) + len(body)
        assert w.stop is StopReason.END_OF_DATA


class TestSkippedItemDelimiters:
    def test_zero_length_item_delimiters_are_skipped(self) -> None:
        parts = (
            item(b""),
            item(FRAGMENT_A),
            header(ITEM_DELIM, 0),
            item(FRAGMENT_B),
            header(ITEM_DELIM, 0),
            delimiter(),
        )
        _, a_at, skip1, b_at, skip2, delim_at = offsets_of(*parts)
        w = walk_of(b"".join(parts))
        assert w.stop is StopReason.DELIMITER
        assert w.stop_offset == delim_at
        assert w.skipped == (Item(skip1, ITEM_DELIM, 0, 0), Item(skip2, ITEM_DELIM, 0, 0))
        assert [f.offset for f in w.fragments] == [a_at, b_at]


class TestBot:
    def test_first_item_is_codestream(self) -> None:
        parts = (item(FRAGMENT_A), item(FRAGMENT_B), delimiter())
        a_at, b_at, _ = offsets_of(*parts)
        w = walk_of(b"".join(parts))
        assert w.bot_missing
        assert w.bot is None
        assert [f.offset for f in w.fragments] == [a_at, b_at]
        assert w.bot_offsets == ()
        assert w.first_fragment_offset == a_at

    @pytest.mark.parametrize(
        "head",
        [b"\xff\x4f\xff\x51\x00\x00", b"\x00\x00\x00\x0cjP  \r\n", b"\xff\x0a\x00\x00"],
        ids=["j2k", "jp2", "jpeg-xl"],
    )
    def test_other_codestream_signatures(self, head: bytes) -> None:
        w = walk_of(item(head + b"\x00" * 6) + delimiter())
        assert w.bot_missing
        assert w.bot is None
        assert len(w.fragments) == 1

    def test_empty_bot(self) -> None:
        parts = (item(b""), item(FRAGMENT_A), delimiter())
        bot_at, a_at, _ = offsets_of(*parts)
        w = walk_of(b"".join(parts))
        assert w.bot == Item(bot_at, ITEM, 0, 0)
        assert not w.bot_missing
        assert w.bot_offsets == ()
        assert w.first_fragment_offset == a_at

    def test_partial_last_entry_is_not_read(self) -> None:
        # A 10-byte BOT: two whole entries and two stray bytes.
        parts = (item(struct.pack("<2I", 0, 34) + b"\x07\x00"), item(FRAGMENT_A), delimiter())
        w = walk_of(b"".join(parts))
        assert w.bot is not None and w.bot.length == 10
        assert w.bot_offsets == (0, 34)

    def test_fragment_index_and_starts(self) -> None:
        parts = (bot_item([0, 34]), item(FRAGMENT_A), item(FRAGMENT_B), delimiter())
        w = walk_of(b"".join(parts))
        assert w.fragment_starts == {0: 1, 8 + len(FRAGMENT_A): 2}
        assert w.fragment_index(34) == 2
        assert w.fragment_index(4) is None
        assert w.fragments_span == 16 + len(FRAGMENT_A) + len(FRAGMENT_B)

    def test_huge_bot_length_reads_only_what_exists(self) -> None:
        entries = struct.pack("<3I", 0, 10, 20) + b"\x00\x00"
        data = LEAD + header(ITEM, 0xFFFFFFF0) + entries
        reader = CountingReader(data)
        w = walker.walk(reader, len(LEAD))
        assert w.stop is StopReason.TRUNCATED
        assert w.stop_offset == len(LEAD)
        assert w.bot == Item(len(LEAD), ITEM, 0xFFFFFFF0, len(entries))
        assert w.bot_offsets == (0, 10, 20)
        assert sum(count for _, count in reader.reads) <= len(data)
        assert all(count <= len(data) for _, count in reader.reads)

    def test_entries_are_capped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(walker, "MAX_BOT_ENTRIES", 2)
        parts = (bot_item([0, 4, 8, 12]), item(FRAGMENT_A), delimiter())
        reader = CountingReader(LEAD + b"".join(parts))
        w = walker.walk(reader, len(LEAD))
        assert w.bot is not None and w.bot.length == 16
        assert w.bot_offsets == (0, 4)
        bot_value = len(LEAD) + 8
        assert (bot_value, 8) in reader.reads
        assert not any(offset == bot_value and count > 8 for offset, count in reader.reads)


class TestReads:
    def test_reads_item_headers_not_values(self) -> None:
        big = b"\xff\xd8\xff\xe0" + b"\x33" * 4000 + b"\xff\xd9"
        parts = (item(b""), item(big), item(big), delimiter())
        data = LEAD + b"".join(parts)
        reader = CountingReader(data)
        w = walker.walk(reader, len(LEAD))
        assert w.stop is StopReason.DELIMITER
        # One 8-byte header per item and the delimiter, plus the BOT/codestream sniff.
        assert sum(count for _, count in reader.reads) <= 8 * 4 + 8

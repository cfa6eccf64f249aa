"""Properties of the walker, the frame map and the codestream parsers on any bytes.

Whatever follows a valid Pixel Data header (random bytes, items with any tags and
lengths, any BOT / EOT contents), every stage returns a result whose offsets lie inside
the file, does work bounded by the input (reads counted) and, for the whole linter,
bounded memory (tracemalloc peak). Time is bounded by the Hypothesis deadline of the
active profile (tests/conftest.py): "encaps" (default, 200 examples per property) or
"long" (20,000), chosen with HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

import io
import itertools
import struct

from builders import (
    ITEM,
    ITEM_DELIM,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    RLE_LOSSLESS,
    SEQ_DELIM,
    UNDEFINED,
    encapsulated,
    header,
    j2k_frame,
    jpeg_frame,
    rle_frame,
)
from hypothesis import given
from hypothesis import strategies as st
from measure import with_peak

from dcmencaps_lint.codestream import (
    JXL_CODESTREAM,
    MAX_SEGMENTS,
    RLE_HEADER_SIZE,
    RleHeader,
    deflate_wrapper,
    is_jp2,
    is_jxl,
    parse_j2k,
    parse_jpeg,
    parse_rle,
    rle_defects,
)
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.frames import build_frame_map
from dcmencaps_lint.model import (
    ITEM_HEADER_SIZE,
    FileReport,
    FrameMapSource,
    Item,
    StopReason,
    Walk,
)
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import TRANSFER_SYNTAXES
from dcmencaps_lint.walker import MAX_BOT_ENTRIES, walk

MEMORY_LIMIT = 4 * 1024 * 1024  # peak Python allocation linting a file of a few KB
U32 = st.integers(0, 0xFFFFFFFF)
U64 = st.integers(0, 2**64 - 1)


def prefix(ts: str, frame: bytes) -> bytes:
    """A valid file up to and including its Pixel Data header (undefined length)."""
    built = encapsulated([frame], ts=ts)
    return built.data[: built.value_offset]


PREFIXES = {
    "jpeg": prefix(JPEG_BASELINE, jpeg_frame()),
    "j2k": prefix(J2K_LOSSLESS, j2k_frame()),
    "rle": prefix(RLE_LOSSLESS, rle_frame()),
}
PAYLOADS = st.one_of(
    st.binary(max_size=48),
    st.sampled_from([jpeg_frame(), j2k_frame(), rle_frame(), b"\xff\xd8\xff", b"\xff\x4f\xff\x51"]),
)
LENGTHS = st.one_of(
    st.integers(0, 80),
    st.sampled_from([UNDEFINED, 0xFFFFFFF0, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000]),
    U32,
)
TAGS = st.one_of(st.sampled_from([ITEM, ITEM, ITEM, ITEM_DELIM, SEQ_DELIM]), U32)


@st.composite
def items(draw: st.DrawFn) -> bytes:
    """Item-like headers with any tags and lengths, each followed by any payload.

    Most lengths match their payload (so the walk goes deep), the rest are anything.
    """
    parts = []
    for _ in range(draw(st.integers(0, 12))):
        payload = draw(PAYLOADS)
        exact = draw(st.booleans()) or draw(st.booleans())
        length = len(payload) if exact else draw(LENGTHS)
        parts.append(header(draw(TAGS), length) + payload)
    return b"".join(parts) + draw(st.binary(max_size=16))


BODIES = st.one_of(st.binary(max_size=600), items())


class CountingReader(ByteReader):
    """A ByteReader over bytes that counts the reads and bytes it is asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), len(data))
        self.reads = 0
        self.requested = 0

    def read(self, offset: int, count: int) -> bytes:
        self.reads += 1
        self.requested += max(0, count)
        return super().read(offset, count)


def walked(body: bytes, kind: str = "jpeg") -> tuple[bytes, CountingReader, Walk]:
    data = PREFIXES[kind] + body
    reader = CountingReader(data)
    return data, reader, walk(reader, len(PREFIXES[kind]))


def assert_item_inside(item: Item, start: int, end: int) -> None:
    assert start <= item.offset
    assert item.offset + ITEM_HEADER_SIZE <= end
    assert item.available >= 0
    assert item.end <= end
    if item.length != UNDEFINED:
        assert item.available <= item.length


class TestWalker:
    @given(BODIES, st.sampled_from(sorted(PREFIXES)))
    def test_every_item_lies_inside_the_file(self, body: bytes, kind: str) -> None:
        data, _reader, w = walked(body, kind)
        start = len(PREFIXES[kind])
        assert w.value_offset == start
        assert w.data_end == len(data)
        assert start <= w.stop_offset <= len(data)
        met = [*([w.bot] if w.bot else []), *w.fragments, *w.skipped]
        for item in met:
            assert_item_inside(item, start, len(data))
        if w.delimiter is not None:
            assert_item_inside(w.delimiter, start, len(data))
            assert w.stop is StopReason.DELIMITER
        # Items follow one another: each starts where the one before it ends.
        ordered = sorted(met, key=lambda i: i.offset)
        for before, after in itertools.pairwise(ordered):
            assert after.offset == before.end
        if w.bot is not None:
            assert len(w.bot_offsets) <= w.bot.available // 4
        assert all(0 <= offset < len(data) - start for offset in w.fragment_starts)
        assert 0 <= w.fragments_span <= len(data) - start

    @given(BODIES)
    def test_work_is_bounded_by_the_data(self, body: bytes) -> None:
        data, reader, w = walked(body)
        headers = len(body) // ITEM_HEADER_SIZE + 1
        assert len(w.fragments) + len(w.skipped) + (w.bot is not None) <= headers
        assert reader.reads <= headers + 3  # one per header, the BOT values, the first head
        assert reader.requested <= len(data) + ITEM_HEADER_SIZE * (headers + 3)

    @given(BODIES, st.integers(-8, 700))
    def test_data_end_is_respected(self, body: bytes, cut: int) -> None:
        data = PREFIXES["jpeg"] + body
        start = len(PREFIXES["jpeg"])
        w = walk(ByteReader(io.BytesIO(data), len(data)), start, start + cut)
        end = min(start + cut, len(data))
        assert w.data_end == end
        for item in [*([w.bot] if w.bot else []), *w.fragments, *w.skipped]:
            assert item.end <= end

    @given(st.lists(U32, max_size=40), U32)
    def test_any_bot_contents(self, entries: list[int], length: int) -> None:
        """Any BOT entries and any BOT length give entries read from the file only."""
        values = struct.pack(f"<{len(entries)}I", *entries)
        body = header(ITEM, length) + values + header(ITEM, 4) + b"\xff\xd8\xff\xd9"
        data, _, w = walked(body)
        if w.bot is None:  # the first entry's bytes look like a codestream (FF 0A: JPEG XL)
            assert w.bot_missing
            return
        count = min(w.bot.available // 4, MAX_BOT_ENTRIES)
        assert w.bot_offsets == struct.unpack_from(f"<{count}I", data, w.bot.value_offset)


TS_UIDS = sorted(TRANSFER_SYNTAXES)


@st.composite
def tables(draw: st.DrawFn, w: Walk) -> tuple[int, ...] | None:
    """EOT offsets: absent, any values, or drawn from the real fragment starts."""
    starts = sorted(w.fragment_starts)
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return None
    if choice == 1 or not starts:
        return tuple(draw(st.lists(U64, max_size=20)))
    chosen = draw(st.lists(st.sampled_from(starts), max_size=len(starts) + 2))
    return tuple(sorted(chosen) if draw(st.booleans()) else chosen)


class TestFrameMap:
    @given(
        BODIES,
        st.sampled_from(TS_UIDS),
        st.one_of(st.none(), st.integers(1, 16), st.integers(1, 2**31)),
        st.data(),
    )
    def test_frames_partition_the_fragments(
        self, body: bytes, uid: str, frames: int | None, data: st.DataObject
    ) -> None:
        _raw, reader, w = walked(body)
        eot = data.draw(tables(w))
        fmap = build_frame_map(reader, w, TRANSFER_SYNTAXES[uid], frames, eot)
        if fmap.source is FrameMapSource.NONE:
            assert fmap.frames == ()
            return
        assert [f.number for f in fmap.frames] == list(range(1, len(fmap.frames) + 1))
        # Frames cover fragments 1..n in order, each at least one, with no gap.
        assert fmap.frames[0].first_fragment == 1
        assert fmap.frames[-1].last_fragment == len(w.fragments)
        for frame in fmap.frames:
            assert 1 <= frame.first_fragment <= frame.last_fragment <= len(w.fragments)
        for before, after in zip(fmap.frames, fmap.frames[1:], strict=False):
            assert after.first_fragment == before.last_fragment + 1
        assert reader.reads <= 2 * len(w.fragments) + 8  # at most a tail per fragment

    @given(st.lists(st.binary(max_size=12), min_size=1, max_size=10), st.data())
    def test_any_offset_table_with_real_fragments(
        self, fragments: list[bytes], data: st.DataObject
    ) -> None:
        """The BOT / EOT paths: tables drawn from the real starts, right or wrong."""
        body = header(ITEM, 0) + b"".join(header(ITEM, len(f)) + f for f in fragments)
        _raw, reader, w = walked(body)
        eot = data.draw(tables(w))
        frames = data.draw(st.integers(1, len(fragments) + 1))
        fmap = build_frame_map(reader, w, TRANSFER_SYNTAXES[JPEG_BASELINE], frames, eot)
        covered = [i for f in fmap.frames for i in range(f.first_fragment, f.last_fragment + 1)]
        assert covered in ([], list(range(1, len(fragments) + 1)))


def window_reader(data: bytes) -> tuple[list[int], object]:
    """A read(offset, count) over `data` that records how many bytes were asked for."""
    asked: list[int] = []

    def read(offset: int, count: int) -> bytes:
        asked.append(count)
        return data[offset : offset + count] if offset >= 0 and count > 0 else b""

    return asked, read


@st.composite
def segments(draw: st.DrawFn, start: bytes, markers: list[int]) -> bytes:
    """A codestream start, then marker segments with any lengths and payloads."""
    parts = [start]
    for _ in range(draw(st.integers(0, 10))):
        marker = draw(st.one_of(st.sampled_from(markers), st.integers(0, 255)))
        payload = draw(st.binary(max_size=48))
        length = draw(st.one_of(st.just(len(payload) + 2), st.integers(0, 0xFFFF)))
        parts.append(bytes([0xFF, marker]) + struct.pack(">H", length) + payload)
    return b"".join(parts) + draw(st.binary(max_size=8))


JPEG_MARKERS = [0xC0, 0xC1, 0xC3, 0xC4, 0xDB, 0xDA, 0xE0, 0xEE, 0xF7, 0xF8, 0xFE, 0xD0, 0x01]
J2K_MARKERS = [0x51, 0x52, 0x5C, 0x50, 0x55, 0x90, 0x64]
JPEG_STREAMS = st.one_of(
    st.binary(max_size=300),
    segments(b"\xff\xd8", JPEG_MARKERS),
    segments(b"\xff\xff\xd8", JPEG_MARKERS),
)
J2K_STREAMS = st.one_of(
    st.binary(max_size=300), segments(b"\xff\x4f", J2K_MARKERS), segments(b"\xff\x4f", [0x51])
)
# Enough for every segment the parser may follow, each read at most 64 bytes at a time.
READ_BUDGET = (MAX_SEGMENTS + 2) * (4 + 64 + 39)


def window(data: bytes, lead: int, extra: int) -> tuple[bytes, int, int]:
    """`data` placed `lead` bytes into a buffer, and a window end up to `extra` past it."""
    buffer = bytes(lead) + data + b"\xff" * 16
    return buffer, lead, min(len(buffer), lead + len(data) + extra)


class TestCodestreamParsers:
    @given(JPEG_STREAMS, st.integers(0, 40), st.integers(-20, 20))
    def test_parse_jpeg(self, stream: bytes, lead: int, extra: int) -> None:
        buffer, start, end = window(stream, lead, extra)
        asked, read = window_reader(buffer)
        header_ = parse_jpeg(read, start, end)
        if header_ is not None:
            for offset in (header_.sof_offset, header_.sos_offset):
                assert offset is None or start <= offset < end
            assert header_.fill_bytes >= 0
        assert len(asked) <= 3 * MAX_SEGMENTS + 4
        assert sum(asked) <= READ_BUDGET

    @given(J2K_STREAMS, st.integers(0, 40), st.integers(-20, 20))
    def test_parse_j2k(self, stream: bytes, lead: int, extra: int) -> None:
        buffer, start, end = window(stream, lead, extra)
        asked, read = window_reader(buffer)
        header_ = parse_j2k(read, start, end)
        if header_ is not None:
            for offset in (header_.siz_offset, header_.cod_offset, header_.qcd_offset):
                assert offset is None or start <= offset < end
            assert header_.components is None or 0 <= header_.components <= 0xFFFF
        assert len(asked) <= 2 * MAX_SEGMENTS + 4
        assert sum(asked) <= READ_BUDGET

    @given(st.binary(max_size=2 * RLE_HEADER_SIZE))
    def test_parse_rle(self, head: bytes) -> None:
        parsed = parse_rle(head)
        if len(head) < RLE_HEADER_SIZE:
            assert parsed is None
            return
        assert parsed is not None
        assert parsed.segments == struct.unpack_from("<I", head)[0]
        assert len(parsed.offsets) == 15

    @given(U32, st.lists(U32, min_size=15, max_size=15), st.integers(0, 2**40))
    def test_rle_defects(self, count: int, offsets: list[int], frame_length: int) -> None:
        defects = rle_defects(RleHeader(count, tuple(offsets)), frame_length)
        kinds = [d.kind for d in defects]
        assert len(kinds) == len(set(kinds))
        assert set(kinds) <= {
            "segment-count",
            "first-offset",
            "past-end",
            "not-increasing",
            "odd",
            "unused",
        }
        if not 1 <= count <= 15:
            assert kinds == ["segment-count"]
        assert all(d.message for d in defects)

    @given(st.binary(max_size=16))
    def test_signatures(self, head: bytes) -> None:
        assert deflate_wrapper(head) in (None, "zlib", "gzip")
        assert is_jp2(head) in (True, False)
        assert is_jxl(head) in (True, False)
        assert is_jxl(JXL_CODESTREAM + head)
        if head[:2] == b"\x1f\x8b":
            assert deflate_wrapper(head) == "gzip"


class TestLintFile:
    @given(BODIES, st.sampled_from(sorted(PREFIXES)), st.booleans())
    def test_any_bytes_after_pixel_data_give_a_report(
        self, body: bytes, kind: str, deep: bool
    ) -> None:
        data = PREFIXES[kind] + body
        report, peak = with_peak(lambda: lint_file(data, deep=deep))
        assert isinstance(report, FileReport)
        assert report.status in ("passed", "failed", "error", "skipped")
        for f in report.findings:
            assert f.code != "PRS005", f.message  # a rule raised
            assert f.offset is None or 0 <= f.offset <= len(data), f
            assert f.frame is None or f.frame >= 1, f
        assert peak < MEMORY_LIMIT

    @given(st.lists(U64, max_size=12), st.lists(U64, max_size=12), st.integers(1, 4))
    def test_any_eot_contents(self, offsets: list[int], lengths: list[int], frames: int) -> None:
        built = encapsulated([jpeg_frame()] * frames, bot="empty", eot=(offsets, lengths))
        report = lint_file(built.data)
        assert all(f.code != "PRS005" for f in report.findings)
        assert all(f.offset is None or 0 <= f.offset <= len(built.data) for f in report.findings)

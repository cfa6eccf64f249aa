"""The tolerant item walker: reads every item header of encapsulated Pixel Data.

It never raises and never allocates in proportion to a length field. It reads 8 bytes
per item (plus the BOT values, bounded by the file size) and records where and why it
stops: a delimiter, the end of the data, a tag that is not an item, an undefined
length or an item that runs past the end. pydicom's `encaps` module raises at the
first problem; a linter must walk on and say what it met.

Three loops share the work: `_plain_items` reads ordinary items one pread each;
`_dense_items` takes over where items lie a few KB apart (whole-slide images: hundreds
of thousands of them) and reads them through the reader's memory-mapped window; the
careful loop in `walk` handles everything else (delimiters, bad tags and lengths, the
end). Items are kept as columns (model.Items), not a tuple each.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from dcmencaps_lint.codestream import (
    END_OF_IMAGE,
    JP2_SIGNATURE,
    JXL_CODESTREAM,
    SOC_SIZ,
    START_OF_IMAGE,
)
from dcmencaps_lint.model import (
    FRAME_TAIL,
    ITEM_DELIMITER_TAG,
    ITEM_HEADER_SIZE,
    ITEM_TAG,
    SEQUENCE_DELIMITER_TAG,
    UNDEFINED_LENGTH,
    Item,
    Items,
    StopReason,
    Walk,
)
from dcmencaps_lint.reader import ByteReader

# A first item whose value starts like a codestream is a fragment, not a BOT (ITM001).
CODESTREAM_SIGNATURES = (
    START_OF_IMAGE + b"\xff",  # JPEG / JPEG-LS SOI followed by a marker
    SOC_SIZ,  # JPEG 2000
    JP2_SIGNATURE[:8],  # JP2 signature box
    JXL_CODESTREAM,  # JPEG XL codestream
)
MAX_BOT_ENTRIES = 1 << 20


_ITEM_HEADER = struct.Struct("<HHI")
_TAG_AND_LENGTH = struct.Struct("<II")
_ITEM_TAG_LE = (ITEM_TAG & 0xFFFF) << 16 | ITEM_TAG >> 16  # as one little-endian 32-bit word


def _header(reader: ByteReader, offset: int) -> tuple[int, int] | None:
    data = reader.read(offset, ITEM_HEADER_SIZE)
    if len(data) < ITEM_HEADER_SIZE:
        return None
    group, element, length = _ITEM_HEADER.unpack(data)
    return group << 16 | element, length


# After this many items read one pread each, a run whose items lie closer together than
# DENSE_SPACING bytes on average goes on through the reader's memory-mapped window.
DENSE_PROBE = 64
DENSE_SPACING = 64 << 10
# While a dense item is in memory, its first `head_size` bytes and its last FRAME_TAIL
# bytes from their last end marker on are compared with the item before's (Walk.alike):
# all the per-frame rules see of a frame (model.FRAME_HEAD, FRAME_TAIL), so
# frame_groups.py groups alike frames without reading them again.
EDGE_ITEM_MAX = 1 << 20  # larger items are not compared (a window would not hold them)
# Frames are grouped only from 16 on (frame_groups.MIN_FRAMES): before that many items,
# the one-by-one loop does not pay for a header parse to learn what to compare.
EDGE_AFTER = 16

# Given the first fragment, how many leading bytes of each item to compare; None: none.
HeadSize = Callable[[Item], int | None]


def _plain_items(reader: ByteReader, position: int, end: int, run: _Collected) -> int:
    """Walk ordinary items (tag FFFE,E000, a length that fits) as fast as Python can and
    return where the first other thing starts; 0 when there is nothing to gain.

    Whole-slide images have hundreds of thousands of items, so these loops avoid every
    call they can; anything unusual is left to the careful loop in `walk`. Once the
    first fragment is known, each pread also takes the end of the item before and the
    head of this one, for the `alike` flags (Walk.alike): one read per item, where
    frame grouping would otherwise read each frame's two ends again.
    """
    if not reader.on_disk:  # a caller's file object: the careful loop alone, no read twice
        return 0
    unpack_from, pread = _ITEM_HEADER.unpack_from, reader.unchecked_pread()
    offsets, lengths, alike = run.offsets, run.lengths, run.alike
    alike.extend(bytes(len(offsets) - len(alike)))  # items walked before: not compared
    last_header = end - ITEM_HEADER_SIZE
    start = position
    probe_end = len(offsets) + DENSE_PROBE
    head_size = None  # known once EDGE_AFTER items (a fragment among them) are walked
    before = 0  # bytes of the item before read in front of each header: its end
    head: bytes | None = None  # the first bytes of the item before
    edges = previous = None  # (head, end) of the last two items compared
    while position <= last_header:
        if head_size is None and run.asking and len(offsets) >= EDGE_AFTER:
            head_size = run.edge_head()
        chunk = pread(before + ITEM_HEADER_SIZE + (head_size or 0), position - before)
        if len(chunk) < before + ITEM_HEADER_SIZE:  # the file was cut short while being read
            break
        if head is not None:  # the item before is now whole: compare it
            marker = chunk.rfind(END_OF_IMAGE, 0, before)
            edges = (head, chunk[max(marker, 0) : before])
            if edges == previous:
                alike[-1] = 1
            previous = edges
        group, element, length = unpack_from(chunk, before)
        if group != 0xFFFE or element != 0xE000 or length > end - position - ITEM_HEADER_SIZE:
            return position if position != start else 0
        offsets.append(position)
        lengths.append(length)
        alike.append(0)
        if head_size:
            head = chunk[before + ITEM_HEADER_SIZE : before + ITEM_HEADER_SIZE + head_size]
            head = head[:length]
            before = min(length, FRAME_TAIL)
        position += ITEM_HEADER_SIZE + length
        if len(offsets) == probe_end and position - start < DENSE_SPACING * DENSE_PROBE:
            position = _dense_items(reader, position, end, run)
            break
    return position if position != start else 0


def _dense_items(reader: ByteReader, position: int, end: int, run: _Collected) -> int:
    """The loop of `_plain_items` over the reader's window: items a few KB apart cost a
    slice of mapped memory each instead of a system call. It also notes the `alike`
    flags (Walk.alike). Every operation here runs once per item: names are local,
    and conditional expressions stand for min() and max()."""
    unpack_from = _TAG_AND_LENGTH.unpack_from
    add_offset, add_length = run.offsets.append, run.lengths.append
    run.alike.extend(bytes(len(run.offsets) - len(run.alike)))  # items walked before: unknown
    add_flag = run.alike.append
    head_size = run.edge_head()
    end_marker, edge_tail, item_max = END_OF_IMAGE, FRAME_TAIL, EDGE_ITEM_MAX
    head = tail = None
    last_header = end - ITEM_HEADER_SIZE
    window, base = reader.window(position, ITEM_HEADER_SIZE)
    window_end = base + len(window)
    while position <= last_header:
        if position + ITEM_HEADER_SIZE > window_end:
            window, base = reader.window(position, ITEM_HEADER_SIZE)
            window_end = base + len(window)
            if position + ITEM_HEADER_SIZE > window_end:
                break  # the file was cut short while being read
        tag, length = unpack_from(window, position - base)
        if tag != _ITEM_TAG_LE or length > last_header - position:
            break
        add_offset(position)
        add_length(length)
        value_start = position + ITEM_HEADER_SIZE
        position = value_start + length
        if not head_size:
            continue
        if position > window_end and length <= item_max:  # the whole item, and more
            window, base = reader.window(value_start, length + ITEM_HEADER_SIZE)
            window_end = base + len(window)
        if position <= window_end:
            at = value_start - base
            to = position - base
            previous_head, previous_tail = head, tail
            head = window[at : at + head_size if length > head_size else to]
            # from the last end marker on: the bytes before it differ from frame to frame
            low = to - edge_tail if length > edge_tail else at
            marker = window.rfind(end_marker, low, to)
            tail = window[marker if marker >= 0 else low : to]
            add_flag(head == previous_head and tail == previous_tail)
        else:
            head = tail = None
            add_flag(0)
    return position


class _Collected:
    """The items walked so far, as columns, and how to compare their edges."""

    def __init__(self, reader: ByteReader, head_size: HeadSize | None) -> None:
        self.offsets: list[int] = []
        self.lengths: list[int] = []
        self.availables: list[int] | None = None  # made when an item is cut short
        self.alike = bytearray()  # per item: begins and ends like the item before
        self._reader, self._head_size = reader, head_size
        self.head: int | None = None  # the leading bytes compared, once known

    def add(self, position: int, length: int, available: int) -> None:
        """An item met by the careful loop."""
        if available != length and self.availables is None:
            self.availables = list(self.lengths)
        self.offsets.append(position)
        self.lengths.append(length)
        if self.availables is not None:
            self.availables.append(available)

    def items(self) -> Items:
        return Items(self.offsets, self.lengths, self.availables)

    @property
    def asking(self) -> bool:
        """`edge_head` may still give a size: the callback has not been asked yet."""
        return self._head_size is not None

    def edge_head(self) -> int | None:
        """The leading bytes to compare, from the first fragment (asked once there is
        one: the first item may be the Basic Offset Table)."""
        if self._head_size is None:
            return self.head
        _, fragments, _ = _split_bot(self._reader, self.items())
        if not fragments:
            return None
        self.head, self._head_size = self._head_size(fragments[0]), None
        return self.head


def walk(
    reader: ByteReader,
    value_offset: int,
    data_end: int | None = None,
    head_size: HeadSize | None = None,
) -> Walk:
    """Walk the items of an encapsulated Pixel Data value starting at `value_offset`.

    `head_size`: how many leading bytes of dense items to compare for `Walk.alike`.
    """
    end = reader.size if data_end is None else min(data_end, reader.size)
    run = _Collected(reader, head_size)
    skipped: list[Item] = []
    position = value_offset
    stop = StopReason.END_OF_DATA
    stop_tag: int | None = None
    delimiter: Item | None = None

    while True:
        if run_end := _plain_items(reader, position, end, run):
            position = run_end  # a run of ordinary items, walked in the fast loop
        if position >= end:
            stop = StopReason.END_OF_DATA
            break
        header = _header(reader, position) if position + ITEM_HEADER_SIZE <= end else None
        if header is None:
            stop = StopReason.PARTIAL_HEADER
            break
        tag, length = header
        if tag == SEQUENCE_DELIMITER_TAG:
            delimiter = Item(position, tag, length, 0)
            stop = StopReason.DELIMITER
            break
        if tag == ITEM_DELIMITER_TAG and length == 0:
            # Some writers put an Item Delimitation Item between fragments. It carries
            # no data, so the walk can pass it and keep reporting what follows.
            skipped.append(Item(position, tag, length, 0))
            position += ITEM_HEADER_SIZE
            continue
        if tag != ITEM_TAG:
            stop, stop_tag = StopReason.UNEXPECTED_TAG, tag
            break
        if length == UNDEFINED_LENGTH:
            run.add(position, length, 0)
            stop = StopReason.UNDEFINED_LENGTH
            break
        available = min(length, end - position - ITEM_HEADER_SIZE)
        run.add(position, length, available)
        if available < length:
            stop = StopReason.TRUNCATED
            break
        position += ITEM_HEADER_SIZE + length

    stop_offset = position
    items = run.items()
    bot, fragments, bot_missing = _split_bot(reader, items)
    alike = run.alike
    alike.extend(bytes(len(items) - len(alike)))
    if bot is not None:
        del alike[0]
    if alike:
        alike[0] = 0  # the first fragment has no fragment before it
    return Walk(
        value_offset=value_offset,
        data_end=end,
        bot=bot,
        fragments=fragments,
        delimiter=delimiter,
        stop=stop,
        stop_offset=stop_offset,
        stop_tag=stop_tag,
        bot_missing=bot_missing,
        skipped=tuple(skipped),
        bot_offsets=_read_bot_offsets(reader, bot),
        alike=bytes(alike) if run.head else b"",
        alike_head=run.head,
    )


def _split_bot(reader: ByteReader, items: Items) -> tuple[Item | None, Items, bool]:
    if not items:
        return None, items, False
    first = items[0]
    if first.length != UNDEFINED_LENGTH and first.available >= 2:
        head = reader.read(first.value_offset, 8)
        if any(head.startswith(sig) for sig in CODESTREAM_SIGNATURES):
            return None, items, True
    return first, items[1:], False


def _read_bot_offsets(reader: ByteReader, bot: Item | None) -> tuple[int, ...]:
    """The BOT's whole 4-byte entries that are really in the file."""
    if bot is None or bot.length == UNDEFINED_LENGTH:
        return ()
    # A hostile BOT length could name gigabytes: read at most MAX_BOT_ENTRIES, which
    # is far more frames than any real image has (rules count entries from the length).
    count = min(bot.available // 4, MAX_BOT_ENTRIES)
    data = reader.read(bot.value_offset, count * 4)
    count = len(data) // 4
    return struct.unpack(f"<{count}I", data[: count * 4])

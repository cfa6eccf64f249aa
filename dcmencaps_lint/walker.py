"""The tolerant item walker: reads every item header of encapsulated Pixel Data.

It never raises and never allocates in proportion to a length field. It reads 8 bytes
per item (plus the BOT values, bounded by the file size) and records where and why it
stops: a delimiter, the end of the data, a tag that is not an item, an undefined
length or an item that runs past the end. pydicom's `encaps` module raises at the
first problem; a linter must walk on and say what it met.
"""

from __future__ import annotations

import struct

from dcmencaps_lint.model import (
    ITEM_DELIMITER_TAG,
    ITEM_HEADER_SIZE,
    ITEM_TAG,
    SEQUENCE_DELIMITER_TAG,
    UNDEFINED_LENGTH,
    Item,
    StopReason,
    Walk,
)
from dcmencaps_lint.source import ByteReader

# A first item whose value starts like a codestream is a fragment, not a BOT (ITM001).
CODESTREAM_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG / JPEG-LS SOI followed by a marker
    b"\xff\x4f\xff\x51",  # JPEG 2000 SOC + SIZ
    b"\x00\x00\x00\x0cjP  ",  # JP2 signature box
    b"\xff\x0a",  # JPEG XL codestream
)
MAX_BOT_ENTRIES = 1 << 20


def _header(reader: ByteReader, offset: int) -> tuple[int, int] | None:
    data = reader.read(offset, ITEM_HEADER_SIZE)
    if len(data) < ITEM_HEADER_SIZE:
        return None
    group, element, length = struct.unpack("<HHI", data)
    return group << 16 | element, length


_ITEM_HEADER = struct.Struct("<HHI")


def _plain_items(reader: ByteReader, position: int, end: int, items: list[Item]) -> int:
    """Walk ordinary items (tag FFFE,E000, a length that fits) as fast as Python can and
    return where the first other thing starts; 0 when there is nothing to gain.

    Whole-slide images have hundreds of thousands of items, so this loop avoids every
    call it can; anything unusual is left to the careful loop in `walk`.
    """
    if not reader.on_disk:  # a caller's file object: the careful loop alone, no read twice
        return 0
    unpack, pread = _ITEM_HEADER.unpack, reader.unchecked_pread()

    last_header = end - ITEM_HEADER_SIZE
    new_item = tuple.__new__
    start = position
    while position <= last_header:
        group, element, length = unpack(pread(ITEM_HEADER_SIZE, position))
        if group != 0xFFFE or element != 0xE000 or length > end - position - ITEM_HEADER_SIZE:
            break
        items.append(new_item(Item, (position, ITEM_TAG, length, length)))
        position += ITEM_HEADER_SIZE + length
    return position if position != start else 0


def walk(reader: ByteReader, value_offset: int, data_end: int | None = None) -> Walk:
    """Walk the items of an encapsulated Pixel Data value starting at `value_offset`."""
    end = reader.size if data_end is None else min(data_end, reader.size)
    items: list[Item] = []
    skipped: list[Item] = []
    position = value_offset
    stop = StopReason.END_OF_DATA
    stop_tag: int | None = None
    delimiter: Item | None = None

    while True:
        if run_end := _plain_items(reader, position, end, items):
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
            items.append(Item(position, tag, length, 0))
            stop = StopReason.UNDEFINED_LENGTH
            break
        available = min(length, end - position - ITEM_HEADER_SIZE)
        items.append(Item(position, tag, length, available))
        if available < length:
            stop = StopReason.TRUNCATED
            break
        position += ITEM_HEADER_SIZE + length

    stop_offset = position
    bot, fragments, bot_missing = _split_bot(reader, items)
    return Walk(
        value_offset=value_offset,
        data_end=end,
        bot=bot,
        fragments=tuple(fragments),
        delimiter=delimiter,
        stop=stop,
        stop_offset=stop_offset,
        stop_tag=stop_tag,
        bot_missing=bot_missing,
        skipped=tuple(skipped),
        bot_offsets=_read_bot_offsets(reader, bot),
    )


def _split_bot(reader: ByteReader, items: list[Item]) -> tuple[Item | None, list[Item], bool]:
    if not items:
        return None, [], False
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

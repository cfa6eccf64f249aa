"""The tolerant item walker: reads every item header of encapsulated Pixel Data.

It never raises and never allocates in proportion to a length field. It reads 8 bytes
per item (plus the BOT values, bounded by the file size) and records where and why it
stops: a delimiter, the end of the data, a tag that is not an item, an undefined
length or an item that runs past the end. pydicom's `encaps` module raises at the
first problem; a linter must walk on and say what it met.

Three loops share the work: the ordinary items (tag FFFE,E000, a length that fits) are
walked by the compiled core (core.py) when it is there, else by `_plain_items`, one pread
each, and `_dense_items` where items lie a few KB apart (whole-slide images: hundreds of
thousands of them), through the reader's memory-mapped window; the careful loop in
`walk` handles everything else (delimiters, bad tags and lengths, the end). Items are
kept as columns (model.Items), not a tuple each.
"""

from __future__ import annotations

import struct
from array import array

from dcmencaps_lint import core
from dcmencaps_lint.codestream import (
    JP2_SIGNATURE,
    JXL_CODESTREAM,
    SOC_SIZ,
    START_OF_IMAGE,
)
from dcmencaps_lint.model import (
    ITEM_DELIMITER_TAG,
    ITEM_HEADER_SIZE,
    ITEM_TAG,
    LENGTHS,
    SEQUENCE_DELIMITER_TAG,
    UNDEFINED_LENGTH,
    Item,
    ItemFacts,
    Items,
    StopReason,
    Walk,
)
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import Codec

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


def _plain_items(reader: ByteReader, position: int, end: int, run: _Collected) -> int:
    """Walk ordinary items (tag FFFE,E000, a length that fits) as fast as can be and
    return where the first other thing starts; 0 when there is nothing to gain.

    Whole-slide images have hundreds of thousands of items, so these loops avoid every
    call they can; anything unusual is left to the careful loop in `walk`.
    """
    walked = core.items(reader, position, end, run.family)
    if walked is not None:
        offsets, lengths, position_after, facts = walked
        run.extend(offsets, lengths, facts)
        return position_after if position_after != position else 0
    if not reader.on_disk:  # a caller's file object: the careful loop alone, no read twice
        return 0
    unpack_from, pread = _ITEM_HEADER.unpack_from, reader.unchecked_pread()
    offsets, lengths = run.offsets, run.lengths
    last_header = end - ITEM_HEADER_SIZE
    start = position
    probe_end = len(offsets) + DENSE_PROBE
    while position <= last_header:
        chunk = pread(ITEM_HEADER_SIZE, position)
        if len(chunk) < ITEM_HEADER_SIZE:  # the file was cut short while being read
            break
        group, element, length = unpack_from(chunk)
        if group != 0xFFFE or element != 0xE000 or length > end - position - ITEM_HEADER_SIZE:
            break
        offsets.append(position)
        lengths.append(length)
        position += ITEM_HEADER_SIZE + length
        if len(offsets) == probe_end and position - start < DENSE_SPACING * DENSE_PROBE:
            position = _dense_items(reader, position, end, run)
            break
    return position if position != start else 0


def _dense_items(reader: ByteReader, position: int, end: int, run: _Collected) -> int:
    """The loop of `_plain_items` over the reader's window: items a few KB apart cost a
    slice of mapped memory each instead of a system call. Every operation here runs
    once per item: names are local."""
    unpack_from = _TAG_AND_LENGTH.unpack_from
    add_offset, add_length = run.offsets.append, run.lengths.append
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
        position += ITEM_HEADER_SIZE + length
    return position


class _Collected:
    """The items walked so far, as columns, and their facts when the core computed them
    for all of them in one pass."""

    def __init__(self, family: int) -> None:
        # Columns of native numbers (an offset is 64 bits, a length field 32): an int
        # object per item only where one is read, and none to free at the end.
        self.offsets = array("Q")
        self.lengths = array(LENGTHS)
        self.availables: array[int] | None = None  # made when an item is cut short
        self.family = family  # of the facts the core is to compute (core.family)
        self.facts: ItemFacts | None = None

    def add(self, position: int, length: int, available: int) -> None:
        """An item met by the careful loop."""
        if available != length and self.availables is None:
            self.availables = array(LENGTHS, self.lengths)
        self.offsets.append(position)
        self.lengths.append(length)
        if self.availables is not None:
            self.availables.append(available)
        self.facts = None  # no longer every item's

    def extend(
        self, offsets: bytes, lengths: bytes, facts: tuple[bytes, bytes, bytes] | None
    ) -> None:
        """Whole items met by the compiled core (its native columns), and their facts."""
        every = not self.offsets and facts is not None
        self.facts = ItemFacts(self.family, *facts) if every and facts is not None else None
        self.offsets.frombytes(offsets)
        self.lengths.frombytes(lengths)
        if self.availables is not None:
            self.availables.frombytes(lengths)

    def items(self) -> Items:
        return Items(self.offsets, self.lengths, self.availables)


def walk(
    reader: ByteReader, value_offset: int, data_end: int | None = None, codec: Codec | None = None
) -> Walk:
    """Walk the items of an encapsulated Pixel Data value starting at `value_offset`;
    with the compiled core and a marker-coded `codec`, note each item's facts too."""
    end = reader.size if data_end is None else min(data_end, reader.size)
    run = _Collected(core.family(codec))
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
        item_facts=run.facts,
    )


def _split_bot(reader: ByteReader, items: Items) -> tuple[Item | None, Items, bool]:
    if not items:
        return None, items, False
    first = items[0]
    if first.length != UNDEFINED_LENGTH and first.available >= 2:
        head = reader.read(first.value_offset, 8)
        if any(head.startswith(sig) for sig in CODESTREAM_SIGNATURES):
            return None, items, True
    return first, items.drop_first(), False


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

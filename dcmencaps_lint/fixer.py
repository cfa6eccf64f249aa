"""Applying a file's edits (fixes.py): the new file's layout, and the checks it must pass.

The encapsulated Pixel Data is laid out again from the model the walker found, with the
edits applied: its BOT item, each fragment (its item header, then its value copied from
the old file as it is, with a 00 pad byte where an edit adds one, or cut short by the
unsafe TrimFragment; the fragments of one frame that JoinFragments joins become one item
of their values in order), the zero-length items between fragments that an edit does
not drop, and the Sequence Delimitation Item. Unchanged items are copied whole. Every
byte in front of Pixel Data and after its delimiter is copied as it is, except the
values an edit or the new layout changes in place (the Pixel Data VR, the Extended
Offset Table). The offset tables stay true to the new layout whatever the edits: a BOT
that had values and an Extended Offset Table (and its Lengths) are rebuilt from where
each frame now starts, so padding one fragment never leaves a wrong table behind.

`layout` gives the new file as writer.py's pieces (new bytes and ranges of the old
file), so memory stays proportional to the number of items; `hunks` says which bytes
those pieces change (`--diff`); `check` is what a new file must pass before it may
replace anything: the same frames, byte for byte (less a pad byte the edits added, or
the bytes a trim cut; a joined frame's one fragment holds its old fragments' bytes in
order), and no code of finding the old file did not have. The engine's
`--fix` (engine._fixed) calls them.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator, Sequence
from itertools import pairwise
from typing import NamedTuple

from dcmencaps_lint.codestream import (
    JP2_SIGNATURE,
    RLE_HEADER_SIZE,
    RLE_MAX_SEGMENTS,
    SOC_SIZ,
    parse_rle,
    rle_defects,
)
from dcmencaps_lint.context import EncapsulatedContext, PixelContext
from dcmencaps_lint.dataset import LONG_VRS, ParsedDataset
from dcmencaps_lint.fixes import (
    AddLossyFlag,
    AppendDelimiter,
    DropItem,
    Edit,
    EmptyBot,
    ItemsWithUndefinedLength,
    JoinFragments,
    MoveOffsetsToEot,
    PadFragment,
    RebuildBot,
    RebuildEot,
    RemoveEot,
    RepadRleSegments,
    SetLossyFlag,
    SplitAtCodestreams,
    TrimFragment,
    UnwrapJp2,
    VrAsOb,
    WrapInItems,
)
from dcmencaps_lint.model import (
    ITEM_DELIMITER_TAG,
    ITEM_HEADER_SIZE,
    ITEM_TAG,
    SEQUENCE_DELIMITER_TAG,
    UNDEFINED_LENGTH,
    FileReport,
    FrameMapSource,
    Item,
    StopReason,
)
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.writer import Copy, Piece

_HEADER = struct.Struct("<HHI")
EDITS = (
    AddLossyFlag,  # unsafe, as the others that say so below
    AppendDelimiter,
    DropItem,
    EmptyBot,
    ItemsWithUndefinedLength,
    JoinFragments,
    MoveOffsetsToEot,
    PadFragment,
    RebuildBot,
    RebuildEot,
    RemoveEot,
    RepadRleSegments,  # unsafe, as SetLossyFlag, TrimFragment and UnwrapJp2
    SetLossyFlag,
    SplitAtCodestreams,
    TrimFragment,  # unsafe: the engine applies it only with --unsafe-fixes
    UnwrapJp2,  # unsafe too
    VrAsOb,
    WrapInItems,
)
VR_TO_OB = {b"OW", b"UN"}  # the VRs an encapsulated Pixel Data element is found written with
MAX_OFFSET = 0xFFFFFFFF  # a BOT entry is 32 bits
COMPARE_STEP = 1 << 20  # bytes of each frame compared at a time
# Frame maps a table may be rebuilt from: what the tables or the codec say for sure
# (a map found by scanning for markers is a guess).
TRUSTED_MAPS = {
    FrameMapSource.EOT,
    FrameMapSource.BOT,
    FrameMapSource.ONE_PER_FRAGMENT,
    FrameMapSource.SINGLE_FRAME,
}


class CannotFix(Exception):
    """The edits cannot be applied to this file as it is; the message says why."""


class Layout(NamedTuple):
    """The new file, and where its frames are (for `check`)."""

    pieces: list[Piece]
    padded: frozenset[int]  # fragments that end in a pad byte the edits added
    kept: dict[int, int]  # fragments cut short (TrimFragment): the bytes of each kept
    joined: dict[int, int]  # first -> last fragment of each run joined into one
    # SplitAtCodestreams, ItemsWithUndefinedLength: what each new fragment holds, in
    # order (old offset, length, a 00 pad byte after it)
    parts: tuple[tuple[int, int, bool], ...] = ()
    # fragments whose first bytes are left out (UnwrapJp2): how many; `kept` has what stays
    heads: dict[int, int] | None = None
    # fragments written anew (RepadRleSegments): their new value, as new bytes and copies
    rebuilt: dict[int, list[Piece]] | None = None


def item_header(tag: int, length: int) -> bytes:
    return _HEADER.pack(tag >> 16, tag & 0xFFFF, length)


def layout(ctx: PixelContext, edits: Collection[Edit]) -> Layout:
    """The new file: the old one with `edits` applied to its top-level Pixel Data."""
    unknown = [e for e in edits if not isinstance(e, EDITS)]
    if unknown:
        raise CannotFix(f"no layout for the edit {unknown[0].describe()!r}")
    if any(isinstance(e, WrapInItems) for e in edits):
        return _wrapped(ctx, edits)
    if any(isinstance(e, ItemsWithUndefinedLength) for e in edits):
        return _undefined_length(ctx, edits)
    if any(isinstance(e, SplitAtCodestreams) for e in edits):
        return _split(ctx, edits)
    if not isinstance(ctx, EncapsulatedContext):
        raise CannotFix("no encapsulated Pixel Data of a known transfer syntax")
    walk, dataset, size = ctx.walk, ctx.dataset, ctx.reader.size
    pixel = dataset.pixel_data
    if pixel is None or not pixel.undefined_length:
        raise CannotFix("the Pixel Data is not encapsulated with an undefined length")
    append_delimiter = any(isinstance(e, AppendDelimiter) for e in edits)
    if walk.stop is not StopReason.DELIMITER and not (
        append_delimiter and walk.stop is StopReason.END_OF_DATA and walk.data_end == size
    ):
        raise CannotFix(f"the item walk did not end at a delimiter ({walk.stop.value})")
    fragments = walk.fragments
    if any(item.truncated for item in fragments):
        raise CannotFix("a fragment runs past the end of the file")
    padded_odd = {e.fragment for e in edits if isinstance(e, PadFragment)}
    if any(not 1 <= n <= len(fragments) or not fragments[n - 1].length % 2 for n in padded_odd):
        raise CannotFix("a pad for a fragment that is not there or not of odd length")
    kept: dict[int, int] = {}
    for edit in edits:
        if isinstance(edit, TrimFragment):
            fragment = (
                fragments[edit.fragment - 1] if 1 <= edit.fragment <= len(fragments) else None
            )
            if fragment is None or not fragment.value_offset < edit.end < fragment.end:
                raise CannotFix(f"no bytes to cut from fragment {edit.fragment} at {edit.end}")
            kept[edit.fragment] = edit.end - fragment.value_offset
    heads: dict[int, int] = {}
    for edit in edits:
        if isinstance(edit, UnwrapJp2):
            if edit.fragment in kept or edit.fragment in heads:
                raise CannotFix(f"fragment {edit.fragment} is cut twice")
            offset, length = _jp2_codestream(ctx, edit.fragment)
            heads[edit.fragment] = offset - fragments[edit.fragment - 1].value_offset
            kept[edit.fragment] = length
    rebuilt: dict[int, list[Piece]] = {}
    for edit in edits:
        if isinstance(edit, RepadRleSegments):
            if edit.fragment in kept or edit.fragment in rebuilt:
                raise CannotFix(f"fragment {edit.fragment} is changed twice")
            rebuilt[edit.fragment] = _repadded_rle(ctx, edit.fragment)
    lengths = {n: kept.get(n, f.length) for n, f in enumerate(fragments, start=1)}
    for number, value in rebuilt.items():
        lengths[number] = _piece_length(value)
    dropped = {e.offset for e in edits if isinstance(e, DropItem)}
    if not dropped <= {item.offset for item in walk.skipped}:
        raise CannotFix("a drop of an item that is not an empty item between fragments")
    kept_empty = [item for item in walk.skipped if item.offset not in dropped]
    joined = _joins(ctx, edits, kept_empty, kept | dict.fromkeys(rebuilt, 0))
    inner = {n for first, last in joined.items() for n in range(first + 1, last + 1)}
    for first, last in joined.items():  # one fragment of all their bytes, in order
        lengths[first] = sum(fragments[n - 1].length for n in range(first, last + 1))
    # a fragment cut or joined to an odd length gets one pad byte, as an odd one does;
    # an odd fragment joined to others needs none of its own
    padded = frozenset(
        {n for n in padded_odd if n not in joined and n not in inner and n not in rebuilt}
        | {n for n in (*kept, *joined) if lengths[n] % 2}
    )

    # Where each fragment's item starts in the new file, from the first fragment's (a
    # joined run's at its first fragment's number; its other fragments have no item).
    starts: dict[int, int] = {}
    position = 0
    for kind, _, number in _items_in_order(fragments, kept_empty):
        if kind == "fragment" and number not in inner:
            starts[number] = position
            position += ITEM_HEADER_SIZE + lengths[number] + (number in padded)
        elif kind != "fragment":
            position += ITEM_HEADER_SIZE
    frames = ctx.frame_map.frames
    firsts = [frame.first_fragment for frame in frames]

    bot_values = _bot_values(ctx, edits, starts, firsts)
    tables = _Tables(
        [starts[n] for n in firsts],
        [lengths[n] + (n in padded) for n in firsts],
        all(f.fragment_count == 1 or f.first_fragment in joined for f in frames),
    )
    first_item = walk.bot.offset if walk.bot is not None else walk.value_offset
    replaced: dict[int, tuple[int, bytes]] = {}
    if any(isinstance(e, RemoveEot) for e in edits):  # rebuilt values would go with them
        patches, cuts = _eot_removal(ctx, pixel.offset)
        replaced.update({at: (count, b"") for at, count in cuts.items()})
    else:
        patches = _eot_patches(ctx, tables)
    if any(isinstance(e, MoveOffsetsToEot) for e in edits) and ctx.dataset.eot is None:
        replaced[pixel.offset] = (0, _new_eot(ctx, tables))
    if any(isinstance(e, AddLossyFlag) for e in edits):
        place = _lossy_flag_place(ctx.reader, pixel.offset)
        replaced[place.offset] = (place.replaced, LOSSY_FLAG_ELEMENT)
        if place.group_length is not None:  # it counts the group's bytes: as many more
            added = len(LOSSY_FLAG_ELEMENT) - place.replaced
            patches[place.group_length] = _grown(ctx.reader, place.group_length, added)
    for edit in edits:
        if isinstance(edit, VrAsOb):
            if edit.offset + 2 > first_item or ctx.reader.read(edit.offset, 2) not in VR_TO_OB:
                raise CannotFix(f"no VR to write as OB at byte {edit.offset}")
            patches[edit.offset] = b"OB"
        if isinstance(edit, SetLossyFlag):
            if edit.offset + 2 > first_item or ctx.reader.read(edit.offset, 2) != b"00":
                raise CannotFix(f'no Lossy Image Compression "00" at byte {edit.offset}')
            patches[edit.offset] = b"01"

    pieces: list[Piece] = list(_patched(0, first_item, patches, replaced))
    bot = walk.bot
    if bot is not None:
        unchanged = bot.length == 4 * len(bot_values) and walk.bot_offsets == tuple(bot_values)
        if unchanged:  # copied, so that a diff shows only what changes
            pieces.append(Copy(bot.offset, ITEM_HEADER_SIZE + bot.length))
        else:
            pieces.append(item_header(ITEM_TAG, 4 * len(bot_values)))
            pieces.append(struct.pack(f"<{len(bot_values)}I", *bot_values))
    for kind, item, number in _items_in_order(fragments, kept_empty):
        if kind == "fragment" and number in inner:
            continue  # its bytes follow the first fragment of its run
        if kind == "fragment" and number in joined:
            pad = number in padded
            pieces.append(item_header(ITEM_TAG, lengths[number] + pad))
            for part in range(number, joined[number] + 1):
                value = fragments[part - 1]
                pieces.append(Copy(value.value_offset, value.length))
            if pad:
                pieces.append(b"\x00")
        elif kind == "fragment" and number in rebuilt:  # even: 64 bytes and even segments
            pieces.append(item_header(ITEM_TAG, lengths[number]))
            pieces.extend(rebuilt[number])
        elif kind == "fragment" and (number in padded or number in kept):
            length = lengths[number]
            pad = number in padded
            pieces.append(item_header(ITEM_TAG, length + pad))
            pieces.append(Copy(item.value_offset + heads.get(number, 0), length))
            if pad:
                pieces.append(b"\x00")
        elif kind == "fragment":
            pieces.append(Copy(item.offset, ITEM_HEADER_SIZE + item.length))
        else:
            pieces.append(Copy(item.offset, ITEM_HEADER_SIZE))
    if walk.delimiter is not None:
        pieces.append(Copy(walk.delimiter.offset, walk.delimiter.end - walk.delimiter.offset))
        rest = walk.delimiter.end
    else:
        pieces.append(item_header(SEQUENCE_DELIMITER_TAG, 0))
        rest = size
    pieces.extend(_patched(rest, size, patches))
    return Layout([p for p in pieces if p], padded, kept, joined, (), heads, rebuilt)


def _wrapped(ctx: PixelContext, edits: Collection[Edit]) -> Layout:
    """The new file of WrapInItems: the defined-length value, as it is, the one fragment
    of an undefined-length value (an empty BOT item before it, a 00 pad byte after it
    when its length is odd, a Sequence Delimitation Item after that)."""
    pixel, size = ctx.pixel, ctx.reader.size
    if len(edits) != 1 or pixel.undefined_length or pixel.value_offset + pixel.length > size:
        raise CannotFix("the Pixel Data value cannot be wrapped in items as it is")
    start, length = pixel.value_offset, pixel.length
    pad = length % 2
    pieces: list[Piece] = [
        Copy(0, start - 4),  # up to Pixel Data's length field
        b"\xff\xff\xff\xff",
        item_header(ITEM_TAG, 0),
        item_header(ITEM_TAG, length + pad),
        Copy(start, length),
        b"\x00" * pad,
        item_header(SEQUENCE_DELIMITER_TAG, 0),
        Copy(start + length, size - start - length),
    ]
    return Layout([p for p in pieces if p], frozenset({1} if pad else ()), {}, {})


# What a split rebuilds anyway (every fragment then one frame: the BOT's values from the
# new items, odd parts padded), so these edits may come with it.
_SPLIT_ALSO = (SplitAtCodestreams, RebuildBot, EmptyBot, PadFragment)


def _split(ctx: PixelContext, edits: Collection[Edit]) -> Layout:
    """The new file of SplitAtCodestreams: each fragment cut before every codestream
    start found inside it (an end marker, at most one pad byte, a start marker: the scan
    of FRG005), each part a fragment of its own (a 00 pad byte after an odd one), so that
    there are as many fragments as Number of Frames says, one frame each. A BOT with
    values is rebuilt from the new items; an empty one stays empty."""
    from dcmencaps_lint.rules.payload import payload_scan  # the scan FRG005 reports

    if not isinstance(ctx, EncapsulatedContext):
        raise CannotFix("no encapsulated Pixel Data of a known transfer syntax")
    other = [e for e in edits if not isinstance(e, _SPLIT_ALSO)]
    if other:
        raise CannotFix(f"{other[0].describe()!r} cannot be applied with a split")
    walk, size = ctx.walk, ctx.reader.size
    if walk.stop is not StopReason.DELIMITER or walk.skipped or walk.bot is None:
        raise CannotFix("the items are not a BOT item, fragments and a delimiter")
    if ctx.dataset.eot is not None or ctx.dataset.eot_lengths is not None:
        raise CannotFix("an Extended Offset Table of fewer frames cannot be rewritten in place")
    cuts: dict[int, list[int]] = {}
    for start in payload_scan(ctx.with_deep_reads()).starts:
        cuts.setdefault(start.fragment, []).append(start.offset)
    parts: list[tuple[int, int, bool]] = []
    for number, fragment in enumerate(walk.fragments, start=1):
        edges = [fragment.value_offset, *sorted(cuts.get(number, ())), fragment.end]
        for begin, end in pairwise(edges):
            parts.append((begin, end - begin, bool((end - begin) % 2)))
    expected = ctx.expected_frames
    if not cuts or len(parts) != expected:
        raise CannotFix(
            f"the {len(parts)} codestreams found do not make the {expected} frames one each"
        )
    values: list[int] = []
    if walk.bot_offsets or any(isinstance(e, RebuildBot) for e in edits):
        position = 0
        for _, length, pad in parts:
            values.append(position)
            position += ITEM_HEADER_SIZE + length + pad
        if any(isinstance(e, EmptyBot) for e in edits) or values[-1] > MAX_OFFSET:
            values = []
    pieces: list[Piece] = [
        Copy(0, walk.bot.offset),
        item_header(ITEM_TAG, 4 * len(values)),
        struct.pack(f"<{len(values)}I", *values),
    ]
    for begin, length, pad in parts:
        pieces += [item_header(ITEM_TAG, length + pad), Copy(begin, length), b"\x00" * pad]
    assert walk.delimiter is not None  # the walk stopped at it
    pieces.append(Copy(walk.delimiter.offset, size - walk.delimiter.offset))
    padded = frozenset(n for n, (_, _, pad) in enumerate(parts, start=1) if pad)
    return Layout([p for p in pieces if p], padded, {}, {}, tuple(parts))


def _whole_frame(ctx: EncapsulatedContext, number: int) -> Item:
    """Fragment `number`, which a trusted frame map says is one whole frame."""
    frames = [f for f in ctx.frame_map.frames if f.first_fragment == number]
    if ctx.frame_map.source not in TRUSTED_MAPS or len(frames) != 1:
        raise CannotFix(f"fragment {number} is not known to be a frame of its own")
    if frames[0].fragment_count != 1:
        raise CannotFix(f"the frame of fragment {number} spans other fragments too")
    return ctx.walk.fragments[number - 1]


def _jp2_codestream(ctx: EncapsulatedContext, number: int) -> tuple[int, int]:
    """(offset, length) of the codestream in the Contiguous Codestream box (jp2c) of the
    JP2 file that fragment `number` holds, a frame of its own; its boxes are walked by
    their headers (ISO/IEC 15444-1 I.4: length, type, and an 8-byte length when the
    length is 1; 0 runs to the end)."""
    fragment = _whole_frame(ctx, number)
    position, end = fragment.value_offset, fragment.end
    if ctx.reader.read(position, 12) != JP2_SIGNATURE:
        raise CannotFix(f"fragment {number} does not start with a JP2 signature box")
    while position + 8 <= end:
        length, kind = struct.unpack(">I4s", _read(ctx.reader, position, 8))
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", _read(ctx.reader, position + 8, 8))
            header = 16
        elif length == 0:
            length = end - position
        if length < header or position + length > end:
            break
        if kind == b"jp2c":
            start = position + header
            if ctx.reader.read(start, 4) != SOC_SIZ:
                break
            return start, position + length - start
        position += length
    raise CannotFix(f"no codestream box (jp2c) with SOC and SIZ in fragment {number}")


def _repadded_rle(ctx: EncapsulatedContext, number: int) -> list[Piece]:
    """The new value of an RLE frame (fragment `number`, a frame of its own) with each
    odd-length segment followed by a 00 byte and the header's offsets moved by the pad
    bytes before each segment (PS3.5 G.3, G.5). The header must be otherwise right."""
    fragment = _whole_frame(ctx, number)
    header = parse_rle(ctx.reader.read(fragment.value_offset, RLE_HEADER_SIZE))
    if header is None:
        raise CannotFix(f"fragment {number} has no RLE header to rewrite")
    # what CSM007 and CSM024 say of it: only odd offsets may be wrong
    if any(d.kind != "odd" for d in rle_defects(header, fragment.length)):
        raise CannotFix(f"the RLE header of fragment {number} is wrong, not only odd")
    edges = [*header.offsets[: header.segments], fragment.length]
    moved: list[int] = []
    segments: list[Piece] = []
    added = 0
    for start, end in pairwise(edges):
        moved.append(start + added)
        pad = (end - start) % 2
        segments += [Copy(fragment.value_offset + start, end - start), b"\x00" * pad]
        added += pad
    if not added:
        raise CannotFix(f"the RLE segments of fragment {number} are all of even length")
    offsets = moved + [0] * (RLE_MAX_SEGMENTS - len(moved))
    return [struct.pack("<16I", header.segments, *offsets), *segments]


def _piece_length(pieces: Sequence[Piece]) -> int:
    return sum(p.length if isinstance(p, Copy) else len(p) for p in pieces)


def _undefined_length(ctx: PixelContext, edits: Collection[Edit]) -> Layout:
    """The new file of ItemsWithUndefinedLength: the defined-length value, which its
    item walk fills exactly (a BOT item, fragments, a delimiter or none), copied as it
    is after the length FFFFFFFFH, then a Sequence Delimitation Item if it had none."""
    from dcmencaps_lint.walker import walk  # the engine's walk, bounded by the value

    pixel, size = ctx.pixel, ctx.reader.size
    if len(edits) != 1 or pixel is None or pixel.undefined_length or ctx.ts is None:
        raise CannotFix("the Pixel Data value cannot be given an undefined length as it is")
    start, length = pixel.value_offset, pixel.length
    end = start + length
    if end > size:
        raise CannotFix("the Pixel Data value runs past the end of the file")
    if _pixel_group_length(ctx.reader, pixel.offset) is not None:
        raise CannotFix("a group length (7FE0,0000) would have to count an undefined length")
    items = walk(ctx.reader, start, end, ctx.ts.codec)
    whole = items.stop is StopReason.DELIMITER or (
        items.stop is StopReason.END_OF_DATA and items.data_end == end
    )
    if items.bot is None or not items.fragments or items.skipped or not whole:
        raise CannotFix("the Pixel Data value is not a BOT item and fragments, whole")
    if items.delimiter is not None and items.delimiter.end != end:
        raise CannotFix("bytes follow the delimiter inside the Pixel Data value")
    pieces: list[Piece] = [
        Copy(0, start - 4),  # up to Pixel Data's length field
        b"\xff\xff\xff\xff",
        Copy(start, length),
        b"" if items.delimiter is not None else item_header(SEQUENCE_DELIMITER_TAG, 0),
        Copy(end, size - end),
    ]
    parts = tuple((f.value_offset, f.length, False) for f in items.fragments)
    return Layout([p for p in pieces if p], frozenset(), {}, {}, parts)


def _joins(
    ctx: EncapsulatedContext,
    edits: Collection[Edit],
    kept_empty: Sequence[Item],
    kept: dict[int, int],
) -> dict[int, int]:
    """The runs of fragments to join (first -> last): each exactly one frame's fragments,
    as a trusted frame map says, with no empty item kept between them and none cut."""
    runs = sorted((e.first, e.last) for e in edits if isinstance(e, JoinFragments))
    if not runs:
        return {}
    frames = {(f.first_fragment, f.last_fragment) for f in ctx.frame_map.frames}
    fragments = ctx.walk.fragments
    joined: dict[int, int] = {}
    for first, last in runs:
        if ctx.frame_map.source not in TRUSTED_MAPS or (first, last) not in frames:
            raise CannotFix(f"fragments {first}-{last} are not known to be one frame's")
        if first >= last or any(first <= n <= last for n in kept):
            raise CannotFix(f"fragments {first}-{last} cannot be joined as they are")
        start, end = fragments[first - 1].offset, fragments[last - 1].offset
        if any(start < item.offset < end for item in kept_empty):
            raise CannotFix(f"an item between fragments {first} and {last} stays")
        joined[first] = last
    return joined


class Hunk(NamedTuple):
    """Bytes of the old file replaced by other bytes in the new one (`--diff`)."""

    old_start: int
    old_end: int
    new_start: int
    new: bytes


def hunks(pieces: Sequence[Piece], old: ByteReader) -> list[Hunk]:
    """Where the new file differs from the old: every stretch of new bytes, with the old
    bytes it stands in for (none for an insertion; old bytes skipped are a deletion),
    less the bytes at either end that stay as they were. Copies in place are left out."""
    found: list[Hunk] = []
    old_at = new_at = 0
    pending = b""
    ends = [*(p for p in pieces), None]  # None: the end of the file
    for piece in ends:
        if isinstance(piece, bytes):
            pending += piece
            new_at += len(piece)
            continue
        upto = old.size if piece is None else piece.offset
        if pending or upto != old_at:
            found.append(_trimmed(Hunk(old_at, upto, new_at - len(pending), pending), old))
            pending = b""
        if piece is not None:
            old_at = piece.offset + piece.length
            new_at += piece.length
    return [h for h in found if h.old_end > h.old_start or h.new]


def _trimmed(hunk: Hunk, old: ByteReader) -> Hunk:
    """The hunk less the leading and trailing bytes it leaves as they were, when it
    replaces as many bytes as it writes (a table rewritten in place)."""
    start, end, new_start, new = hunk
    if end - start != len(new):
        return hunk
    was = old.read(start, end - start)
    head = 0
    while head < len(new) and new[head] == was[head]:
        head += 1
    tail = 0
    while tail < len(new) - head and new[-1 - tail] == was[-1 - tail]:
        tail += 1
    return Hunk(start + head, end - tail, new_start + head, new[head : len(new) - tail])


def _items_in_order(
    fragments: Sequence[Item], empty: Sequence[Item]
) -> Iterator[tuple[str, Item, int]]:
    """The fragments (numbered from 1) and the empty items between them, by offset."""
    merged = [("fragment", item, n) for n, item in enumerate(fragments, start=1)]
    merged += [("empty", item, 0) for item in empty]
    return iter(sorted(merged, key=lambda entry: entry[1].offset))


def _bot_values(
    ctx: EncapsulatedContext, edits: Collection[Edit], starts: dict[int, int], firsts: list[int]
) -> list[int]:
    """The new BOT's values: empty, or where each frame's first fragment now starts."""
    walk = ctx.walk
    if walk.bot is None or any(isinstance(e, EmptyBot | MoveOffsetsToEot) for e in edits):
        return []
    if not walk.bot_offsets and not any(isinstance(e, RebuildBot) for e in edits):
        return []  # an empty BOT stays empty
    trusted = ctx.frame_map.source in TRUSTED_MAPS
    if not trusted or not firsts or any(n not in starts for n in firsts):
        raise CannotFix("the frames are not known well enough to rebuild the BOT")
    values = [starts[n] for n in firsts]
    if values[-1] > MAX_OFFSET:
        raise CannotFix("the frames start past 2^32 bytes: the BOT must be empty (EmptyBot)")
    return values


class _Tables(NamedTuple):
    """What an Extended Offset Table of the new file holds: where each frame's item
    starts, how long its fragment is (a pad byte included); `one_each`: every frame is
    one fragment (a run joined into one counts as one)."""

    offsets: list[int]
    sizes: list[int]
    one_each: bool


def _eot_patches(ctx: EncapsulatedContext, tables: _Tables) -> dict[int, bytes]:
    """The Extended Offset Table's and its Lengths' new values, written in place (the
    same number of frames: the same lengths), by absolute offset."""
    dataset: ParsedDataset = ctx.dataset
    eot, lengths = dataset.eot, dataset.eot_lengths
    if eot is None and lengths is None:
        return {}
    if ctx.frame_map.source not in TRUSTED_MAPS:
        raise CannotFix("the frames are not known well enough to rebuild the EOT")
    if eot is None or lengths is None or eot.length != lengths.length:
        raise CannotFix("the Extended Offset Table and its Lengths do not match")
    if eot.length != 8 * len(tables.offsets) or not tables.one_each:
        raise CannotFix("the Extended Offset Table does not index one fragment per frame")
    return {
        eot.value_offset: struct.pack(f"<{len(tables.offsets)}Q", *tables.offsets),
        lengths.value_offset: struct.pack(f"<{len(tables.sizes)}Q", *tables.sizes),
    }


def _eot_removal(
    ctx: EncapsulatedContext, pixel_offset: int
) -> tuple[dict[int, bytes], dict[int, int]]:
    """(patches, cuts) that leave out the Extended Offset Table and its Lengths, whichever
    are there: each element's bytes cut, and a Group Length (7FE0,0000) right before
    them, if there is one, made that much smaller."""
    elements = [e for e in (ctx.dataset.eot, ctx.dataset.eot_lengths) if e is not None]
    if not elements:
        raise CannotFix("there is no Extended Offset Table to remove")
    cuts = {e.offset: e.value_offset + e.length - e.offset for e in elements}
    if any(at + count > pixel_offset for at, count in cuts.items()):
        raise CannotFix("the Extended Offset Table does not lie before Pixel Data")
    patches: dict[int, bytes] = {}
    group_length = _pixel_group_length(ctx.reader, min(cuts))
    if group_length is not None:
        patches[group_length] = _grown(ctx.reader, group_length, -sum(cuts.values()))
    return patches, cuts


def _pixel_group_length(reader: ByteReader, offset: int) -> int | None:
    """The value offset of a Group Length (7FE0,0000) UL whose 12 bytes (explicit VR or
    implicit) end right at `offset`, where the elements of group 7FE0 begin; else None."""
    before = reader.read(offset - 12, 12) if offset >= 12 else b""
    if before[:4] == b"\xe0\x7f\x00\x00" and before[4:8] in (b"UL\x04\x00", b"\x04\x00\x00\x00"):
        return offset - 4
    return None


def _grown(reader: ByteReader, value_offset: int, change: int) -> bytes:
    """A group length's 32-bit value at `value_offset`, `change` bytes more (or less)."""
    (old,) = struct.unpack("<I", _read(reader, value_offset, 4))
    if not 0 <= old + change <= 0xFFFFFFFF:
        raise CannotFix("a group length is smaller than what it counts")
    return struct.pack("<I", old + change)


# (0028,2110) Lossy Image Compression, CS, "01": explicit VR little endian, as every
# encapsulated transfer syntax writes the data set
LOSSY_FLAG_TAG = 0x00282110
MAX_NESTING = 64  # sequences within sequences the walk to the insertion point follows
LOSSY_FLAG_ELEMENT = b"\x28\x00\x10\x21CS\x02\x0001"


class _Place(NamedTuple):
    """Where LOSSY_FLAG_ELEMENT goes: at `offset`, in place of `replaced` old bytes (an
    empty (0028,2110), or none); `group_length`: the value offset of a (0028,0000)."""

    offset: int
    replaced: int
    group_length: int | None


def _lossy_flag_place(reader: ByteReader, pixel_offset: int) -> _Place:
    """Where the element LOSSY_FLAG_ELEMENT goes: before the first top-level element of
    a greater tag, or in place of an empty (0028,2110). The elements from the File Meta
    Information on are passed over by their headers (explicit VR little endian; a
    sequence of undefined length item by item)."""
    position = 132
    group_length: int | None = None
    while position < pixel_offset:
        group, element, vr = struct.unpack("<HH2s", _read(reader, position, 6))
        tag = group << 16 | element
        if tag > LOSSY_FLAG_TAG:
            return _Place(position, 0, group_length)
        end = _element_end(reader, position, pixel_offset)
        if tag == 0x00280000:
            if vr != b"UL" or end - position != 12:
                raise CannotFix("the group length (0028,0000) is not one UL value")
            group_length = position + 8
        if tag == LOSSY_FLAG_TAG:
            if end - position != 8 or vr != b"CS":
                raise CannotFix("Lossy Image Compression (0028,2110) is there, not empty")
            return _Place(position, 8, group_length)  # an empty one: replaced whole
        position = end
    if position != pixel_offset:
        raise CannotFix("the data set does not end at Pixel Data as its headers say")
    return _Place(position, 0, group_length)  # right before Pixel Data, the greater tag


def _element_end(reader: ByteReader, position: int, limit: int, depth: int = 0) -> int:
    """Where the element (or item) whose header is at `position` ends; CannotFix where
    a length runs past `limit`, the bytes are no element, or sequences nest too deep."""
    if depth > MAX_NESTING:
        raise CannotFix(f"sequences nest deeper than {MAX_NESTING} levels")
    group, _, vr, short = struct.unpack("<HH2sH", _read(reader, position, 8))
    if group == 0xFFFE:  # an item or a delimiter inside a sequence
        (length,) = struct.unpack("<I", _read(reader, position + 4, 4))
        start = position + 8
    elif vr.decode("latin-1") in LONG_VRS:
        (length,) = struct.unpack("<I", _read(reader, position + 8, 4))
        start = position + 12
    elif vr.isalpha() and vr.isupper():
        length, start = short, position + 8
    else:
        raise CannotFix(f"no explicit VR element at byte {position}")
    if length != UNDEFINED_LENGTH:
        if start + length > limit:
            raise CannotFix(f"the element at byte {position} runs past the data set")
        return start + length
    # undefined: a sequence (or UN) up to its delimiter, an item up to its own
    closing = ITEM_DELIMITER_TAG if group == 0xFFFE else SEQUENCE_DELIMITER_TAG
    while start < limit:
        inner_group, inner_element = struct.unpack("<HH", _read(reader, start, 4))
        if inner_group << 16 | inner_element == closing:
            return start + 8
        start = _element_end(reader, start, limit, depth + 1)
    raise CannotFix(f"the element at byte {position} has no end before Pixel Data")


def _read(reader: ByteReader, position: int, count: int) -> bytes:
    data = reader.read(position, count)
    if len(data) < count:
        raise CannotFix("the data set ends inside an element header")
    return data


def _new_eot(ctx: EncapsulatedContext, tables: _Tables) -> bytes:
    """An Extended Offset Table (7FE0,0001) and its Lengths (7FE0,0002), OV, of the new
    items, to go right before Pixel Data (their tags come just before its own)."""
    pixel = ctx.dataset.pixel_data
    if ctx.dataset.eot_lengths is not None or pixel is None:
        raise CannotFix("Extended Offset Table Lengths without the table: EOT001's to fix")
    if _pixel_group_length(ctx.reader, pixel.offset) is not None:
        raise CannotFix("a group length (7FE0,0000) would have to count the new table")
    trusted = ctx.frame_map.source in TRUSTED_MAPS
    if not trusted or not tables.offsets or not tables.one_each:
        raise CannotFix("the frames are not known to be one fragment each: no table of them")
    offsets = struct.pack(f"<{len(tables.offsets)}Q", *tables.offsets)
    sizes = struct.pack(f"<{len(tables.sizes)}Q", *tables.sizes)
    head = struct.Struct("<HH2sHI")
    return (
        head.pack(0x7FE0, 0x0001, b"OV", 0, len(offsets))
        + offsets
        + head.pack(0x7FE0, 0x0002, b"OV", 0, len(sizes))
        + sizes
    )


def _patched(
    start: int,
    end: int,
    patches: dict[int, bytes],
    replaced: dict[int, tuple[int, bytes]] | None = None,
) -> Iterator[Piece]:
    """[start, end) of the old file, copied, with the patches (new bytes over as many old
    ones) and the replacements (offset -> how many old bytes, the new bytes in their
    place: none to cut, no old ones to insert) that lie in it."""
    changes = {at: (len(value), value) for at, value in patches.items()}
    changes.update(replaced or {})
    for at in sorted(changes):
        count, value = changes[at]
        if start <= at and at + count <= end:
            yield Copy(start, at - start)
            yield value
            start = at + count
    yield Copy(start, end - start)


def _same_bytes(old: ByteReader, at: int, new: ByteReader, new_at: int, length: int) -> bool:
    """The `length` bytes at `at` in one file and at `new_at` in the other are equal."""
    for done in range(0, length, COMPARE_STEP):
        count = min(COMPARE_STEP, length - done)
        if old.read(at + done, count) != new.read(new_at + done, count):
            return False
    return True


def _holds(
    old: ByteReader, ranges: Sequence[tuple[int, int]], new: ByteReader, now: Item, pad: bool
) -> bool:
    """The new fragment `now` holds the old file's byte ranges (offset, length) in order,
    then a 00 pad byte when `pad`, and nothing else."""
    if now.length != sum(length for _, length in ranges) + pad:
        return False
    at = now.value_offset
    for offset, length in ranges:
        if not _same_bytes(old, offset, new, at, length):
            return False
        at += length
    return not pad or new.read(at, 1) == b"\0"


def check(
    old: PixelContext,
    old_report: FileReport,
    new: EncapsulatedContext,
    new_report: FileReport,
    planned: Layout,
    fixed: Collection[str],
) -> str | None:
    """Why the new file may not replace the old one; None when it may.

    Its frames are the old frames byte for byte, as the layout that made it says (a
    fragment of `padded` one 00 byte longer; one of `kept` only that many of its bytes,
    from its start or, with `heads`, from that many bytes in (UnwrapJp2); the fragments
    of a `joined` run one fragment of their bytes in order; one of `rebuilt` exactly its
    new value; with `parts` (SplitAtCodestreams, ItemsWithUndefinedLength) each new
    fragment the old bytes it was cut from), none of the `fixed` codes is found in it,
    and every finding it has the old file had too (by code).
    """
    padded, kept, joined, parts = planned.padded, planned.kept, planned.joined, planned.parts
    heads, rebuilt = planned.heads or {}, planned.rebuilt or {}
    if parts:  # SplitAtCodestreams, ItemsWithUndefinedLength: each an old byte range
        if len(new.walk.fragments) != len(parts):
            return f"{len(new.walk.fragments)} fragments, not the {len(parts)} written"
        for number, (offset, length, pad) in enumerate(parts, start=1):
            if not _holds(
                old.reader, [(offset, length)], new.reader, new.walk.fragments[number - 1], pad
            ):
                return f"fragment {number} is not the old bytes it was cut from"
        return _codes_why(old_report, new_report, fixed)
    if not isinstance(old, EncapsulatedContext):  # WrapInItems: the value, now a fragment
        if not _wrap_is_same(old, new, 1 in padded):
            return "the new fragment is not the old Pixel Data value"
        return _codes_why(old_report, new_report, fixed)
    old_frames, new_frames = old.frame_map.frames, new.frame_map.frames
    if len(old_frames) != len(new_frames):
        return f"{len(new_frames)} frames instead of {len(old_frames)}"
    old_fragments, new_fragments = old.walk.fragments, new.walk.fragments
    for before, after in zip(old_frames, new_frames, strict=True):
        olds = range(before.first_fragment, before.last_fragment + 1)
        spans = {
            o: (
                old_fragments[o - 1].value_offset + heads.get(o, 0),
                kept.get(o, old_fragments[o - 1].length),
            )
            for o in olds
        }
        # what each new fragment of the frame must hold: old byte ranges, and a pad or not
        expected: list[tuple[list[tuple[int, int]], bool]]
        if before.first_fragment in joined:  # one fragment of all their bytes, in order
            expected = [([spans[o] for o in olds], before.first_fragment in padded)]
        else:
            expected = [([spans[o]], o in padded) for o in olds]
        news = range(after.first_fragment, after.last_fragment + 1)
        if len(news) != len(expected):
            return f"frame {before.number} has other fragments"
        if before.first_fragment in rebuilt:  # its one fragment, written anew
            value = rebuilt[before.first_fragment]
            if not _holds_pieces(old.reader, value, new.reader, new_fragments[news[0] - 1]):
                return f"frame {before.number} is not the old one re-padded"
            continue
        if not all(
            _holds(old.reader, ranges, new.reader, new_fragments[n - 1], pad)
            for n, (ranges, pad) in zip(news, expected, strict=True)
        ):
            return f"frame {before.number} differs from the old file's"
    return _codes_why(old_report, new_report, fixed)


def _holds_pieces(old: ByteReader, pieces: Sequence[Piece], new: ByteReader, now: Item) -> bool:
    """The new fragment `now` is exactly `pieces`: new bytes, and old byte ranges."""
    if now.length != _piece_length(pieces):
        return False
    at = now.value_offset
    for piece in pieces:
        if isinstance(piece, Copy):
            if not _same_bytes(old, piece.offset, new, at, piece.length):
                return False
            at += piece.length
        else:
            if new.read(at, len(piece)) != piece:
                return False
            at += len(piece)
    return True


def _wrap_is_same(old: PixelContext, new: EncapsulatedContext, pad: bool) -> bool:
    """The new file's one frame is one fragment of the old Pixel Data value's bytes."""
    frames = new.frame_map.frames
    if len(frames) != 1 or frames[0].fragment_count != 1 or old.pixel is None:
        return False
    now = new.walk.fragments[frames[0].first_fragment - 1]
    value = (old.pixel.value_offset, old.pixel.length)
    return _holds(old.reader, [value], new.reader, now, pad)


def _codes_why(
    old_report: FileReport, new_report: FileReport, fixed: Collection[str]
) -> str | None:
    """Why the new file's findings forbid it: a fixed code still found, or a new code."""
    codes = {f.code for f in new_report.findings}
    still = sorted(codes & set(fixed))
    if still:
        return f"still found: {', '.join(still)}"
    new_codes = sorted(codes - {f.code for f in old_report.findings})
    if new_codes:
        return f"new findings: {', '.join(new_codes)}"
    return None

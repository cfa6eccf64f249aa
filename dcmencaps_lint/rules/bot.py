"""BOT: the Basic Offset Table item (PS3.5 A.4).

BOT entries are offsets from the first byte of the first fragment's item tag to the
first byte of each frame's first item tag.
"""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import Context
from dcmencaps_lint.model import UNDEFINED_LENGTH, Finding, FrameMapSource, Item, Severity, Walk
from dcmencaps_lint.registry import rule

OFFSET_LIMIT = 1 << 32


def _bot(ctx: Context) -> tuple[Walk, Item] | None:
    """The walk and its BOT item, unless the item's length is undefined (ITM003) or runs
    past the end of the file (ITM005): then that is the one thing wrong with it."""
    walk = ctx.walk
    if walk is None or walk.bot is None or walk.bot.length == UNDEFINED_LENGTH:
        return None
    if walk.bot.truncated:
        return None
    return walk, walk.bot


def entry_offset(bot: Item, index: int) -> int:
    """Absolute offset of the 0-based BOT entry `index`."""
    return bot.value_offset + 4 * index


def overflows(ctx: Context) -> bool:
    """The BOT has values but frames start beyond what 32-bit offsets can address."""
    walk = ctx.walk
    if walk is None or not walk.bot_offsets or not walk.fragments:
        return False
    if (ctx.expected_frames or 1) <= 1:
        return False
    origin = walk.first_fragment_offset
    if _map_known(ctx):
        assert ctx.frame_map is not None
        return any(
            ctx.fragment(f.first_fragment).offset - origin >= OFFSET_LIMIT
            for f in ctx.frame_map.frames
        )
    return walk.fragments[-1].offset - origin >= OFFSET_LIMIT


def _map_known(ctx: Context) -> bool:
    """The frame map comes from something other than the BOT itself."""
    return ctx.frame_map is not None and ctx.frame_map.source not in (
        FrameMapSource.BOT,
        FrameMapSource.NONE,
    )


def _checked_entries(ctx: Context) -> Iterator[tuple[int, int]]:
    """(0-based index, value) of BOT entries that frame-by-frame rules examine.

    Nothing when the table is for video (BOT010), wrapped past 2^32 (BOT009) or not made
    of whole entries (BOT001): there every entry is suspect for that one reason, reported
    once. Entries past Number of Frames are BOT006's alone.
    """
    if (ctx.ts is not None and ctx.ts.video) or overflows(ctx):
        return
    assert ctx.walk is not None and ctx.walk.bot is not None
    if ctx.walk.bot.length % 4:
        return
    entries = ctx.walk.bot_offsets
    if ctx.expected_frames is not None:
        entries = entries[: ctx.expected_frames]
    yield from enumerate(entries)


@rule(
    "BOT001",
    "bot-length-not-multiple-of-4",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="The Basic Offset Table item's length is not a multiple of 4",
)
def bot_length_not_multiple_of_4(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The BOT item holds 32-bit offsets, one per frame, so its length must
    be a multiple of 4.

    Why it matters
    --------------
    Readers either reject the table or read a misaligned last entry.

    How to fix
    ----------
    Write exactly 4 bytes per frame, or an empty BOT item.
    """
    found = _bot(ctx)
    if found and found[1].length % 4:
        bot = found[1]
        yield ctx.finding(
            f"BOT item length {bot.length} is not a multiple of 4",
            offset=bot.length_offset,
            length=4,
            item=0,
        )


@rule(
    "BOT002",
    "bot-first-offset-not-zero",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="The first Basic Offset Table entry is not 0",
)
def bot_first_offset_not_zero(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The first BOT entry points at the first frame, which starts at the
    first fragment: it must be 0.

    Why it matters
    --------------
    A non-zero first entry usually means offsets were counted from the
    wrong origin (the start of the BOT item, or of Pixel Data), so every entry is off.

    How to fix
    ----------
    Compute offsets from the first byte of the first fragment's item tag.
    """
    found = _bot(ctx)
    entries = dict(_checked_entries(ctx)) if found else {}
    if found and entries.get(0, 0) != 0:
        yield ctx.finding(
            f"the first BOT entry is {entries[0]}, not 0",
            offset=entry_offset(found[1], 0),
            length=4,
            frame=1,
            item=0,
        )


@rule(
    "BOT003",
    "bot-offsets-not-increasing",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="Basic Offset Table entries are not strictly increasing",
)
def bot_offsets_not_increasing(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Each BOT entry must be greater than the one before: frames are stored
    in order and each holds at least one fragment.

    Why it matters
    --------------
    Pydicom trusts the BOT and splits frames wrongly or raises a bare
    StopIteration; DCMTK and GDCM ignore it, so the file decodes differently per viewer.

    How to fix
    ----------
    Rebuild the BOT from the fragment positions (or leave it empty).
    """
    found = _bot(ctx)
    if not found:
        return
    previous: int | None = None
    for index, value in _checked_entries(ctx):
        if previous is not None and value <= previous:
            yield ctx.finding(
                f"BOT entry for frame {index + 1} is {value}, not greater than the "
                f"previous entry {previous}",
                offset=entry_offset(found[1], index),
                length=4,
                frame=index + 1,
                item=0,
            )
        previous = value


def _end_of_fragments(walk: Walk) -> int:
    """Relative offset where a frame can no longer start: the delimiter, or the data end."""
    end = walk.delimiter.offset if walk.delimiter else walk.data_end
    return end - walk.first_fragment_offset


@rule(
    "BOT004",
    "bot-offset-not-item-start",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="A Basic Offset Table entry does not point at a fragment's item tag",
)
def bot_offset_not_item_start(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Every BOT entry must land on the first byte of a fragment's item tag
    (an odd entry never does).

    Why it matters
    --------------
    A reader that follows the entry reads codestream bytes as an item
    header and fails, or decodes the wrong frame.

    How to fix
    ----------
    Rebuild the BOT from the fragment positions (or leave it empty).
    """
    found = _bot(ctx)
    if not found:
        return
    walk, bot = found
    starts = walk.fragment_starts()
    end = _end_of_fragments(walk)
    walked_to = walk.fragments[-1].offset - walk.first_fragment_offset if walk.fragments else -1
    for index, value in _checked_entries(ctx):
        if index == 0 or value >= end or value in starts:
            continue  # the first entry is BOT002's; out of range is BOT005's
        if not walk.complete and value > walked_to:
            continue  # past where the walk stopped: unknown, not wrong
        yield ctx.finding(
            f"BOT entry for frame {index + 1} is {value}, which is not the start of a "
            "fragment's item tag",
            offset=entry_offset(bot, index),
            length=4,
            frame=index + 1,
            item=0,
        )


@rule(
    "BOT005",
    "bot-offset-out-of-range",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="A Basic Offset Table entry points at or past the end of the fragments",
)
def bot_offset_out_of_range(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    A BOT entry points at or beyond the Sequence Delimitation Item (or
    the end of the data when there is none).

    Why it matters
    --------------
    Readers seek outside the pixel data and fail, or read the next element.

    How to fix
    ----------
    Rebuild the BOT from the fragment positions (or leave it empty).
    """
    found = _bot(ctx)
    if not found:
        return
    walk, bot = found
    end = _end_of_fragments(walk)
    for index, value in _checked_entries(ctx):
        if index > 0 and value >= end:
            yield ctx.finding(
                f"BOT entry for frame {index + 1} is {value}, at or past the end of the "
                f"fragments ({end})",
                offset=entry_offset(bot, index),
                length=4,
                frame=index + 1,
                item=0,
            )


@rule(
    "BOT006",
    "bot-count-mismatch",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="A non-empty Basic Offset Table has not one entry per frame",
)
def bot_count_mismatch(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    A BOT with values must have exactly one entry per frame, as many as
    Number of Frames (1 when absent).

    Why it matters
    --------------
    Extra or missing entries shift frames for readers that trust the BOT;
    dicom-rs once wrote N+1 entries and no peer tool noticed (Enet4/dicom-rs #399).

    How to fix
    ----------
    Write one entry per frame, or an empty BOT item.
    """
    found = _bot(ctx)
    expected = ctx.expected_frames
    if not found or expected is None or (ctx.ts is not None and ctx.ts.video):
        return
    bot = found[1]
    count = min(bot.length, bot.available) // 4
    if count and count != expected and bot.length % 4 == 0:  # else BOT001 is the cause
        yield ctx.finding(
            f"the BOT has {count} entries but Number of Frames is {expected}",
            offset=bot.length_offset,
            length=4,
            item=0,
        )


@rule(
    "BOT007",
    "bot-empty-ambiguous-frames",
    Severity.WARNING,
    ref="PS3.5 A.4 note",
    summary="Multi-frame, more fragments than frames, and no offset table",
)
def bot_empty_ambiguous_frames(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    A multi-frame image has more fragments than frames, an empty BOT and
    no Extended Offset Table, so readers must guess where frames begin from codestream
    markers. The linter found the frames that way; when even that fails, FRG002 is
    reported instead.

    Why it matters
    --------------
    Fo-dicom, dicomParser and others could not locate frames in such
    files (fo-dicom #992); guesses differ between readers.

    How to fix
    ----------
    Write a BOT (or, above 4 GiB, an Extended Offset Table), or put each
    frame in one fragment.
    """
    found = _bot(ctx)
    if not found or ctx.frame_map is None:
        return
    walk, bot = found
    if (
        bot.length == 0
        and not ctx.has_eot
        and ctx.frame_map.source is FrameMapSource.MARKERS
        and (ctx.expected_frames or 0) > 1
    ):
        yield ctx.finding(
            f"{len(walk.fragments)} fragments for {ctx.expected_frames} frames with an empty "
            "BOT and no Extended Offset Table: frame boundaries must be guessed",
            offset=bot.offset,
            length=8,
            item=0,
        )


@rule(
    "BOT008",
    "bot-not-empty-with-eot",
    Severity.ERROR,
    ref="PS3.5 A.4, PS3.3 C.7.6.3",
    summary="An Extended Offset Table is present and the Basic Offset Table has values",
)
def bot_not_empty_with_eot(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    When Extended Offset Table (7FE0,0001) is present, the BOT item shall
    be empty (PS3.5 A.4).

    Why it matters
    --------------
    Two tables can disagree, and readers pick different ones.

    How to fix
    ----------
    Write an empty BOT item whenever you write an Extended Offset Table.
    """
    found = _bot(ctx)
    if found and ctx.has_eot and found[1].length > 0:
        yield ctx.finding(
            f"the BOT has {found[1].length} bytes of values although an Extended Offset Table "
            "is present",
            offset=found[1].length_offset,
            length=4,
            item=0,
        )


@rule(
    "BOT009",
    "bot-offset-overflow",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="Frames start 2^32 bytes or more into the fragments, yet the BOT has values",
)
def bot_offset_overflow(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    A frame starts 2^32 bytes or more after the first fragment, so no
    32-bit BOT entry can hold its offset, yet the BOT has values (typically wrapped modulo
    2^32).

    Why it matters
    --------------
    Readers that trust the BOT read the wrong frames (pydicom #1178,
    wsidicom #76). The Extended Offset Table (CP-1818) exists for this case.

    How to fix
    ----------
    Write an empty BOT and an Extended Offset Table with 64-bit offsets.
    """
    found = _bot(ctx)
    if not found or not overflows(ctx):
        return
    walk, bot = found
    origin = walk.first_fragment_offset
    if _map_known(ctx):
        assert ctx.frame_map is not None
        for frame in ctx.frame_map.frames:
            start = ctx.fragment(frame.first_fragment).offset - origin
            if start >= OFFSET_LIMIT:
                index = frame.number - 1
                has_entry = index < len(walk.bot_offsets)
                yield ctx.finding(
                    f"frame {frame.number} starts {start} bytes after the first fragment, "
                    "beyond what a 32-bit BOT entry can hold",
                    offset=entry_offset(bot, index) if has_entry else bot.offset,
                    length=4 if has_entry else 8,
                    frame=frame.number,
                    item=0,
                )
                return
    span = walk.fragments[-1].offset - origin
    yield ctx.finding(
        f"fragments span {span} bytes, beyond what 32-bit BOT entries can address",
        offset=bot.offset,
        length=8,
        item=0,
    )


@rule(
    "BOT010",
    "bot-not-empty-for-video",
    Severity.ERROR,
    ref="PS3.5 8.2.5-8.2.11",
    summary="A video transfer syntax with a non-empty Basic Offset Table",
)
def bot_not_empty_for_video(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Under the MPEG-2, MPEG-4 AVC/H.264 and HEVC/H.265 transfer syntaxes
    the whole video is one stream, and the BOT item shall be empty.

    Why it matters
    --------------
    A BOT suggests frame boundaries that the stream does not have.

    How to fix
    ----------
    Write an empty BOT item.
    """
    found = _bot(ctx)
    if found and ctx.ts is not None and ctx.ts.video and found[1].length > 0:
        yield ctx.finding(
            f"the BOT has {found[1].length} bytes of values under video transfer syntax "
            f"{ctx.ts.name}",
            offset=found[1].length_offset,
            length=4,
            item=0,
        )

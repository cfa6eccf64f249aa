"""BOT: the Basic Offset Table item (PS3.5 A.4).

BOT entries are offsets from the first byte of the first fragment's item tag to the
first byte of each frame's first item tag.
"""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import EncapsulatedContext, Shape
from dcmencaps_lint.model import UNDEFINED_LENGTH, FrameMapSource, Item, Problem, Severity, Walk
from dcmencaps_lint.registry import FixAvailability, rule
from dcmencaps_lint.rules import offering
from dcmencaps_lint.transfer_syntax import FRAME_BASED, VIDEO

OFFSET_LIMIT = 1 << 32


def _bot(ctx: EncapsulatedContext) -> tuple[Walk, Item] | None:
    """The walk and its BOT item, unless the item's length is undefined (ITM003) or runs
    past the end of the file (ITM005): then that is the one thing wrong with it."""
    walk = ctx.walk
    if walk.bot is None or walk.bot.length == UNDEFINED_LENGTH:
        return None
    if walk.bot.truncated:
        return None
    return walk, walk.bot


def entry_offset(bot: Item, index: int) -> int:
    """Absolute offset of the 0-based BOT entry `index`."""
    return bot.value_offset + 4 * index


def overflows(ctx: EncapsulatedContext) -> bool:
    """The BOT has values but frames start beyond what 32-bit offsets can address."""
    walk = ctx.walk
    if not walk.bot_offsets or not walk.fragments:
        return False
    if (ctx.expected_frames or 1) <= 1:
        return False
    origin = walk.first_fragment_offset
    if _map_known(ctx):
        return any(
            ctx.fragment(f.first_fragment).offset - origin >= OFFSET_LIMIT
            for f in ctx.frame_map.frames
        )
    return walk.fragments[-1].offset - origin >= OFFSET_LIMIT


def _map_known(ctx: EncapsulatedContext) -> bool:
    """The frame map comes from something other than the BOT itself."""
    return ctx.frame_map.source not in (FrameMapSource.BOT, FrameMapSource.NONE)


def _checked_entries(ctx: EncapsulatedContext, bot: Item) -> Iterator[tuple[int, int]]:
    """(0-based index, value) of BOT entries that frame-by-frame rules examine.

    Nothing when the table is wrapped past 2^32 (BOT009) or not made of whole entries
    (BOT001): there every entry is suspect for that one reason, reported once. Entries
    past Number of Frames are BOT006's alone. (A video BOT is BOT010's: the rules that
    look at entries do not apply to video.)
    """
    if overflows(ctx) or bot.length % 4:
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
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("RebuildBot")
def bot_length_not_multiple_of_4(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The length of the Basic Offset Table item (the first item in Pixel Data) is not a
    multiple of 4. The BOT holds one 32-bit offset per frame, so its length is either 0
    (empty) or 4 x the number of frames. The finding points at the item's length field.
    The entries of such a table are not checked further (BOT002-BOT005 stay quiet).

    Why it matters
    --------------
    pydicom 3.0.2 raises "The length of the Basic Offset Table item is not a multiple of 4"
    and cannot return any frame, while DCMTK, GDCM and dciodvfy (2022) say nothing and
    decode the image: the file works in one toolkit and fails in another.

    Example
    -------
    Two frames, each one fragment of 1024 (0x400) bytes, and a 6-byte BOT:

        FE FF 00 E0 06 00 00 00   item tag, length 6
        00 00 00 00 08 04         offset 0, then half an offset

    Good: 8 bytes, one offset per frame (frame 2 starts 8 + 1024 = 1032 bytes after
    frame 1's item tag):

        FE FF 00 E0 08 00 00 00   item tag, length 8
        00 00 00 00 08 04 00 00   offsets 0 and 1032 (0x408)

    How to fix
    ----------
    Write exactly 4 bytes per frame, or an empty BOT item (length 0). pydicom's
    `encapsulate(frames, has_bot=True)` writes a correct table.
    `--fix` rebuilds the BOT from where each frame starts, where the frames are known for
    sure (an Extended Offset Table, one fragment per frame, a single frame), and says
    why not elsewhere. Safe: no codestream byte changes.

    Reference
    ---------
    PS3.5 A.4 (quoted from the 2019-2022 text): "When the Item Value is not present, the
    Item Length shall be zero (00000000H)" and "When the Item Value is present, the Basic
    Offset Table Item Value shall contain concatenated 32-bit unsigned integer values that
    are byte offsets to the first byte of the Item Tag of the first fragment for each frame
    in the Sequence of Items."
    """
    found = _bot(ctx)
    if found and found[1].length % 4:
        bot = found[1]
        yield Problem(
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
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("RebuildBot")
def bot_first_offset_not_zero(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The first BOT entry is not 0. Offsets are counted from the first byte of the item tag
    that follows the BOT item, and frame 1 starts right there, so its entry is always 0.
    The finding points at the entry (frame 1, item 0).

    Why it matters
    --------------
    A non-zero first entry suggests the writer counted from the wrong origin (the
    BOT's own item tag, or the Pixel Data element), so every entry is off by the same
    amount. pydicom 3.0.2 trusts the BOT blindly and cuts the frames at the wrong bytes
    (decoder errors, or a bare StopIteration from `pixel_array`); DCMTK and GDCM ignore
    the BOT and decode fine, so the defect hides until a reader that trusts the table
    meets the file.

    Example
    -------
    Offsets counted from the BOT item's own tag, 16 bytes too far:

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        10 00 00 00 18 04 00 00   16 and 1048

    Good:

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        00 00 00 00 08 04 00 00   0 and 1032: frame 2's item tag

    How to fix
    ----------
    Count offsets from the first byte of the first fragment's item tag (the item after
    the BOT), or write an empty BOT.
    `--fix` rebuilds the BOT from where each frame starts, where the frames are known for
    sure (an Extended Offset Table, one fragment per frame, a single frame), and says
    why not elsewhere. Safe: no codestream byte changes.

    Reference
    ---------
    PS3.5 A.4: "These offsets are measured from the first byte of the first Item Tag
    following the Basic Offset Table item." Its notes add (paraphrased) that for a single
    frame the value, if present, is a single 00000000H.
    """
    found = _bot(ctx)
    entries = dict(_checked_entries(ctx, found[1])) if found else {}
    if found and entries.get(0, 0) != 0:
        yield Problem(
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
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("RebuildBot")
def bot_offsets_not_increasing(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A BOT entry (frame 2 on) is not greater than the entry before it. The finding points
    at the later entry of each pair. Entries wrapped past 2^32 are BOT009's alone, and a
    video BOT is BOT010's.

    Why it matters
    --------------
    Frames and their fragments are stored in order, so frame starts can only grow: a
    repeated entry gives two frames one start, a decreasing one means a stale or
    mis-sorted table. pydicom 3.0.2 splits frames by the table: they come out merged or
    cut in the wrong place, or `pixel_array` raises a bare StopIteration. DCMTK and GDCM
    ignore the BOT, so the same file looks right there.

    Example
    -------
    Three frames of one 1024-byte fragment each, entries 2 and 3 swapped:

        FE FF 00 E0 0C 00 00 00   BOT item, 3 entries
        00 00 00 00 10 08 00 00   0, 2064,
        08 04 00 00               1032: less than the entry before

    Good:

        FE FF 00 E0 0C 00 00 00   BOT item, 3 entries
        00 00 00 00 08 04 00 00   0, 1032,
        10 08 00 00               2064

    How to fix
    ----------
    Rebuild the BOT from the item positions (or write an empty BOT).
    `--fix` rebuilds the BOT from where each frame starts, where the frames are known for
    sure (an Extended Offset Table, one fragment per frame, a single frame), and says
    why not elsewhere. Safe: no codestream byte changes.

    Reference
    ---------
    PS3.5 A.4 gives one offset "to the first byte of the Item Tag of the first fragment
    for each frame in the Sequence of Items", and PS3.5 7.5 makes the order of items
    significant (paraphrased). Strictly increasing entries follow from the two (derived:
    the Standard does not say it in these words).
    """
    found = _bot(ctx)
    if not found:
        return
    bot = found[1]
    previous: int | None = None
    for index, value in _checked_entries(ctx, bot):
        if previous is not None and value <= previous:
            yield Problem(
                f"BOT entry for frame {index + 1} is {value}, not greater than the "
                f"previous entry {previous}",
                offset=entry_offset(bot, index),
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
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("RebuildBot")
def bot_offset_not_item_start(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A BOT entry (frame 2 on) lands inside the fragments but not on the first byte of a
    fragment's item tag: in an item header or in codestream bytes. Every item has an even
    length, so item tags sit at even offsets and an odd entry is always wrong. The first
    entry is BOT002's and an entry at or past the end BOT005's; an entry beyond the point
    where a truncated walk stopped is not judged.

    Why it matters
    --------------
    A reader that follows the entry reads codestream bytes as an item header. pydicom
    3.0.2 trusts the table and mis-splits (two frames merged, then a bare StopIteration, or
    a decoder error); fo-dicom throws "Fragment start position does not match offset
    table."; DCMTK warns "possibly wrong value in basic offset table" on one code path
    only; GDCM ignores the BOT. dciodvfy (2024) has a check for this, but its loop index is
    uninitialised, so it may never run.

    Example
    -------
    Frame 2's entry is 2 bytes late:

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        00 00 00 00 0A 04 00 00   0 and 1034: inside frame 2's item tag

    Good:

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        00 00 00 00 08 04 00 00   0 and 1032: frame 2's item tag

    How to fix
    ----------
    Rebuild the BOT: entry n = (offset of frame n's first item tag) - (offset of the
    first fragment's item tag). Or write an empty BOT.
    `--fix` rebuilds the BOT from where each frame starts, where the frames are known for
    sure (an Extended Offset Table, one fragment per frame, a single frame), and says
    why not elsewhere. Safe: no codestream byte changes.

    Reference
    ---------
    PS3.5 A.4: the entries "are byte offsets to the first byte of the Item Tag of the first
    fragment for each frame in the Sequence of Items", and "All items containing an encoded
    fragment shall be made of an even number of bytes greater or equal to two".
    """
    found = _bot(ctx)
    if not found:
        return
    walk, bot = found
    if not walk.bot_offsets:
        return  # an empty BOT: nothing to look up
    starts = walk.fragment_starts
    end = _end_of_fragments(walk)
    walked_to = walk.fragments[-1].offset - walk.first_fragment_offset if walk.fragments else -1
    for index, value in _checked_entries(ctx, bot):
        if index == 0 or value >= end or value in starts:
            continue  # the first entry is BOT002's; out of range is BOT005's
        if not walk.complete and value > walked_to:
            continue  # past where the walk stopped: unknown, not wrong
        yield Problem(
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
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("RebuildBot")
def bot_offset_out_of_range(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A BOT entry (frame 2 on) points at or past the Sequence Delimitation Item that ends
    the fragments (or past the end of the data when there is none). The message gives
    both the entry and the end, counted from the first fragment's item tag.

    Why it matters
    --------------
    No frame can start there. A reader that trusts the table (pydicom does) seeks to the
    delimiter, into the elements after Pixel Data or past the end of the file, and fails
    or decodes garbage; DCMTK and GDCM ignore the BOT, so the defect stays hidden there.
    A table kept after the frames were re-encoded smaller looks like this.

    Example
    -------
    Two frames of 1024 bytes; the delimiter is at 2064 (0x810):

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        00 00 00 00 00 20 00 00   0 and 8192 (0x2000): past the delimiter

    Good:

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        00 00 00 00 08 04 00 00   0 and 1032

    How to fix
    ----------
    Rebuild the BOT from the item positions (or write an empty BOT).
    `--fix` rebuilds the BOT from where each frame starts, where the frames are known for
    sure (an Extended Offset Table, one fragment per frame, a single frame), and says
    why not elsewhere. Safe: no codestream byte changes.

    Reference
    ---------
    PS3.5 A.4: the entries "are byte offsets to the first byte of the Item Tag of the first
    fragment for each frame in the Sequence of Items". An offset past the last fragment
    points at no frame (derived).
    """
    found = _bot(ctx)
    if not found:
        return
    walk, bot = found
    end = _end_of_fragments(walk)
    for index, value in _checked_entries(ctx, bot):
        if index > 0 and value >= end:
            yield Problem(
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
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("RebuildBot")
def bot_count_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A non-empty BOT does not have one entry per frame: its length / 4 differs from
    Number of Frames (0028,0008), 1 when absent. The finding points at the BOT's length
    field. Not reported when the length is not a multiple of 4 (BOT001) or for video
    (BOT010).

    Why it matters
    --------------
    Readers that trust the BOT shift or lose frames. With too few entries pydicom 3.0.2
    yields fewer frames than Number of Frames and `pixel_array` raises a bare
    StopIteration. dicom-rs once wrote N+1 entries, the last pointing at the end
    (Enet4/dicom-rs PR #399): "DCMTK did not show any" warning and viewers opened the
    files, so the defect spread unnoticed. DCMTK complains ("basic offset table has wrong
    size") on one frame-access path only.

    Example
    -------
    Number of Frames is 2, and a third entry points at the Sequence Delimitation Item:

        FE FF 00 E0 0C 00 00 00   BOT item, length 12: 3 entries
        00 00 00 00 08 04 00 00   0, 1032,
        10 08 00 00               2064: the delimiter, not a frame

    Good (or, if the file really has 3 frames, Number of Frames "3"):

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        00 00 00 00 08 04 00 00   0 and 1032

    How to fix
    ----------
    Write one entry per frame, or an empty BOT item.
    `--fix` rebuilds the BOT from where each frame starts, where the frames are known for
    sure (an Extended Offset Table, one fragment per frame, a single frame), and says
    why not elsewhere. Safe: no codestream byte changes.

    Reference
    ---------
    PS3.5 A.4: the BOT holds byte offsets to the first fragment "for each frame in the
    Sequence of Items": one entry per frame (derived: the count is not stated in words).
    """
    found = _bot(ctx)
    expected = ctx.expected_frames
    if not found or expected is None:
        return
    bot = found[1]
    count = min(bot.length, bot.available) // 4
    if count and count != expected and bot.length % 4 == 0:  # else BOT001 is the cause
        yield Problem(
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
    fix=FixAvailability.NEVER,
    when=Shape.FRAMES,
)
def bot_empty_ambiguous_frames(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A multi-frame image has more fragments than frames, an empty BOT and no Extended
    Offset Table, so the only way to find where each frame begins is to parse the
    codestreams. The linter did so from codestream markers (SOI or SOC at the start of a
    fragment); when even that fails, FRG002 is reported instead. The finding points at
    the BOT item.

    Why it matters
    --------------
    This is legal, but many readers cannot do it, and those that can guess differently.
    fo-dicom failed on ultrasound cine loops with "Support for multi-frame images with
    varying fragment sizes and no offset table has not been implemented" (fo-dicom #992,
    #1216), as did dicomParser (#44). pydicom looks for an EOI (FF D9) in the last 10 bytes
    of a fragment, dcm4che starts a frame at any fragment that begins with the first
    frame's first two bytes: a codestream that happens to hold such bytes is split
    differently by each.

    Example
    -------
    Number of Frames 2, each JPEG frame in two fragments of 512 (0x200) bytes:

        FE FF 00 E0 00 00 00 00   BOT item, empty
        FE FF 00 E0 00 02 00 00   fragment 1: FF D8 ...   (frame 1)
        FE FF 00 E0 00 02 00 00   fragment 2: ... FF D9
        FE FF 00 E0 00 02 00 00   fragment 3: FF D8 ...   (frame 2)
        FE FF 00 E0 00 02 00 00   fragment 4: ... FF D9

    Good: a BOT with the frame starts (frame 2 at 2 x 520 = 1040):

        FE FF 00 E0 08 00 00 00   BOT item, 2 entries
        00 00 00 00 10 04 00 00   0 and 1040 (0x410)

    How to fix
    ----------
    Write a BOT, or put each frame in a single fragment (past 4 GiB: one fragment per
    frame, an empty BOT and an Extended Offset Table).

    Reference
    ---------
    PS3.5 A.4 and its notes (paraphrased): the BOT Item Value may be empty, and decoders
    need to accept both an empty and a filled table. PS3.5 8.2, note: recipients "can
    detect fragmentation of frames by comparing the number of fragments (the number of
    Items minus one for the Basic Offset Table) with the number of frames": they can
    detect it, but not undo it, without a table.
    """
    found = _bot(ctx)
    if not found:
        return
    walk, bot = found
    if (
        bot.length == 0
        and not ctx.has_eot
        and ctx.frame_map.source is FrameMapSource.MARKERS
        and (ctx.expected_frames or 0) > 1
    ):
        yield Problem(
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
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("EmptyBot")
def bot_not_empty_with_eot(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Extended Offset Table (7FE0,0001) is present and the BOT item has a value (length
    greater than 0). The finding points at the BOT's length field.

    Why it matters
    --------------
    Two tables can disagree, and readers pick different ones: pydicom 3.0.2 uses the EOT,
    while DCMTK, GDCM and fo-dicom never read the EOT. With one table stale, the same file
    decodes differently per toolkit, and none of them warns (dciodvfy 2024 does).

    Example
    -------
    An Extended Offset Table, and a BOT with values as well:

        E0 7F 01 00 4F 56 00 00 10 00 00 00   (7FE0,0001) OV, 16 bytes
        00 00 00 00 00 00 00 00               offset 0
        08 04 00 00 00 00 00 00               offset 1032
                                              ... (7FE0,0002), (7FE0,0010), then:
        FE FF 00 E0 08 00 00 00               BOT item, length 8
        00 00 00 00 08 04 00 00               0 and 1032: not permitted here

    Good: the same EOT and an empty BOT item:

        FE FF 00 E0 00 00 00 00               BOT item, length 0

    How to fix
    ----------
    Write an empty BOT item whenever you write an Extended Offset Table (pydicom's
    `encapsulate_extended` does), or drop the EOT and keep the BOT when all frames start
    within 4 GiB.
    `--fix` empties the BOT (safe: no codestream byte changes).

    Reference
    ---------
    PS3.5 A.4, note: "A Basic Offset Table Item Value is not permitted … if Extended Offset
    Table (7FE0,0001) is present." PS3.3 C.7.6.3, (7FE0,0001): "May only be present when:
    … the Basic Offset Table is not present (i.e., the first Item of Pixel Data
    (7FE0,0010) has zero length)".
    """
    found = _bot(ctx)
    if found and ctx.has_eot and found[1].length > 0:
        yield Problem(
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
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("MoveOffsetsToEot")
def bot_offset_overflow(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A frame starts 2^32 bytes (4 GiB) or more after the first fragment's item tag, so no
    32-bit BOT entry can hold its offset, yet the BOT has values. When the frames are
    known without the BOT (from the EOT or the fragment count), the finding names the
    first such frame and points at its entry; otherwise it gives the span of the
    fragments and points at the BOT item. The other entry checks (BOT002-BOT005) stay
    quiet: every entry past 4 GiB is wrong for this one reason.

    Why it matters
    --------------
    A writer that does not check wraps offsets modulo 2^32, so late entries point at
    frames near the start and readers that trust the BOT (pydicom) return the wrong frames
    without an error. pydicom #1178 (PR #1241) and wsidicom #76 hit this with whole-slide
    images (wsidicom: writing with a BOT "will fail after writing the file if the size is
    exceeded"); DCMTK refuses to write such a table ("offset value exceeds maximum
    (32-bit unsigned integer)"). The Extended Offset Table (CP-1818) exists for this case.

    Example
    -------
    One 2048-byte fragment per frame (2056 bytes apart); frame k+1 starts at
    4 294 968 320 (0x1_0000_0400):

        FE FF 00 E0 ...           BOT item, one entry per frame
        ...
        F8 FB FF FF               frame k:   4 294 966 264 (0xFFFF_FBF8)
        00 04 00 00               frame k+1: 1024, wrapped

    Good: an empty BOT, and 64-bit offsets in (7FE0,0001):

        FE FF 00 E0 00 00 00 00   BOT item, empty
        00 04 00 00 01 00 00 00   EOT value for frame k+1: 0x1_0000_0400

    How to fix
    ----------
    Write an empty BOT and an Extended Offset Table with 64-bit offsets (pydicom's
    `encapsulate_extended`), one fragment per frame.
    `--fix` empties the BOT and, where there is no Extended Offset Table, writes one with
    its Lengths right before Pixel Data, of where each frame's item now starts and how
    long its fragment is (safe: no codestream byte changes); the table only where the
    frames are known to be one fragment each, and not where a group length (7FE0,0000)
    would have to count it.

    Reference
    ---------
    PS3.5 A.4: the entries are "concatenated 32-bit unsigned integer values"; an offset of
    2^32 or more cannot be written, so the BOT must be empty (derived). PS3.3 C.7.6.3: the
    Extended Offset Table (VR OV, 64-bit) holds "Byte offsets of the Item Tags of the
    Frames"; it was added by CP-1818.
    """
    found = _bot(ctx)
    if not found or not overflows(ctx):
        return
    walk, bot = found
    origin = walk.first_fragment_offset
    if _map_known(ctx):
        for frame in ctx.frame_map.frames:
            start = ctx.fragment(frame.first_fragment).offset - origin
            if start >= OFFSET_LIMIT:
                index = frame.number - 1
                has_entry = index < len(walk.bot_offsets)
                yield Problem(
                    f"frame {frame.number} starts {start} bytes after the first fragment, "
                    "beyond what a 32-bit BOT entry can hold",
                    offset=entry_offset(bot, index) if has_entry else bot.offset,
                    length=4 if has_entry else 8,
                    frame=frame.number,
                    item=0,
                )
                return
    span = walk.fragments[-1].offset - origin
    yield Problem(
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
    codecs=VIDEO,
    fix=FixAvailability.ALWAYS,
    when=Shape.BOT_VALUES,
)
@offering("EmptyBot")
def bot_not_empty_for_video(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under a video transfer syntax (MPEG-2 1.2.840.10008.1.2.4.100/.101, MPEG-4
    AVC/H.264 .102-.106, HEVC/H.265 .107/.108, and the Fragmentable .100.1-.106.1) the BOT
    item has a value. The whole video is one bit stream, not separately encoded frames, so
    there is nothing for per-frame offsets to point at. The finding points at the BOT's
    length field; the other entry checks stay quiet.

    Why it matters
    --------------
    The entries claim frame boundaries that the stream does not have. A generic reader
    that trusts the BOT cuts the bit stream at those offsets and hands the decoder a
    partial stream.

    Example
    -------
    MPEG-4 AVC/H.264 (1.2.840.10008.1.2.4.102), even a single 0 entry is wrong:

        FE FF 00 E0 04 00 00 00   BOT item, length 4
        00 00 00 00               offset 0
        FE FF 00 E0 ...           the H.264 stream

    Good:

        FE FF 00 E0 00 00 00 00   BOT item, empty

    How to fix
    ----------
    Write an empty BOT item (length 0).
    `--fix` empties the BOT (safe: no codestream byte changes).

    Reference
    ---------
    PS3.5 8.2.5 and 8.2.6 (MPEG2, quoted from the 2019-2022 text): "The Basic Offset Table
    shall be empty (present but zero length)." The same requirement is understood to apply
    to MPEG-4 AVC/H.264 and HEVC/H.265 (8.2.7-8.2.11); that wording was not checked.
    """
    found = _bot(ctx)
    if found and found[1].length > 0:
        yield Problem(
            f"the BOT has {found[1].length} bytes of values under video transfer syntax "
            f"{ctx.ts.name}",
            offset=found[1].length_offset,
            length=4,
            item=0,
        )

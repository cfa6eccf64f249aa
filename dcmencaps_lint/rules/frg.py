"""FRG: fragments and frames (PS3.5 8.2, A.4)."""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import EncapsulatedContext, Shape
from dcmencaps_lint.model import FrameMapSource, Problem, Severity
from dcmencaps_lint.registry import Deep, FixAvailability, rule
from dcmencaps_lint.rules.payload import frame_of, payload_scan, start_marker
from dcmencaps_lint.transfer_syntax import (
    FRAME_BASED,
    MARKER_CODED,
    ONE_FRAGMENT_PER_FRAME,
    UNFRAGMENTABLE_VIDEO,
)

# Frame maps that say for sure which fragments make a frame (FRG003's fix joins them).
KNOWN_FRAMES = frozenset({FrameMapSource.BOT, FrameMapSource.EOT, FrameMapSource.SINGLE_FRAME})


def too_few_fragments(ctx: EncapsulatedContext) -> bool:
    """FRG001's condition: a complete walk with fewer fragments than frames (for the
    frame-based syntaxes, which FRG001 and FRG005 apply to)."""
    walk, expected = ctx.walk, ctx.expected_frames
    if expected is None:
        return False
    return walk.complete and bool(walk.fragments) and len(walk.fragments) < expected


@rule(
    "FRG001",
    "fewer-fragments-than-frames",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="Fewer fragments than frames in a frame-based transfer syntax",
    codecs=FRAME_BASED,
    fix=FixAvailability.SOMETIMES,
)
def fewer_fragments_than_frames(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    In every transfer syntax that encodes frames separately (all encapsulated ones but
    video), each frame is at least one fragment, so there must be at least Number of
    Frames fragments. Checked only when the item walk is complete (a truncated item is
    ITM005's finding).

    Why it matters
    --------------
    Frames are missing, or several share a fragment. Readers fail or lose frames:
    pydicom raises "fewer fragments than frames", DCMTK an "Illegal call", dcm4che
    "Data Fragments only contains N frames", and DCMTK's dcmdjpeg silently wrote a
    one-frame image when two frames shared one fragment.

    Example
    -------
    Number of Frames is 2, with one fragment holding both JPEG codestreams:

        FE FF 00 E0 00 00 00 00   empty BOT item
        FE FF 00 E0 40 00 00 00   fragment 1
        FF D8 ... FF D9           frame 1
        FF D8 ... FF D9           frame 2, in the same fragment
        FE FF DD E0 00 00 00 00

    The good form puts each frame in its own fragment(s). FRG005 (deep) also finds a
    fragment holding two frames when the fragment count looks right.

    How to fix
    ----------
    Write each frame in its own fragment(s), or correct Number of Frames.
    Under JPEG, JPEG-LS, JPEG 2000 and HTJ2K, `--fix` splits each fragment that holds
    several codestreams where the next one starts (an end marker, at most one pad byte,
    a start marker: the boundary FRG005 finds), when that makes exactly Number of Frames
    fragments, one frame each; the BOT, if it has values, is rebuilt from the new items.
    Safe: every byte stays, in order (a 00 pad byte after an odd part). Not where an
    Extended Offset Table would have to grow, nor where the codestreams found do not
    add up to the frames (missing frames are not made up).

    Reference
    ---------
    PS3.5 A.4.1, A.4.3, A.4.4: "Each fragment shall contain encoded data from a single
    frame", so each frame takes at least one fragment. PS3.5 8.2 (note): recipients
    "can detect fragmentation of frames by comparing the number of fragments (the
    number of Items minus one for the Basic Offset Table) with the number of frames".
    """
    walk, expected = ctx.walk, ctx.expected_frames
    if too_few_fragments(ctx):
        fix = None
        if start_marker(ctx.ts) is not None:  # codestreams whose starts a scan can find
            from dcmencaps_lint.fixes import SplitAtCodestreams  # here: most lints fix nothing

            fix = SplitAtCodestreams()
        yield Problem(
            f"{len(walk.fragments)} fragments for {expected} frames: each frame needs at "
            "least one fragment",
            offset=walk.stop_offset,
            length=8 if walk.delimiter else 0,
            fix=fix,
        )


@rule(
    "FRG002",
    "frame-boundaries-undetermined",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="Frame boundaries cannot be determined",
    codecs=FRAME_BASED - ONE_FRAGMENT_PER_FRAME,
    fix=FixAvailability.NEVER,
    when=Shape.FRAMES,
)
def frame_boundaries_undetermined(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A multi-frame image has more fragments than frames, no usable Basic or Extended
    Offset Table, and the codestream end markers (EOI/EOC at the end of a fragment)
    cannot split the fragments into frames at all.

    Why it matters
    --------------
    No reader can know which fragments form which frame. An empty BOT with more
    fragments than frames is legal, but readers already struggle with it ("Support
    for multi-frame images with varying fragment sizes and no offset table has not
    been implemented", fo-dicom #992; dicomParser #44); without end markers even the
    pydicom heuristic (FF D9 in the last bytes of a fragment) fails.

    Example
    -------
    Two frames, four fragments, an empty BOT, and no fragment ends with FF D9:

        FE FF 00 E0 00 00 00 00   empty BOT item
        FE FF 00 E0 10 00 00 00   fragment 1: FF D8 ...
        FE FF 00 E0 10 00 00 00   fragment 2: ... 00 00 (no EOI)
        FE FF 00 E0 10 00 00 00   fragment 3: FF D8 ...
        FE FF 00 E0 10 00 00 00   fragment 4: ... 00 00

    The good form has a BOT with one offset per frame (here 0 and 48).

    How to fix
    ----------
    Write a Basic (or Extended) Offset Table, or one fragment per frame.

    Reference
    ---------
    PS3.5 A.4: the Basic Offset Table holds "byte offsets to the first byte of the
    Item Tag of the first fragment for each frame"; it may be empty, and then only the
    codestreams themselves tell where frames begin.
    """
    walk, expected, frame_map = ctx.walk, ctx.expected_frames, ctx.frame_map
    if expected is None:
        return
    if frame_map.source is FrameMapSource.NONE and expected > 1 and len(walk.fragments) > expected:
        yield Problem(
            f"{len(walk.fragments)} fragments for {expected} frames and neither an offset "
            "table nor end markers say where frames begin",
            offset=walk.fragments[0].offset,
            length=8,
            item=1,
        )


@rule(
    "FRG003",
    "one-fragment-per-frame-required",
    Severity.ERROR,
    ref="PS3.5 A.4.2, A.4.13",
    summary="A frame spans several fragments in a transfer syntax that requires one",
    codecs=ONE_FRAGMENT_PER_FRAME,
    fix=FixAvailability.SOMETIMES,
)
def one_fragment_per_frame_required(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    RLE Lossless, Deflated Image Frame Compression and Encapsulated Uncompressed
    require each frame to be exactly one fragment; a frame that spans several
    fragments is reported at its second fragment.

    Why it matters
    --------------
    Readers take each fragment as a frame: dcm4che reported "RLE Segment too short"
    on RLE frames split into 20 KiB fragments by dcmjs (dcmjs #340), its frame
    detection broke on 1024-byte RLE fragments (dcm4chee-arc-light #752), GDCM reports
    "Invalid number of fragments", pydicom runs out of frames.

    Example
    -------
    One RLE frame split in two fragments:

        FE FF 00 E0 04 00 00 00   BOT item, 1 entry
        00 00 00 00               offset of frame 1
        FE FF 00 E0 28 00 00 00   fragment 1: RLE header + part of the segments
        FE FF 00 E0 28 00 00 00   fragment 2: the rest of frame 1

    The good form has one 80-byte fragment for the frame.

    How to fix
    ----------
    Write each frame as a single fragment (turn off the writer's fragmentation, e.g.
    dcmjs `fragmentMultiframe`). `--fix` joins a frame's fragments into one (safe: the
    frame's bytes stay as they were, in order, one 00 pad byte after them when their sum
    is odd; the BOT and the Extended Offset Table follow the items that move) where the
    frames are known from the offset tables or the file has one frame; not when the
    frames are only guessed.

    Reference
    ---------
    PS3.5 A.4.2: "Each frame shall be encoded in one and only one Fragment"; the same
    holds for Deflated Image Frame Compression (A.4.13) and Encapsulated Uncompressed
    (A.4.11).
    """
    walk, ts, frame_map = ctx.walk, ctx.ts, ctx.frame_map
    if frame_map.frames:
        known = frame_map.source in KNOWN_FRAMES
        for frame in frame_map.frames:
            if frame.fragment_count > 1:
                from dcmencaps_lint.fixes import JoinFragments  # here: most lints fix nothing

                extra = frame.first_fragment + 1
                yield Problem(
                    f"frame {frame.number} spans fragments {frame.first_fragment}-"
                    f"{frame.last_fragment}; {ts.name} requires one fragment per frame",
                    offset=ctx.fragment(extra).offset,
                    length=8,
                    frame=frame.number,
                    item=extra,
                    fix=JoinFragments(frame.first_fragment, frame.last_fragment) if known else None,
                )
        return
    expected = ctx.expected_frames
    if expected is not None and len(walk.fragments) > expected:
        extra = expected + 1
        yield Problem(
            f"{len(walk.fragments)} fragments for {expected} frames; {ts.name} requires one "
            "fragment per frame",
            offset=ctx.fragment(extra).offset,
            length=8,
            item=extra,
        )


@rule(
    "FRG004",
    "frame-count-mismatch",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="The frames found by codestream markers differ from Number of Frames",
    fix=FixAvailability.NEVER,
    when=Shape.FRAMES,
)
def frame_count_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Without a usable offset table the linter splits fragments into frames at
    end-of-image markers, as readers do; this rule fires when that gives a different
    count than Number of Frames. (A table whose count differs is reported by BOT006 or
    EOT003 instead.)

    Why it matters
    --------------
    Number of Frames is wrong or frames are damaged (pydicom #1666); readers show too
    few frames, leave blank frames or fail (pydicom leaks a bare StopIteration).

    Example
    -------
    Number of Frames is 2 but three fragments each end with FF D9:

        FE FF 00 E0 00 00 00 00   empty BOT item
        FE FF 00 E0 20 00 00 00   fragment 1: FF D8 ... FF D9
        FE FF 00 E0 20 00 00 00   fragment 2: FF D8 ... FF D9
        FE FF 00 E0 20 00 00 00   fragment 3: FF D8 ... FF D9

    The good form has Number of Frames 3.

    How to fix
    ----------
    Correct Number of Frames, or re-encode the damaged frames.

    Reference
    ---------
    PS3.5 A.4.1, A.4.4 (paraphrase): each frame is encoded separately as a complete
    codestream (SOI ... EOI, SOC ... EOC), so the codestreams count the frames.
    PS3.3 C.7.6.6: Number of Frames is the number of frames in the image.
    """
    frame_map, expected = ctx.frame_map, ctx.expected_frames
    if expected is None or frame_map.source is not FrameMapSource.MARKERS:
        return
    tables = (ctx.walk.bot_offsets, ctx.eot_offsets or ())
    if any(table and len(table) != expected for table in tables):
        return  # the table's count is the root cause: BOT006 / EOT003
    if len(frame_map.frames) != expected:
        yield Problem(
            f"end-of-image markers split the fragments into {len(frame_map.frames)} frames "
            f"but Number of Frames is {expected}",
            offset=ctx.walk.fragments[0].offset,
            length=8,
            item=1,
        )


@rule(
    "FRG005",
    "fragment-spans-frames",
    Severity.ERROR,
    ref="PS3.5 A.4.1, A.4.3, A.4.4",
    summary="A fragment holds data of more than one frame",
    deep=Deep.WHOLE,
    codecs=MARKER_CODED,
    fix=FixAvailability.NEVER,
)
def fragment_spans_frames(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Deep rule, for JPEG, JPEG-LS, JPEG 2000 and HTJ2K: reads every fragment's value
    and looks for a frame boundary inside it, an end marker FF D9 (EOI / EOC) followed,
    after at most one pad byte (00 or FF), by the start of another codestream: FF D8
    (SOI) for JPEG and JPEG-LS, FF 4F FF 51 (SOC + SIZ) for JPEG 2000 and HTJ2K. The
    boundary is sound because FF D9 cannot occur inside JPEG entropy-coded data (an FF
    there is followed by 00 or a restart marker) nor inside JPEG-LS or JPEG 2000 coded
    data (bit stuffing keeps the byte after an FF below 80H or 90H). One finding per
    fragment, at the first new start marker; the message counts the codestreams.

    When FRG001 (fewer fragments than frames, a header-only rule) fires and the
    codestreams found make up exactly the missing frames, the two say the same thing
    and only FRG001 is reported, so the findings of the header rules do not change with
    `--deep`. FRG005 adds what FRG001 cannot see: a fragment holding two frames while
    the fragment count still looks right, or codestreams that do not add up to
    Number of Frames.

    Why it matters
    --------------
    Readers take a fragment as (part of) one frame: DCMTK's dcmdjpeg silently decoded
    only the first of two frames that shared a fragment and wrote Number of Frames 1,
    GDCM failed, pydicom raised StopIteration, fo-dicom "varying fragment sizes".
    The frame map, the offset tables and every per-frame check go wrong after it.

    Example
    -------
    One fragment holds two JPEG codestreams:

        FE FF 00 E0 40 00 00 00   fragment 1, 64 bytes
        FF D8 FF E0 ... FF D9     codestream 1
        FF D8 FF E0 ... FF D9     codestream 2 starts inside the same fragment

    The good form gives each frame its own fragment(s):

        FE FF 00 E0 20 00 00 00   fragment 1: FF D8 ... FF D9
        FE FF 00 E0 20 00 00 00   fragment 2: FF D8 ... FF D9

    How to fix
    ----------
    Re-encapsulate: split the fragment at the start marker the finding names, one
    frame per fragment, and write the offset table and Number of Frames to match. If
    the extra codestream is not a frame (e.g. an embedded thumbnail), remove it.
    `--fix` makes that split where FRG001 reports the file (the codestreams found make
    up exactly the missing frames); what FRG005 reports on its own (the fragment count
    looked right, or the codestreams do not add up) has no fix: the split would not
    give one frame a fragment.

    Reference
    ---------
    PS3.5 A.4.1 (JPEG), A.4.3 (JPEG-LS), A.4.4 (JPEG 2000): "Each fragment shall
    contain encoded data from a single frame." ISO/IEC 10918-1 B.1.1.5 (byte
    stuffing in entropy-coded data), ISO/IEC 14495-1 and ISO/IEC 15444-1 (bit
    stuffing in coded data) keep marker codes such as FF D9 out of the coded data.
    """
    walk, expected = ctx.walk, ctx.expected_frames
    starts = payload_scan(ctx).starts
    if not starts:
        return
    # FRG001 already says it when the extra codestreams fill exactly the missing frames.
    if too_few_fragments(ctx) and len(walk.fragments) + len(starts) == expected:
        return
    per_fragment: dict[int, list[int]] = {}
    for start in starts:
        per_fragment.setdefault(start.fragment, []).append(start.offset)
    for number, offsets in per_fragment.items():
        yield Problem(
            f"fragment {number} holds {len(offsets) + 1} codestreams: an end marker FF D9 "
            f"is followed by the start of another frame at byte {offsets[0]}; each "
            "fragment must hold data of a single frame",
            offset=offsets[0],
            length=len(start_marker(ctx.ts) or b""),
            frame=frame_of(ctx, number),
            item=number,
        )


@rule(
    "FRG006",
    "video-stream-fragmented",
    Severity.ERROR,
    ref="PS3.5 8.2.5-8.2.8",
    summary="A non-fragmentable video stream spans more than one fragment",
    syntaxes=UNFRAGMENTABLE_VIDEO,
    fix=FixAvailability.NEVER,
)
def video_stream_fragmented(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under the non-fragmentable video transfer syntaxes (MPEG2 .100/.101, MPEG-4
    AVC/H.264 .102-.106, HEVC/H.265 .107/.108) the whole video stream is one
    fragment. More than one fragment is reported at the second fragment's item tag.
    The "Fragmentable" syntaxes (.100.1-.106.1) allow the stream to span fragments and
    are not checked.

    Why it matters
    --------------
    Readers of the non-fragmentable syntaxes take the first fragment as the whole
    stream and cut the video short, or fail; the Fragmentable syntaxes were added
    (Supplement 225) exactly because streams over 4 GiB cannot fit one fragment
    (dcm4che #1269, fo-dicom #1469).

    Example
    -------
    Transfer syntax 1.2.840.10008.1.2.4.102 (H.264), the stream in two fragments:

        FE FF 00 E0 00 00 00 00   empty BOT item
        FE FF 00 E0 00 00 10 00   fragment 1: 00 00 00 01 67 ... (1 MiB)
        FE FF 00 E0 00 80 00 00   fragment 2: the rest of the stream

    The good form is one fragment holding the whole stream, or the Fragmentable
    transfer syntax 1.2.840.10008.1.2.4.102.1.

    How to fix
    ----------
    Write the stream as a single fragment, or (when the receivers support it) label
    the file with the Fragmentable variant of its transfer syntax.

    Reference
    ---------
    PS3.5 8.2.5: "One fragment shall contain the whole MPEG2 stream"; the same holds
    for MPEG-4 AVC/H.264 (8.2.6-8.2.8) and HEVC/H.265 under their non-fragmentable
    transfer syntaxes (Annex A).
    """
    walk, ts = ctx.walk, ctx.ts
    if len(walk.fragments) > 1:
        yield Problem(
            f"the video stream spans {len(walk.fragments)} fragments; {ts.name} requires "
            "the whole stream in one fragment",
            offset=walk.fragments[1].offset,
            length=8,
            item=2,
        )

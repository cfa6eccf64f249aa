"""EOT: the Extended Offset Table (7FE0,0001) and its Lengths (7FE0,0002), PS3.3 C.7.6.3.

EOT offsets are 64-bit, counted like BOT offsets from the first fragment's item tag;
each frame is one fragment, and each length is that frame's byte count.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from operator import lt

from dcmencaps_lint.context import EncapsulatedContext, Shape
from dcmencaps_lint.dataset import Element
from dcmencaps_lint.frames import (
    frames_from_offsets,
    one_fragment_per_offset,
    one_length_per_fragment,
)
from dcmencaps_lint.model import Frame, FrameMapSource, Problem, Severity, SingleFragmentFrames
from dcmencaps_lint.registry import FixAvailability, rule
from dcmencaps_lint.rules import offering
from dcmencaps_lint.transfer_syntax import FRAME_BASED, VIDEO

EOT = "(7FE0,0001)"
EOT_LENGTHS = "(7FE0,0002)"


def _offset(element: Element | None) -> int | None:
    return element.offset if element is not None and element.offset >= 0 else None


def _value_at(element: Element, index: int) -> int | None:
    return element.value_offset + 8 * index if element.value_offset >= 0 else None


def _usable_offsets(ctx: EncapsulatedContext) -> tuple[Element, Sequence[int]] | None:
    """The EOT and its values, when per-frame checks make sense (not empty). The rules
    that use them do not apply to video, whose EOT is EOT011's."""
    element, offsets = ctx.dataset.eot, ctx.eot_offsets
    if element is None or not offsets:
        return None
    return element, offsets


def _one_fragment_per_offset(ctx: EncapsulatedContext) -> bool:
    """Every EOT offset is a fragment's start, one per fragment (see
    frames.one_fragment_per_offset), decided once per element."""
    return ctx.memo(_each_offset_one_fragment, None)


def _each_offset_one_fragment(ctx: EncapsulatedContext, _: None) -> bool:
    frame_map = ctx.frame_map
    if frame_map.source is FrameMapSource.EOT and isinstance(
        frame_map.frames, SingleFragmentFrames
    ):
        return True  # the frame map was made from the EOT, and found just that
    return one_fragment_per_offset(ctx.walk, ctx.eot_offsets or ())


def _multi_fragment_frames(ctx: EncapsulatedContext) -> tuple[Frame, ...]:
    """The frames (as the EOT offsets delimit them) that span several fragments."""
    return ctx.memo(_frames_of_several_fragments, None)


def _frames_of_several_fragments(ctx: EncapsulatedContext, _: None) -> tuple[Frame, ...]:
    offsets = ctx.eot_offsets or ()
    if ctx.expected_frames is not None and len(offsets) != ctx.expected_frames:
        return ()
    if _one_fragment_per_offset(ctx):
        return ()
    frames = frames_from_offsets(ctx.walk, offsets) or ()
    return tuple(frame for frame in frames if frame.fragment_count > 1)


@rule(
    "EOT001",
    "eot-incomplete-pair",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="Only one of Extended Offset Table and Extended Offset Table Lengths is present",
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RemoveEot")
def eot_incomplete_pair(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Only one of Extended Offset Table (7FE0,0001) and Extended Offset Table Lengths
    (7FE0,0002) is present. The offsets say where each frame starts, the lengths how many
    bytes it has: the two are a pair. The finding points at the element that is present.

    Why it matters
    --------------
    A reader needs both for direct frame access; with one it must walk the items, and a
    reader that assumes both exist may fail instead of falling back. A lone attribute is
    what a tool leaves behind when it drops or rebuilds one table attribute after
    re-encoding (which PS3.3 says may be needed) and forgets the other. dciodvfy (2024)
    reports Lengths without offsets; DCMTK, GDCM, pydicom and fo-dicom stay silent.

    Example
    -------
    Offsets, then Pixel Data, with no (7FE0,0002) between them:

        E0 7F 01 00 4F 56 00 00 10 00 00 00   (7FE0,0001) OV, 16 bytes
        00 00 00 00 00 00 00 00               offset 0
        08 04 00 00 00 00 00 00               offset 1032
        E0 7F 10 00 4F 42 00 00 FF FF FF FF   (7FE0,0010) Pixel Data

    Good: the lengths between the two (frames of 1024 bytes):

        E0 7F 02 00 4F 56 00 00 10 00 00 00   (7FE0,0002) OV, 16 bytes
        00 04 00 00 00 00 00 00               length 1024
        00 04 00 00 00 00 00 00               length 1024

    How to fix
    ----------
    Write both attributes (pydicom's `encapsulate_extended` returns both), or neither.
    `--fix` removes the Extended Offset Table and its Lengths (whichever are there; a
    group length (7FE0,0000) right before them is lowered to match). Safe: no
    codestream byte changes, and readers find the frames from the items as they do
    in a file without the table; where the table is needed (fragments past 2^32
    bytes, EOT009) the fix is refused and says so.

    Reference
    ---------
    PS3.3 C.7.6.3, Table C.7-11a (paraphrased; the exact condition was not checked):
    Extended Offset Table Lengths (7FE0,0002) is Type 1C, required when Extended Offset
    Table (7FE0,0001) is present, and it gives the lengths of the frames the EOT indexes.
    """
    eot, lengths = ctx.dataset.eot, ctx.dataset.eot_lengths
    if (eot is None) != (lengths is None):
        present, missing = (EOT, EOT_LENGTHS) if eot is not None else (EOT_LENGTHS, EOT)
        yield Problem(
            f"{present} is present without {missing}",
            offset=_offset(eot or lengths),
            element=present,
        )


@rule(
    "EOT002",
    "eot-length-not-multiple-of-8",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="An Extended Offset Table value's length is not a multiple of 8",
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RemoveEot")
def eot_length_not_multiple_of_8(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The value length of (7FE0,0001) or (7FE0,0002) is not a multiple of 8. Both have VR
    OV, a list of 64-bit unsigned integers of 8 bytes each. One finding per element, at
    its tag.

    Why it matters
    --------------
    The value cannot be split into 64-bit numbers: the last one is cut short, and readers
    reject the table, drop a frame or read past the value. A length of 4 per frame
    suggests 32-bit values (a BOT copied into the EOT), and then every value is wrong.

    Example
    -------
        E0 7F 01 00 4F 56 00 00 0C 00 00 00   (7FE0,0001) OV, 12 bytes
        00 00 00 00 00 00 00 00               offset 0
        08 04 00 00                           half an offset

    Good: 8 bytes per frame:

        E0 7F 01 00 4F 56 00 00 10 00 00 00   (7FE0,0001) OV, 16 bytes
        00 00 00 00 00 00 00 00               offset 0
        08 04 00 00 00 00 00 00               offset 1032

    How to fix
    ----------
    Write 8 bytes (one little-endian 64-bit value) per frame in each attribute.
    `--fix` removes the Extended Offset Table and its Lengths (whichever are there; a
    group length (7FE0,0000) right before them is lowered to match). Safe: no
    codestream byte changes, and readers find the frames from the items as they do
    in a file without the table; where the table is needed (fragments past 2^32
    bytes, EOT009) the fix is refused and says so.

    Reference
    ---------
    PS3.6 (paraphrased): Extended Offset Table (7FE0,0001) and Extended Offset Table
    Lengths (7FE0,0002) have VR OV, VM 1; PS3.5 6.2 defines OV as a stream of 64-bit
    words (paraphrased). PS3.3 C.7.6.3 gives one value per frame.
    """
    for element, tag in ((ctx.dataset.eot, EOT), (ctx.dataset.eot_lengths, EOT_LENGTHS)):
        if element is not None and element.length % 8:
            yield Problem(
                f"{tag} has length {element.length}, not a multiple of 8",
                offset=_offset(element),
                element=tag,
            )


@rule(
    "EOT003",
    "eot-count-mismatch",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="Extended Offset Table counts differ from each other or from Number of Frames",
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RemoveEot")
def eot_count_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The counts disagree: Extended Offset Table Lengths (7FE0,0002) has not as many values
    as Extended Offset Table (7FE0,0001) (finding at the Lengths), or the number of
    offsets differs from Number of Frames (0028,0008), 1 when absent (finding at the EOT).
    An empty table is EOT010's, a video one EOT011's.

    Why it matters
    --------------
    Readers index frames by position in the table, so a wrong count shifts or drops
    frames. pydicom 3.0.2 warns "The number of items in (7FE0,0001) … and (7FE0,0002) …
    don't match - the extended offset table will be ignored"; DCMTK, GDCM and fo-dicom
    never read the EOT, and dciodvfy (2024) has this check commented out, so nothing else
    notices. In a Concatenation the table indexes only this instance's frames, not all of
    them: a table for the whole series is wrong.

    Example
    -------
    Number of Frames 3, two offsets:

        28 00 08 00 49 53 02 00 33 20         (0028,0008) IS "3 "
        E0 7F 01 00 4F 56 00 00 10 00 00 00   (7FE0,0001) OV, 16 bytes: 2 offsets
        00 00 00 00 00 00 00 00 08 04 00 00 00 00 00 00

    Good: 24 bytes, offsets 0, 1032 and 2064, and three lengths in (7FE0,0002):

        E0 7F 01 00 4F 56 00 00 18 00 00 00   (7FE0,0001) OV, 24 bytes: 3 offsets

    How to fix
    ----------
    Write exactly Number of Frames values in each attribute, or fix Number of Frames.
    `--fix` removes the Extended Offset Table and its Lengths (whichever are there; a
    group length (7FE0,0000) right before them is lowered to match). Safe: no
    codestream byte changes, and readers find the frames from the items as they do
    in a file without the table; where the table is needed (fragments past 2^32
    bytes, EOT009) the fix is refused and says so.

    Reference
    ---------
    PS3.3 C.7.6.3, (7FE0,0001): "If this Instance is part of a Concatenation, only the
    offset and lengths of the Frames encoded in the Pixel Data (7FE0,0010) of this
    Instance are indexed". One offset and one length per frame follows (derived).
    """
    offsets, lengths = ctx.eot_offsets, ctx.eot_lengths
    expected = ctx.expected_frames
    if not offsets:
        return  # an empty table is EOT010's
    if lengths and len(lengths) != len(offsets):
        yield Problem(
            f"{EOT_LENGTHS} has {len(lengths)} values but {EOT} has {len(offsets)}",
            offset=_offset(ctx.dataset.eot_lengths),
            element=EOT_LENGTHS,
        )
    if expected is not None and len(offsets) != expected:
        yield Problem(
            f"{EOT} has {len(offsets)} offsets but Number of Frames is {expected}",
            offset=_offset(ctx.dataset.eot),
            element=EOT,
        )


@rule(
    "EOT004",
    "eot-offset-not-item-start",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="An Extended Offset Table offset does not point at a fragment's item tag",
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RebuildEot")
def eot_offset_not_item_start(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    An Extended Offset Table offset does not land on the first byte of a fragment's item
    tag. Offsets are counted like BOT entries, from the first byte of the first item tag
    after the BOT item, so the first is 0. An offset beyond the point where a truncated
    walk stopped is not judged. The finding points at the 8-byte value and names the frame.

    Why it matters
    --------------
    pydicom 3.0.2 trusts the EOT: it reads the frame from that offset, so a wrong offset
    gives a decoder error (libjpeg "SOI marker missing" in a test) while DCMTK and GDCM,
    which ignore the EOT, decode the same file. A common cause is a stale table: PS3.3
    warns that after re-encoding "any Extended Offset Table may need to be recomputed or
    removed".

    Example
    -------
    Offsets counted to each fragment's value instead of its item tag, 8 bytes too far:

        E0 7F 01 00 4F 56 00 00 10 00 00 00   (7FE0,0001) OV, 16 bytes
        08 00 00 00 00 00 00 00               8: frame 1's first codestream byte
        10 04 00 00 00 00 00 00               1040: the same for frame 2

    Good:

        00 00 00 00 00 00 00 00               0: frame 1's item tag
        08 04 00 00 00 00 00 00               1032: frame 2's item tag

    How to fix
    ----------
    Recompute the table from the item positions after any re-encoding (pydicom's
    `encapsulate_extended` returns matching values), or drop both attributes.
    `--fix` rebuilds the offsets and lengths from where each frame starts and how long
    its fragment is, where the frames are known for sure (one fragment per frame), and
    says why not elsewhere. Safe: no codestream byte changes; the values are rewritten
    in place.

    Reference
    ---------
    PS3.3 C.7.6.3, (7FE0,0001): "Byte offsets of the Item Tags of the Frames in the
    Sequence of Items in Encapsulated Pixel Data encoded in Pixel Data (7FE0,0010)". The
    origin is taken to be the BOT's (PS3.5 A.4: "the first byte of the first Item Tag
    following the Basic Offset Table item"), as pydicom reads it; the PS3.3 wording of the
    origin was not checked.
    """
    usable = _usable_offsets(ctx)
    if usable is None:
        return
    element, offsets = usable
    walk = ctx.walk
    if _one_fragment_per_offset(ctx):
        return  # every offset is a fragment's start
    starts = walk.fragment_starts
    walked_to = walk.fragments[-1].offset - walk.first_fragment_offset if walk.fragments else -1
    for index, value in enumerate(offsets):
        if index == 0 and value == 0:
            continue
        if index > 0 and (value in starts or (not walk.complete and value > walked_to)):
            continue
        yield Problem(
            f"EOT offset for frame {index + 1} is {value}, which is not the start of a "
            "fragment's item tag",
            offset=_value_at(element, index),
            length=8,
            frame=index + 1,
            element=EOT,
        )


@rule(
    "EOT005",
    "eot-length-mismatch",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="An Extended Offset Table length differs from its fragment's length",
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RebuildEot")
def eot_length_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A frame's Extended Offset Table Lengths value differs from the byte count of the
    fragment its offset points at. Accepted: the item length, or one less when the
    fragment's last byte is a pad (00H or FFH). Frames whose offset is wrong (EOT004) or
    that span several fragments (EOT006) are not judged here. The finding points at the
    8-byte length value and names the frame and the fragment (item).

    Why it matters
    --------------
    A reader that takes the length from the table reads too little (a truncated
    codestream) or too much (the next item's header). pydicom's own
    `encapsulate_extended` once wrote offsets and lengths that ignored per-frame padding
    (pydicom #1968; pydicom 3 writes the padded length). DCMTK, GDCM and fo-dicom never
    read the EOT, so a wrong length goes unnoticed outside EOT-trusting readers.

    Example
    -------
    Frame 2's fragment has 1024 (0x400) bytes; the table says 1536:

        E0 7F 02 00 4F 56 00 00 10 00 00 00   (7FE0,0002) OV, 16 bytes
        00 04 00 00 00 00 00 00               1024: frame 1, right
        00 06 00 00 00 00 00 00               1536: frame 2, stale

    Good: 1024 (00 04 00 00 00 00 00 00) for frame 2; 1023 would also pass if the
    fragment's last byte is a pad.

    How to fix
    ----------
    Write each frame's item length (recompute after any re-encoding).
    `--fix` rebuilds the offsets and lengths from where each frame starts and how long
    its fragment is, where the frames are known for sure (one fragment per frame), and
    says why not elsewhere. Safe: no codestream byte changes; the values are rewritten
    in place.

    Reference
    ---------
    PS3.3 C.7.6.3, Extended Offset Table Lengths (7FE0,0002): the length in bytes of each
    frame (paraphrased: the wording was not retrieved, nor whether the padded or the
    unpadded length is meant, so both are accepted).
    """
    usable = _usable_offsets(ctx)
    lengths, lengths_element = ctx.eot_lengths, ctx.dataset.eot_lengths
    if usable is None or not lengths or lengths_element is None:
        return
    _, offsets = usable
    if _one_fragment_per_offset(ctx) and one_length_per_fragment(ctx.walk, lengths):
        return  # every frame is one fragment and every length is its item's
    starts = ctx.walk.fragment_starts
    multi = {frame.number - 1 for frame in _multi_fragment_frames(ctx)}
    for index, (value, length) in enumerate(zip(offsets, lengths, strict=False)):
        number = starts.get(value)
        if number is None or index in multi:
            continue  # EOT004's finding, or EOT006's: no length fits a split frame
        fragment = ctx.fragment(number)
        if length == fragment.length:
            continue
        if length == fragment.length - 1 and ctx.read(fragment.end - 1, 1) in (b"\x00", b"\xff"):
            continue
        yield Problem(
            f"EOT length for frame {index + 1} is {length} but fragment {number} has "
            f"{fragment.length} bytes",
            offset=_value_at(lengths_element, index),
            length=8,
            frame=index + 1,
            item=number,
            element=EOT_LENGTHS,
        )


@rule(
    "EOT006",
    "eot-multi-fragment-frame",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="An Extended Offset Table is present but a frame spans several fragments",
    codecs=FRAME_BASED,
    fix=FixAvailability.NEVER,
    when=Shape.EOT,
)
def eot_multi_fragment_frame(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    An Extended Offset Table is present and a frame, as the offsets delimit it, spans
    more than one fragment. The finding points at the frame's second fragment. Not
    reported when the number of offsets differs from Number of Frames: then a frame only
    seems to span fragments because an offset is missing (EOT003).

    Why it matters
    --------------
    An EOT entry is one offset and one length: a reader reads one item from the offset,
    up to the length, and loses the rest of the frame. That is why PS3.3 allows the EOT
    only when each frame is a single fragment.

    Example
    -------
    Frame 1 in two fragments of 512 bytes:

        00 00 00 00 00 00 00 00   EOT offset, frame 1: 0
        10 04 00 00 00 00 00 00   EOT offset, frame 2: 1040
        FE FF 00 E0 00 00 00 00   BOT item, empty
        FE FF 00 E0 00 02 00 00   fragment 1: frame 1, first part
        FE FF 00 E0 00 02 00 00   fragment 2: frame 1, rest (reported)
        FE FF 00 E0 00 04 00 00   fragment 3: frame 2

    Good: frame 1 as one fragment of 1024 bytes (offsets 0 and 1032), or no EOT and a
    BOT instead.

    How to fix
    ----------
    Write each frame as one fragment, or drop the EOT and write a BOT.

    Reference
    ---------
    PS3.3 C.7.6.3, (7FE0,0001): "May only be present when: … and each Frame is entirely
    contained within one Fragment."
    """
    usable = _usable_offsets(ctx)
    if usable is None:
        return
    for frame in _multi_fragment_frames(ctx):
        second = ctx.fragment(frame.first_fragment + 1)
        yield Problem(
            f"frame {frame.number} spans fragments {frame.first_fragment}-{frame.last_fragment}",
            offset=second.offset,
            length=8,
            frame=frame.number,
            item=frame.first_fragment + 1,
        )


@rule(
    "EOT007",
    "eot-offsets-not-increasing",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="Extended Offset Table offsets are not strictly increasing",
    codecs=FRAME_BASED,
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RebuildEot")
def eot_offsets_not_increasing(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    An Extended Offset Table offset (frame 2 on) is not greater than the one before. The
    finding points at that offset's 8-byte value and names the frame.

    Why it matters
    --------------
    Frames and items are stored in order, so their offsets only grow: a repeated offset
    gives two frames the same data, a decreasing one is a table out of date or sorted
    wrong. pydicom 3.0.2 trusts the EOT and returns the wrong frame; DCMTK and GDCM never
    read the EOT and show the right one, so the defect looks viewer-specific.

    Example
    -------
    Three frames of 1024 bytes, offsets 2 and 3 swapped:

        E0 7F 01 00 4F 56 00 00 18 00 00 00   (7FE0,0001) OV, 24 bytes
        00 00 00 00 00 00 00 00               0
        10 08 00 00 00 00 00 00               2064
        08 04 00 00 00 00 00 00               1032: less than the one before

    Good: 0, 1032, 2064 (and the lengths in the same order).

    How to fix
    ----------
    Rebuild the table from the item positions.
    `--fix` rebuilds the offsets and lengths from where each frame starts and how long
    its fragment is, where the frames are known for sure (one fragment per frame), and
    says why not elsewhere. Safe: no codestream byte changes; the values are rewritten
    in place.

    Reference
    ---------
    PS3.3 C.7.6.3, (7FE0,0001): "Byte offsets of the Item Tags of the Frames in the
    Sequence of Items"; items are ordered (PS3.5 7.5, paraphrased), so the offsets
    strictly increase (derived: not stated in these words).
    """
    usable = _usable_offsets(ctx)
    if usable is None:
        return
    element, offsets = usable
    if _one_fragment_per_offset(ctx) or all(map(lt, offsets, islice(offsets, 1, None))):
        return  # the offsets are the items' (which increase), or one C-level pass says so
    for index in range(1, len(offsets)):
        if offsets[index] <= offsets[index - 1]:
            yield Problem(
                f"EOT offset for frame {index + 1} is {offsets[index]}, not greater than "
                f"the previous offset {offsets[index - 1]}",
                offset=_value_at(element, index),
                length=8,
                frame=index + 1,
                element=EOT,
            )


@rule(
    "EOT008",
    "eot-wrong-vr",
    Severity.WARNING,
    ref="PS3.6",
    summary="Extended Offset Table or its Lengths has an explicit VR other than OV",
    fix=FixAvailability.NEVER,
    when=Shape.EOT,
)
def eot_wrong_vr(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    In an explicit VR data set, Extended Offset Table (7FE0,0001) or its Lengths
    (7FE0,0002) has a VR other than OV (OB, say, or UN from a tool that did not know the
    element). Implicit VR data sets carry no VR and are not checked. The finding points at
    the element's tag.

    Why it matters
    --------------
    A reader types the value by its VR: with OB or UN it gets bytes, not 64-bit numbers,
    and fails, ignores the table or has to guess. VR handling of these elements is
    fragile in practice: dicomParser did not know OV, so files with an EOT (TCIA CMB-MML
    whole-slide images) failed with "buffer overrun" or yielded wrong elements
    (dicomParser #284), and dciodvfy (2022) skips OV elements.

    Example
    -------
        E0 7F 01 00 4F 42 00 00 10 00 00 00   (7FE0,0001) VR "OB", 16 bytes

    Good:

        E0 7F 01 00 4F 56 00 00 10 00 00 00   (7FE0,0001) VR "OV", 16 bytes

    How to fix
    ----------
    Write VR OV for both attributes.

    Reference
    ---------
    PS3.6, Table 6-1 (paraphrased): Extended Offset Table (7FE0,0001) and Extended Offset
    Table Lengths (7FE0,0002), VR OV, VM 1.
    """
    for element, tag in ((ctx.dataset.eot, EOT), (ctx.dataset.eot_lengths, EOT_LENGTHS)):
        if element is not None and element.vr is not None and element.vr != "OV":
            yield Problem(
                f"{tag} has VR {element.vr}, not OV",
                offset=_offset(element),
                element=tag,
            )


@rule(
    "EOT009",
    "eot-recommended",
    Severity.INFO,
    ref="PS3.3 C.7.6.3",
    summary="Multi-frame with more than 2^32-1 bytes of fragments and no Extended Offset Table",
    fix=FixAvailability.NEVER,
    when=Shape.FRAMES,
)
def eot_recommended(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A multi-frame image whose fragments span more than 2^32 - 1 bytes (4 GiB), from the
    first fragment's item tag to the last, has no Extended Offset Table. The finding
    points at the start of the Pixel Data value. Information only.

    Why it matters
    --------------
    A 32-bit BOT cannot address frames past 4 GiB (if it tries, BOT009), so without an
    EOT a reader must walk every item header to find frame n: slow for large whole-slide
    images, and slower over a network. The IDC whole-slide images carry neither table;
    D. Clunie noted a BOT "wouldn't have worked for the larger images anyway given its 32
    bit offset limit" (ImagingDataCommons/idc-wsi-conversion #4). libdicom falls back to a
    slow frame-index scan when it does not use an EOT (libdicom #91, fixed by PR #92).

    Example
    -------
    A whole-slide image of 30 000 frames of about 200 KB: 6 GB of fragments, an empty BOT,
    and no (7FE0,0001) or (7FE0,0002):

        FE FF 00 E0 00 00 00 00   BOT item, empty
        FE FF 00 E0 ...           fragment 1 of 30 000

    Good: both attributes, 8 bytes per frame, before Pixel Data:

        E0 7F 01 00 4F 56 00 00 80 A9 03 00   (7FE0,0001) OV, 240 000 bytes
        E0 7F 02 00 4F 56 00 00 80 A9 03 00   (7FE0,0002) OV, 240 000 bytes

    How to fix
    ----------
    Write an Extended Offset Table and its Lengths (pydicom's `encapsulate_extended`),
    with an empty BOT and one fragment per frame.

    Reference
    ---------
    PS3.5 A.4: BOT entries are "32-bit unsigned integer values". PS3.3 C.7.6.3: the EOT
    (VR OV, 64-bit) holds "Byte offsets of the Item Tags of the Frames"; it was added by
    CP-1818 for data past 4 GiB. The Standard does not require it, hence info.
    """
    walk = ctx.walk
    if ctx.has_eot or (ctx.expected_frames or 1) <= 1:
        return
    if walk.fragments_span > 0xFFFFFFFF:
        yield Problem(
            f"fragments span {walk.fragments_span} bytes and there is no Extended Offset Table",
            offset=walk.value_offset,
            length=8,
        )


@rule(
    "EOT010",
    "eot-empty",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="Extended Offset Table present with zero length",
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RemoveEot")
def eot_empty(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Extended Offset Table (7FE0,0001) or its Lengths (7FE0,0002) is present with value
    length 0. The finding points at the element's tag.

    Why it matters
    --------------
    An empty BOT is legal; an empty EOT is not. The attribute's presence says "here is the
    table", so a reader that prefers the EOT when present (pydicom does) finds no offsets,
    and what it does then is up to each implementation.

    Example
    -------
        E0 7F 01 00 4F 56 00 00 00 00 00 00   (7FE0,0001) OV, length 0
        E0 7F 02 00 4F 56 00 00 00 00 00 00   (7FE0,0002) OV, length 0

    Good: neither attribute (readers use the BOT or walk the items), or both with one
    8-byte value per frame.

    How to fix
    ----------
    Drop both attributes, or fill them.
    `--fix` removes the Extended Offset Table and its Lengths (whichever are there; a
    group length (7FE0,0000) right before them is lowered to match). Safe: no
    codestream byte changes, and readers find the frames from the items as they do
    in a file without the table; where the table is needed (fragments past 2^32
    bytes, EOT009) the fix is refused and says so.

    Reference
    ---------
    PS3.3 C.7.6.3, (7FE0,0001): "Unlike a Basic Offset Table, an Extended Offset Table, if
    the Attribute is present, is not permitted to be empty."
    """
    for element, tag in ((ctx.dataset.eot, EOT), (ctx.dataset.eot_lengths, EOT_LENGTHS)):
        if element is not None and element.length == 0:
            yield Problem(f"{tag} is present but empty", offset=_offset(element), element=tag)


@rule(
    "EOT011",
    "eot-not-allowed-for-ts",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="An Extended Offset Table with a video transfer syntax",
    codecs=VIDEO,
    fix=FixAvailability.ALWAYS,
    when=Shape.EOT,
)
@offering("RemoveEot")
def eot_not_allowed_for_ts(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    An Extended Offset Table is present under a video transfer syntax (MPEG-2, MPEG-4
    AVC/H.264 or HEVC/H.265, Fragmentable variants included). The whole video is one bit
    stream, not frames in separate fragments. The finding points at (7FE0,0001); the
    other offset checks stay quiet.

    Why it matters
    --------------
    There are no per-frame fragments for the offsets to point at, so the values are
    meaningless, and a reader that trusts them cuts the bit stream apart.

    Example
    -------
    Transfer syntax 1.2.840.10008.1.2.4.102 (MPEG-4 AVC/H.264 High Profile / Level 4.1):

        E0 7F 01 00 4F 56 00 00 08 00 00 00   (7FE0,0001) OV, 8 bytes
        00 00 00 00 00 00 00 00               offset 0

    Good: neither (7FE0,0001) nor (7FE0,0002), and an empty BOT item.

    How to fix
    ----------
    Drop both attributes.
    `--fix` removes the Extended Offset Table and its Lengths (whichever are there; a
    group length (7FE0,0000) right before them is lowered to match). Safe: no
    codestream byte changes, and readers find the frames from the items as they do
    in a file without the table; where the table is needed (fragments past 2^32
    bytes, EOT009) the fix is refused and says so.

    Reference
    ---------
    PS3.3 C.7.6.3, (7FE0,0001): "May only be present when: … the Transfer Syntax encodes
    Frames in separate Fragments". The video transfer syntaxes encode one stream (PS3.5
    8.2.5-8.2.11), so they do not (derived).
    """
    if ctx.has_eot:
        yield Problem(
            f"{EOT} is present under video transfer syntax {ctx.ts.name}",
            offset=_offset(ctx.dataset.eot),
            element=EOT,
        )

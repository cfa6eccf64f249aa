"""EOT: the Extended Offset Table (7FE0,0001) and its Lengths (7FE0,0002), PS3.3 C.7.6.3.

EOT offsets are 64-bit, counted like BOT offsets from the first fragment's item tag;
each frame is one fragment, and each length is that frame's byte count.
"""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import Context
from dcmencaps_lint.frames import frames_from_offsets
from dcmencaps_lint.model import Finding, Frame, Severity
from dcmencaps_lint.registry import rule
from dcmencaps_lint.source import Element

EOT = "(7FE0,0001)"
EOT_LENGTHS = "(7FE0,0002)"


def _offset(element: Element | None) -> int | None:
    return element.offset if element is not None and element.offset >= 0 else None


def _value_at(element: Element, index: int) -> int | None:
    return element.value_offset + 8 * index if element.value_offset >= 0 else None


def _usable_offsets(ctx: Context) -> tuple[Element, tuple[int, ...]] | None:
    """The EOT and its values, when per-frame checks make sense (not empty, not video)."""
    element, offsets = ctx.dataset.eot, ctx.eot_offsets
    if element is None or not offsets or ctx.walk is None:
        return None
    if ctx.ts is not None and ctx.ts.video:
        return None
    return element, offsets


def _multi_fragment_frames(ctx: Context, offsets: tuple[int, ...]) -> tuple[Frame, ...]:
    """Frames the table makes span several fragments (EOT006).

    Nothing when the table has not one offset per frame: then a frame only seems to span
    fragments because an offset is missing, and EOT003 is the cause.
    """
    assert ctx.walk is not None
    if ctx.expected_frames is not None and len(offsets) != ctx.expected_frames:
        return ()
    frames = frames_from_offsets(ctx.walk, offsets) or ()
    return tuple(frame for frame in frames if frame.fragment_count > 1)


@rule(
    "EOT001",
    "eot-incomplete-pair",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="Only one of Extended Offset Table and Extended Offset Table Lengths is present",
)
def eot_incomplete_pair(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Extended Offset Table (7FE0,0001) and Extended Offset Table Lengths
    (7FE0,0002) are required together.

    Why it matters
    --------------
    A reader that finds offsets without lengths (or the reverse) cannot
    use the table and may fail instead of falling back.

    How to fix
    ----------
    Write both attributes, or neither.
    """
    eot, lengths = ctx.dataset.eot, ctx.dataset.eot_lengths
    if (eot is None) != (lengths is None):
        present, missing = (EOT, EOT_LENGTHS) if eot is not None else (EOT_LENGTHS, EOT)
        yield ctx.finding(
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
)
def eot_length_not_multiple_of_8(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Both attributes hold 64-bit values (VR OV), so their lengths must be
    multiples of 8.

    Why it matters
    --------------
    The last value is cut short and every reader handles that differently.

    How to fix
    ----------
    Write 8 bytes per frame in each attribute.
    """
    for element, tag in ((ctx.dataset.eot, EOT), (ctx.dataset.eot_lengths, EOT_LENGTHS)):
        if element is not None and element.length % 8:
            yield ctx.finding(
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
)
def eot_count_mismatch(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The table has one offset and one length per frame: the two counts are
    equal, and equal to Number of Frames.

    Why it matters
    --------------
    Readers index frames by table position; a wrong count shifts or drops
    frames.

    How to fix
    ----------
    Write exactly Number of Frames values in each attribute.
    """
    offsets, lengths = ctx.eot_offsets, ctx.eot_lengths
    expected = ctx.expected_frames
    if not offsets or (ctx.ts is not None and ctx.ts.video):
        return  # an empty table is EOT010's
    if lengths and len(lengths) != len(offsets):
        yield ctx.finding(
            f"{EOT_LENGTHS} has {len(lengths)} values but {EOT} has {len(offsets)}",
            offset=_offset(ctx.dataset.eot_lengths),
            element=EOT_LENGTHS,
        )
    if expected is not None and len(offsets) != expected:
        yield ctx.finding(
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
)
def eot_offset_not_item_start(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Each offset must land on the first byte of a fragment's item tag,
    counted from the first fragment, so the first offset is 0.

    Why it matters
    --------------
    Readers seek straight to the offset and read a frame from there.

    How to fix
    ----------
    Rebuild the table from the fragment positions (pydicom's
    `encapsulate_extended` does this).
    """
    usable = _usable_offsets(ctx)
    if usable is None:
        return
    element, offsets = usable
    assert ctx.walk is not None
    walk = ctx.walk
    starts = walk.fragment_starts()
    walked_to = walk.fragments[-1].offset - walk.first_fragment_offset if walk.fragments else -1
    for index, value in enumerate(offsets):
        if index == 0 and value == 0:
            continue
        if index > 0 and (value in starts or (not walk.complete and value > walked_to)):
            continue
        yield ctx.finding(
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
)
def eot_length_mismatch(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Each length must equal the byte count of its frame's fragment: the
    item length, or one less when the fragment's last byte is a pad byte (00H or FFH).

    Why it matters
    --------------
    Readers that take the length from the table read too little or too
    much (pydicom #1968 wrote lengths that ignored padding).

    How to fix
    ----------
    Write each fragment's item length (pydicom 3 writes padded lengths).
    """
    usable = _usable_offsets(ctx)
    lengths, lengths_element = ctx.eot_lengths, ctx.dataset.eot_lengths
    if usable is None or not lengths or lengths_element is None:
        return
    _, offsets = usable
    assert ctx.walk is not None
    starts = ctx.walk.fragment_starts()
    multi = {frame.number - 1 for frame in _multi_fragment_frames(ctx, offsets)}
    for index, (value, length) in enumerate(zip(offsets, lengths, strict=False)):
        number = starts.get(value)
        if number is None or index in multi:
            continue  # EOT004's finding, or EOT006's: no length fits a split frame
        fragment = ctx.fragment(number)
        if length == fragment.length:
            continue
        if length == fragment.length - 1 and ctx.read(fragment.end - 1, 1) in (b"\x00", b"\xff"):
            continue
        yield ctx.finding(
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
)
def eot_multi_fragment_frame(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The Extended Offset Table may be used only when every frame is
    exactly one fragment.

    Why it matters
    --------------
    Readers take the frame at an offset to be one item; the rest of the
    frame is lost.

    How to fix
    ----------
    Write each frame as one fragment, or drop the EOT and write a BOT.
    """
    usable = _usable_offsets(ctx)
    if usable is None:
        return
    for frame in _multi_fragment_frames(ctx, usable[1]):
        second = ctx.fragment(frame.first_fragment + 1)
        yield ctx.finding(
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
)
def eot_offsets_not_increasing(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Each offset must be greater than the one before.

    Why it matters
    --------------
    Frames are stored in order; a table out of order is corrupt.

    How to fix
    ----------
    Rebuild the table from the fragment positions.
    """
    usable = _usable_offsets(ctx)
    if usable is None:
        return
    element, offsets = usable
    for index in range(1, len(offsets)):
        if offsets[index] <= offsets[index - 1]:
            yield ctx.finding(
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
)
def eot_wrong_vr(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Both attributes have VR OV (PS3.6); under explicit VR the file must
    say so.

    Why it matters
    --------------
    Readers that do not know OV, or that find OB, mis-parse the values or
    the elements after them (dicomParser #284).

    How to fix
    ----------
    Write VR OV.
    """
    for element, tag in ((ctx.dataset.eot, EOT), (ctx.dataset.eot_lengths, EOT_LENGTHS)):
        if element is not None and element.vr is not None and element.vr != "OV":
            yield ctx.finding(
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
)
def eot_recommended(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    A multi-frame image whose fragments span more than 2^32-1 bytes has no
    Extended Offset Table.

    Why it matters
    --------------
    A 32-bit BOT cannot address such frames, so readers must scan every
    item to find a frame (the IDC whole-slide images, idc-wsi-conversion #4).

    How to fix
    ----------
    Write an Extended Offset Table (and an empty BOT).
    """
    walk = ctx.walk
    if walk is None or ctx.has_eot or (ctx.expected_frames or 1) <= 1:
        return
    if walk.fragments_span > 0xFFFFFFFF:
        yield ctx.finding(
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
)
def eot_empty(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Extended Offset Table (7FE0,0001) or its Lengths (7FE0,0002) is
    present but empty. The attributes are Type 1C: when present they hold one value per
    frame.

    Why it matters
    --------------
    Readers that see the attribute expect a table and fail on an empty one.

    How to fix
    ----------
    Drop both attributes, or fill them.
    """
    for element, tag in ((ctx.dataset.eot, EOT), (ctx.dataset.eot_lengths, EOT_LENGTHS)):
        if element is not None and element.length == 0:
            yield ctx.finding(f"{tag} is present but empty", offset=_offset(element), element=tag)


@rule(
    "EOT011",
    "eot-not-allowed-for-ts",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="An Extended Offset Table with a video transfer syntax",
)
def eot_not_allowed_for_ts(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    An Extended Offset Table is present although the transfer syntax
    (MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265) does not encode frames in separate fragments.

    Why it matters
    --------------
    There are no frame fragments for the table to point at.

    How to fix
    ----------
    Drop both attributes.
    """
    if ctx.has_eot and ctx.ts is not None and ctx.ts.video:
        yield ctx.finding(
            f"{EOT} is present under video transfer syntax {ctx.ts.name}",
            offset=_offset(ctx.dataset.eot),
            element=EOT,
        )

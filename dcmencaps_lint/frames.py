"""The frame map: which fragments make up each frame, and where that knowledge came from.

Sources are tried in the order a careful reader trusts them: a consistent Extended
Offset Table, a consistent Basic Offset Table, a single frame, one fragment per frame,
and last the end-of-image markers of JPEG-family codestreams (the heuristic pydicom
and others use). A table that is inconsistent is not used here; the BOT and EOT rules
report why.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count, islice, repeat
from operator import lt, sub

from dcmencaps_lint import core
from dcmencaps_lint.codestream import END_OF_IMAGE
from dcmencaps_lint.model import (
    Frame,
    FrameMap,
    FrameMapSource,
    SingleFragmentFrames,
    Walk,
    new_frame,
)
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import MARKER_CODED, TransferSyntax

MARKER_TAIL = 3  # EOI/EOC plus one pad byte


def ends_with_end_marker(tail: bytes) -> bool:
    """True when the bytes end with FFD9, or with FFD9 and one pad byte."""
    return tail.endswith(END_OF_IMAGE) or tail[-3:-1] == END_OF_IMAGE


def one_fragment_per_offset(walk: Walk, offsets: Sequence[int]) -> bool:
    """The table's offsets are exactly every fragment's start, in order: each frame is one
    fragment and every offset is right. One pass decides the common case (in C where it
    can: no list of relative offsets built), before any rule looks at offsets one by one."""
    if len(offsets) != len(walk.fragments):
        return False
    return core.table_matches(offsets, walk.fragment_offsets, walk.first_fragment_offset)


def one_length_per_fragment(walk: Walk, lengths: Sequence[int]) -> bool:
    """The table's lengths are exactly every fragment's length field, in order."""
    return core.table_matches(lengths, walk.fragment_lengths, 0)


def frames_from_offsets(walk: Walk, offsets: Sequence[int]) -> Sequence[Frame] | None:
    """Frames from table offsets, or None when the offsets are unusable as they are."""
    # C-level passes (map, zip, list equality), not Python loops: a whole-slide image
    # has hundreds of thousands of offsets.
    if not offsets or offsets[0] != 0:
        return None
    if one_fragment_per_offset(walk, offsets):
        return SingleFragmentFrames(len(offsets))
    starts = walk.fragment_starts
    firsts = list(map(starts.get, offsets))
    if None in firsts or not all(map(lt, firsts, islice(firsts, 1, None))):
        return None
    lasts = list(map(sub, islice(firsts, 1, None), repeat(1)))
    lasts.append(len(walk.fragments))
    return tuple(map(new_frame, zip(count(1), firsts, lasts)))


def frames_from_markers(reader: ByteReader, walk: Walk) -> tuple[Frame, ...]:
    """Split fragments into frames after each fragment that ends with EOI/EOC."""
    frames: list[Frame] = []
    first = 1
    for index, fragment in enumerate(walk.fragments, start=1):
        tail_start = max(fragment.value_offset, fragment.end - MARKER_TAIL)
        tail = reader.read(tail_start, fragment.end - tail_start)
        if ends_with_end_marker(tail) or index == len(walk.fragments):
            frames.append(Frame(len(frames) + 1, first, index))
            first = index + 1
    return tuple(frames)


def build_frame_map(
    reader: ByteReader,
    walk: Walk,
    ts: TransferSyntax | None,
    number_of_frames: int | None,
    eot_offsets: Sequence[int] | None,
) -> FrameMap:
    """Fragments per frame, from the most trustworthy source that is consistent."""
    count = len(walk.fragments)
    if count == 0 or ts is None or ts.video:
        return FrameMap(FrameMapSource.NONE)
    expected = number_of_frames or 1
    tables = ((FrameMapSource.EOT, eot_offsets), (FrameMapSource.BOT, walk.bot_offsets))
    for source, offsets in tables:
        if offsets and len(offsets) == expected:
            frames = frames_from_offsets(walk, offsets)
            if frames is not None:
                return FrameMap(source, frames)
    if expected == 1:
        return FrameMap(FrameMapSource.SINGLE_FRAME, (Frame(1, 1, count),))
    if count == expected:
        return FrameMap(FrameMapSource.ONE_PER_FRAGMENT, SingleFragmentFrames(count))
    if count > expected and ts.codec in MARKER_CODED:
        frames = frames_from_markers(reader, walk)
        if len(frames) > 1:
            return FrameMap(FrameMapSource.MARKERS, frames)
    return FrameMap(FrameMapSource.NONE)

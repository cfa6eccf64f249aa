"""Frames that look alike share one verdict.

A whole-slide image has hundreds of thousands of frames written by one encoder: every
frame's header (quantisation and Huffman tables, SOF, SOS / SIZ, COD, QCD) is the same
bytes, and every frame ends the same way. The per-frame codestream rules look only at
those leading and trailing bytes, the frame's fragment structure and the data set, so
frames whose leading bytes, trailing bytes and fragment structure are equal get equal
verdicts. The engine runs such a rule on one representative per group, and on every
member of a group only when its representative has a finding, so a valid file costs one
header parse per distinct header instead of one per frame.

The grouping is exact, not a sample: a group is formed only where the representative's
header parse looked at no byte beyond the compared leading bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcmencaps_lint.context import Context
from dcmencaps_lint.frames import END_OF_IMAGE
from dcmencaps_lint.model import ITEM_HEADER_SIZE, Frame
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY

MIN_FRAMES = 16  # below this, grouping costs more than it saves
HEAD_MIN = 32  # at least what the start-marker rules read (16) and the parsers' first read
FILL = b"\xff\xff"  # fill before SOI: the fill rule reads further; such frames go alone
TAIL = 64  # what the end-marker rules read at a frame's end
HEAD_MAX = 65536  # a header longer than this is not worth comparing frame by frame


@dataclass(frozen=True, slots=True)
class FrameGroup:
    representative: Frame  # the lowest-numbered member
    members: tuple[Frame, ...]


def group_frames(ctx: Context) -> list[FrameGroup] | None:
    """Groups of alike frames, or None when grouping does not apply to this element."""
    frame_map = ctx.frame_map
    if (
        ctx.ts is None
        or ctx.ts.codec not in JPEG_FAMILY | J2K_FAMILY
        or frame_map is None
        or len(frame_map.frames) < MIN_FRAMES
    ):
        return None
    head_bytes = _head_bytes(ctx, frame_map.frames[0])
    if head_bytes is None:
        return None
    by_key = _keyed(ctx, frame_map.frames, head_bytes)
    groups: list[FrameGroup] = []
    for key, members in by_key.items():
        representative = members[0]
        alone = key[1].startswith(FILL) or not _parse_within(ctx, representative, head_bytes)  # type: ignore[union-attr]
        if len(members) > 1 and alone:
            groups.extend(FrameGroup(f, (f,)) for f in members)  # compare them one by one
        else:
            groups.append(FrameGroup(representative, tuple(members)))
    return groups


def _keyed(
    ctx: Context, frames: tuple[Frame, ...], head_bytes: int
) -> dict[tuple[object, ...], list[Frame]]:
    """Frames by what the per-frame rules can see of them.

    The key: the fragment count, the first `head_bytes` bytes, the end of the last TAIL
    bytes from their last FF D9 on, the lengths where head and tail could overlap or run
    short, and truncation. This loop
    runs once per frame, so it works on the item tuples' fields directly.
    """
    assert ctx.walk is not None
    fragments = ctx.walk.fragments
    pread = ctx.reader.unchecked_pread() if ctx.reader.on_disk else None
    short = head_bytes + TAIL
    by_key: dict[tuple[object, ...], list[Frame]] = {}
    for frame in frames:
        _, first_number, last_number = frame
        offset, _, length, available = fragments[first_number - 1]
        start = offset + ITEM_HEADER_SIZE
        end = start + available
        if first_number != last_number:
            last_offset, _, last_length, last_available = fragments[last_number - 1]
            last_start = last_offset + ITEM_HEADER_SIZE
            last_end = last_start + last_available
        else:
            last_start, last_end, last_length, last_available = start, end, length, available
        tail_start = max(last_start, last_end - TAIL)
        head_end = start + min(head_bytes, available)
        if pread is not None:  # within the file: item values were bounded by the walk
            head, tail = pread(head_end - start, start), pread(last_end - tail_start, tail_start)
        else:
            head, tail = (
                ctx.read(start, head_end - start),
                ctx.read(tail_start, last_end - tail_start),
            )
        # The end-marker rules look for the last FF D9 in the tail and what follows it;
        # the entropy-coded bytes in front of it differ from frame to frame.
        marker = tail.rfind(END_OF_IMAGE)
        if marker >= 0:
            tail = tail[marker:]
        key = (
            last_number - first_number,
            head,
            tail,
            available if available < short else -1,
            last_available if last_available < short else -1,
            available < length,  # truncated (an undefined length never reaches a frame)
            last_available < last_length,
        )
        group = by_key.get(key)
        if group is None:
            by_key[key] = [frame]
        else:
            group.append(frame)
    return by_key


def _parse_header(ctx: Context, frame: Frame) -> object | None:
    assert ctx.ts is not None
    return ctx.jpeg_header(frame) if ctx.ts.codec in JPEG_FAMILY else ctx.j2k_header(frame)


def _head_bytes(ctx: Context, frame: Frame) -> int | None:
    """How many leading bytes to compare: the first frame's header, and then some."""
    start = ctx.fragment(frame.first_fragment).value_offset
    header = _parse_header(ctx, frame)
    reached = getattr(header, "reached", start) - start
    if reached > HEAD_MAX:
        return None
    return max(HEAD_MIN, reached)


def _parse_within(ctx: Context, frame: Frame, head_bytes: int) -> bool:
    """The frame's header parse depended on its first `head_bytes` bytes only."""
    start = ctx.fragment(frame.first_fragment).value_offset
    header = _parse_header(ctx, frame)
    return getattr(header, "reached", start) - start <= head_bytes

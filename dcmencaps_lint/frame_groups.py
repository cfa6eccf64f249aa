"""Frames that look alike share one verdict.

A whole-slide image has hundreds of thousands of frames written by one encoder: every
frame's header (quantisation and Huffman tables, SOF, SOS / SIZ, COD, QCD) is the same
bytes, and every frame ends the same way. The per-frame rules see only what the
frame-edge contract allows (model.FRAME_HEAD leading bytes, FRAME_TAIL trailing bytes,
the parsed header, the fragment structure; the context refuses them anything else) and
the data set, so frames whose leading bytes, trailing bytes and fragment structure are
equal get equal verdicts. The engine runs such a rule on one representative per group,
and on every member of a group only when its representative has a finding, so a valid
file costs one header parse per distinct header instead of one per frame. Frames that
start with fill bytes (model.FILL) may be read further and are never grouped.

The grouping is exact, not a sample: a group is formed only where the representative's
header parse looked at no byte beyond the compared leading bytes.

Comparing costs a read of each frame's edges. For a whole-slide image the walker has
already compared them while the items were in memory (`head_size_probe` tells it how
many leading bytes; Walk.alike holds the answers), so `_keyed_columns` reads only the
frames that differ from the one before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dcmencaps_lint.codestream import END_OF_IMAGE, parse_j2k, parse_jpeg
from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.model import (
    FILL,
    FRAME_HEAD,
    FRAME_TAIL,
    ITEM_HEADER_SIZE,
    Frame,
    Item,
    Items,
    NumberedFrames,
)
from dcmencaps_lint.reader import WINDOW_SIZE, ByteReader
from dcmencaps_lint.transfer_syntax import JPEG_FAMILY, MARKER_CODED, TransferSyntax
from dcmencaps_lint.walker import DENSE_SPACING, HeadSize

MIN_FRAMES = 16  # below this, grouping costs more than it saves
TAIL = FRAME_TAIL  # trailing bytes compared: all a per-frame rule may read there
# (leading bytes compared: FRAME_HEAD, or as far as the first frame's header parse read)
HEAD_MAX = 65536  # a header longer than this is not worth comparing frame by frame
KEYED_FIRST = 1024  # frames keyed one by one before a run of alike frames, at most


class FrameGroup(NamedTuple):
    representative: Frame  # the lowest-numbered member
    members: Sequence[Frame]


class _Members(NumberedFrames):
    """The frames of a group, by number, made from the frame map only when the group's
    representative has a finding (a group may hold hundreds of thousands)."""

    __slots__ = ("_frames",)

    def __init__(self, frames: Sequence[Frame], numbers: list[int]) -> None:
        super().__init__(numbers)
        self._frames = frames  # frame n is frames[n - 1]

    def frame(self, number: int) -> Frame:
        return self._frames[number - 1]


def group_frames(ctx: EncapsulatedContext) -> list[FrameGroup] | None:
    """Groups of alike frames, or None when grouping does not apply to this element."""
    frames = ctx.frame_map.frames
    if ctx.ts.codec not in MARKER_CODED or len(frames) < MIN_FRAMES:
        return None
    head_bytes = _head_bytes(ctx, frames[0])
    if head_bytes is None:
        return None
    groups: list[FrameGroup] = []
    for key, numbers in _keyed(ctx, frames, head_bytes).items():
        representative = frames[numbers[0] - 1]
        head = key[1]
        assert isinstance(head, bytes)
        if len(numbers) > 1 and (
            head.startswith(FILL) or not _parse_within(ctx, representative, head_bytes)
        ):
            # the rules may read a frame that starts with fill beyond the compared bytes
            # (model.FILL_HEAD), or the header parse read past them: one by one
            groups.extend(FrameGroup(frames[n - 1], (frames[n - 1],)) for n in numbers)
        else:
            groups.append(FrameGroup(representative, _Members(frames, numbers)))
    return groups


def _keyed(
    ctx: EncapsulatedContext, frames: Sequence[Frame], head_bytes: int
) -> dict[tuple[object, ...], list[int]]:
    """Frame numbers by what the per-frame rules can see of the frames (see `_key`)."""
    walk, fragments = ctx.walk, ctx.walk.fragments
    # frame n is fragment n: the walker's columns and alike flags line up with frames
    if ctx.reader.on_disk and isinstance(fragments, Items) and len(frames) == len(fragments):
        dense = walk.fragments_span < DENSE_SPACING * len(frames)
        if dense or walk.alike_head == head_bytes:
            return _keyed_columns(ctx, frames, fragments, head_bytes, dense)
    by_key: dict[tuple[object, ...], list[int]] = {}
    for frame in frames:
        by_key.setdefault(_key(ctx, frame, head_bytes), []).append(frame.number)
    return by_key


def _key(ctx: EncapsulatedContext, frame: Frame, head_bytes: int) -> tuple[object, ...]:
    """What the per-frame rules can see of a frame.

    The fragment count, the first `head_bytes` bytes, the end of the last TAIL bytes
    from their last FF D9 on, the lengths where head and tail could overlap or run
    short, and truncation.
    """
    _, first_number, last_number = frame
    first, last = ctx.fragment(first_number), ctx.fragment(last_number)
    start, available = first.value_offset, first.available
    tail_start = max(last.value_offset, last.end - TAIL)
    head = ctx.reader.read(start, min(head_bytes, available))
    tail = ctx.reader.read(tail_start, last.end - tail_start)
    # The end-marker rules look for the last FF D9 in the tail and what follows it;
    # the entropy-coded bytes in front of it differ from frame to frame.
    marker = tail.rfind(END_OF_IMAGE)
    short = head_bytes + TAIL
    return (
        last_number - first_number,
        head,
        tail[marker:] if marker >= 0 else tail,
        available if available < short else -1,
        last.available if last.available < short else -1,
        available < first.length,  # truncated (an undefined length never reaches a frame)
        last.available < last.length,
    )


def _keyed_columns(
    ctx: EncapsulatedContext,
    frames: Sequence[Frame],
    fragments: Items,
    head_bytes: int,
    dense: bool,
) -> dict[tuple[object, ...], list[int]]:
    """`_keyed` for one fragment per frame (a whole-slide image).

    A frame the walker saw begin and end like the frame before (`Walk.alike`) joins that
    frame's group unread; the others get the keys of `_key`, read as slices of the
    reader's mapped window when the frames are `dense` (a few KB apart), else with
    preads. This loop runs once per frame, hundreds of thousands of times, so it reads
    the fragments' columns and makes no Frame.
    """
    walk = ctx.walk
    short = head_bytes + TAIL
    compared = walk.alike_head == head_bytes and len(walk.alike) == len(frames)
    alike = walk.alike if compared else bytes(len(frames))
    availables = fragments.availables
    # Frames after the last one not alike its predecessor all share its key: in the
    # usual whole-slide image only the first few (read before the walker's window) are
    # keyed one by one, and the rest is decided in a few C-level passes.
    unknown = alike.rfind(0)
    if (
        compared
        and unknown < KEYED_FIRST
        and availables is fragments.lengths  # none cut short
        and short <= min(availables[unknown:])
        and max(availables[unknown:]) <= WINDOW_SIZE
    ):
        first: dict[tuple[object, ...], list[int]] = {}
        for number in range(1, unknown + 2):
            first.setdefault(_key(ctx, frames[number - 1], head_bytes), []).append(number)
        first[_key(ctx, frames[unknown], head_bytes)].extend(range(unknown + 2, len(frames) + 1))
        return first
    window, base, window_end = b"", 0, 0
    by_key: dict[tuple[object, ...], list[int]] = {}
    previous_key: tuple[object, ...] = ()
    previous_plain = False
    group: list[int] = []
    columns = (fragments.offsets, fragments.lengths, availables, alike)
    for number, offset, length, available, same in zip(
        range(1, len(frames) + 1), *columns, strict=True
    ):
        # plain: whole, long enough that head and tail do not meet, not huge
        plain = short <= available == length <= WINDOW_SIZE
        if same and plain and previous_plain:  # the frame before's key, unread
            group.append(number)
            continue
        previous_plain = plain
        if not plain or not dense:  # short, truncated, huge or far apart: read them
            key = _key(ctx, frames[number - 1], head_bytes)
        else:
            start = offset + ITEM_HEADER_SIZE
            end = start + available
            if start < base or end > window_end:
                window, base = ctx.reader.window(start, available)
                window_end = base + len(window)
            at = end - base
            tail = window[at - TAIL : at]
            marker = tail.rfind(END_OF_IMAGE)
            head = window[start - base : start - base + head_bytes]
            key = (0, head, tail[marker:] if marker >= 0 else tail, -1, -1, False, False)
        if key == previous_key:  # as the frame before: no hashing
            group.append(number)
            continue
        group = by_key.setdefault(key, [])
        group.append(number)
        previous_key = key
    return by_key


def head_size_probe(reader: ByteReader, ts: TransferSyntax | None) -> HeadSize | None:
    """For the walker: how many leading bytes of each item to compare (`Walk.alike`),
    the `head_bytes` `group_frames` will use, from the first fragment's header."""
    if ts is None or ts.codec not in MARKER_CODED:
        return None
    parse = parse_jpeg if ts.codec in JPEG_FAMILY else parse_j2k

    def head_size(first: Item) -> int | None:
        header = parse(reader.read, first.value_offset, first.end)
        return _bounded_head(getattr(header, "reached", first.value_offset) - first.value_offset)

    return head_size


def _parse_header(ctx: EncapsulatedContext, frame: Frame) -> object | None:
    return ctx.jpeg_header(frame) if ctx.ts.codec in JPEG_FAMILY else ctx.j2k_header(frame)


def _head_bytes(ctx: EncapsulatedContext, frame: Frame) -> int | None:
    """How many leading bytes to compare: the first frame's header, and then some."""
    start = ctx.fragment(frame.first_fragment).value_offset
    header = _parse_header(ctx, frame)
    return _bounded_head(getattr(header, "reached", start) - start)


def _bounded_head(reached: int) -> int | None:
    return None if reached > HEAD_MAX else max(FRAME_HEAD, reached)


def _parse_within(ctx: EncapsulatedContext, frame: Frame, head_bytes: int) -> bool:
    """The frame's header parse depended on its first `head_bytes` bytes only."""
    start = ctx.fragment(frame.first_fragment).value_offset
    header = _parse_header(ctx, frame)
    return getattr(header, "reached", start) - start <= head_bytes

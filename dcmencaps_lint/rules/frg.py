"""FRG: fragments and frames (PS3.5 8.2, A.4)."""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import Context
from dcmencaps_lint.model import Finding, FrameMapSource, Severity
from dcmencaps_lint.registry import rule


@rule(
    "FRG001",
    "fewer-fragments-than-frames",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="Fewer fragments than frames in a frame-based transfer syntax",
)
def fewer_fragments_than_frames(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    In every transfer syntax that encodes frames separately, each frame is
    at least one fragment, so there must be at least Number of Frames fragments.

    Why it matters
    --------------
    Some frames are missing or share a fragment; DCMTK silently dropped a
    frame when two frames shared one fragment.

    How to fix
    ----------
    Write each frame in its own fragment(s), or correct Number of Frames.
    """
    walk, ts, expected = ctx.walk, ctx.ts, ctx.expected_frames
    if walk is None or ts is None or not ts.frame_based or expected is None:
        return
    if walk.complete and walk.fragments and len(walk.fragments) < expected:
        yield ctx.finding(
            f"{len(walk.fragments)} fragments for {expected} frames: each frame needs at "
            "least one fragment",
            offset=walk.stop_offset,
            length=8 if walk.delimiter else 0,
        )


@rule(
    "FRG002",
    "frame-boundaries-undetermined",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="Frame boundaries cannot be determined",
)
def frame_boundaries_undetermined(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    A multi-frame image has more fragments than frames, no usable BOT or
    Extended Offset Table, and the codestream end markers cannot split the fragments into
    frames at all.

    Why it matters
    --------------
    No reader can know which fragments form which frame.

    How to fix
    ----------
    Write a Basic (or Extended) Offset Table, or one fragment per frame.
    """
    walk, ts, expected, frame_map = ctx.walk, ctx.ts, ctx.expected_frames, ctx.frame_map
    if walk is None or ts is None or frame_map is None or expected is None:
        return
    if not ts.frame_based or ts.one_fragment_per_frame:
        return  # video has no frames to split; one-fragment syntaxes are FRG003's
    if frame_map.source is FrameMapSource.NONE and expected > 1 and len(walk.fragments) > expected:
        yield ctx.finding(
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
)
def one_fragment_per_frame_required(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    RLE Lossless, Deflated Image Frame Compression and Encapsulated
    Uncompressed require each frame to be exactly one fragment.

    Why it matters
    --------------
    Readers take each fragment as a frame; dcm4che reported "RLE Segment
    too short" on RLE frames split into 20 KiB fragments (dcmjs #340).

    How to fix
    ----------
    Write each frame as a single fragment.
    """
    walk, ts, frame_map = ctx.walk, ctx.ts, ctx.frame_map
    if walk is None or ts is None or not ts.one_fragment_per_frame or frame_map is None:
        return
    if frame_map.frames:
        for frame in frame_map.frames:
            if frame.fragment_count > 1:
                extra = frame.first_fragment + 1
                yield ctx.finding(
                    f"frame {frame.number} spans fragments {frame.first_fragment}-"
                    f"{frame.last_fragment}; {ts.name} requires one fragment per frame",
                    offset=ctx.fragment(extra).offset,
                    length=8,
                    frame=frame.number,
                    item=extra,
                )
        return
    expected = ctx.expected_frames
    if expected is not None and len(walk.fragments) > expected:
        extra = expected + 1
        yield ctx.finding(
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
)
def frame_count_mismatch(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Without a usable offset table the linter splits fragments into frames
    at end-of-image markers, as readers do; this rule fires when that gives a different
    count than Number of Frames. (A table whose count differs is reported by BOT006 or
    EOT003 instead.)

    Why it matters
    --------------
    Number of Frames is wrong or frames are damaged (pydicom #1666); readers
    show too few frames or fail.

    How to fix
    ----------
    Correct Number of Frames, or re-encode the damaged frames.
    """
    frame_map, expected = ctx.frame_map, ctx.expected_frames
    if frame_map is None or expected is None or frame_map.source is not FrameMapSource.MARKERS:
        return
    assert ctx.walk is not None
    tables = (ctx.walk.bot_offsets, ctx.eot_offsets or ())
    if any(table and len(table) != expected for table in tables):
        return  # the table's count is the root cause: BOT006 / EOT003
    if len(frame_map.frames) != expected:
        yield ctx.finding(
            f"end-of-image markers split the fragments into {len(frame_map.frames)} frames "
            f"but Number of Frames is {expected}",
            offset=ctx.walk.fragments[0].offset,
            length=8,
            item=1,
        )

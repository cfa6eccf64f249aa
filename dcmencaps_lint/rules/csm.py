"""CSM: the first and last bytes of every frame's codestream, by the codec of the TS.

These rules read a few bytes at each frame's head and tail, never the payload.
"""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import Context
from dcmencaps_lint.frames import END_OF_IMAGE, ends_with_end_marker
from dcmencaps_lint.model import Finding, Frame, Severity
from dcmencaps_lint.registry import rule
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY, Codec

SOI = b"\xff\xd8"
SOC_SIZ = b"\xff\x4f\xff\x51"
HEAD_BYTES = 16
# How far back from a frame's end an end marker still counts as "there, but followed by
# trailing bytes" (CSM003's business) rather than missing.
TAIL_BYTES = 64


def _frames(ctx: Context, codecs: frozenset[Codec]) -> Iterator[Frame]:
    """Frames worth checking: the TS is of these codecs and the frame has data."""
    if ctx.ts is None or ctx.ts.codec not in codecs or ctx.frame_map is None:
        return
    for frame in ctx.frame_map.frames:
        if ctx.fragment(frame.first_fragment).available >= 2:
            yield frame


def _missing_end(ctx: Context, frame: Frame) -> tuple[int, int] | None:
    """(offset, length) of a frame's last bytes when they hold no end marker."""
    last = ctx.fragment(frame.last_fragment)
    if last.truncated or last.available < 2:
        return None  # ITM005 / ITM008 report the cause
    _, tail = ctx.frame_tail(frame, TAIL_BYTES)
    if ends_with_end_marker(tail) or END_OF_IMAGE in tail:
        return None
    return last.end - 2, 2


def _missing_end_findings(ctx: Context, codecs: frozenset[Codec], marker: str) -> Iterator[Finding]:
    for frame in _frames(ctx, codecs):
        missing = _missing_end(ctx, frame)
        if missing is not None:
            _, tail = ctx.frame_tail(frame, 2)
            yield ctx.finding(
                f"frame {frame.number} ends with {tail.hex(' ').upper()}, not {marker} (FF D9)",
                offset=missing[0],
                length=missing[1],
                frame=frame.number,
                item=frame.last_fragment,
            )


@rule(
    "CSM001",
    "missing-soi",
    Severity.ERROR,
    ref="PS3.5 A.4.1, A.4.3",
    summary="A JPEG or JPEG-LS frame does not start with SOI (FF D8)",
)
def missing_soi(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Under the JPEG and JPEG-LS transfer syntaxes each frame's first
    fragment starts with the SOI marker FF D8 (fill bytes FF before it are CSM023's).

    Why it matters
    --------------
    Decoders reject the frame ("Not a JPEG file: starts with 0x00 0x00",
    fo-dicom #717); often a sign that frame boundaries are wrong.

    How to fix
    ----------
    Check the offset tables and the fragment order; re-encode the frame.
    """
    for frame in _frames(ctx, JPEG_FAMILY):
        offset, head = ctx.frame_head(frame, HEAD_BYTES)
        if head.startswith(b"\xff") and head.lstrip(b"\xff").startswith(b"\xd8"):
            continue
        yield ctx.finding(
            f"frame {frame.number} starts with {head[:2].hex(' ').upper()}, not SOI (FF D8)",
            offset=offset,
            length=2,
            frame=frame.number,
            item=frame.first_fragment,
        )


@rule(
    "CSM002",
    "missing-eoi",
    Severity.ERROR,
    ref="PS3.5 A.4.1",
    summary="A JPEG or JPEG-LS frame has no EOI (FF D9) at its end",
)
def missing_eoi(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Each JPEG / JPEG-LS frame ends with the EOI marker FF D9, optionally
    followed by one pad byte that makes the fragment even. (EOI followed by more bytes is
    CSM003's finding.)

    Why it matters
    --------------
    "JPEG 12 bit codec unable to perform reading scanlines"
    (fo-dicom.Codecs #37); readers that find frames by their EOI merge frames.

    How to fix
    ----------
    The frame is truncated or was written without its end: re-encode it.
    """
    yield from _missing_end_findings(ctx, JPEG_FAMILY, "EOI")


@rule(
    "CSM004",
    "missing-soc",
    Severity.ERROR,
    ref="PS3.5 A.4.4",
    summary="A JPEG 2000 / HTJ2K frame does not start with SOC + SIZ (FF 4F FF 51)",
)
def missing_soc(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Under the JPEG 2000 and HTJ2K transfer syntaxes each frame is a raw
    codestream that starts with SOC (FF 4F) directly followed by SIZ (FF 51).

    Why it matters
    --------------
    Decoders reject the frame, or need a JP2 file-format reader that
    DICOM does not allow (GDCM's `ELSCINT1_JP2vsJ2K.dcm`).

    How to fix
    ----------
    Write the bare codestream, without a JP2 wrapper, and check frame
    boundaries.
    """
    for frame in _frames(ctx, J2K_FAMILY):
        offset, head = ctx.frame_head(frame, len(SOC_SIZ))
        if head != SOC_SIZ:
            yield ctx.finding(
                f"frame {frame.number} starts with {head.hex(' ').upper()}, not SOC + SIZ "
                "(FF 4F FF 51)",
                offset=offset,
                length=len(SOC_SIZ),
                frame=frame.number,
                item=frame.first_fragment,
            )


@rule(
    "CSM005",
    "missing-eoc",
    Severity.ERROR,
    ref="PS3.5 A.4.4",
    summary="A JPEG 2000 / HTJ2K frame has no EOC (FF D9) at its end",
)
def missing_eoc(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Each JPEG 2000 / HTJ2K frame ends with the EOC marker FF D9,
    optionally followed by one pad byte.

    Why it matters
    --------------
    OpenJPEG rejects codestreams without EOC (openjpeg #789) while Kakadu
    accepts them: the file decodes on some viewers only.

    How to fix
    ----------
    The codestream is truncated or was written without its end: re-encode it.
    """
    yield from _missing_end_findings(ctx, J2K_FAMILY, "EOC")

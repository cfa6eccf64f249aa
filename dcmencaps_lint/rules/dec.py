"""DEC: damage inside a frame, where markers and headers are right (with --decode).

The scan counter (scan.py) and the decoders (decoding.py) are imported when a DEC rule
runs, not at start-up: a run without --decode does not pay for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.model import Frame, Problem, Severity
from dcmencaps_lint.registry import FixAvailability, rule
from dcmencaps_lint.transfer_syntax import JPEG_FAMILY, Codec

if TYPE_CHECKING:
    from dcmencaps_lint.decoding import Decoded

# What the decoders can be asked about: every image codec DICOM encapsulates (video,
# JPIP and encapsulated uncompressed are not decoded by pixel decoders)
DECODED = frozenset(
    {Codec.JPEG, Codec.JPEG_LS, Codec.JPEG_2000, Codec.HTJ2K, Codec.JPEG_XL, Codec.RLE}
)


def decoded(ctx: EncapsulatedContext, frame: Frame) -> tuple[Decoded, int] | None:
    """What the installed decoders make of a frame, and its first byte's offset; None
    when none can be asked (not installed, not capable of its process or precision,
    attributes missing, the frame unreadable whole). Once per frame: DEC001 and DEC002
    share it (ctx.memo)."""
    return ctx.memo(_decoded, frame)


def _decoded(ctx: EncapsulatedContext, frame: Frame) -> tuple[Decoded, int] | None:
    from dcmencaps_lint.decoding import capable, decodable, decode, plugins_for

    ts = ctx.syntax
    header = ctx.jpeg_header(frame) if ts.codec in JPEG_FAMILY else None
    plugins = tuple(p for p in plugins_for(ts.uid) if capable(p, header))
    if not plugins or not decodable(ctx.dataset.image):
        return None
    frame_data = ctx.frame_data(frame)
    if frame_data is None:
        return None
    result = decode(ts.uid, frame_data.data, ctx.dataset.image, plugins)
    return result, frame_data.offset_of(0)


@rule(
    "DEC001",
    "frame-does-not-decode",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="Every installed decoder that supports the frame refuses it",
    codecs=DECODED,
    decode=True,
    fix=FixAvailability.NEVER,
)
def frame_does_not_decode(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    With `--decode`: decodes each frame on its own with every installed decoder that
    supports its transfer syntax, process and precision (pydicom's pixel decoders:
    pylibjpeg with libjpeg, OpenJPEG and RLE, Pillow, pydicom's RLE), one after the
    other until one succeeds. Reports a frame that every one of them refuses; the
    message names each decoder and its error. A decoder known not to support a
    frame's process or precision is not asked (Pillow: no 12-bit or lossless JPEG;
    pylibjpeg's libjpeg: no 12-bit JPEG Extended), and a frame no decoder can be
    asked about is not reported. A refusal that says the decoded size differs from the
    attributes is DEC002's.

    Why it matters
    --------------
    A frame whose markers and headers are right can still hold coded data no decoder
    accepts (bit rot, bytes lost in a transfer, a marker segment where it must not
    be): viewers show an error, a black frame, or nothing. Only decoding finds it.

    Example
    -------
    A JPEG 2000 frame cut in half and closed with EOC: `DEC001 error frame 2 does not
    decode: pylibjpeg: Error decoding the J2K data: failed to decode image`.

    How to fix
    ----------
    The frame's coded data is damaged: encode it again from the source, or take the
    file from an intact copy.

    Reference
    ---------
    PS3.5 8.2 (the encapsulated transfer syntaxes: each frame a valid codestream).
    """
    for frame in ctx.frame_map.frames:
        result = decoded(ctx, frame)
        if result is None:
            continue
        outcome, offset = result
        if outcome.decoded_by is None and outcome.size_mismatch is None:
            said = "; ".join(f"{plugin}: {error}" for plugin, error in outcome.refusals)
            yield Problem(
                f"frame {frame.number} does not decode: {said}", offset=offset, frame=frame.number
            )


@rule(
    "DEC002",
    "decoded-size-mismatch",
    Severity.ERROR,
    ref="PS3.5 8.2, G.5",
    summary="A frame decodes to another size than Rows, Columns, Samples and Bits say",
    codecs=DECODED,
    decode=True,
    fix=FixAvailability.NEVER,
)
def decoded_size_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    With `--decode`, on the same decoding as DEC001: a frame that a decoder decodes,
    but to another number of bytes than Rows x Columns x Samples per Pixel x Bits
    Allocated / 8 (the decoder's own error says so: an RLE segment shorter than a
    plane, say), and that no other decoder decodes to the right size.

    Why it matters
    --------------
    The image comes out shifted, cut or padded: viewers that do not check show the
    rest of the frame as noise or black, those that do refuse it.

    Example
    -------
    An RLE frame whose last segment was cut in half: `DEC002 error frame 1 decodes to
    another size than the attributes say: pydicom: The amount of decoded RLE segment
    data doesn't match the expected amount (2048 vs. 4096 bytes)`.

    How to fix
    ----------
    If the attributes are wrong (Rows, Columns, Bits Allocated), correct them to the
    codestream's; if the coded data is short, encode the frame again from the source.

    Reference
    ---------
    PS3.5 8.2; PS3.5 G.5 (RLE: each segment decodes to one byte plane of the frame).
    """
    for frame in ctx.frame_map.frames:
        result = decoded(ctx, frame)
        if result is None:
            continue
        outcome, offset = result
        if outcome.decoded_by is None and outcome.size_mismatch is not None:
            plugin, error = outcome.size_mismatch
            yield Problem(
                f"frame {frame.number} decodes to another size than the attributes say: "
                f"{plugin}: {error}",
                offset=offset,
                frame=frame.number,
            )


@rule(
    "DEC003",
    "jpeg-scan-incomplete",
    Severity.ERROR,
    ref="ISO 10918-1 B.2.5, F.1.2, H.1",
    summary="A JPEG scan holds fewer or more MCUs / samples than the frame header requires",
    codecs=[Codec.JPEG],
    decode=True,
    fix=FixAvailability.NEVER,
)
def jpeg_scan_incomplete(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    With `--decode`, for Huffman-coded JPEG frames (SOF0 baseline, SOF1 extended
    sequential, SOF3 lossless): walks each scan's entropy-coded data with the frame's
    own Huffman tables, code by code, without computing a pixel, and counts the units
    it holds: MCUs of 8 x 8 blocks, or samples for lossless JPEG, honouring restart
    intervals (RSTm) and byte stuffing (FF 00). Reports the first scan of a frame whose
    data ends before the number of units the frame header (SOF: lines, samples per
    line, sampling factors) requires, holds an invalid Huffman code, goes on with more
    coded data than those units need (whole bytes that are not padding), or a frame
    whose EOI comes before a scan of every component. The offset is the byte where the
    data ran out (the marker after it), the invalid code, or the extra data.

    Frames it cannot count are left to the header rules and give no finding: other
    processes (progressive, hierarchical, arithmetic-coded), a Huffman table missing, a
    height defined by a DNL marker, a frame cut short by the end of the file (ITM005).

    Why it matters
    --------------
    A frame cut in a transfer and closed again with EOI has every marker right:
    libjpeg-turbo (Pillow, imagecodecs) and libjpeg (pylibjpeg) decode it without an
    error or a warning, and the missing part of the image comes out grey or black. No
    decoder reports it; counting the scan's units does, exactly.

    Example
    -------
    A 3-frame JPEG Baseline file whose second frame's scan was cut after half of its
    data and closed with FF D9: `DEC003 error frame 2: scan 1: the coded data ends after
    1279 of 2400 MCUs`, at the offset of that EOI.

    How to fix
    ----------
    The coded data is lost: encode the frame again from the source images, or recover
    the file from an intact copy. Nothing in the file says what the missing part held.

    Reference
    ---------
    ISO 10918-1 B.2.5 (the scan header), F.1.2 (sequential Huffman coding of blocks),
    F.1.2.3 (restart intervals), H.1 (lossless coding of samples), B.1.1.5 (stuffing).
    """
    from dcmencaps_lint.scan import check_frame

    for frame in ctx.frame_map.frames:
        frame_data = ctx.frame_data(frame)
        if frame_data is None:
            continue
        problem = check_frame(frame_data.data)
        if problem is not None:
            yield Problem(
                f"frame {frame.number}: {problem.message}",
                offset=frame_data.offset_of(problem.position),
                frame=frame.number,
            )


@rule(
    "DEC004",
    "decode-not-checked",
    Severity.INFO,
    ref="-",
    summary="No installed decoder supports the transfer syntax: frames not decoded",
    codecs=DECODED,
    decode=True,
    fix=FixAvailability.NEVER,
)
def decode_not_checked(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    With `--decode`: says, once per Pixel Data element, that no installed decoder
    supports its transfer syntax, so DEC001 and DEC002 could not look at its frames
    (DEC003 counts JPEG scans without a decoder and runs anyway).

    Why it matters
    --------------
    A clean report with `--decode` should mean the frames were decoded. This says when
    they were not, and what to install.

    Example
    -------
    `--decode` without the extra on a JPEG 2000 file: `DEC004 info no installed decoder
    supports JPEG 2000 Image Compression: the frames were not decoded (pip install
    "encaps-lint[decode]")`.

    How to fix
    ----------
    Install the decoders: `pip install "encaps-lint[decode]"` (pylibjpeg with its
    libjpeg, OpenJPEG and RLE plugins). JPEG XL and some retired syntaxes have none.

    Reference
    ---------
    -
    """
    from dcmencaps_lint.decoding import plugins_for

    ts = ctx.syntax
    if not plugins_for(ts.uid):
        yield Problem(
            f"no installed decoder supports {ts.name}: the frames were not decoded "
            '(pip install "encaps-lint[decode]")',
            offset=ctx.pixel.offset,
        )

"""CSM: how each frame's codestream is framed, by the codec of the TS: its first bytes
(signature, start marker, wrapper, RLE header), its last bytes (end marker, trailing
bytes) and, for Deflated Image Frames, where the deflate stream ends.

The per-frame rules here judge each frame by its facts (facts.py: how it starts and
ends); the RLE and deflate rules read a few bytes at each frame's head, and only
CSM022's trailing-byte check reads whole payloads, when deep reads are on for it
(--deep, or CSM022 selected by code or name).
The rules that compare a codestream's header with the data set are in csm_header.py.

A frame's start is judged once (facts.judge) and every rule here uses that verdict, so a
frame is blamed for its start under one code only: CSM001 / CSM004 (a marker of the
right family, but the wrong one), CSM006 (a JP2 file) or CSM014 (not this codec at all).
The end-marker rules skip frames that are not this codec's codestream (CSM006, CSM014).
"""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.codestream import (
    RLE_HEADER_SIZE,
    SOC_SIZ,
    RleDefect,
    deflate_stream_end,
    deflate_wrapper,
    parse_rle,
    rle_defects,
)
from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.facts import End, Start, Verdict
from dcmencaps_lint.model import Frame, Problem, Severity
from dcmencaps_lint.registry import Deep, FixAvailability, rule
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY, MARKER_CODED, Codec

SIGNED = MARKER_CODED | {Codec.JPEG_XL, Codec.RLE}  # codecs whose frames' start is judged

EXPECTED = {
    Codec.JPEG: "SOI (FF D8)",
    Codec.JPEG_LS: "SOI (FF D8)",
    Codec.JPEG_2000: "SOC + SIZ (FF 4F FF 51)",
    Codec.HTJ2K: "SOC + SIZ (FF 4F FF 51)",
    Codec.JPEG_XL: "a JPEG XL signature (FF 0A, or the JXL container box)",
    Codec.RLE: "an RLE header",
}


def hexed(data: bytes) -> str:
    return data.hex(" ").upper()


def _frames(ctx: EncapsulatedContext) -> Iterator[Frame]:
    """The frames worth checking: those with data."""
    for frame in ctx.frame_map.frames:
        if ctx.fragment(frame.first_fragment).available >= 2:
            yield frame


def _start(ctx: EncapsulatedContext, frame: Frame) -> Start | None:
    """How the frame starts (facts.py); None when it has fewer than 2 bytes."""
    return ctx.frame_facts(frame).start


def _started(ctx: EncapsulatedContext, verdict: Verdict) -> Iterator[tuple[Frame, Start]]:
    """The frames whose start got this verdict."""
    for frame in ctx.frame_map.frames:
        start = _start(ctx, frame)
        if start is not None and start.verdict is verdict:
            yield frame, start


def _start_problem(frame: Frame, start: Start, text: str, size: int) -> Problem:
    return Problem(
        f"frame {frame.number} {text}",
        offset=start.offset,
        length=min(size, len(start.head)),
        frame=frame.number,
        item=frame.first_fragment,
    )


def _ends(ctx: EncapsulatedContext) -> Iterator[tuple[Frame, End]]:
    """How every frame that is a codestream of the TS's codec ends, when it ends in the
    file: a frame that is no such codestream is CSM006's / CSM014's, and ITM005 / ITM008
    report a last fragment cut short or empty."""
    for frame in ctx.frame_map.frames:
        end = ctx.frame_facts(frame).end
        if end is not None:
            yield frame, end


def _missing_end_problems(ctx: EncapsulatedContext, marker: str) -> Iterator[Problem]:
    for frame, end in _ends(ctx):
        if end.marker is None:
            yield Problem(
                f"frame {frame.number} ends with {hexed(end.tail[-2:])}, not {marker} (FF D9)",
                offset=end.end - 2,
                length=2,
                frame=frame.number,
                item=frame.last_fragment,
            )


@rule(
    "CSM001",
    "missing-soi",
    Severity.ERROR,
    ref="PS3.5 A.4.1, A.4.3",
    summary="A JPEG or JPEG-LS frame does not start with SOI (FF D8)",
    per_frame=True,
    codecs=JPEG_FAMILY,
    fix=FixAvailability.NEVER,
)
def missing_soi(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under the JPEG and JPEG-LS transfer syntaxes each frame's first fragment starts
    with the SOI marker FF D8. This rule fires when the frame starts with a JPEG marker
    (FF xx) that is not SOI, e.g. an APP0 (FF E0) or SOF (FF C0) segment whose SOI was
    cut off. FF fill bytes before SOI are CSM023's; a frame that starts with no marker
    at all (00 00, raw pixels) or with another codec's signature (FF 4F FF 51, a JP2 or
    JPEG XL signature) is CSM014's. A frame gets one of the three, never two.

    Why it matters
    --------------
    Decoders reject the frame: libjpeg (DCMTK's dcmdjpeg) stops with "Not a JPEG
    file: starts with 0xff 0xe0". A frame that starts in the middle of a codestream
    usually means the frame boundaries (offset tables, fragment order) are wrong.

    Example
    -------
    A frame whose first fragment starts with APP0:

        FF E0 00 10 4A 46 49 46   APP0 "JFIF", no SOI before it

    A good frame starts with SOI:

        FF D8 FF E0 00 10 4A 46   SOI, then APP0

    How to fix
    ----------
    Check the offset tables and the order of the fragments; if the frame really lost
    its first bytes, re-encode it from the original pixels.

    Reference
    ---------
    PS3.5 A.4.1: "For all images ... the JPEG Interchange Format shall be used (the
    table specification shall be included)." PS3.5 A.4.3 says the same of JPEG-LS.
    ISO/IEC 10918-1 B.2.1: a compressed image begins with SOI.
    """
    for frame, start in _started(ctx, Verdict.WRONG_MARKER):
        yield _start_problem(
            frame, start, f"starts with {hexed(start.head[:2])}, not SOI (FF D8)", 2
        )


@rule(
    "CSM002",
    "missing-eoi",
    Severity.ERROR,
    ref="PS3.5 A.4.1",
    summary="A JPEG or JPEG-LS frame has no EOI (FF D9) at its end",
    per_frame=True,
    codecs=JPEG_FAMILY,
    fix=FixAvailability.NEVER,
)
def missing_eoi(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Each JPEG / JPEG-LS frame ends with the EOI marker FF D9, optionally followed by
    one pad byte that makes the fragment even. The rule looks for FF D9 in the last 64
    bytes of the frame's last fragment: when it is there but followed by two or more
    bytes, that is CSM003's warning instead. Frames that are not JPEG at all (CSM014)
    and truncated fragments (ITM005) are left to those rules.

    Why it matters
    --------------
    Decoders fail on the frame: "JPEG 12 bit codec unable to perform reading
    scanlines" (fo-dicom.Codecs #37); DCMTK's dcmdjpeg stops with "Illegal call,
    perhaps wrong parameters". Readers that find frames by their EOI (pydicom, when
    the Basic Offset Table is empty) merge this frame with the next.

    Example
    -------
    A frame whose last fragment ends in entropy-coded data:

        ... 8A 51 14 51 45 00     last bytes of the frame, no FF D9

    A good frame ends with EOI, or EOI and one pad byte:

        ... 14 51 45 00 FF D9     EOI at the end
        ... 51 45 00 FF D9 00     EOI and a pad byte

    How to fix
    ----------
    The frame is truncated or was written without its end: re-encode it from the
    original pixels (appending FF D9 only helps when no data is missing).

    Reference
    ---------
    PS3.5 A.4.1: "the JPEG Interchange Format shall be used"; ISO/IEC 10918-1 B.2.1:
    a compressed image ends with EOI. PS3.5 A.4 Note: padding "may be added ... such
    that the EOI marker ends on an even byte boundary, or may be appended after the
    EOI marker".
    """
    yield from _missing_end_problems(ctx, "EOI")


@rule(
    "CSM003",
    "trailing-bytes-after-end-marker",
    Severity.WARNING,
    ref="PS3.5 A.4 notes",
    summary="Two or more bytes follow the EOI / EOC (FF D9) at the end of a frame",
    per_frame=True,
    codecs=MARKER_CODED,
    fix=FixAvailability.ALWAYS,
    unsafe_fix=True,
)
def trailing_bytes_after_end_marker(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A JPEG, JPEG-LS, JPEG 2000 or HTJ2K frame ends with its end marker FF D9 (EOI,
    EOC), optionally followed by one pad byte. This rule fires when the last FF D9 in
    the frame's last 64 bytes is followed by two or more bytes; the finding points at
    the first trailing byte and says how many there are. When no FF D9 is in those
    bytes at all, the end marker is missing (CSM002 / CSM005).

    Why it matters
    --------------
    Most decoders ignore bytes after the end marker, some do not: OpenJPEG is "picky",
    so GDCM strips trailing bytes until FF D9 before decoding (its samples
    DX_J2K_0Padding.dcm and D_CLUNIE_CT1_J2KR.dcm have trailing 00 and FF bytes);
    jai-imageio failed with "broken data stream" until it learnt to tolerate up to 3
    pad bytes (jai-imageio-jpeg2000 PR #33, pydicom PR #672).

    Example
    -------
    A frame whose fragment goes on after EOC:

        ... 80 80 FF D9 00 00 00 00   EOC, then four bytes

    A good frame ends with FF D9, or FF D9 and a single pad byte:

        ... 80 80 80 80 80 80 FF D9
        ... 80 80 80 80 80 FF D9 00

    How to fix
    ----------
    Cut the fragment after FF D9 (keeping one pad byte if the length would be odd) and
    update the item length and the offset tables. `--fix --unsafe-fixes` does so (00 as
    the pad byte): unsafe, since bytes of the fragment are dropped (a decoder that
    needed them, if any, would differ); the check after writing compares each frame
    with the old one up to its end marker.

    Reference
    ---------
    PS3.5 A.4 Notes: padding "may be added in the JPEG or JPEG-LS compressed data
    stream ... such that the EOI marker ends on an even byte boundary, or may be
    appended after the EOI marker"; one byte is all an even length needs. ISO/IEC
    10918-1 B.2.1 and ISO/IEC 15444-1 A.4.4: the codestream ends with its end marker.
    """
    for frame, end in _ends(ctx):
        if end.trailing >= 2:
            assert end.marker is not None
            from dcmencaps_lint.fixes import TrimFragment  # here: most lints fix nothing

            name = "EOI" if ctx.ts.codec in JPEG_FAMILY else "EOC"
            shown = end.tail[end.marker - end.tail_offset + 2 :][:8]
            more = " ..." if end.trailing > len(shown) else ""
            yield Problem(
                f"{end.trailing} bytes ({hexed(shown)}{more}) follow the {name} (FF D9) of "
                f"frame {frame.number}",
                offset=end.marker + 2,
                length=end.trailing,
                frame=frame.number,
                item=frame.last_fragment,
                fix=TrimFragment(frame.last_fragment, end.marker + 2),
            )


@rule(
    "CSM004",
    "missing-soc",
    Severity.ERROR,
    ref="PS3.5 A.4.4",
    summary="A JPEG 2000 / HTJ2K frame does not start with SOC + SIZ (FF 4F FF 51)",
    per_frame=True,
    codecs=J2K_FAMILY,
    fix=FixAvailability.NEVER,
)
def missing_soc(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under the JPEG 2000 and HTJ2K transfer syntaxes each frame is a bare codestream
    that starts with SOC (FF 4F) directly followed by SIZ (FF 51). This rule fires when
    the frame starts with a marker (FF xx) that is not that pair: SOC followed by
    another marker, or a frame that starts at a later marker segment (e.g. FF 90, a
    tile-part). A JP2 file-format box is CSM006's; a frame with no marker at all (raw
    pixels) or another codec's signature (FF D8, JPEG XL) is CSM014's. A frame gets
    one of the three, never two.

    Why it matters
    --------------
    Decoders reject the frame: SIZ must be the second marker of the main header, and
    a codestream without SOC is not recognised at all. A frame that starts in the
    middle of a codestream usually means the frame boundaries are wrong.

    Example
    -------
    SOC followed by COD instead of SIZ:

        FF 4F FF 52 00 0C 00 00   SOC, COD

    A good frame:

        FF 4F FF 51 00 29 00 00   SOC, SIZ (Lsiz 41), Rsiz

    How to fix
    ----------
    Check the offset tables and the fragment order; re-encode the frame if the
    codestream itself is malformed.

    Reference
    ---------
    PS3.5 A.4.4: "The JPEG 2000 bit stream specified in ISO/IEC 15444-1 shall be
    used." ISO/IEC 15444-1 A.4.1 and A.5.1: the main header starts with SOC, and SIZ
    follows it immediately. HTJ2K: ISO/IEC 15444-15, which keeps that syntax.
    """
    for frame, start in _started(ctx, Verdict.WRONG_MARKER):
        text = f"starts with {hexed(start.head[:4])}, not SOC + SIZ (FF 4F FF 51)"
        yield _start_problem(frame, start, text, len(SOC_SIZ))


@rule(
    "CSM005",
    "missing-eoc",
    Severity.ERROR,
    ref="PS3.5 A.4.4",
    summary="A JPEG 2000 / HTJ2K frame has no EOC (FF D9) at its end",
    per_frame=True,
    codecs=J2K_FAMILY,
    fix=FixAvailability.NEVER,
)
def missing_eoc(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Each JPEG 2000 / HTJ2K frame ends with the EOC marker FF D9, optionally followed
    by one pad byte. The rule looks for FF D9 in the last 64 bytes of the frame's last
    fragment; FF D9 followed by two or more bytes is CSM003's warning instead. Frames
    that are not a JPEG 2000 codestream (CSM006, CSM014) and truncated fragments
    (ITM005) are left to those rules.

    Why it matters
    --------------
    OpenJPEG rejects codestreams without EOC (openjpeg #789, M. Malaterre: "You are
    missing the EOF (ffd9)") while Kakadu accepts them, so the file decodes on some
    viewers only. A trailing COM segment without an end (pydicom #966) decoded only
    after it was cut and FF D9 appended.

    Example
    -------
    A codestream whose last tile-part data ends without EOC:

        ... 80 80 80 80 80 80     last bytes, no FF D9

    A good frame:

        ... 80 80 80 80 FF D9     EOC at the end

    How to fix
    ----------
    The codestream is truncated or was written without its end: re-encode it (adding
    FF D9 only helps when no data is missing).

    Reference
    ---------
    PS3.5 A.4.4: "The JPEG 2000 bit stream specified in ISO/IEC 15444-1 shall be
    used." ISO/IEC 15444-1 A.4.4: the EOC marker ends the codestream.
    """
    yield from _missing_end_problems(ctx, "EOC")


@rule(
    "CSM006",
    "jp2-wrapper",
    Severity.ERROR,
    ref="PS3.5 A.4.4",
    summary="A JPEG 2000 frame is wrapped in a JP2 file-format header",
    per_frame=True,
    codecs=J2K_FAMILY,
    fix=FixAvailability.SOMETIMES,
    unsafe_fix=True,
)
def jp2_wrapper(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under the JPEG 2000 and HTJ2K transfer syntaxes a frame must be the bare
    codestream. This rule fires when the frame starts with the JP2 signature box
    (00 00 00 0C 6A 50 20 20 0D 0A 87 0A, "jP  "), i.e. a whole .jp2 file was put in
    the fragment. It is the root cause, so CSM004 (missing SOC) and the end-marker
    rules stay quiet for that frame.

    Why it matters
    --------------
    The Standard forbids the JP2 header. OpenJPEG and GDCM detect it and decode the
    file anyway (GDCM warns "J2K start like JPEG-2000 compressed image data instead of
    codestream"), but a reader that passes the fragment to a bare-codestream decoder
    fails, and the JP2 boxes (colour specification, resolution) can contradict the
    data set.
    Real case: pydicom's test file GDCMJ2K_TextGBR.dcm.

    Example
    -------
    A frame that is a JP2 file:

        00 00 00 0C 6A 50 20 20   signature box "jP  "
        0D 0A 87 0A 00 00 00 14   ... then "ftyp", "jp2h", "jp2c"

    A good frame is the content of the jp2c box only:

        FF 4F FF 51 00 29 00 00   SOC, SIZ

    How to fix
    ----------
    Keep only the codestream: the content of the Contiguous Codestream box (jp2c),
    from FF 4F to FF D9. Check that Photometric Interpretation still describes it.
    `--fix --unsafe-fixes` does that for a frame of one fragment (its boxes walked by
    their headers; a 00 pad byte after an odd codestream; the BOT and the Extended
    Offset Table follow the items that move). Unsafe: the boxes before the codestream
    go, and with them what the JP2 header said of the colours (a colour specification
    box, a palette), which Photometric Interpretation must then say alone.

    Reference
    ---------
    PS3.5 A.4.4: "The JPEG 2000 bit stream specified in ISO/IEC 15444-1 shall be
    used. The optional JP2 file format header shall NOT be included." ISO/IEC
    15444-1 Annex I describes the JP2 file format and its signature box.
    """
    for frame, start in _started(ctx, Verdict.JP2):
        text = (
            f"starts with a JP2 signature box ({hexed(start.head[:12])}), not a bare "
            "codestream (SOC + SIZ)"
        )
        problem = _start_problem(frame, start, text, 12)
        if frame.fragment_count == 1:
            from dcmencaps_lint.fixes import UnwrapJp2  # here: most lints fix nothing

            problem = problem._replace(fix=UnwrapJp2(frame.first_fragment))
        yield problem


def _rle_frames(ctx: EncapsulatedContext) -> Iterator[tuple[Frame, int, bytes]]:
    """(frame, header offset, header bytes) of RLE frames whose start is an RLE header.

    Frames that are another codec's codestream are CSM014's; truncated fragments
    ITM005's; empty ones ITM008's.
    """
    for frame, _ in _started(ctx, Verdict.OK):
        if not ctx.fragment(frame.first_fragment).truncated:
            yield frame, *ctx.frame_head(frame, RLE_HEADER_SIZE)


@rule(
    "CSM007",
    "rle-header-invalid",
    Severity.ERROR,
    ref="PS3.5 G.4, G.5",
    summary="An RLE frame's 64-byte header is short or holds an invalid count or offset",
    codecs={Codec.RLE},
    fix=FixAvailability.NEVER,
)
def rle_header_invalid(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Each RLE Lossless frame (one fragment) starts with a 64-byte header of sixteen
    little-endian 32-bit words: the number of segments (1 to 15), then 15 segment
    offsets from the start of the frame. The rule reports, at most once per kind and
    frame: a fragment shorter than 64 bytes; a segment count outside 1..15 (then
    nothing else, the offsets mean nothing); a first offset that is not 64; an offset
    at or past the end of the frame or not greater than the one before; an unused
    offset that is not 0. The finding points at the 32-bit field (the fragment value's
    offset + 4 x field index; the count is field 0). An odd offset in a header that is
    otherwise right is a segment left unpadded, which decoders read: CSM024, a warning.
    In a header with one of the defects above it is not reported on its own (the header
    is wrong anyway).

    Why it matters
    --------------
    Decoders locate segments by these offsets. DCMTK: "Byte offset in RLE header is
    wrong" or "RLE decoder is finished but has produced insufficient data"; pydicom:
    "The decoded RLE segment data doesn't match the expected amount"; GDCM: "Bad RLE
    stream".

    Example
    -------
    A 3-segment header whose third offset goes back (words are little endian):

        03 00 00 00 40 00 00 00   3 segments, segment 1 at 64
        54 00 00 00 50 00 00 00   segment 2 at 84, segment 3 at 80: before segment 2

    A good header has the segments in order, each at an even offset:

        03 00 00 00 40 00 00 00
        54 00 00 00 DE 00 00 00   segment 3 at 222

    How to fix
    ----------
    Re-encode the frame with a conformant RLE encoder: the segments one after the
    other, each padded with a zero byte to an even length, and the offsets recomputed.

    Reference
    ---------
    PS3.5 G.5: the RLE Header is "16 long words in length"; "the offset of RLE
    Segment One is 64"; "All unused segments offsets shall be set to zero." PS3.5
    G.3: "Each RLE segment must be an even number of bytes or padded at its end with
    zero to make it even." PS3.5 G.4: the segments follow the header one after the
    other.
    """
    for frame, offset, head, defects in _rle_headers(ctx):
        if defects is None:
            yield Problem(
                f"frame {frame.number} is {len(head)} bytes, shorter than the 64-byte RLE header",
                offset=offset,
                length=len(head),
                frame=frame.number,
                item=frame.first_fragment,
            )
            continue
        for defect in defects:
            if defect.kind == "odd":
                continue  # an unpadded segment, not a wrong offset: CSM024's
            yield _rle_problem(frame, offset, defect)


RleChecked = tuple[Frame, int, bytes, list[RleDefect] | None]


def _rle_headers(ctx: EncapsulatedContext) -> list[RleChecked]:
    """Each RLE frame's header: (frame, offset, bytes, its defects; None when the frame is
    shorter than the header), for CSM007 and CSM024."""
    return ctx.memo(_checked_rle_headers, None)


def _checked_rle_headers(ctx: EncapsulatedContext, _: None) -> list[RleChecked]:
    checked: list[RleChecked] = []
    for frame, offset, head in _rle_frames(ctx):
        header = parse_rle(head)
        if header is None:
            checked.append((frame, offset, head, None))
            continue
        fragments = range(frame.first_fragment, frame.last_fragment + 1)
        length = sum(ctx.fragment(n).available for n in fragments)
        checked.append((frame, offset, head, rle_defects(header, length)))
    return checked


def _rle_problem(frame: Frame, offset: int, defect: RleDefect, note: str = "") -> Problem:
    """A defect of an RLE header, at its 32-bit field."""
    return Problem(
        f"RLE header of frame {frame.number}: {defect.message}{note}",
        offset=offset + 4 * defect.field,
        length=4,
        frame=frame.number,
        item=frame.first_fragment,
    )


@rule(
    "CSM008",
    "rle-segment-count-mismatch",
    Severity.ERROR,
    ref="PS3.5 G.2",
    summary="RLE segments differ from Samples per Pixel x bytes per sample",
    codecs={Codec.RLE},
    fix=FixAvailability.NEVER,
)
def rle_segment_count_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    An RLE frame has one segment per byte of the Padded Composite Pixel Code: Samples
    per Pixel x ceil(Bits Allocated / 8) segments (3 for 8-bit RGB, 2 for 16-bit
    grayscale). The rule compares the header's segment count with that number. It is
    skipped when Samples per Pixel or Bits Allocated is absent or invalid, and when the
    count itself is outside 1..15 or the header is short (CSM007's).

    Why it matters
    --------------
    Decoders need every byte plane: DCMTK stops with "Number of stripes in RLE header
    incorrect", pydicom raises; a count that matches another layout (e.g. 2 segments
    for 8-bit data) means the data set describes other pixels than the frame holds.

    Example
    -------
    16-bit grayscale (Samples per Pixel 1, Bits Allocated 16) with one segment:

        01 00 00 00 40 00 00 00   1 segment, at 64

    Good: two segments, high bytes first:

        02 00 00 00 40 00 00 00   2 segments, at 64 ...
        9E 01 00 00 00 00 00 00   ... and 414

    How to fix
    ----------
    Correct Samples per Pixel / Bits Allocated if they are wrong; otherwise re-encode
    the frame from the original pixels.

    Reference
    ---------
    PS3.5 G.2 (in substance): the Padded Composite Pixel Code of each pixel is split
    into its bytes, most significant first, and each byte position is encoded as its
    own RLE Segment, so there are Samples per Pixel x ceil(Bits Allocated / 8)
    segments.
    """
    image = ctx.dataset.image
    samples, bits = image.samples_per_pixel, image.bits_allocated
    if samples is None or bits is None or samples < 1 or bits < 1:
        return
    expected = samples * -(-bits // 8)
    for frame, offset, head in _rle_frames(ctx):
        header = parse_rle(head)
        if header is None or not 1 <= header.segments <= 15 or header.segments == expected:
            continue
        yield Problem(
            f"RLE header of frame {frame.number} has {header.segments} segments, but Samples "
            f"per Pixel {samples} x Bits Allocated {bits} needs {expected}",
            offset=offset,
            length=4,
            frame=frame.number,
            item=frame.first_fragment,
        )


@rule(
    "CSM014",
    "unrecognised-codestream",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="A frame does not start with the transfer syntax's codestream signature",
    per_frame=True,
    codecs=SIGNED,
    fix=FixAvailability.NEVER,
)
def unrecognised_codestream(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A frame's first bytes must be a codestream of the TS's codec: SOI (FF D8, after
    any FF fill) for JPEG and JPEG-LS; SOC + SIZ (FF 4F FF 51) for JPEG 2000 and
    HTJ2K; FF 0A or the container box 00 00 00 0C 4A 58 4C 20 0D 0A 87 0A for JPEG
    XL. This rule fires when the frame starts with another codec's signature (FF D8
    under a JPEG 2000 TS, FF 4F under a JPEG TS, a JP2 or JPEG XL signature under
    JPEG) or with no marker at all (00 00, raw pixels). Under RLE it fires only for
    another codec's signature (an RLE header has none of its own). Encapsulated
    Uncompressed and Deflated Image Frames have no signature and are not checked.

    The split with CSM001 / CSM004: a frame that starts with a marker of the right
    family but the wrong one (FF E0 under JPEG, FF 4F FF 52 under JPEG 2000) is theirs;
    a JP2 box under JPEG 2000 is CSM006's. A frame gets one of these, and the
    end-marker rules (CSM002, CSM003, CSM005) and the RLE header rules (CSM007,
    CSM008) skip it.

    Why it matters
    --------------
    The decoder the TS selects cannot read the frame at all. Usual causes: a
    transcoder changed the Transfer Syntax UID without re-encoding (or the reverse,
    fo-dicom #645), native pixels written into an encapsulated element (pydicom #738),
    or frame boundaries that point into the middle of a codestream.

    Example
    -------
    A JPEG frame under JPEG 2000 Lossless (1.2.840.10008.1.2.4.90):

        FF D8 FF E0 00 10 4A 46   SOI: a JPEG codestream

    Raw pixels under JPEG Baseline:

        00 00 01 00 02 00 03 00   no marker at all

    How to fix
    ----------
    Make the Transfer Syntax UID name the codec the frames are really encoded with,
    or re-encode the frames with the codec it names.

    Reference
    ---------
    PS3.5 8.2 and Annex A: the Transfer Syntax identifies the compression of the
    encapsulated Pixel Data, and A.4.1-A.4.4 name the bit stream each one uses.
    ISO/IEC 10918-1 B.2.1 (SOI), ISO/IEC 15444-1 A.4.1 (SOC), ISO/IEC 18181-1 and -2
    (JPEG XL codestream and container signatures).
    """
    for frame, start in _started(ctx, Verdict.FOREIGN):
        expected = EXPECTED[ctx.ts.codec]
        what = start.other or "no known signature"
        text = f"starts with {hexed(start.head[:4])}: {what}, not {expected}"
        yield _start_problem(frame, start, text, 4)


@rule(
    "CSM022",
    "deflate-stream-invalid",
    Severity.ERROR,
    ref="PS3.5 A.4.13",
    summary="A Deflated Image Frame is zlib/gzip-wrapped, or not one raw deflate stream",
    codecs={Codec.DEFLATE},
    deep=Deep.PART,
    fix=FixAvailability.NEVER,
)
def deflate_stream_invalid(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under Deflated Image Frame Compression (1.2.840.10008.1.2.8.1) each frame's one
    fragment is a raw deflate stream (RFC 1951), followed by at most one pad byte.
    Always (two bytes per frame): the fragment must not start with a zlib (RFC 1950,
    e.g. 78 9C) or gzip (RFC 1952, 1F 8B) wrapper. The rest reads the whole payload,
    so it runs only with --deep or when CSM022 is selected by code or name (like the
    deep rules): the fragment is inflated (the output is discarded as it comes) to find
    where the stream ends; a finding when two or more bytes follow it, when the data is
    not valid raw deflate, or when the fragment ends before the stream. Frames split
    over several fragments are FRG003's and are not inflated.

    Why it matters
    --------------
    Readers inflate each fragment as raw deflate (zlib's wbits -15); a zlib or gzip
    header makes that fail with "invalid block type" or "invalid stored block
    lengths", although the data is fine. Bytes after the stream are not part of the
    frame: readers that inflate the whole fragment with a strict decoder fail.

    Example
    -------
    A fragment that starts with a zlib header:

        78 9C EC BD 07 60 1C 49   zlib CMF/FLG 78 9C, then deflate data

    Good: the raw deflate data alone (here starting with a dynamic-Huffman block),
    and at most one 00 after it:

        EC BD 07 60 1C 49 96 25   raw deflate, from the first block

    How to fix
    ----------
    Write raw deflate (zlib's compressobj(wbits=-15), or strip the 2-byte zlib header
    and the 4-byte Adler-32 trailer); pad an odd-length stream with a single 00.

    Reference
    ---------
    PS3.5 A.4.13: "The pixel data byte stream of each frame is separately compressed
    using the Deflate algorithm defined in [RFC1951] ... If the Deflate algorithm
    produces an odd number of bytes then a single trailing NULL byte shall be added".
    """
    for frame in _frames(ctx):
        first = ctx.fragment(frame.first_fragment)
        offset, head = ctx.frame_head(frame, 2)
        wrapper = deflate_wrapper(head)
        if wrapper is not None:
            yield Problem(
                f"frame {frame.number} starts with a {wrapper} header ({hexed(head)}), not a "
                "raw deflate stream",
                offset=offset,
                length=2,
                frame=frame.number,
                item=frame.first_fragment,
            )
        elif ctx.deep and frame.first_fragment == frame.last_fragment and not first.truncated:
            yield from _deflate_end_problems(ctx, frame)


def _deflate_end_problems(ctx: EncapsulatedContext, frame: Frame) -> Iterator[Problem]:
    fragment = ctx.fragment(frame.first_fragment)
    found = deflate_stream_end(ctx.payload_chunks(fragment))
    if found.end is None:
        yield Problem(
            f"frame {frame.number} is not one raw deflate stream: {found.error}",
            offset=fragment.value_offset,
            length=fragment.available,
            frame=frame.number,
            item=frame.first_fragment,
        )
    elif fragment.end - found.end >= 2:
        trailing = fragment.end - found.end
        yield Problem(
            f"{trailing} bytes follow the end of frame {frame.number}'s deflate stream; at most "
            "one pad byte is allowed",
            offset=found.end,
            length=trailing,
            frame=frame.number,
            item=frame.first_fragment,
        )


@rule(
    "CSM023",
    "fill-before-soi",
    Severity.WARNING,
    ref="PS3.5 A.4 note",
    summary="FF fill bytes before the SOI of a JPEG or JPEG-LS frame",
    per_frame=True,
    codecs=JPEG_FAMILY,
    fix=FixAvailability.NEVER,
)
def fill_before_soi(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A JPEG / JPEG-LS frame should start with SOI (FF D8) itself. ISO/IEC 10918-1
    lets FF fill bytes precede any marker, so FF FF D8 is still a valid stream, and
    CSM001 does not report it; this rule warns about it, pointing at the first fill
    byte and saying how many there are (up to 255 are counted; more read as no SOI).

    Why it matters
    --------------
    Many decoders expect FF D8 as the first two bytes: DCMTK's dcmdjpeg stops with
    "Not a JPEG file: starts with 0xff 0xff", GDCM fails, pydicom's libjpeg plugin
    raises (SOI missing), and dciodvfy (2024) warns "does not start with SOI marker".

    Example
    -------
    Two fill bytes before SOI:

        FF FF FF D8 FF E0 00 10   fill, fill, SOI, APP0

    Good:

        FF D8 FF E0 00 10 4A 46   SOI first

    How to fix
    ----------
    Remove the FF bytes before SOI (and pad the fragment at its end if its length
    becomes odd); update the item length and the offset tables.

    Reference
    ---------
    PS3.5 A.4 Note: "It is strongly recommended that FFH padding bytes not be added
    before the Start of Image (SOI) marker." ISO/IEC 10918-1 B.1.1.2: any marker may
    be preceded by fill bytes FF.
    """
    for frame, start in _started(ctx, Verdict.OK):
        if start.fill:
            yield _start_problem(
                frame, start, f"has {start.fill} FF fill bytes before its SOI", start.fill
            )


@rule(
    "CSM024",
    "rle-segment-odd-length",
    Severity.WARNING,
    ref="PS3.5 G.5",
    summary="An RLE segment offset is odd: the segment before it is not padded to an even length",
    codecs={Codec.RLE},
    fix=FixAvailability.SOMETIMES,
    unsafe_fix=True,
)
def rle_segment_odd_length(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Each RLE Lossless frame's 64-byte header (PS3.5 G.5) whose offsets are otherwise
    right (segment 1 at 64, each offset past the one before and inside the frame,
    unused ones 0) but where an offset is odd: the segment before it was not padded to
    an even length. One finding per frame, at the first odd offset's 32-bit field (the
    fragment value's offset + 4 x segment number). A header with another defect is
    CSM007's, an error, and its odd offsets are not reported again here.

    Why it matters
    --------------
    The offsets still say where each segment starts, so DCMTK, GDCM and pydicom decode
    such frames; stricter readers complain: pixelmed prints "Error: fragment offset for
    segment 1 is not even length ... but ignoring and using odd offset anyway", and
    dicom3tools' checker reports it too. Several encoders in use write them: pydicom
    2.4.0's (pydicom #2180: the RSNA RATIC files; pydicom's own test file rtdose_rle.dcm
    has it in frames 2, 6-10, 14 and 15), and others behind sample files of Orthanc,
    LEADTOOLS and fo-dicom. Until 2026-12 encaps-lint reported this as CSM007, an
    error; it is a warning because the frames decode.

    Example
    -------
    A 4-segment header whose fourth offset is odd (words are little endian):

        04 00 00 00 40 00 00 00   4 segments, segment 1 at 64
        54 00 00 00 70 00 00 00   segment 2 at 84, segment 3 at 112
        DD 00 00 00 ...           segment 4 at 221: segment 3 is 109 bytes, unpadded

    A conformant encoder pads segment 3 with one zero byte, so segment 4 starts at 222.

    How to fix
    ----------
    Re-encode the frame, or pad each odd-length segment with one zero byte and add the
    bytes added before each segment to its offset (the segments' data stay as they
    are); and fix the encoder (for pydicom's: #2180). `--fix --unsafe-fixes` does that
    for a frame of one fragment: a 00 byte after each odd-length segment, each offset
    moved by the pad bytes before it, the segments' bytes as they were (the check
    compares the new frame with exactly that). Unsafe because the frame's bytes change;
    pydicom's rtdose_rle.dcm decodes to the same doses after it.

    Reference
    ---------
    PS3.5 G.3: "Each RLE segment must be an even number of bytes or padded at its end
    with zero to make it even." PS3.5 G.5: the header holds the offset of each segment
    from the start of the header.
    """
    for frame, offset, _, defects in _rle_headers(ctx):
        if not defects or any(defect.kind != "odd" for defect in defects):
            continue  # a right header, or one that is wrong (CSM007's)
        (odd,) = defects  # the first odd offset: rle_defects keeps one defect per kind
        note = f" (segment {odd.field - 1} is not padded to an even length)"
        problem = _rle_problem(frame, offset, odd, note)
        if frame.fragment_count == 1:
            from dcmencaps_lint.fixes import RepadRleSegments  # here: most lints fix nothing

            problem = problem._replace(fix=RepadRleSegments(frame.first_fragment))
        yield problem

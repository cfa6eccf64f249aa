"""CSM: what a frame's codestream header says, compared with the transfer syntax and the
Image Pixel attributes (dimensions, components, precision, sign, process, tables).

The other CSM rules (start and end markers, wrappers, RLE and deflate framing) are in
csm.py. Headers are parsed once per frame by the context (codestream.py). A header field
that could not be read is unknown, and an unknown field never makes a finding; a frame
whose codestream does not even start right is csm.py's (CSM001, CSM004, CSM006, CSM014).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from dcmencaps_lint.codestream import DAC, LOSSLESS_SOF, SOF55, J2kHeader, JpegHeader
from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.model import Frame, Problem, Severity
from dcmencaps_lint.registry import FixAvailability, rule
from dcmencaps_lint.transfer_syntax import (
    J2K_FAMILY,
    JPEG_FAMILY,
    MARKER_CODED,
    Codec,
    syntaxes_where,
)

_TS = "1.2.840.10008.1.2.4."
JPEG_BASELINE = _TS + "50"
JPEG_EXTENDED = _TS + "51"
JPEG_LOSSLESS = _TS + "57"
JPEG_LOSSLESS_SV1 = _TS + "70"
HTJ2K_RPCL = _TS + "202"

SOF0, SOF1, SOF3 = 0xC0, 0xC1, 0xC3
# The SOF markers each current JPEG and JPEG-LS transfer syntax allows (PS3.5 A.4.1,
# A.4.3). Retired syntaxes are TSX004's business and are not checked here.
ALLOWED_SOF: dict[str, frozenset[int]] = {
    JPEG_BASELINE: frozenset({SOF0}),
    JPEG_EXTENDED: frozenset({SOF0, SOF1}),  # SOF0 is CSM017's warning
    JPEG_LOSSLESS: frozenset({SOF3}),
    JPEG_LOSSLESS_SV1: frozenset({SOF3}),
    _TS + "80": frozenset({SOF55}),
    _TS + "81": frozenset({SOF55}),
}
# SOF9-SOF15 code with arithmetic coding, which needs no Huffman tables
ARITHMETIC_SOF = frozenset(range(0xC9, 0xD0)) - {DAC}
PROCESS = {
    0xC0: "baseline DCT",
    0xC1: "extended sequential DCT",
    0xC2: "progressive DCT",
    0xC3: "lossless",
    0xC5: "differential sequential DCT",
    0xC6: "differential progressive DCT",
    0xC7: "differential lossless",
    0xC9: "extended sequential DCT, arithmetic",
    0xCA: "progressive DCT, arithmetic",
    0xCB: "lossless, arithmetic",
    0xCD: "differential sequential DCT, arithmetic",
    0xCE: "differential progressive DCT, arithmetic",
    0xCF: "differential lossless, arithmetic",
    SOF55: "JPEG-LS",
}
RPCL = 2
PROGRESSION = ("LRCP", "RLCP", "RPCL", "PCRL", "CPRL")
MCT_PHOTOMETRIC = frozenset({"YBR_RCT", "YBR_ICT"})
# Lossless-only syntaxes whose codestream headers say whether the coding is lossy.
LOSSLESS_ONLY = syntaxes_where(lambda ts: ts.lossy is False and ts.codec in MARKER_CODED)


def sof_name(marker: int) -> str:
    """SOF0..SOF15 for ISO 10918-1 frames, SOF55 for JPEG-LS."""
    return "SOF55" if marker == SOF55 else f"SOF{marker - 0xC0}"


def is_dct(marker: int) -> bool:
    """The SOF marker starts a DCT-based (lossy) frame."""
    return marker != SOF55 and marker not in LOSSLESS_SOF


def _jpeg_frames(ctx: EncapsulatedContext) -> Iterator[tuple[Frame, JpegHeader, int]]:
    """(frame, header, SOF marker) of each frame whose JPEG / JPEG-LS SOF was read."""
    for frame in ctx.frame_map.frames:
        header = ctx.jpeg_header(frame)
        if header is not None and header.sof is not None and header.sof_offset is not None:
            yield frame, header, header.sof


def _j2k_frames(ctx: EncapsulatedContext) -> Iterator[tuple[Frame, J2kHeader]]:
    """(frame, main header) of each JPEG 2000 / HTJ2K frame that starts with SOC."""
    for frame in ctx.frame_map.frames:
        header = ctx.j2k_header(frame)
        if header is not None:
            yield frame, header


class _Geometry(NamedTuple):
    """What the SOF / SOF55 / SIZ segment of a frame says about the image."""

    marker: str  # "SOF0", "SOF55", "SIZ"
    offset: int
    rows: int | None  # None: unknown, or 0 in a JPEG SOF (the height comes in DNL)
    columns: int | None
    components: int | None
    precision: int | None


def _geometries(ctx: EncapsulatedContext) -> Iterator[tuple[Frame, _Geometry]]:
    """(frame, geometry) of each frame whose SOF / SOF55 / SIZ was read; each frame's
    worked out once for the six rules that compare it."""
    for frame in ctx.frame_map.frames:
        geometry = ctx.memo(_geometry, frame)
        if geometry is not None:
            yield frame, geometry


def _geometry(ctx: EncapsulatedContext, frame: Frame) -> _Geometry | None:
    if ctx.ts.codec in JPEG_FAMILY:
        jpeg = ctx.jpeg_header(frame)
        if jpeg is None or jpeg.sof is None or jpeg.sof_offset is None:
            return None
        rows = jpeg.rows or None
        name = sof_name(jpeg.sof)
        return _Geometry(name, jpeg.sof_offset, rows, jpeg.columns, jpeg.components, jpeg.precision)
    j2k = ctx.j2k_header(frame)
    if j2k is None or j2k.siz_offset is None or j2k.rows is None:
        return None
    return _Geometry("SIZ", j2k.siz_offset, j2k.rows, j2k.columns, j2k.components, j2k.precision)


def _at(frame: Frame, message: str, offset: int | None) -> Problem:
    return Problem(
        f"frame {frame.number}: {message}",
        offset=offset,
        frame=frame.number,
        item=frame.first_fragment,
    )


@rule(
    "CSM009",
    "codestream-dimensions-mismatch",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="The codestream's rows or columns (SOF, SOF55, SIZ) differ from Rows / Columns",
    per_frame=True,
    codecs=MARKER_CODED,
    fix=FixAvailability.NEVER,
)
def codestream_dimensions_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The image size in each frame's codestream header agrees with Rows (0028,0010)
    and Columns (0028,0011): the Y and X of a JPEG SOFn or JPEG-LS SOF55 segment, or
    Ysiz - YOsiz and Xsiz - XOsiz of a JPEG 2000 / HTJ2K SIZ segment. The finding
    points at the SOF or SIZ marker. A JPEG SOF whose Y is 0 (the height follows in
    a DNL segment) has its rows left unchecked.

    Why it matters
    --------------
    Decoders produce an image of the codestream's size, and readers then lay it out
    with the data set's size: the decode fails ("buffer size mismatch"), or the image
    comes out sheared or cut. A SIZ with absurd values is also how item bytes written
    over a codestream show up: pydicom's `JPEG2000-embedded-sequence-delimiter.dcm`
    has FE FF DD E0 in its SIZ, which then says 3722445056 columns.

    Example
    -------
    Rows 512 and Columns 512, but the frame says 256 x 256:

        FF C0 00 0B 08 01 00 01 00 01 ...   SOF0, 8 bits, Y 256, X 256, 1 component

    The good form says Y 512 (02 00) and X 512 (02 00).

    How to fix
    ----------
    If the data set is wrong (a resized image, attributes copied from another
    series), set Rows and Columns from the codestream. If the codestream is
    damaged, re-encode the frame from the original pixels.

    Reference
    ---------
    PS3.5 8.2 (paraphrased): the encapsulated codestream is consistent with the
    Image Pixel attributes that describe it. ISO/IEC 10918-1 B.2.2 (SOF Y, X),
    ISO/IEC 14495-1 C.2.2 (SOF55), ISO/IEC 15444-1 A.5.1 (SIZ Xsiz, Ysiz, XOsiz,
    YOsiz).
    """
    image = ctx.dataset.image
    for frame, geo in _geometries(ctx):
        pairs = (
            ("rows", "Rows", geo.rows, image.rows),
            ("columns", "Columns", geo.columns, image.columns),
        )
        wrong = [
            f"{coded} {name} ({keyword} is {attribute})"
            for name, keyword, coded, attribute in pairs
            if coded is not None and attribute is not None and coded != attribute
        ]
        if wrong:
            yield _at(frame, f"{geo.marker} says {' and '.join(wrong)}", geo.offset)


@rule(
    "CSM010",
    "codestream-components-mismatch",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="The codestream's component count differs from Samples per Pixel",
    per_frame=True,
    codecs=MARKER_CODED,
    fix=FixAvailability.NEVER,
)
def codestream_components_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The number of components in each frame's codestream header (Nf of a JPEG SOFn
    or JPEG-LS SOF55, Csiz of a JPEG 2000 / HTJ2K SIZ) equals Samples per Pixel
    (0028,0002). The finding points at the SOF or SIZ marker.

    Why it matters
    --------------
    A three-component codestream under Samples per Pixel 1 (or the reverse) decodes
    to three times too many (or too few) bytes: readers fail, or show a grey image
    three times as wide. It typically comes from colour images labelled
    MONOCHROME2, or from a converter that dropped the chroma components.

    Example
    -------
    Samples per Pixel 1, but:

        FF C0 00 11 08 00 40 00 40 03 ...   SOF0, 64 x 64, 3 components

    The good form has Nf 1 (and a SOF length of 11), or Samples per Pixel 3 with a
    colour Photometric Interpretation.

    How to fix
    ----------
    Set Samples per Pixel (and Photometric Interpretation, Planar Configuration)
    from the codestream, or re-encode the frame with the right number of components.

    Reference
    ---------
    PS3.5 8.2 (paraphrased): the encapsulated codestream is consistent with the
    Image Pixel attributes. ISO/IEC 10918-1 B.2.2 (Nf), ISO/IEC 14495-1 C.2.2,
    ISO/IEC 15444-1 A.5.1 (Csiz).
    """
    samples = ctx.dataset.image.samples_per_pixel
    if samples is None:
        return
    for frame, geo in _geometries(ctx):
        if geo.components is not None and geo.components != samples:
            yield _at(
                frame,
                f"{geo.marker} has {geo.components} components, Samples per Pixel is {samples}",
                geo.offset,
            )


@rule(
    "CSM011",
    "codestream-precision-mismatch",
    Severity.WARNING,
    ref="PS3.5 8.2",
    summary="The codestream's precision is below Bits Stored or above Bits Allocated",
    per_frame=True,
    codecs=MARKER_CODED,
    fix=FixAvailability.NEVER,
)
def codestream_precision_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The sample precision in each frame's codestream header (P of a JPEG SOFn or
    JPEG-LS SOF55, Ssiz + 1 of the first component in a JPEG 2000 / HTJ2K SIZ) is
    at least Bits Stored (0028,0101) and at most Bits Allocated (0028,0100). The
    finding points at the SOF or SIZ marker.

    A precision between the two is common and decodes correctly (12-bit CT in a
    16-bit lossless JPEG: precision 16, Bits Stored 12, Bits Allocated 16), so it is
    not reported.

    Why it matters
    --------------
    A precision below Bits Stored means the codestream cannot hold the values the
    data set announces (high bits lost, or the header lies). A precision above Bits
    Allocated cannot fit in the pixel cells: readers truncate or fail. GDCM warns
    "DICOM header said it was X but JPEG header says Y" and corrects what it can;
    other readers do not. GDCM's `PHILIPS_Gyroscan-12-MONO2-Jpeg_Lossless.dcm` and
    `MARCONI_MxTWin-12-MONO2-JpegLossless-ZeroLengthSQ.dcm` are known cases.

    Example
    -------
    Bits Allocated 16, Bits Stored 16, but the SIZ says 14 bits:

        FF 51 00 29 00 00 ... 00 01 0D 01 01   SIZ, 1 component, Ssiz 0D (14 bits)

    The good form says Ssiz 0F (16 bits), or Bits Stored 14 and High Bit 13.

    How to fix
    ----------
    Set Bits Stored (and High Bit) to what the codestream holds, or re-encode the
    frame at the precision the data set announces.

    Reference
    ---------
    PS3.5 8.2 (paraphrased): the encapsulated codestream is consistent with the
    Image Pixel attributes; Bits Stored never exceeds Bits Allocated (PS3.3
    C.7.6.3). ISO/IEC 10918-1 B.2.2 (P), ISO/IEC 14495-1 C.2.2,
    ISO/IEC 15444-1 A.5.1 (Ssiz).
    """
    image = ctx.dataset.image
    stored, allocated = image.bits_stored, image.bits_allocated
    for frame, geo in _geometries(ctx):
        precision = geo.precision
        if precision is None:
            continue
        if stored is not None and precision < stored:
            text = f"less than Bits Stored {stored}"
        elif allocated is not None and precision > allocated:
            text = f"more than Bits Allocated {allocated}"
        else:
            continue
        yield _at(frame, f"{geo.marker} precision {precision} is {text}", geo.offset)


def _lossy_part(ctx: EncapsulatedContext, frame: Frame) -> tuple[str, int] | None:
    """(what, offset) of the lossy part of a frame's codestream, under a lossless TS."""
    if ctx.ts.codec in JPEG_FAMILY:
        jpeg = ctx.jpeg_header(frame)
        if jpeg is None or jpeg.sof is None or jpeg.sof_offset is None:
            return None
        if ctx.ts.codec is Codec.JPEG and is_dct(jpeg.sof):
            return f"{sof_name(jpeg.sof)} ({PROCESS[jpeg.sof]}) is lossy", jpeg.sof_offset
        if ctx.ts.codec is Codec.JPEG_LS and jpeg.sof == SOF55 and jpeg.near:
            assert jpeg.sos_offset is not None
            return f"SOS NEAR is {jpeg.near}, so the coding is near-lossless", jpeg.sos_offset
        return None
    j2k = ctx.j2k_header(frame)
    if j2k is None:
        return None
    parts = []
    if j2k.reversible is False and j2k.cod_offset is not None:
        parts.append(("COD selects the irreversible 9-7 wavelet", j2k.cod_offset))
    if j2k.quantization and j2k.qcd_offset is not None:
        parts.append((f"QCD quantization style is {j2k.quantization}", j2k.qcd_offset))
    if not parts:
        return None
    return " and ".join(text for text, _ in parts), parts[0][1]


@rule(
    "CSM012",
    "lossy-codestream-in-lossless-ts",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="A lossless transfer syntax holds a lossy codestream",
    per_frame=True,
    syntaxes=LOSSLESS_ONLY,
    fix=FixAvailability.NEVER,
)
def lossy_codestream_in_lossless_ts(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under a lossless-only transfer syntax, each frame's codestream uses a lossless
    process:

    - JPEG Lossless (.57, .70, and the retired lossless ones): a DCT frame (SOF0,
      SOF1, SOF2 or any other DCT SOFn) is lossy; the finding points at the SOF;
    - JPEG-LS Lossless (.80): NEAR > 0 in the SOS segment is near-lossless; the
      finding points at the SOS;
    - JPEG 2000 Lossless (.90, .92) and HTJ2K Lossless (.201, .202): the
      irreversible 9-7 wavelet (COD transformation 0) or quantization (QCD style
      not 0) is lossy; the finding points at the COD, or at the QCD when the wavelet
      is reversible.

    A lossless JPEG or JPEG 2000 process under a lossless syntax that is still not the
    one the syntax names (SOF7 under .57, say) is CSM016's.

    Why it matters
    --------------
    The transfer syntax promises that the pixels are exactly the original ones.
    Receivers rely on it: they skip Lossy Image Compression checks, use the images
    for measurement and archive them as originals, and a lossless-to-lossless
    transcode keeps the damage invisible. Lossy Image Compression (0028,2110) is then
    usually wrong too (TSX005).

    Example
    -------
    JPEG 2000 Lossless Only (.90), but:

        FF 52 00 0C 00 00 00 01 00 05 04 04 00 00   COD: ... transformation 00 (9-7)
        FF 5C 00 23 42 ...                           QCD: Sqcd 42 (scalar expounded)

    The good form has transformation 01 (5-3 reversible) and Sqcd 40 (no
    quantization, 2 guard bits), or is labelled with JPEG 2000 (.91).

    How to fix
    ----------
    Relabel the file with the lossy transfer syntax of the codec (.50/.51, .81, .91,
    .203) and set Lossy Image Compression to 01, or re-encode from the original
    pixels losslessly.

    Reference
    ---------
    PS3.5 A.4.4 (as summarised in the design notes): .90 uses "reversible wavelet
    transformation and a reversible color component transformation, if applicable,
    and no quantization". PS3.5 A.4.1 Table A.4-3: .57 and .70 are the lossless
    process 14; PS3.5 A.4.3: under .80 the absolute error "will be zero".
    ISO/IEC 10918-1 B.1.1.3 (SOFn), ISO/IEC 14495-1 C.2.3 (NEAR),
    ISO/IEC 15444-1 A.6.1 (COD), A.6.4 (QCD).
    """
    for frame in ctx.frame_map.frames:
        lossy = _lossy_part(ctx, frame)
        if lossy is not None:
            yield _at(frame, f"{lossy[0]} under {ctx.ts.name}", lossy[1])


@rule(
    "CSM013",
    "htj2k-missing-cap",
    Severity.WARNING,
    ref="ISO 15444-15",
    summary="An HTJ2K frame has no CAP marker (FF 50) in its main header",
    per_frame=True,
    codecs={Codec.HTJ2K},
    fix=FixAvailability.NEVER,
)
def htj2k_missing_cap(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under the HTJ2K transfer syntaxes (.201, .202, .203) each frame's main header
    (from SOC to the first SOT) has a CAP marker segment (FF 50), which signals the
    Part 15 capabilities. The finding points at the SIZ marker, after which CAP is
    expected. A header that could not be read to its first SOT is not judged.

    Why it matters
    --------------
    A codestream that uses the HT block coder without CAP is not a valid ISO/IEC
    15444-15 codestream, and decoders may reject it. A plain Part 1 codestream
    without CAP decodes, but then the file is not HTJ2K at all, and a receiver that
    chose or negotiated the syntax for HT decoding speed is misled.

    Example
    -------
    Under .201:

        FF 4F FF 51 00 29 ...   SOC, SIZ
        FF 52 00 0C ...         COD
        FF 5C 00 05 ...         QCD
        FF 90 00 0A ...         SOT: the main header ended without CAP

    The good form has `FF 50 00 08 00 02 00 00 00 00 ...` (CAP, Pcap with the
    Part 15 bit, Ccap15) in the main header.

    How to fix
    ----------
    Re-encode with an HTJ2K encoder (OpenJPH, Kakadu), or relabel a Part 1
    codestream with the JPEG 2000 transfer syntax (.90 / .91).

    Reference
    ---------
    ISO/IEC 15444-15 (paraphrased): an HTJ2K codestream carries a CAP marker
    segment whose Pcap signals Part 15, with a Ccap15 parameter. PS3.5 A.4.4 (HTJ2K
    transfer syntaxes) refers to ISO/IEC 15444-15 for the bit stream.
    """
    for frame, j2k in _j2k_frames(ctx):
        if j2k.complete and not j2k.has_cap and j2k.siz_offset is not None:
            yield _at(frame, "the main header has no CAP marker (FF 50)", j2k.siz_offset)


@rule(
    "CSM015",
    "codestream-signedness-mismatch",
    Severity.ERROR,
    ref="PS3.5 8.2.4",
    summary="The JPEG 2000 SIZ sign bit differs from Pixel Representation",
    per_frame=True,
    codecs=J2K_FAMILY,
    fix=FixAvailability.NEVER,
)
def codestream_signedness_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under JPEG 2000 and HTJ2K, the sign bit of the first component's Ssiz in each
    frame's SIZ segment (1: signed) equals Pixel Representation (0028,0103) (1:
    two's complement). The finding points at the SIZ marker. JPEG and JPEG-LS
    codestreams carry no sign, so they are not checked.

    Why it matters
    --------------
    Decoders return the samples as the codestream says; readers interpret them as
    Pixel Representation says. Signed CT data coded as unsigned (or the reverse)
    turns air into bright white and shifts every Hounsfield value, unless the
    reader corrects it as pydicom does since PR #1150. Seen in pydicom's
    `J2K_pixelrep_mismatch.dcm`, pylibjpeg-openjpeg #12, fo-dicom #738 and dcm4che
    #647 (whose own encoder coded signed data as unsigned).

    Example
    -------
    Pixel Representation 1, but:

        FF 51 00 29 ... 00 01 0C 01 01   SIZ, 1 component, Ssiz 0C: unsigned, 13 bits

    The good form has Ssiz 8C (signed, 13 bits).

    How to fix
    ----------
    Re-encode the frame with the signedness of the data set, or, when the stored
    values really are unsigned, set Pixel Representation to 0 (and check Rescale
    Intercept).

    Reference
    ---------
    PS3.5 8.2.4 (quoted in the design notes): Pixel Representation "may be either 0
    or 1 for monochrome ... depending on what has been encoded (as specified in the
    SIZ marker segment ...)". ISO/IEC 15444-1 A.5.1 (Ssiz).
    """
    representation = ctx.dataset.image.pixel_representation
    if representation not in (0, 1):
        return
    for frame, j2k in _j2k_frames(ctx):
        if j2k.signed is None or j2k.siz_offset is None or j2k.signed == bool(representation):
            continue
        coded = "signed" if j2k.signed else "unsigned"
        yield _at(
            frame,
            f"SIZ says {coded} samples, Pixel Representation is {representation}",
            j2k.siz_offset,
        )


def _process_not_allowed(
    ctx: EncapsulatedContext, jpeg: JpegHeader, sof: int
) -> tuple[str, int] | None:
    """(what, offset) when the frame's process is not the transfer syntax's."""
    assert jpeg.sof_offset is not None
    allowed = ALLOWED_SOF[ctx.ts.uid]
    if sof not in allowed:
        if ctx.ts.lossy is False and ctx.ts.codec is Codec.JPEG and is_dct(sof):
            return None  # lossy in a lossless syntax: CSM012
        names = " or ".join(sof_name(marker) for marker in sorted(allowed))
        return (
            f"{sof_name(sof)} ({PROCESS.get(sof, 'unknown process')}) is not allowed under "
            f"{ctx.ts.name}, which takes {names}",
            jpeg.sof_offset,
        )
    if ctx.ts.uid == JPEG_LOSSLESS_SV1 and jpeg.predictor not in (None, 1):
        assert jpeg.sos_offset is not None
        return (
            f"SOS selection value (predictor) is {jpeg.predictor}, {ctx.ts.name} takes 1",
            jpeg.sos_offset,
        )
    return None


@rule(
    "CSM016",
    "jpeg-process-not-allowed",
    Severity.ERROR,
    ref="PS3.5 A.4.1",
    summary="The frame's SOF marker (JPEG process) is not allowed by the transfer syntax",
    per_frame=True,
    syntaxes=ALLOWED_SOF,
    fix=FixAvailability.NEVER,
)
def jpeg_process_not_allowed(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The SOF marker of each JPEG / JPEG-LS frame names a process the transfer syntax
    allows:

    - JPEG Baseline (.50): SOF0 only;
    - JPEG Extended (.51): SOF1 (SOF0 is tolerated: CSM017);
    - JPEG Lossless (.57) and JPEG Lossless SV1 (.70): SOF3, and under .70 the
      first SOS's selection value (Ss, the predictor) is 1; a wrong predictor is
      reported here too, at the SOS marker;
    - JPEG-LS (.80, .81): SOF55 (FF F7).

    Otherwise the finding points at the SOF marker. A DCT frame under .57 / .70 is
    CSM012's (lossy in a lossless syntax), not this rule's. Retired JPEG syntaxes
    are not checked.

    Why it matters
    --------------
    Receivers pick a decoder from the transfer syntax. A baseline-only decoder
    (many viewers, most browser-based ones) cannot decode a progressive SOF2 or
    12-bit SOF1 frame labelled .50, a JPEG-LS frame labelled .70 goes to a lossless
    JPEG decoder that rejects it, and a .70 frame with predictor 7 fails in decoders
    that implement only selection value 1, which is what .70 promises.

    Example
    -------
    JPEG Baseline (.50), but:

        FF D8 FF C2 00 0B 08 01 00 01 00 01 ...   SOI, SOF2: progressive DCT

    The good form has `FF C0` (baseline) under .50, or the frame re-labelled with
    the syntax of its process.

    How to fix
    ----------
    Re-encode the frames with the process of the transfer syntax (baseline for .50,
    predictor 1 for .70), or, when the syntax is the error, relabel the file with the
    one that matches the codestream (.51 for SOF1, .57 for SOF3 with another
    predictor, .80/.81 for JPEG-LS).

    Reference
    ---------
    PS3.5 A.4.1 (quoted in the design notes): a JPEG compressed image uses "the
    Transfer Syntax UID appropriate to its JPEG coding process" (Table A.4-3:
    .50 Process 1, .51 Processes 2 and 4, .57 Process 14, .70 Process 14 with
    Selection Value 1). PS3.5 A.4.3 (JPEG-LS). ISO/IEC 10918-1 B.1.1.3 (SOFn),
    ISO/IEC 10918-1 H.1.2.1 (selection value), ISO/IEC 14495-1 C.2.2 (SOF55).
    """
    for frame, jpeg, sof in _jpeg_frames(ctx):
        wrong = _process_not_allowed(ctx, jpeg, sof)
        if wrong is not None:
            yield _at(frame, wrong[0], wrong[1])


@rule(
    "CSM017",
    "jpeg-baseline-under-extended",
    Severity.WARNING,
    ref="PS3.5 A.4.1 note",
    summary="A baseline (SOF0) frame under JPEG Extended (.51)",
    per_frame=True,
    syntaxes={JPEG_EXTENDED},
    fix=FixAvailability.NEVER,
)
def jpeg_baseline_under_extended(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under JPEG Extended (Process 2 and 4), 1.2.840.10008.1.2.4.51, a frame whose
    SOF marker is SOF0 (baseline). The finding points at the SOF0 marker.

    Why it matters
    --------------
    The Standard calls this encoding not compliant, though receivers that decode
    extended JPEG also decode baseline, so images display. It shows a writer that
    picked the transfer syntax without looking at its encoder's output; 8-bit lossy
    images belong in JPEG Baseline, which every receiver must accept.

    Example
    -------
    Under .51:

        FF D8 FF C0 00 11 08 02 00 02 00 03 ...   SOI, SOF0 baseline, 8 bits

    The good form is the same frame under .50, or an SOF1 (FF C1) frame under .51.

    How to fix
    ----------
    Relabel the file as JPEG Baseline (1.2.840.10008.1.2.4.50); no re-encoding is
    needed.

    Reference
    ---------
    PS3.5 A.4.1 Note 2 (as summarised in the design notes): a baseline-coded image
    sent with the .51 Transfer Syntax UID is "not compliant", though receivers are
    expected to decode it; Note 3 recommends .50 for lossy 8-bit images.
    ISO/IEC 10918-1 B.1.1.3.
    """
    for frame, jpeg, sof in _jpeg_frames(ctx):
        if sof == SOF0:
            yield _at(
                frame,
                f"SOF0 (baseline DCT) under {ctx.ts.name}; baseline belongs in JPEG Baseline",
                jpeg.sof_offset,
            )


@rule(
    "CSM018",
    "jpeg-abbreviated-format",
    Severity.ERROR,
    ref="PS3.5 A.4.1",
    summary="A JPEG frame has no DQT or no DHT before its first SOS (abbreviated format)",
    per_frame=True,
    codecs=JPEG_FAMILY,
    fix=FixAvailability.NEVER,
)
def jpeg_abbreviated_format(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Each JPEG frame carries its own tables before its first SOS: a DQT segment
    (FF DB) for DCT processes, and a DHT segment (FF C4) for Huffman-coded processes
    (SOF0-SOF3, SOF5-SOF7; lossless SOF3 included). Arithmetic-coded frames
    (SOF9-SOF15) need no DHT, and JPEG-LS (SOF55) needs neither. The finding points
    at the first SOS marker, which the tables must precede.

    Why it matters
    --------------
    Without its tables the frame is an "abbreviated format for compressed image
    data" that only a decoder primed with tables from elsewhere can decode; DICOM
    sends no such tables, so decoders fail ("Huffman table 0x00 was not defined",
    "Quantization table 0x00 was not defined"). It happens when Motion-JPEG frames
    (which rely on the default AVI1 tables) or frames cut from a stream that shares
    tables are put into DICOM.

    Example
    -------
    A baseline frame without DHT:

        FF D8                   SOI
        FF DB 00 43 00 ...      DQT
        FF C0 00 0B 08 ...      SOF0
        FF DA 00 08 01 01 00 ...  SOS: no DHT came first

    The good form has `FF C4 ...` (DHT) segments before the SOS.

    How to fix
    ----------
    Insert the tables into every frame (re-encode, or write the interchange format
    with the encoder's "include tables" option).

    Reference
    ---------
    PS3.5 A.4.1 (quoted in the design notes): "the JPEG Interchange Format shall
    be used (the table specification shall be included)". ISO/IEC 10918-1 B.2.4
    (table specifications), B.4 (abbreviated format), Annex K (tables).
    """
    for frame, jpeg, sof in _jpeg_frames(ctx):
        if not jpeg.complete or jpeg.sos_offset is None or sof == SOF55:
            continue
        missing = []
        if is_dct(sof) and not jpeg.has_dqt:
            missing.append("DQT (quantization tables)")
        if sof not in ARITHMETIC_SOF and not jpeg.has_dht:
            missing.append("DHT (Huffman tables)")
        if missing:
            yield _at(
                frame,
                f"no {' and no '.join(missing)} before the first SOS ({sof_name(sof)} frame)",
                jpeg.sos_offset,
            )


def _mct_mismatch(j2k: J2kHeader, photometric: str) -> str | None:
    """What is wrong when COD's transform flag and Photometric Interpretation disagree."""
    if j2k.mct == 1:
        expected = MCT_PHOTOMETRIC
        if j2k.reversible is not None:
            expected = frozenset({"YBR_RCT" if j2k.reversible else "YBR_ICT"})
        if photometric in expected:
            return None
        return (
            f"COD applies the multiple component transform, Photometric Interpretation is "
            f"{photometric}, not {' or '.join(sorted(expected))}"
        )
    if j2k.mct == 0 and photometric in MCT_PHOTOMETRIC:
        return (
            "COD applies no multiple component transform, Photometric Interpretation is "
            f"{photometric}"
        )
    return None


@rule(
    "CSM019",
    "j2k-mct-photometric-mismatch",
    Severity.ERROR,
    ref="PS3.5 8.2.4",
    summary="The JPEG 2000 multiple component transform disagrees with Photometric Interpretation",
    per_frame=True,
    codecs=J2K_FAMILY,
    fix=FixAvailability.NEVER,
)
def j2k_mct_photometric_mismatch(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    For JPEG 2000 and HTJ2K frames with three or more components, the multiple
    component transformation flag of the COD segment (SGcod) agrees with Photometric
    Interpretation (0028,0004):

    - MCT 1 with the reversible 5-3 wavelet: YBR_RCT; MCT 1 with the irreversible 9-7
      wavelet: YBR_ICT;
    - MCT 0: anything but YBR_RCT and YBR_ICT (RGB, YBR_FULL, ...).

    The finding points at the COD marker. Part 2 array-based transforms (MCT 2,
    under .92 / .93) are not judged.

    Why it matters
    --------------
    Decoders undo the transform the codestream signals, and readers then treat the
    samples as Photometric Interpretation says. YBR_RCT or YBR_ICT over a codestream
    without the transform makes readers that convert YBR to RGB after decoding shift
    every colour. A transformed codestream labelled RGB displays right with decoders
    that undo the transform, but it is not conformant, and tools that pass the
    codestream on (transcoders, JPIP servers) label it wrongly. GDCM warns "Invalid
    PhotometricInterpretation, should be YBR_RCT / RGB"; dciodvfy checks it against
    Table 8.2.4-1.

    Example
    -------
    Photometric Interpretation RGB, 3 components, but:

        FF 52 00 0C 00 00 00 01 01 05 04 04 00 01   COD: MCT 01, 5-3 reversible

    The good form has Photometric Interpretation YBR_RCT, or MCT 00 with RGB.

    How to fix
    ----------
    Set Photometric Interpretation to YBR_RCT (reversible) or YBR_ICT
    (irreversible) when the codestream applies the transform, and to the colour
    space of the components (usually RGB) when it does not.

    Reference
    ---------
    PS3.5 8.2.4 (quoted in the design notes): "No other value of Photometric
    Interpretation than YBR_RCT or YBR_ICT is permitted when SGcod Multiple
    component transformation type is 1"; without a transform, "the components shall
    correspond to those specified by ... Photometric Interpretation".
    ISO/IEC 15444-1 A.6.1 (SGcod), Annex G (RCT, ICT).
    """
    photometric = (ctx.dataset.image.photometric_interpretation or "").strip()
    if not photometric:
        return
    for frame, j2k in _j2k_frames(ctx):
        if j2k.cod_offset is None or j2k.components is None or j2k.components < 3:
            continue
        wrong = _mct_mismatch(j2k, photometric)
        if wrong is not None:
            yield _at(frame, wrong, j2k.cod_offset)


@rule(
    "CSM020",
    "planar-configuration-not-zero",
    Severity.ERROR,
    ref="PS3.5 8.2.1, 8.2.3, 8.2.4",
    summary="Planar Configuration is 1 under JPEG, JPEG-LS, JPEG 2000 or HTJ2K",
    codecs=MARKER_CODED,
    fix=FixAvailability.NEVER,
)
def planar_configuration_not_zero(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under the JPEG, JPEG-LS, JPEG 2000 and HTJ2K transfer syntaxes, with more than
    one sample per pixel (3 in practice), Planar Configuration (0028,0006) is 0.
    The finding is about the data set attribute, once per Pixel Data element, so it
    has no offset or frame.

    Why it matters
    --------------
    These codecs interleave nothing in the DICOM sense: the decoder returns the
    samples colour-by-pixel (R1 G1 B1 R2 ...), and the Standard fixes Planar
    Configuration at 0 to say so. A reader that trusts a 1 reshapes the decoded
    bytes as colour-by-plane and shows a tiled, wrongly coloured image; others
    ignore it, so the file looks right on some viewers only.

    Example
    -------
    A JPEG Baseline RGB image with:

        28 00 06 00 55 53 02 00 01 00   (0028,0006) US 1

    The good form is `28 00 06 00 55 53 02 00 00 00` (Planar Configuration 0).

    How to fix
    ----------
    Set Planar Configuration to 0. The pixels need no change: the decoders already
    produce colour-by-pixel data.

    Reference
    ---------
    PS3.5 8.2.3 (quoted in the design notes): "The value of Planar Configuration
    (0028,0006) is irrelevant ... hence it shall be set to 0"; PS3.5 8.2.4: "The
    value of Planar Configuration ... shall be set to 0"; PS3.5 8.2.1 Tables
    8.2.1-1 and 8.2.1-2 (JPEG: 0).
    """
    image = ctx.dataset.image
    if image.planar_configuration == 1 and (image.samples_per_pixel or 0) > 1:
        yield Problem(
            f"Planar Configuration is 1 with {image.samples_per_pixel} samples per pixel "
            f"under {ctx.ts.name}; it shall be 0"
        )


@rule(
    "CSM021",
    "htj2k-rpcl-requirements",
    Severity.ERROR,
    ref="PS3.5 10.18",
    summary="An HTJ2K RPCL (.202) frame is not RPCL or has no TLM marker",
    per_frame=True,
    syntaxes={HTJ2K_RPCL},
    fix=FixAvailability.NEVER,
)
def htj2k_rpcl_requirements(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Under High-Throughput JPEG 2000 with RPCL Options (.202), each frame's COD
    segment selects the RPCL progression order (2), and its main header has a TLM
    marker segment (FF 55). The finding points at the COD marker when the order is
    wrong, else at the SIZ marker. A header that could not be read to its first SOT
    is not judged on TLM. (The number of decompositions, which the Standard also
    constrains, is not checked.)

    Why it matters
    --------------
    .202 exists so that viewers can fetch a low-resolution version of a frame and
    then refine it without decoding it all (the same codestream serves JPIP and
    progressive display). That needs RPCL ordering, and TLM markers to find each
    tile-part without scanning. A receiver that relies on them falls back to
    decoding whole frames, or shows the wrong resolution.

    Example
    -------
    Under .202:

        FF 52 00 0C 00 00 00 01 00 05 04 04 40 01   COD: progression 00 (LRCP)
        FF 90 ...                                   SOT: no TLM before it

    The good form has progression 02 (RPCL) and an `FF 55 ...` TLM segment in the
    main header.

    How to fix
    ----------
    Re-encode with RPCL order and TLM markers (Kakadu: `Corder=RPCL
    ORGgen_tlm=...`; OpenJPH: `-prog_order RPCL` with its TLM option), or relabel
    the file .201 when RPCL access is not needed.

    Reference
    ---------
    PS3.5 10.18 (quoted in the design notes): "The progression order shall be
    RPCL"; "The Tile Length Markers (TLM) shall be present". ISO/IEC 15444-1 A.6.1
    (COD progression order), A.7.1 (TLM).
    """
    for frame, j2k in _j2k_frames(ctx):
        wrong, offset = [], None
        if j2k.progression is not None and j2k.progression != RPCL:
            order = PROGRESSION[j2k.progression] if j2k.progression < 5 else "unknown"
            wrong.append(f"progression order is {j2k.progression} ({order}), not RPCL")
            offset = j2k.cod_offset
        if j2k.complete and not j2k.has_tlm:
            wrong.append("the main header has no TLM marker (FF 55)")
            offset = j2k.siz_offset if offset is None else offset
        if wrong:
            yield _at(frame, " and ".join(wrong), offset)

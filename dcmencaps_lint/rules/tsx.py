"""TSX: the transfer syntax and the Pixel Data element itself."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from dcmencaps_lint.codestream import END_OF_IMAGE, SOF55
from dcmencaps_lint.context import (
    Context,
    EncapsulatedContext,
    ItemsContext,
    Needs,
    PixelContext,
)
from dcmencaps_lint.dataset import parse_number_of_frames
from dcmencaps_lint.model import ITEM_TAG, Frame, Problem, Severity
from dcmencaps_lint.registry import FixAvailability, rule
from dcmencaps_lint.rules.payload import start_marker
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY, RETIRED, Codec

LOSSY_IMAGE_COMPRESSION = "(0028,2110)"
# Encapsulated codecs whose Pixel Data is there (JPIP Referenced: it shall be absent).
ENCAPSULATED = frozenset(Codec) - {Codec.NATIVE, Codec.JPIP}


ITEM_TAG_BYTES = struct.pack("<HH", ITEM_TAG >> 16, ITEM_TAG & 0xFFFF)  # as files hold it


@rule(
    "TSX001",
    "encapsulated-defined-length",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="Encapsulated transfer syntax but Pixel Data has a defined length",
    needs=Needs.PIXEL,
    top_level=True,
    codecs=ENCAPSULATED,
    fix=FixAvailability.SOMETIMES,
)
def encapsulated_defined_length(ctx: PixelContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The transfer syntax is encapsulated, yet the top-level Pixel Data
    (7FE0,0010) has a defined length instead of FFFFFFFFH. The finding points at
    the 4-byte length field.

    Only the top-level element is checked: Pixel Data nested in a sequence item (an
    Icon Image Sequence, say) may be native with a defined length. JPIP Referenced
    syntaxes are left to TSX010, since their Pixel Data shall not be there at all.

    Why it matters
    --------------
    Encapsulated Pixel Data is a sequence of items, and only an undefined
    length can hold one. Readers either refuse the file or take the codestream for
    raw pixels: dciodvfy reports "Specification of fixed value length for PixelData
    element in top level Dataset is illegal in encapsulated transfer syntax", and
    DCMTK refuses to read it ("Only undefined length permitted"), while pydicom and
    GDCM decode it anyway. Typical cause: a de-identification tool rewrote Pixel
    Data with a computed length, or put native bytes back and kept the compressed
    transfer syntax (pydicom #738, #238, #1942).

    Example
    -------
    A JPEG Baseline file whose codestream was written straight into the value:

        E0 7F 10 00 4F 42 00 00 00 10 00 00   (7FE0,0010) OB, length 4096
        FF D8 FF E0 00 10 4A 46 ...           a bare JPEG codestream, no items

    The good form has an undefined length and items:

        E0 7F 10 00 4F 42 00 00 FF FF FF FF   (7FE0,0010) OB, undefined length
        FE FF 00 E0 00 00 00 00               Basic Offset Table item, empty
        FE FF 00 E0 00 10 00 00               fragment, 4096 bytes: FF D8 ... FF D9
        FE FF DD E0 00 00 00 00               Sequence Delimitation Item

    How to fix
    ----------
    Write Pixel Data as an undefined-length sequence of items (a BOT item,
    the fragments, a Sequence Delimitation Item), for instance with
    `pydicom.encaps.encapsulate`, or relabel the file with the native transfer syntax
    that matches its bytes. `--fix` does the first (safe: the codestream's bytes stay,
    one 00 pad byte after them when their number is odd) where the value is one whole
    JPEG, JPEG-LS, JPEG 2000 or HTJ2K codestream (its start marker first, its end
    marker last, a pad byte aside) of a single-frame image. Where the value is items
    already (written with a length: a BOT item and fragments that fill it exactly,
    perhaps a delimiter at its end), `--fix` writes the length FFFFFFFFH and a Sequence
    Delimitation Item after them if there is none (safe: the items stay as they are;
    refused where their walk does not fill the value, where a group length (7FE0,0000)
    would have to count an undefined length, or where the items, now walked, show
    findings the old file did not). Not for anything else (native bytes, several
    frames of bare codestreams), which it cannot tell apart for sure.

    Reference
    ---------
    PS3.5 A.4 (paraphrased): encapsulated Pixel Data in the top-level data
    set is encoded with an undefined Value Length (FFFFFFFFH) as a sequence of items,
    the first of which is the Basic Offset Table item, ended by a Sequence
    Delimitation Item.
    """
    pixel, ts = ctx.pixel, ctx.syntax
    if not pixel.undefined_length:
        from dcmencaps_lint import fixes  # here: most lints fix nothing

        fix: fixes.Edit | None = None
        if _one_codestream(ctx):
            fix = fixes.WrapInItems()
        elif pixel.length >= 8 and ctx.read(pixel.value_offset, 4) == ITEM_TAG_BYTES:
            fix = fixes.ItemsWithUndefinedLength()  # the fixer walks them to be sure
        yield Problem(
            f"Pixel Data has defined length {pixel.length} under encapsulated transfer syntax "
            f"{ts.name}; it must be FFFFFFFFH",
            offset=pixel.value_offset - 4,
            length=4,
            fix=fix,
        )


def _one_codestream(ctx: PixelContext) -> bool:
    """The defined-length value is one whole codestream of the syntax's codec (its start
    marker first, an end marker last, after it at most a pad byte) of a single frame."""
    pixel, start = ctx.pixel, start_marker(ctx.syntax)
    if start is None or ctx.expected_frames != 1 or pixel.length < len(start) + 2:
        return False
    if pixel.value_offset + pixel.length > ctx.reader.size:
        return False
    head = ctx.read(pixel.value_offset, len(start))
    tail = ctx.read(pixel.value_offset + pixel.length - 3, 3)
    padded_end = tail[:2] == END_OF_IMAGE and tail[2:] in (b"\x00", b"\xff")
    return head == start and (tail[1:] == END_OF_IMAGE or padded_end)


@rule(
    "TSX002",
    "native-undefined-length",
    Severity.ERROR,
    ref="PS3.5 A.4, 7.1",
    summary="Native transfer syntax but Pixel Data has an undefined length",
    needs=Needs.PIXEL,
    codecs={Codec.NATIVE},
    fix=FixAvailability.NEVER,
)
def native_undefined_length(ctx: PixelContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The transfer syntax is native (uncompressed), yet Pixel Data has an
    undefined length (FFFFFFFFH), which only encapsulated Pixel Data may have. The
    finding points at the 4-byte length field. Nested Pixel Data (an icon) is
    checked too.

    The items of such an element are not walked, so no item, offset-table or
    codestream rule reports on it: this is the root cause.

    Why it matters
    --------------
    The file usually holds compressed fragments labelled with a native
    transfer syntax: a transfer-syntax change that forgot to decompress, or a relay
    that rewrote the File Meta Information (fo-dicom #645, dicom.ts #20: old
    dcm4che, or DCMTK movescu -> Orthanc -> storescp). Readers fail with "Pixel
    Data with undefined length must start with an item tag" or show noise.

    Example
    -------
    Transfer Syntax UID 1.2.840.10008.1.2.1 (Explicit VR Little Endian), and:

        E0 7F 10 00 4F 42 00 00 FF FF FF FF   (7FE0,0010) OB, undefined length
        FE FF 00 E0 00 00 00 00               a BOT item: compressed frames follow

    Good: the same items under the transfer syntax of their codestream (for JPEG
    Baseline 1.2.840.10008.1.2.4.50), or native pixels with a defined length:

        E0 7F 10 00 4F 57 00 00 00 80 00 00   (7FE0,0010) OW, length 32768

    How to fix
    ----------
    Label the file with the transfer syntax of its codestream, or
    decompress it and write native Pixel Data with a defined length.

    Reference
    ---------
    PS3.5 7.1 and A.4 (paraphrased): native Pixel Data is a single value
    with an explicit, even Value Length; the undefined length and the sequence of
    items belong to the encapsulated format only.
    """
    pixel, ts = ctx.pixel, ctx.syntax
    if pixel.undefined_length:
        yield Problem(
            f"Pixel Data has an undefined length under native transfer syntax {ts.name}",
            offset=pixel.value_offset - 4,
            length=4,
        )


@rule(
    "TSX003",
    "unknown-transfer-syntax",
    Severity.WARNING,
    ref="PS3.5 A",
    summary="The Transfer Syntax UID is not a DICOM transfer syntax",
    needs=Needs.DATASET,
    fix=FixAvailability.NEVER,
)
def unknown_transfer_syntax(ctx: Context) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Transfer Syntax UID (0002,0010) is not one that DICOM defines: a
    private syntax, a typo, or a UID of another kind. The linter knows every current
    syntax, including those pydicom 3.0 lacks (Encapsulated Uncompressed .1.2.1.98,
    JPEG XL .4.110-.112, Deflated Image Frame .1.2.8.1, HTJ2K .4.201-.205 and the
    fragmentable video syntaxes .4.100.1-.4.106.1).

    It is reported once per file, with no offset. When Pixel Data has an undefined
    length its items are still walked and the item rules (ITM) run; the rules that
    need to know the codec (BOT, EOT, FRG, CSM) do not.

    Why it matters
    --------------
    Other readers will not know how to decode the pixel data, and the
    linter cannot tell which codec to expect. Private syntaxes are seen in the wild,
    e.g. GE's implicit VR big endian 1.2.840.113619.5.2.

    Example
    -------
    A typo that adds a component:

        (0002,0010) UI 1.2.840.10008.1.2.4.50.1

    Good: (0002,0010) UI 1.2.840.10008.1.2.4.50 (JPEG Baseline).

    How to fix
    ----------
    Use a standard transfer syntax; if a private one is required, make sure
    every receiver supports it.

    Reference
    ---------
    PS3.5 Annex A and PS3.6 Table A-1 list every DICOM transfer syntax;
    a UID that is not among them is not a DICOM transfer syntax.
    """
    uid = ctx.dataset.transfer_syntax_uid
    if uid is not None and ctx.ts is None:
        yield Problem(
            f"Transfer Syntax UID {uid!r} is not a DICOM transfer syntax; only item rules run",
            offset=ctx.dataset.transfer_syntax_offset,
            element="(0002,0010)",
        )


@rule(
    "TSX004",
    "retired-transfer-syntax",
    Severity.INFO,
    ref="PS3.5 A",
    summary="The transfer syntax is retired",
    needs=Needs.DATASET,
    syntaxes=RETIRED,
    fix=FixAvailability.NEVER,
)
def retired_transfer_syntax(ctx: Context) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The transfer syntax is one DICOM has retired: the retired JPEG
    processes (1.2.840.10008.1.2.4.52-.56 and .58-.66) or Explicit VR Big Endian
    (1.2.840.10008.1.2.2). It is reported once per file, at the value of Transfer
    Syntax UID (0002,0010), and only when the file has Pixel Data (top-level or
    nested): a retired syntax matters to this linter for the pixels it encodes.

    Why it matters
    --------------
    Retired syntaxes may still be read, but new files should not use
    them and many current toolkits have no decoder for the retired JPEG processes
    (hierarchical, spectral selection, full progression). DCMTK marks them
    `EXV_Retired`. This is information, not an error: it fails a gate only with
    `--fail-on info`.

    Example
    -------
    A JPEG Full Progression file:

        (0002,0010) UI 1.2.840.10008.1.2.4.55

    Good: a current syntax, e.g. 1.2.840.10008.1.2.4.50 (JPEG Baseline) for 8-bit
    lossy data, .51 for 12-bit, .57 / .70 for lossless JPEG, and
    1.2.840.10008.1.2.1 (Explicit VR Little Endian) instead of big endian.

    How to fix
    ----------
    Transcode the pixel data to a current transfer syntax (for example with
    `dcmdjpeg` then `dcmcjpeg`, or `dcmconv +te` for big endian files).

    Reference
    ---------
    PS3.5 Annex A and PS3.6 Table A-1 keep the retired transfer syntaxes
    listed as (Retired); their definitions were removed from the current Standard.
    """
    ts, data = ctx.syntax, ctx.dataset
    if data.pixel_data is None and not data.nested:
        return
    yield Problem(
        f"transfer syntax {ts.name} ({ts.uid}) is retired",
        offset=data.transfer_syntax_offset,
        element="(0002,0010)",
    )


def _lossy_evidence(ctx: EncapsulatedContext) -> tuple[str, Frame | None] | None:
    """(why, first lossy frame) when the TS or a frame's codestream is lossy, else None.

    Only encapsulated top-level Pixel Data that was walked counts (the rules' declaration
    says so). Under a lossless TS a lossy codestream is CSM012's finding, so the
    codestream is asked only when the TS allows both (.81, .91, .93, .112, .203).
    """
    ts = ctx.ts
    if ts.lossy:
        return f"transfer syntax {ts.name} is lossy", None
    if ts.lossy is None:
        for frame in ctx.frame_map.frames:
            if ctx.codestream_lossy(frame):
                return f"frame {frame.number} has a lossy codestream ({_how(ctx, frame)})", frame
    return None


def _how(ctx: EncapsulatedContext, frame: Frame) -> str:
    """What makes a frame's codestream lossy, in a few words."""
    codec = ctx.ts.codec
    if codec in JPEG_FAMILY:
        jpeg = ctx.jpeg_header(frame)
        if jpeg is not None and jpeg.sof == SOF55:
            return f"JPEG-LS NEAR {jpeg.near}"
        return f"JPEG SOF marker FF{jpeg.sof:02X}" if jpeg and jpeg.sof else "JPEG"
    if codec in J2K_FAMILY:
        j2k = ctx.j2k_header(frame)
        if j2k is not None and j2k.reversible is False:
            return "irreversible 9-7 wavelet"
        return f"quantization style {j2k.quantization}" if j2k else "JPEG 2000"
    return "lossy"


@rule(
    "TSX005",
    "lossy-flag-contradicts",
    Severity.ERROR,
    ref="PS3.3 C.7.6.1.1.5",
    summary="Lossy Image Compression is 00 but the transfer syntax or codestream is lossy",
    per_frame=True,
    top_level=True,
    fix=FixAvailability.SOMETIMES,
    unsafe_fix=True,
)
def lossy_flag_contradicts(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Lossy Image Compression (0028,2110) is "00" (not lossy), yet the
    pixel data is lossy: the transfer syntax is a lossy one (JPEG Baseline and
    Extended, the DCT retired JPEG processes, JPEG XL JPEG Recompression, every
    video syntax), or the syntax allows both and a frame's codestream header says
    lossy (JPEG-LS .81 with NEAR > 0; JPEG 2000 .91 / .93, HTJ2K .203 with the
    irreversible 9-7 wavelet or quantization; the DCT processes of JPEG). Reported
    once per file at the (0028,2110) value, naming the first lossy frame.

    Decisions: only the exact value "00" counts here (absent or empty is TSX006;
    other values are left to a data-set validator). Under a lossless-only syntax a
    lossy codestream is CSM012's finding, not this one: the label and the flag then
    agree and the codestream is what is wrong. Only the top-level image is checked,
    since icons carry no Lossy Image Compression of their own. A reversible JPEG
    2000 codestream cut short at a lower rate is lossy but looks lossless in its
    header, so it is not seen.

    Why it matters
    --------------
    "00" tells a radiologist and every downstream system that the
    pixels are the original ones. Diagnostic use, archiving policy and
    re-compression decisions rely on it; dciodvfy checks the related Lossy Image
    Compression Method against the transfer syntax, but no common tool compares the
    flag with the codestream.

    Example
    -------
    A JPEG Baseline file (1.2.840.10008.1.2.4.50, always lossy) that says:

        28 00 10 21 43 53 02 00 30 30          (0028,2110) CS "00"

    or a JPEG-LS near-lossless file (.81) with "00" whose frame has NEAR = 2 in its
    start of scan:

        FF DA 00 08 01 01 00 02 00 00          SOS: 1 component, NEAR 2

    Good: (0028,2110) CS "01", with Lossy Image Compression Ratio (0028,2112) and
    Method (0028,2114) filled in.

    How to fix
    ----------
    Set (0028,2110) to "01" (and the ratio and method); whoever compressed
    the image lossily had to. If the codestream really is lossless, re-encode it
    losslessly (NEAR 0, reversible 5-3 wavelet) under a lossless syntax.
    `--fix --unsafe-fixes` writes "01" over the "00" in place (two bytes; no codestream
    byte changes). Unsafe because the file then says the image was compressed lossily,
    which the codestream suggests but only a person can confirm; it leaves the ratio
    and method to them. Not offered where the value's position is not known.

    Reference
    ---------
    PS3.3 C.7.6.1.1.5: "If an image is compressed with a lossy algorithm,
    the Attribute Lossy Image Compression (0028,2110) is set to '01'." and "Once
    this value has been set to '01' it shall not be reset." For the codestream:
    ISO/IEC 14495-1 (NEAR), ISO/IEC 15444-1 (COD wavelet filter, QCD quantization
    style), ISO/IEC 10918-1 (SOF process).
    """
    image = ctx.dataset.image
    if image.lossy_image_compression != "00":
        return
    evidence = _lossy_evidence(ctx)
    if evidence is None:
        return
    why, frame = evidence
    offset = image.lossy_image_compression_offset
    fix = None
    if offset is not None:
        from dcmencaps_lint.fixes import SetLossyFlag  # here: most lints fix nothing

        fix = SetLossyFlag(offset)
    yield Problem(
        f"Lossy Image Compression is '00' but {why}; it must be '01'",
        offset=offset,
        length=2 if offset is not None else None,
        frame=frame.number if frame else None,
        element=LOSSY_IMAGE_COMPRESSION,
        fix=fix,
    )


@rule(
    "TSX006",
    "lossy-flag-absent",
    Severity.WARNING,
    ref="PS3.3 C.7.6.1.1.5",
    summary="The transfer syntax or codestream is lossy but Lossy Image Compression is absent",
    per_frame=True,
    top_level=True,
    fix=FixAvailability.ALWAYS,
    unsafe_fix=True,
)
def lossy_flag_absent(ctx: EncapsulatedContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The pixel data is lossy (decided as in TSX005: a lossy transfer
    syntax, or a lossy codestream under a syntax that allows both) and Lossy Image
    Compression (0028,2110) is absent or empty. Reported once per file, with no
    offset (there is no element to point at), naming the first lossy frame.

    Decisions: an empty value says nothing, so it counts as absent. Lossless
    codestreams under .81 / .91 / .203 (NEAR 0, reversible wavelet without
    quantization) stay quiet, as do lossless-only syntaxes. Only the top-level
    image is checked.

    Why it matters
    --------------
    The attribute is Type 3 in the General Image Module but Type 1 in
    several IODs, and whoever compressed the image lossily had to set it. Without
    it, a reader cannot tell a lossy image from the original. Real case: pydicom's
    JPEGLSNearLossless_08.dcm, JPEGLSNearLossless_16.dcm, SC_rgb_jls_lossy_line.dcm
    and SC_rgb_jls_lossy_sample.dcm are JPEG-LS .81 with NEAR = 2 and no (0028,2110).

    Example
    -------
    Transfer syntax 1.2.840.10008.1.2.4.81, no (0028,2110), and in frame 1:

        FF F7 00 0B 08 00 40 00 40 01 ...     SOF55 (JPEG-LS), 8 bits, 64 x 64
        FF DA 00 08 01 01 00 02 00 00          SOS: 1 component, NEAR 2

    Good: (0028,2110) CS "01" in the data set.

    How to fix
    ----------
    Add Lossy Image Compression (0028,2110) = "01", with Lossy Image
    Compression Ratio (0028,2112) and Method (0028,2114) (e.g. ISO_14495_1).
    `--fix --unsafe-fixes` adds the element "01" (or writes it over an empty one) in its
    place among the data set's elements, which it passes over by their headers (a
    group length (0028,0000) grows by the bytes added); unsafe, as TSX005's fix. The
    ratio and method are left to a person.

    Reference
    ---------
    PS3.3 C.7.6.1.1.5: "If an image is compressed with a lossy algorithm,
    the Attribute Lossy Image Compression (0028,2110) is set to '01'." For the
    codestream: ISO/IEC 14495-1, ISO/IEC 15444-1, ISO/IEC 10918-1.
    """
    if ctx.dataset.image.lossy_image_compression not in (None, ""):
        return
    evidence = _lossy_evidence(ctx)
    if evidence is None:
        return
    why, frame = evidence
    state = "absent" if ctx.dataset.image.lossy_image_compression is None else "empty"
    from dcmencaps_lint.fixes import AddLossyFlag  # here: most lints fix nothing

    yield Problem(
        f"Lossy Image Compression (0028,2110) is {state} but {why}; it should be '01'",
        frame=frame.number if frame else None,
        element=LOSSY_IMAGE_COMPRESSION,
        fix=AddLossyFlag(),
    )


@rule(
    "TSX007",
    "offset-table-in-native-ts",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="Extended Offset Table present without encapsulated Pixel Data",
    needs=Needs.DATASET,
    fix=FixAvailability.NEVER,
)
def offset_table_in_native_ts(ctx: Context) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Extended Offset Table (7FE0,0001) or Extended Offset Table Lengths
    (7FE0,0002) is present while Pixel Data is native or absent. Each present
    element is reported at its tag.

    Why it matters
    --------------
    These attributes index the fragments of encapsulated Pixel Data;
    elsewhere they describe nothing and confuse readers that trust them. A stale
    table is what a decompressing converter leaves behind when it forgets them.
    dciodvfy reports "Shall not be present in absence of encapsulated Pixel Data".

    Example
    -------
    An Explicit VR Little Endian file with native Pixel Data that still has:

        E0 7F 01 00 4F 56 00 00 08 00 00 00   (7FE0,0001) OV, 8 bytes
        E0 7F 02 00 4F 56 00 00 08 00 00 00   (7FE0,0002) OV, 8 bytes

    Good: neither element in a file with native Pixel Data.

    How to fix
    ----------
    Remove both attributes when writing native Pixel Data (a decompressing
    converter must drop them).

    Reference
    ---------
    PS3.3 C.7.6.3, Extended Offset Table (7FE0,0001): "May only be present
    when: Pixel Data (7FE0,0010) is present, and the Transfer Syntax uses
    Encapsulated Format for the Pixel Data (7FE0,0010), and the Transfer Syntax
    encodes Frames in separate Fragments, and the Basic Offset Table is not
    present [...]"
    """
    pixel, ts = ctx.dataset.pixel_data, ctx.ts
    if pixel is not None and (ts is None or ts.encapsulated):
        return
    state = "absent" if pixel is None else "native"
    for element in (ctx.dataset.eot, ctx.dataset.eot_lengths):
        if element is not None:
            tag = "(7FE0,0001)" if element.tag == 0x7FE00001 else "(7FE0,0002)"
            yield Problem(
                f"{tag} is present but Pixel Data is {state}",
                offset=element.offset if element.offset >= 0 else None,
                element=tag,
            )


@rule(
    "TSX008",
    "number-of-frames-invalid",
    Severity.ERROR,
    ref="PS3.3 C.7.6.6",
    summary="Number of Frames is empty, zero, negative or not an integer",
    needs=Needs.DATASET,
    fix=FixAvailability.NEVER,
)
def number_of_frames_invalid(ctx: Context) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Number of Frames (0028,0008) is present but empty, 0, negative, or
    not an integer string. The finding points at the value.

    Why it matters
    --------------
    Readers size their frame index from it; 0 or garbage makes them
    refuse the file or read one frame only (pydicom warns "A value of 0 for
    (0028,0008) 'Number of Frames' is non-conformant"). The frame-count rules
    (BOT006, FRG001, FRG004, EOT003) are skipped for such files, since they have
    nothing to compare to. Real case: pydicom's badVR.dcm has Number of Frames "1A".

    Example
    -------
    The value of Number of Frames is not an integer:

        28 00 08 00 49 53 02 00 31 41          (0028,0008) IS "1A"

    Good: (0028,0008) IS "1", or the number of frames actually encoded.

    How to fix
    ----------
    Write the real number of frames, or omit the attribute for a
    single-frame image that has no Multi-frame Module.

    Reference
    ---------
    PS3.3 C.7.6.6 (Multi-frame Module, paraphrased): Number of Frames is
    the number of frames in a multi-frame image, a Type 1 Integer String; a
    missing one means a single frame.
    """
    raw = ctx.dataset.number_of_frames_raw
    if raw is None or parse_number_of_frames(raw)[1]:
        return
    element = ctx.dataset.number_of_frames
    shown = raw.decode("ascii", "replace").strip(" \0")
    yield Problem(
        f"Number of Frames is {shown!r}; it must be a positive integer",
        offset=element.value_offset if element and element.value_offset >= 0 else None,
        length=len(raw) or None,
        element="(0028,0008)",
    )


@rule(
    "TSX009",
    "encapsulated-vr-not-ob",
    Severity.WARNING,
    ref="PS3.5 A.4",
    summary="The explicit VR of encapsulated Pixel Data is not OB",
    needs=Needs.ITEMS,
    fix=FixAvailability.ALWAYS,
)
def encapsulated_vr_not_ob(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Encapsulated (undefined-length) Pixel Data is written with an
    explicit VR other than OB, usually OW. The finding points at the two VR bytes.
    Nested Pixel Data (an icon) is checked too.

    Decisions: implicit VR has no VR bytes, so there is nothing to check. Under a
    native transfer syntax the undefined length is the root cause (TSX002), and
    under a JPIP Referenced syntax Pixel Data should not be there at all (TSX010),
    so neither reports this too. Any VR but OB counts, UN included.

    Why it matters
    --------------
    OW declares a value of 16-bit words, which a sequence of items is
    not: strict readers warn or reject the element, and a tool that changes the
    byte order by VR may swap the item bytes. DCMTK 3.7.0 warns "Wrong VR for encapsulated PixelData
    ... should be 'OB'"; 3.6.7 says "Length of element (7fe0,0010) is not a multiple
    of 2 (VR=OW)". Real cases: pydicom-data emri_small_jpeg_2k_lossless.dcm and
    pydicom's MR_small_jp2klossless.dcm, SC_rgb_rle_16bit.dcm and rtdose_rle.dcm,
    among others.

    Example
    -------
    Pixel Data with VR OW:

        E0 7F 10 00 4F 57 00 00 FF FF FF FF   (7FE0,0010) OW, undefined length

    Good:

        E0 7F 10 00 4F 42 00 00 FF FF FF FF   (7FE0,0010) OB, undefined length

    How to fix
    ----------
    Write the VR as OB. The two bytes can be patched in place (`4F 57`
    to `4F 42`): nothing else in the element depends on them. `--fix` does so (safe:
    no other byte changes).

    Reference
    ---------
    PS3.5 A.4 and 8.2 (paraphrased): encapsulated Pixel Data (7FE0,0010)
    has the VR OB, with an undefined length, and holds a sequence of items.
    """
    pixel = ctx.pixel
    if pixel.vr is None or pixel.vr == "OB":
        return
    from dcmencaps_lint.fixes import VrAsOb  # here: a lint that fixes nothing skips it

    yield Problem(
        f"encapsulated Pixel Data has VR {pixel.vr}; it must be OB",
        offset=pixel.offset + 4,
        length=2,
        fix=VrAsOb(pixel.offset + 4),
    )


@rule(
    "TSX010",
    "pixel-data-with-jpip",
    Severity.ERROR,
    ref="PS3.5 A.6, A.7, A.11",
    summary="A JPIP Referenced transfer syntax but Pixel Data is present",
    needs=Needs.PIXEL,
    top_level=True,
    codecs={Codec.JPIP},
    fix=FixAvailability.NEVER,
)
def pixel_data_with_jpip(ctx: PixelContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The transfer syntax is a JPIP Referenced one (1.2.840.10008.1.2.4.94,
    .95, .204, .205), yet the data set has a top-level Pixel Data (7FE0,0010), of
    any length. The finding points at the Pixel Data tag.

    Decisions: this is the root cause, reported once. The element's items are not
    walked, so no item, offset-table, frame or codestream rule reports on them, and
    TSX001 (defined length) and TSX009 (VR) stay quiet.

    Why it matters
    --------------
    Under these syntaxes the pixels are fetched from a JPIP server
    named by Pixel Data Provider URL (0028,7FE0); the data set carries no pixel data.
    A reader either ignores Pixel Data or does not know which of the two to trust.
    The usual cause is a converter that copied the transfer syntax of a referenced
    instance into one that embeds its JPEG 2000 codestream.

    Example
    -------
    Transfer syntax 1.2.840.10008.1.2.4.94 (JPIP Referenced), and:

        E0 7F 10 00 4F 42 00 00 FF FF FF FF   (7FE0,0010) OB, undefined length

    Good: no Pixel Data, and (0028,7FE0) UR with the JPIP URL of the pixel data.

    How to fix
    ----------
    Either drop Pixel Data and give Pixel Data Provider URL (0028,7FE0), or
    label the file with the syntax of the codestream it embeds (e.g. JPEG 2000
    1.2.840.10008.1.2.4.90 / .91, HTJ2K .201 / .203).

    Reference
    ---------
    PS3.5 A.6, A.7 (JPIP Referenced, JPIP Referenced Deflate) and A.11
    (JPIP HTJ2K Referenced), paraphrased: Pixel Data (7FE0,0010) shall not be
    present; Pixel Data Provider URL (0028,7FE0) references the pixel data.
    """
    pixel, ts = ctx.pixel, ctx.syntax
    yield Problem(
        f"Pixel Data is present under {ts.name} ({ts.uid}), which requires it to be absent",
        offset=pixel.offset,
        length=pixel.value_offset - pixel.offset,
    )

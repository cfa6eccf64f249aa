"""TSX: the transfer syntax and the Pixel Data element itself."""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import Context, parse_number_of_frames
from dcmencaps_lint.model import Finding, Severity
from dcmencaps_lint.registry import Needs, rule
from dcmencaps_lint.transfer_syntax import Codec


@rule(
    "TSX001",
    "encapsulated-defined-length",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="Encapsulated transfer syntax but Pixel Data has a defined length",
    needs=Needs.DATASET,
)
def encapsulated_defined_length(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The transfer syntax is encapsulated, yet the top-level Pixel Data
    element has a defined length instead of FFFFFFFFH.

    Why it matters
    --------------
    PS3.5 A.4 says encapsulated Pixel Data "shall" have an undefined
    length and hold a sequence of items. Readers either refuse the file or read the
    codestream as raw pixels. Typical cause: a de-identification or anonymisation
    tool rewrote Pixel Data with native bytes and kept the compressed transfer syntax,
    or wrote the items with a computed length.

    How to fix
    ----------
    Write Pixel Data as an undefined-length item sequence, or relabel the
    file with the native transfer syntax that matches its bytes.
    """
    pixel, ts = ctx.dataset.pixel_data, ctx.ts
    if pixel is None or ts is None or not ts.encapsulated or ts.codec is Codec.JPIP:
        return
    if not pixel.undefined_length:
        yield ctx.finding(
            f"Pixel Data has defined length {pixel.length} under encapsulated transfer syntax "
            f"{ts.name}; it must be FFFFFFFFH",
            offset=pixel.value_offset - 4,
            length=4,
        )


@rule(
    "TSX002",
    "native-undefined-length",
    Severity.ERROR,
    ref="PS3.5 A.4, 7.1",
    summary="Native transfer syntax but Pixel Data has an undefined length",
    needs=Needs.PIXEL,
)
def native_undefined_length(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The transfer syntax is native (uncompressed), yet Pixel Data has an
    undefined length, which only encapsulated Pixel Data may have.

    Why it matters
    --------------
    The file usually holds compressed fragments labelled with a native
    transfer syntax (a transfer-syntax change that forgot to decompress); readers fail
    with "Pixel Data with undefined length must start with an item tag" or show noise.

    How to fix
    ----------
    Label the file with the transfer syntax of its codestream, or
    decompress it and write native Pixel Data with a defined length.
    """
    pixel, ts = ctx.dataset.pixel_data, ctx.ts
    if pixel is not None and ts is not None and not ts.encapsulated and pixel.undefined_length:
        yield ctx.finding(
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
)
def unknown_transfer_syntax(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Transfer Syntax UID (0002,0010) is not one that DICOM defines (a
    private syntax, a typo, or a UID of another kind).

    Why it matters
    --------------
    Other readers will not know how to decode the pixel data. The
    linter cannot tell which codec to expect, so only the item rules (ITM) run.

    How to fix
    ----------
    Use a standard transfer syntax; if a private one is required, make sure
    every receiver supports it.
    """
    uid = ctx.dataset.transfer_syntax_uid
    if uid is not None and ctx.ts is None:
        yield ctx.finding(
            f"Transfer Syntax UID {uid!r} is not a DICOM transfer syntax; only item rules run",
            element="(0002,0010)",
        )


@rule(
    "TSX007",
    "offset-table-in-native-ts",
    Severity.ERROR,
    ref="PS3.3 C.7.6.3",
    summary="Extended Offset Table present without encapsulated Pixel Data",
    needs=Needs.DATASET,
)
def offset_table_in_native_ts(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Extended Offset Table (7FE0,0001) or Extended Offset Table Lengths
    (7FE0,0002) is present while Pixel Data is native or absent.

    Why it matters
    --------------
    PS3.3 C.7.6.3 allows these attributes only with encapsulated Pixel
    Data; elsewhere they describe nothing and confuse readers that trust them.

    How to fix
    ----------
    Remove both attributes when writing native Pixel Data (a decompressing
    converter must drop them).
    """
    pixel, ts = ctx.dataset.pixel_data, ctx.ts
    if pixel is not None and (ts is None or ts.encapsulated):
        return
    state = "absent" if pixel is None else "native"
    for element in (ctx.dataset.eot, ctx.dataset.eot_lengths):
        if element is not None:
            tag = "(7FE0,0001)" if element.tag == 0x7FE00001 else "(7FE0,0002)"
            yield ctx.finding(
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
)
def number_of_frames_invalid(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Number of Frames (0028,0008) is present but empty, 0, negative, or
    not an integer string.

    Why it matters
    --------------
    Readers size their frame index from it; 0 or garbage makes them
    refuse the file or read one frame only. The frame-count rules (BOT006, FRG001,
    FRG004, EOT003) are skipped for such files, since they have nothing to compare to.

    How to fix
    ----------
    Write the real number of frames, or omit the attribute for a
    single-frame image that has no Multi-frame Module.
    """
    raw = ctx.dataset.number_of_frames_raw
    if raw is None or parse_number_of_frames(raw)[1]:
        return
    element = ctx.dataset.number_of_frames
    shown = raw.decode("ascii", "replace").strip(" \0")
    yield ctx.finding(
        f"Number of Frames is {shown!r}; it must be a positive integer",
        offset=element.value_offset if element and element.value_offset >= 0 else None,
        length=len(raw) or None,
        element="(0028,0008)",
    )

"""ITM: the item sequence of encapsulated Pixel Data (PS3.5 A.4, 7.5)."""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import ItemsContext, Needs, Shape
from dcmencaps_lint.model import (
    ITEM_DELIMITER_TAG,
    UNDEFINED_LENGTH,
    Item,
    Problem,
    Severity,
    StopReason,
    Walk,
    format_tag,
)
from dcmencaps_lint.registry import Deep, FixAvailability, rule
from dcmencaps_lint.rules.payload import frame_of, payload_scan


def numbered_items(walk: Walk) -> Iterator[tuple[int, Item]]:
    """(item number, item): 0 is the BOT, fragments are 1..n."""
    if walk.bot is not None:
        yield 0, walk.bot
    yield from enumerate(walk.fragments, start=1)


def _what(number: int) -> str:
    return "BOT item" if number == 0 else f"fragment {number}"


@rule(
    "ITM001",
    "first-item-not-bot",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="The first item is not a Basic Offset Table item",
    needs=Needs.ITEMS,
    fix=FixAvailability.NEVER,
    when=Shape.IRREGULAR_ITEMS,
)
def first_item_not_bot(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Encapsulated Pixel Data must begin with the Basic Offset Table item, even when
    that item is empty. This rule fires when the first element is not an Item at all,
    when Pixel Data holds only the Sequence Delimitation Item, or when the first item's
    value starts with a codestream signature (JPEG SOI, JPEG 2000 SOC + SIZ, a JP2 box,
    JPEG XL), i.e. the writer left the BOT item out.

    Why it matters
    --------------
    Readers take the first item as the offset table, whatever it holds: fo-dicom and
    dcm4che silently turn the first fragment into the "BOT" and lose it, pydicom reads
    codestream bytes as offsets or raises "Found unexpected tag", GDCM throws a parse
    exception (its sample `Bug_Siemens_PrivateIconNoItem.dcm`, a Siemens icon without
    the BOT item).

    Example
    -------
    The first item holds a JPEG codestream:

        FE FF 00 E0 20 00 00 00   item, length 32
        FF D8 FF E0 ...           SOI: this is fragment 1, not a BOT

    The good form puts an empty BOT item in front:

        FE FF 00 E0 00 00 00 00   BOT item, length 0
        FE FF 00 E0 20 00 00 00   fragment 1
        FF D8 FF E0 ...

    How to fix
    ----------
    Insert an empty item (FE FF 00 E0 00 00 00 00) before the first fragment, or a
    BOT item with one offset per frame.

    Reference
    ---------
    PS3.5 A.4: "The first Item in the Sequence of Items before the encoded Pixel Data
    Stream shall be a Basic Offset Table item." The BOT item's value may be empty (its
    length is then 00000000H), but the item itself is always present.
    """
    walk = ctx.walk
    if walk.bot_missing:
        first = walk.fragments[0]
        yield Problem(
            "the first item holds codestream data: the Basic Offset Table item is missing",
            offset=first.offset,
            length=8,
            item=1,
        )
    elif walk.bot is None and not walk.fragments and walk.stop is StopReason.DELIMITER:
        yield Problem(
            "Pixel Data holds no items: the Basic Offset Table item is missing",
            offset=walk.stop_offset,
            length=4,
        )
    elif walk.bot is None and walk.stop is StopReason.UNEXPECTED_TAG and not walk.skipped:
        tag = walk.stop_tag or 0
        yield Problem(
            f"Pixel Data starts with {format_tag(tag)}, not with the Basic Offset Table item",
            offset=walk.stop_offset,
            length=4,
        )


@rule(
    "ITM002",
    "unexpected-tag",
    Severity.ERROR,
    ref="PS3.5 A.4, 7.5",
    summary="A tag other than Item or Sequence Delimitation inside the sequence",
    needs=Needs.ITEMS,
    fix=FixAvailability.SOMETIMES,
    when=Shape.IRREGULAR_ITEMS,
)
def unexpected_tag(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Only Item (FFFE,E000) elements and one closing Sequence Delimitation Item
    (FFFE,E0DD) may appear in encapsulated Pixel Data. Item Delimitation Items
    (FFFE,E00D), byte-swapped item tags (FEFF,00E0), zeros and other data element tags
    are reported. The walk continues past a zero-length Item Delimitation Item (it
    carries no data) and stops at anything else.

    Why it matters
    --------------
    Readers stop or fail at the unexpected tag and lose every frame after it: pydicom
    raises "Unexpected tag", fo-dicom "Unexpected tag in DICOM fragment sequence:
    (0000,0000)" (fo-dicom #763), DCMTK reports corrupted data. GE writers produced
    byte-swapped item tags that only dicom3tools repairs.

    Example
    -------
    An Item Delimitation Item between two fragments:

        FE FF 00 E0 20 00 00 00   fragment 1, 32 bytes ...
        FE FF 0D E0 00 00 00 00   (FFFE,E00D): not allowed here
        FE FF 00 E0 20 00 00 00   fragment 2 ...

    The good form has the fragments back to back, then FE FF DD E0 00 00 00 00.

    How to fix
    ----------
    Rewrite the Pixel Data so that it holds only the BOT item, the fragment items and
    the delimiter; for byte-swapped tags, fix the writer's byte order. `--fix` drops a
    zero-length Item Delimitation Item between fragments (safe: it carries no data; the
    offset tables follow the fragments that move); a tag that stops the walk is not
    fixed (what follows it cannot be read as items).

    Reference
    ---------
    PS3.5 A.4 (paraphrase): the encoded pixel stream is a Sequence of Items, each
    fragment an Item (FFFE,E000) with an explicit length, ended by a Sequence
    Delimitation Item. PS3.5 7.5: these tags "shall be encoded as Implicit VR", little
    endian under every encapsulated transfer syntax.
    """
    walk = ctx.walk
    if walk.skipped:
        from dcmencaps_lint.fixes import DropItem  # here: a lint that fixes nothing skips it

        for extra in walk.skipped:
            yield Problem(
                f"Item Delimitation Item {format_tag(ITEM_DELIMITER_TAG)} between fragments",
                offset=extra.offset,
                length=4,
                fix=DropItem(extra.offset),
            )
    first_element = walk.bot is None and not walk.fragments and not walk.skipped
    if walk.stop is StopReason.UNEXPECTED_TAG and not first_element:
        tag = walk.stop_tag or 0
        yield Problem(
            f"unexpected tag {format_tag(tag)} where an item or the sequence delimiter must be; "
            "the rest of the Pixel Data cannot be walked",
            offset=walk.stop_offset,
            length=4,
        )


@rule(
    "ITM003",
    "undefined-length-item",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="An item has an undefined length",
    needs=Needs.ITEMS,
    fix=FixAvailability.NEVER,
    when=Shape.IRREGULAR_ITEMS,
)
def undefined_length_item(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Every item of encapsulated Pixel Data (the BOT item and the fragments) must have
    an explicit length; the undefined length FFFFFFFFH is not allowed for them.

    Why it matters
    --------------
    A reader cannot know where such an item ends, so it cannot find any item after
    it: pydicom raises "Undefined item length", DCMTK reports an item "larger
    (4294967295) than remaining bytes in file", GDCM and fo-dicom fail to read. The
    walk stops here, so later items are not checked.

    Example
    -------
    The bad form:

        FE FF 00 E0 FF FF FF FF   fragment with undefined length
        FF D8 FF E0 ...

    The good form gives the fragment's byte count, e.g. `FE FF 00 E0 20 00 00 00`.

    How to fix
    ----------
    Write each fragment with its real, even byte count.

    Reference
    ---------
    PS3.5 A.4 (paraphrase): each fragment is an Item whose Item Length gives the
    explicit number of bytes of the fragment; unlike items of an ordinary sequence,
    items of encapsulated Pixel Data never have an undefined length.
    """
    walk = ctx.walk
    if UNDEFINED_LENGTH not in walk.fragment_lengths and not (
        walk.bot and walk.bot.length == UNDEFINED_LENGTH
    ):
        return  # one C-level scan settles the usual case
    for number, item in numbered_items(walk):
        if item.length == UNDEFINED_LENGTH:
            yield Problem(
                f"{_what(number)} has undefined length FFFFFFFFH",
                offset=item.length_offset,
                length=4,
                item=number,
            )


@rule(
    "ITM004",
    "odd-length-item",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="An item has an odd length",
    needs=Needs.ITEMS,
    fix=FixAvailability.SOMETIMES,
    when=Shape.IRREGULAR_ITEMS,
)
def odd_length_item(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The BOT item and every fragment must have an even length. An odd codestream is
    padded with one byte so that its item stays even.

    Why it matters
    --------------
    DCMTK warns "Length of item in sequence PixelData is odd", dciodvfy
    "Encapsulated pixel data fragment is not even length"; dcm4che "repairs" such
    files by appending a byte (dcm4che #1199) and Agfa EI rejected them (fo-dicom
    #1012). Readers that assume even lengths misalign every later item.

    Example
    -------
    The bad form:

        FE FF 00 E0 BB 06 00 00   fragment, length 1723 (odd)

    The good form pads the codestream to 1724 bytes:

        FE FF 00 E0 BC 06 00 00   ... FF D9 00

    How to fix
    ----------
    Pad the codestream with one trailing byte (00H; after a JPEG EOI, FFH also works)
    and increase the item length by one. `--fix` does so for a fragment (safe: the
    codestream's bytes stay, one 00 byte follows them; the BOT and the Extended Offset
    Table follow the fragments that move); an odd BOT item is BOT001's.

    Reference
    ---------
    PS3.5 A.4: "All items containing an encoded fragment shall be made of an even
    number of bytes greater or equal to two." The last fragment of a frame "may be
    padded, if necessary, to meet the sequence item format requirements".
    """
    walk = ctx.walk
    if not ((ctx.length_bits | (walk.bot.length if walk.bot else 0)) & 1):
        return  # no length is odd: one pass settles the usual case
    from dcmencaps_lint.fixes import PadFragment  # here: a lint that fixes nothing skips it

    for number, item in numbered_items(walk):
        # A truncated item's length is ITM005's finding; its parity says nothing more.
        if item.length != UNDEFINED_LENGTH and item.length % 2 and not item.truncated:
            yield Problem(
                f"{_what(number)} has odd length {item.length}",
                offset=item.length_offset,
                length=4,
                item=number,
                fix=PadFragment(number) if number else None,
            )


@rule(
    "ITM005",
    "item-exceeds-data",
    Severity.ERROR,
    ref="PS3.5 7.5",
    summary="An item's length runs past the end of the data",
    needs=Needs.ITEMS,
    fix=FixAvailability.NEVER,
    when=Shape.IRREGULAR_ITEMS,
)
def item_exceeds_data(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    An item's length field names more bytes than the file still holds: the file was
    truncated, or the length is wrong.

    Why it matters
    --------------
    The last frame is incomplete and readers fail or show a partial image (GDCM's
    `SIEMENS-JPEG-CorruptFrag.dcm`, pydicom-data
    `emri_small_jpeg_2k_lossless_too_short.dcm`). The missing sequence delimiter is
    a consequence and is not reported separately (no ITM006).

    Example
    -------
    The file ends 30 bytes into a 40-byte fragment:

        FE FF 00 E0 28 00 00 00   fragment, length 40
        FF D8 ... (30 bytes)      end of file

    How to fix
    ----------
    Transfer the file again in full; if the length field is wrong, correct it.

    Reference
    ---------
    PS3.5 7.5 (paraphrase): an Item's Value Length is the number of bytes of its
    value, which follows the item header in full.
    """
    walk = ctx.walk
    if walk.stop is not StopReason.TRUNCATED:
        return
    number, item = list(numbered_items(walk))[-1]
    yield Problem(
        f"{_what(number)} has length {item.length} but only {item.available} bytes remain "
        "in the file",
        offset=item.length_offset,
        length=4,
        item=number,
    )


@rule(
    "ITM006",
    "missing-sequence-delimiter",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="The data ends without a Sequence Delimitation Item",
    needs=Needs.ITEMS,
    fix=FixAvailability.SOMETIMES,
    when=Shape.IRREGULAR_ITEMS,
)
def missing_sequence_delimiter(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The last item is followed by the end of the file (or by a few stray bytes too
    short for an item header) instead of the Sequence Delimitation Item (FFFE,E0DD)
    with length 0.

    Why it matters
    --------------
    DCMTK fails with "Sequence Delimitation Item missing" (DCMTK PR #118: hundreds of
    files ending in zero padding), dciodvfy "Tag read failed", pydicom drops Pixel
    Data entirely; fo-dicom added a workaround (fo-dicom #1339).

    Example
    -------
    The bad form:

        FE FF 00 E0 20 00 00 00   last fragment ...
        FF D9                     end of file: no delimiter

    The good form ends with `FE FF DD E0 00 00 00 00`.

    How to fix
    ----------
    Append FE FF DD E0 00 00 00 00 after the last fragment. `--fix` does so where the
    file ends right after the last fragment (safe: nothing else changes); stray bytes
    at the end are left for a person to judge.

    Reference
    ---------
    PS3.5 A.4 (paraphrase): the Sequence of Items of encapsulated Pixel Data is ended
    by a Sequence Delimitation Item; PS3.5 7.5.2 defines that item, tag (FFFE,E0DD)
    with Item Length 00000000H.
    """
    walk = ctx.walk
    if walk.stop is StopReason.END_OF_DATA:
        from dcmencaps_lint.fixes import AppendDelimiter  # here: most lints fix nothing

        yield Problem(
            "the Pixel Data ends without a Sequence Delimitation Item",
            offset=walk.stop_offset,
            length=0,
            fix=AppendDelimiter(),
        )
    elif walk.stop is StopReason.PARTIAL_HEADER:
        left = walk.data_end - walk.stop_offset
        yield Problem(
            f"the Pixel Data ends with {left} stray byte(s) instead of a Sequence "
            "Delimitation Item",
            offset=walk.stop_offset,
            length=left,
        )


@rule(
    "ITM007",
    "delimiter-nonzero-length",
    Severity.ERROR,
    ref="PS3.5 7.5.2",
    summary="The Sequence Delimitation Item's length is not 0",
    needs=Needs.ITEMS,
    fix=FixAvailability.NEVER,
    when=Shape.IRREGULAR_ITEMS,
)
def delimiter_nonzero_length(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The Sequence Delimitation Item (FFFE,E0DD) must have length 0.

    Why it matters
    --------------
    Readers that honour the length skip bytes that belong to the next element;
    dicomParser overran its buffer on a delimiter with length FFFFFFFFH
    (cornerstonejs/dicomParser #266), GDCM warns "Reading failed at Tag:(fffe,e0dd)".

    Example
    -------
    The bad form:

        FE FF DD E0 04 00 00 00   delimiter with length 4

    The good form is `FE FF DD E0 00 00 00 00`.

    How to fix
    ----------
    Write 00000000H as the delimiter's length.

    Reference
    ---------
    PS3.5 7.5.2 (paraphrase): the Sequence Delimitation Item has Item Length
    00000000H and no value.
    """
    walk = ctx.walk
    if walk.delimiter is not None and walk.delimiter.length != 0:
        yield Problem(
            f"the Sequence Delimitation Item has length {walk.delimiter.length}, not 0",
            offset=walk.delimiter.length_offset,
            length=4,
        )


@rule(
    "ITM008",
    "empty-fragment",
    Severity.ERROR,
    ref="PS3.5 A.4",
    summary="A fragment has length 0",
    needs=Needs.ITEMS,
    fix=FixAvailability.NEVER,
    when=Shape.IRREGULAR_ITEMS,
)
def empty_fragment(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    A fragment item (after the BOT item) has length 0. Fragments carry codestream
    data; an empty BOT item is fine, an empty fragment is not.

    Why it matters
    --------------
    Fo-dicom crashed rendering a multi-frame file from a real modality whose last
    fragment was empty (fo-dicom #1586); DCMTK's dcmdjpeg and GDCM fail to decode a
    frame after an empty fragment; frame counting by fragments goes wrong.

    Example
    -------
    The bad form:

        FE FF 00 E0 20 00 00 00   fragment 1 ...
        FE FF 00 E0 00 00 00 00   fragment 2: empty
        FE FF DD E0 00 00 00 00

    The good form drops the empty item.

    How to fix
    ----------
    Drop the empty item (and fix the offset tables that count it).

    Reference
    ---------
    PS3.5 A.4: "All items containing an encoded fragment shall be made of an even
    number of bytes greater or equal to two."
    """
    walk = ctx.walk
    if 0 not in walk.fragment_lengths:
        return  # one C-level scan settles the usual case
    for number, item in enumerate(walk.fragments, start=1):
        if item.length == 0:
            yield Problem(
                f"fragment {number} is empty", offset=item.length_offset, length=4, item=number
            )


@rule(
    "ITM009",
    "no-fragments",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="No fragment follows the Basic Offset Table item",
    needs=Needs.ITEMS,
    fix=FixAvailability.NEVER,
    when=Shape.IRREGULAR_ITEMS,
)
def no_fragments(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    The sequence holds the BOT item and then ends: there is no pixel data at all.

    Why it matters
    --------------
    There is nothing to decode; viewers fail or show a blank image.

    Example
    -------
    The bad form:

        FE FF 00 E0 00 00 00 00   BOT item
        FE FF DD E0 00 00 00 00   delimiter: no fragment

    How to fix
    ----------
    Re-export the image; the writer lost its frames.

    Reference
    ---------
    PS3.5 8.2 (paraphrase): the pixel stream is encapsulated in one or more
    fragments, and at least one frame is present.
    """
    walk = ctx.walk
    if walk.bot is not None and not walk.fragments and walk.complete:
        yield Problem(
            "no fragment follows the Basic Offset Table item",
            offset=walk.bot.end,
            length=0,
        )


@rule(
    "ITM010",
    "embedded-delimiter-bytes",
    Severity.WARNING,
    ref="interop",
    summary="A fragment contains the bytes of the Sequence Delimitation Item's tag",
    needs=Needs.ITEMS,
    deep=Deep.WHOLE,
    fix=FixAvailability.NEVER,
)
def embedded_delimiter_bytes(ctx: ItemsContext) -> Iterator[Problem]:
    """
    What it checks
    --------------
    Deep rule: reads every fragment's value and reports each place where the
    Sequence Delimitation Item's tag, the bytes FE FF DD E0, occurs inside it; the
    message gives the four bytes that follow. The file is valid: an item walk (as this
    linter does) is not fooled. The tag alone is matched, whatever length follows,
    because readers that scan for the delimiter look for the tag: the real case below
    has FE FF DD E0 01 00 00 00, not the full 8-byte delimiter FE FF DD E0 00 00 00 00.

    Why it matters
    --------------
    Readers that find the end of encapsulated Pixel Data by scanning for the
    delimiter instead of walking the items stop there and truncate the data. pydicom
    did so until PR #1141, found with a JPEG 2000 codestream that contains the bytes
    (pydicom test file `JPEG2000-embedded-sequence-delimiter.dcm`, the tag at byte
    3056). FE FF DD E0 is legal inside a codestream (FF DD is also the JPEG DRI
    marker), so this is a warning about such readers, not an error.

    Example
    -------
    The Pixel Data of pydicom's `JPEG2000-embedded-sequence-delimiter.dcm`:

        FE FF 00 E0 00 00 00 00   empty BOT item
        FE FF 00 E0 FA 00 00 00   fragment 1, 250 bytes
        FF 4F FF 51 00 29         SOC, SIZ and its length
        FE FF DD E0 01 00 00 00   SIZ bytes that read as the delimiter's tag
        ... FF D9                 ... EOC
        FE FF DD E0 00 00 00 00   the real delimiter

    A scanning reader ends Pixel Data at the first FE FF DD E0.

    How to fix
    ----------
    Nothing in the file is wrong. If a reader in your chain scans for the delimiter,
    update it to walk the items; re-encoding the frame (other encoder settings)
    changes the codestream bytes and usually removes the pattern.

    Reference
    ---------
    PS3.5 A.4 (paraphrase): the end of encapsulated Pixel Data is found by walking the
    items, each with an explicit length, up to the Sequence Delimitation Item; nothing
    forbids any byte values inside a fragment. Interoperability: pydicom PR #1141.
    """
    for hit in payload_scan(ctx).delimiters:
        following = hit.following.hex(" ").upper() or "nothing"
        yield Problem(
            f"fragment {hit.fragment} contains the Sequence Delimitation Item tag "
            f"FE FF DD E0, followed by {following}: readers that scan for the delimiter "
            "instead of walking the items truncate Pixel Data here",
            offset=hit.offset,
            length=4,
            frame=frame_of(ctx, hit.fragment),
            item=hit.fragment,
        )

"""ITM: the item sequence of encapsulated Pixel Data (PS3.5 A.4, 7.5)."""

from __future__ import annotations

from collections.abc import Iterator

from dcmencaps_lint.context import Context
from dcmencaps_lint.model import (
    ITEM_DELIMITER_TAG,
    UNDEFINED_LENGTH,
    Finding,
    Item,
    Severity,
    StopReason,
    Walk,
    format_tag,
)
from dcmencaps_lint.registry import Needs, rule


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
)
def first_item_not_bot(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Encapsulated Pixel Data must begin with the Basic Offset Table item,
    even when that item is empty. This rule fires when the first element is not an Item
    at all, or when the first item's value starts with a codestream signature (JPEG SOI,
    JPEG 2000 SOC, a JP2 box), i.e. the writer left the BOT item out.

    Why it matters
    --------------
    Readers take the first item as the offset table, so they lose the
    first frame's first fragment and mis-split every other frame.

    How to fix
    ----------
    Insert an empty item (FFFE,E000 with length 0) before the first fragment.
    """
    walk = ctx.walk
    assert walk is not None
    if walk.bot_missing:
        first = walk.fragments[0]
        yield ctx.finding(
            "the first item holds codestream data: the Basic Offset Table item is missing",
            offset=first.offset,
            length=8,
            item=1,
        )
    elif walk.bot is None and not walk.fragments and walk.stop is StopReason.DELIMITER:
        yield ctx.finding(
            "Pixel Data holds no items: the Basic Offset Table item is missing",
            offset=walk.stop_offset,
            length=4,
        )
    elif walk.bot is None and walk.stop is StopReason.UNEXPECTED_TAG and not walk.skipped:
        tag = walk.stop_tag or 0
        yield ctx.finding(
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
)
def unexpected_tag(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Only Item (FFFE,E000) elements and one closing Sequence Delimitation
    Item (FFFE,E0DD) may appear in encapsulated Pixel Data. Item Delimitation Items
    (FFFE,E00D), byte-swapped item tags (FEFF,00E0) and other tags are reported. The walk
    continues past a zero-length Item Delimitation Item and stops at anything else.

    Why it matters
    --------------
    Readers stop or fail at the unexpected tag, losing every frame after it.

    How to fix
    ----------
    Rewrite the Pixel Data so that it holds only the BOT item, fragment items
    and the delimiter; for byte-swapped tags, fix the writer's byte order.
    """
    walk = ctx.walk
    assert walk is not None
    for extra in walk.skipped:
        yield ctx.finding(
            f"Item Delimitation Item {format_tag(ITEM_DELIMITER_TAG)} between fragments",
            offset=extra.offset,
            length=4,
        )
    first_element = walk.bot is None and not walk.fragments and not walk.skipped
    if walk.stop is StopReason.UNEXPECTED_TAG and not first_element:
        tag = walk.stop_tag or 0
        yield ctx.finding(
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
)
def undefined_length_item(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    Every item of encapsulated Pixel Data (BOT and fragments) must have an
    explicit length; FFFFFFFFH is not allowed for them.

    Why it matters
    --------------
    A reader cannot know where such an item ends, so it cannot find any
    item after it. The walk stops here.

    How to fix
    ----------
    Write each fragment with its real, even byte count.
    """
    walk = ctx.walk
    assert walk is not None
    for number, item in numbered_items(walk):
        if item.length == UNDEFINED_LENGTH:
            yield ctx.finding(
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
)
def odd_length_item(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The BOT item and every fragment must have an even length (PS3.5 A.4:
    fragments hold an even number of bytes; odd codestreams get one pad byte).

    Why it matters
    --------------
    DCMTK, dcm4che and Agfa EI reject or "repair" such files
    (dcm4che #1199, fo-dicom #1012); readers that assume even lengths misalign.

    How to fix
    ----------
    Pad the codestream with one trailing byte (00H, or FFH for JPEG) and
    increase the item length by one.
    """
    walk = ctx.walk
    assert walk is not None
    for number, item in numbered_items(walk):
        # A truncated item's length is ITM005's finding; its parity says nothing more.
        if item.length != UNDEFINED_LENGTH and item.length % 2 and not item.truncated:
            yield ctx.finding(
                f"{_what(number)} has odd length {item.length}",
                offset=item.length_offset,
                length=4,
                item=number,
            )


@rule(
    "ITM005",
    "item-exceeds-data",
    Severity.ERROR,
    ref="PS3.5 7.5",
    summary="An item's length runs past the end of the data",
    needs=Needs.ITEMS,
)
def item_exceeds_data(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    An item's length field names more bytes than the file still holds:
    the file was truncated, or the length is wrong.

    Why it matters
    --------------
    The last frame is incomplete and readers fail or show a partial image;
    the missing sequence delimiter is a consequence and is not reported separately.

    How to fix
    ----------
    Transfer the file again in full; if the length field is wrong, correct it.
    """
    walk = ctx.walk
    assert walk is not None
    if walk.stop is not StopReason.TRUNCATED:
        return
    number, item = list(numbered_items(walk))[-1]
    yield ctx.finding(
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
)
def missing_sequence_delimiter(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The last item is followed by the end of the file (or by a few stray
    bytes too short for an item header) instead of the Sequence Delimitation Item
    (FFFE,E0DD) with length 0.

    Why it matters
    --------------
    DCMTK fails with "CorruptedData" (dcmtk PR #118), pydicom drops
    Pixel Data entirely; fo-dicom and others added workarounds.

    How to fix
    ----------
    Append FE FF DD E0 00 00 00 00 after the last fragment.
    """
    walk = ctx.walk
    assert walk is not None
    if walk.stop is StopReason.END_OF_DATA:
        yield ctx.finding(
            "the Pixel Data ends without a Sequence Delimitation Item",
            offset=walk.stop_offset,
            length=0,
        )
    elif walk.stop is StopReason.PARTIAL_HEADER:
        left = walk.data_end - walk.stop_offset
        yield ctx.finding(
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
)
def delimiter_nonzero_length(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The Sequence Delimitation Item (FFFE,E0DD) must have length 0.

    Why it matters
    --------------
    Readers that honour the length skip bytes that belong to the next
    element; dicomParser overran its buffer on a delimiter with length FFFFFFFFH
    (cornerstonejs/dicomParser #266).

    How to fix
    ----------
    Write 00000000H as the delimiter's length.
    """
    walk = ctx.walk
    assert walk is not None
    if walk.delimiter is not None and walk.delimiter.length != 0:
        yield ctx.finding(
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
)
def empty_fragment(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    A fragment item (after the BOT item) has length 0. Fragments carry
    codestream data; an empty BOT item is fine, an empty fragment is not.

    Why it matters
    --------------
    Fo-dicom crashed rendering a multi-frame file whose last fragment was
    empty (fo-dicom #1586); frame counting by fragments goes wrong.

    How to fix
    ----------
    Drop the empty item (and fix the offset tables that count it).
    """
    walk = ctx.walk
    assert walk is not None
    for number, item in enumerate(walk.fragments, start=1):
        if item.length == 0:
            yield ctx.finding(
                f"fragment {number} is empty", offset=item.length_offset, length=4, item=number
            )


@rule(
    "ITM009",
    "no-fragments",
    Severity.ERROR,
    ref="PS3.5 8.2",
    summary="No fragment follows the Basic Offset Table item",
    needs=Needs.ITEMS,
)
def no_fragments(ctx: Context) -> Iterator[Finding]:
    """
    What it checks
    --------------
    The sequence holds the BOT item and then ends: there is no pixel data
    at all.

    Why it matters
    --------------
    There is nothing to decode; viewers fail or show a blank image.

    How to fix
    ----------
    Re-export the image; the writer lost its frames.
    """
    walk = ctx.walk
    assert walk is not None
    if walk.bot is not None and not walk.fragments and walk.complete:
        yield ctx.finding(
            "no fragment follows the Basic Offset Table item",
            offset=walk.bot.end,
            length=0,
        )

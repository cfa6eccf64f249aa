"""One pass over every fragment's value, shared by the deep rules (ITM010, FRG005).

Deep rules read whole payloads. Each would otherwise read every byte again, so the
first deep rule to ask scans all fragments once, a chunk at a time (memory stays one
chunk), and the context of that Pixel Data element keeps what it found (`ctx.memo`).
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

from dcmencaps_lint.codestream import END_OF_IMAGE, SOC_SIZ, START_OF_IMAGE
from dcmencaps_lint.context import ItemsContext
from dcmencaps_lint.model import SEQUENCE_DELIMITER_TAG, Item
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY, TransferSyntax

#: The Sequence Delimitation Item's tag (FFFE,E0DD) as it is written: little endian.
DELIMITER_TAG_BYTES = struct.pack(
    "<HH", SEQUENCE_DELIMITER_TAG >> 16, SEQUENCE_DELIMITER_TAG & 0xFFFF
)
_DELIMITER = re.compile(re.escape(DELIMITER_TAG_BYTES))
#: A frame boundary: EOI/EOC (FF D9), at most one pad byte (00, or FF as JPEG fill),
#: then the start of the next codestream.
_END_THEN = re.escape(END_OF_IMAGE) + rb"[\x00\xff]?"
# Chunks overlap by one byte less than the longest pattern (FF D9, pad, FF 4F FF 51),
# so a match that straddles two chunks is whole in the second.
OVERLAP = 6


class DelimiterBytes(NamedTuple):
    fragment: int  # 1-based fragment number
    offset: int  # absolute offset of the FE byte
    following: bytes  # the 4 bytes after the tag (fewer at the end of the file)


class CodestreamStart(NamedTuple):
    fragment: int
    offset: int  # absolute offset of the start marker that follows an end marker


class PayloadScan(NamedTuple):
    delimiters: tuple[DelimiterBytes, ...]
    starts: tuple[CodestreamStart, ...]


def start_marker(ts: TransferSyntax | None) -> bytes | None:
    """The marker every codestream of this transfer syntax begins with, when it has one."""
    if ts is None:
        return None
    if ts.codec in JPEG_FAMILY:
        return START_OF_IMAGE
    if ts.codec in J2K_FAMILY:
        return SOC_SIZ
    return None


def payload_scan(ctx: ItemsContext) -> PayloadScan:
    """What every fragment's value holds, scanned once per Pixel Data element."""
    return ctx.memo(_scan_payloads, None)


def _scan_payloads(ctx: ItemsContext, _: None) -> PayloadScan:
    marker = start_marker(ctx.ts)
    boundary = re.compile(_END_THEN + re.escape(marker)) if marker else None
    delimiters: list[DelimiterBytes] = []
    starts: list[CodestreamStart] = []
    for number, fragment in enumerate(ctx.walk.fragments, start=1):
        found = _scan_fragment(ctx, number, fragment, boundary, len(marker or b""))
        delimiters += found.delimiters
        starts += found.starts
    return PayloadScan(tuple(delimiters), tuple(starts))


def _scan_fragment(
    ctx: ItemsContext, number: int, fragment: Item, boundary: re.Pattern[bytes] | None, marker: int
) -> PayloadScan:
    delimiters: list[DelimiterBytes] = []
    starts: list[CodestreamStart] = []
    # Overlapping chunks show a match near a chunk's end twice: keep the first.
    last_delimiter = last_start = -1
    for position, chunk in ctx.payload_chunks(fragment, overlap=OVERLAP):
        for match in _DELIMITER.finditer(chunk):
            offset = position + match.start()
            if offset > last_delimiter:
                last_delimiter = offset
                following = chunk[match.end() : match.end() + 4]
                if len(following) < 4:  # past the chunk: read those bytes on their own
                    following = ctx.read(offset + 4, 4)
                delimiters.append(DelimiterBytes(number, offset, following))
        for match in boundary.finditer(chunk) if boundary else ():
            offset = position + match.end() - marker
            if offset > last_start:
                last_start = offset
                starts.append(CodestreamStart(number, offset))
    return PayloadScan(tuple(delimiters), tuple(starts))


def frame_of(ctx: ItemsContext, fragment: int) -> int | None:
    """The number of the frame a fragment belongs to, when the frame map knows it."""
    for frame in ctx.frame_map.frames if ctx.frame_map else ():
        if frame.first_fragment <= fragment <= frame.last_fragment:
            return frame.number
    return None

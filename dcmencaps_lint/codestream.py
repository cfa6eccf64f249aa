"""Small, tolerant parsers for the headers of the codestreams found in frames.

They read marker segments one by one through a `read(offset, count)` callable, so a
frame's header costs a few small reads however large the frame is, and they stop at the
first scan / tile-part, at the end of the fragment, or at anything they do not
understand. Nothing here decodes pixels and nothing raises on bad data: a field that
could not be read is None.

pydicom exposes `pydicom.pixels.utils.get_j2k_parameters`, but only precision and sign;
the rules also need COD, QCD, CAP and TLM, and the JPEG frame type, tables and JPEG-LS
NEAR value, so the linter parses headers itself.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing's
# NamedTuple compiles each string annotation, some 8 us a field at every start-up.
import struct
import zlib
from collections.abc import Callable, Iterable
from typing import NamedTuple

Read = Callable[[int, int], bytes]

# JPEG (ISO 10918-1) and JPEG-LS (ISO 14495-1) markers
SOI = 0xD8
EOI = 0xD9
SOS = 0xDA
DQT = 0xDB
DHT = 0xC4
DAC = 0xCC
JPG = 0xC8
SOF55 = 0xF7  # JPEG-LS start of frame
# SOFn: C0-CF except DHT (C4), JPG (C8) and DAC (CC)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {DHT, JPG, DAC}
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length

# JPEG 2000 (ISO 15444-1) / HTJ2K (ISO 15444-15) markers
J2K_SOC = 0x4F
J2K_SIZ = 0x51
J2K_COD = 0x52
J2K_QCD = 0x5C
J2K_CAP = 0x50
J2K_TLM = 0x55
J2K_SOT = 0x90
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"

# How frames start and end, as bytes: every module that looks for them uses these.
START_OF_IMAGE = bytes((0xFF, SOI))  # JPEG / JPEG-LS SOI
SOC = bytes((0xFF, J2K_SOC))  # JPEG 2000 / HTJ2K start of codestream
SOC_SIZ = bytes((0xFF, J2K_SOC, 0xFF, J2K_SIZ))  # SOC directly followed by SIZ
END_OF_IMAGE = bytes((0xFF, EOI))  # JPEG EOI; JPEG 2000 EOC has the same code
# JPEG XL (ISO 18181-1/-2): a bare codestream, or the ISO-BMFF container's signature box
JXL_CODESTREAM = b"\xff\x0a"
JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"

MAX_SEGMENTS = 256  # a header has a handful; more means garbage, stop reading
FILL_LIMIT = 30  # FF fill bytes before SOI looked for; more is not a JPEG frame
APP0, APP15 = 0xE0, 0xEF  # application data segments
SHORT_APP = 64  # APPn segments this short need no identifier (SPIFF directory entries)


class JpegHeader(NamedTuple):
    """What the frame's JPEG / JPEG-LS header says, up to the first SOS."""

    fill_bytes: int  # FF bytes before SOI
    sof: int | None = None  # the SOFn marker (C0..CF, or F7 for JPEG-LS)
    sof_offset: int | None = None  # absolute offset of that marker
    precision: int | None = None
    rows: int | None = None
    columns: int | None = None
    components: int | None = None
    has_dqt: bool = False  # before the first SOS
    has_dht: bool = False
    near: int | None = None  # JPEG-LS NEAR from the first SOS
    predictor: int | None = None  # lossless JPEG selection value (Ss of the first SOS)
    sos_offset: int | None = None
    complete: bool = False  # the first SOS was reached
    # absolute offset just past the last byte the parse looked at: where the facts'
    # grouping may stop comparing frames' leading bytes (facts.py)
    reached: int = 0


class _Window:
    """`read`, but never past `end` (a header cut short by its fragment's end stays
    short), remembering how far it reached: a header's parse depends on no byte beyond
    `reached`, which lets frames with the same leading bytes share one parse."""

    def __init__(self, read: Read, end: int) -> None:
        self._read, self._end, self.reached = read, end, 0

    def __call__(self, offset: int, count: int) -> bytes:
        if offset >= self._end:
            return b""
        count = min(count, self._end - offset)
        self.reached = max(self.reached, offset + count)
        return self._read(offset, count)


def parse_jpeg(read: Read, start: int, end: int) -> JpegHeader | None:
    """The JPEG header of a frame whose first fragment's value is [start, end).

    None when the data does not start with (at most FILL_LIMIT fill bytes and) SOI.
    """
    read = _Window(read, end)
    head = read(start, FILL_LIMIT + 2)
    fill = len(head) - len(head.lstrip(b"\xff"))
    if fill < 1 or head[fill : fill + 1] != START_OF_IMAGE[1:]:
        return None
    fields: dict[str, object] = {"fill_bytes": fill - 1}
    position = start + fill + 1
    for _ in range(MAX_SEGMENTS):
        head = read(position, 4)
        if len(head) < 2 or head[0] != 0xFF:
            break
        marker = head[1]
        if marker == 0xFF:  # fill byte between segments
            position += 1
            continue
        if marker in STANDALONE:
            position += 2
            continue
        if len(head) < 4 or marker == EOI:
            break
        (length,) = struct.unpack(">H", head[2:4])
        if length < 2 or not _jpeg_segment(read, position, marker, length, fields):
            break
        position += 2 + length
    return JpegHeader(**fields, reached=read.reached)  # type: ignore[arg-type]


def _jpeg_segment(
    read: Read, position: int, marker: int, length: int, fields: dict[str, object]
) -> bool:
    """Note what the segment at `position` says; False when parsing stops there."""
    if marker in SOF_MARKERS or marker == SOF55:
        if "sof" not in fields:  # a hierarchical stream's later frames do not count
            fields.update(sof=marker, sof_offset=position)
            sof = read(position + 4, 6)
            if len(sof) == 6:
                precision, rows, columns, components = struct.unpack(">BHHB", sof)
                fields.update(precision=precision, rows=rows, columns=columns)
                fields["components"] = components
    elif marker == DQT:
        fields["has_dqt"] = True
    elif marker == DHT:
        fields["has_dht"] = True
    elif marker == SOS:
        fields.update(sos_offset=position, complete=True)
        scan = read(position + 4, min(length - 2, 64))
        rest = scan[1 + 2 * scan[0] :] if scan else b""
        if rest:
            # Ss is the predictor in lossless JPEG and NEAR in JPEG-LS
            fields["predictor" if fields.get("sof") != SOF55 else "near"] = rest[0]
        return False
    elif APP0 <= marker <= APP15 and length > SHORT_APP:
        # Application data starts with an identifier ("JFIF", "Exif", "ICC_PROFILE",
        # "Adobe", "SPIFF"...). Long "segments" that do not are not a header: following
        # their length would read the middle of the frame for nothing.
        return read(position + 4, 1).isalpha()
    return True


class J2kHeader(NamedTuple):
    """What a JPEG 2000 / HTJ2K main header says, up to the first tile-part (SOT)."""

    siz_offset: int | None = None
    rows: int | None = None
    columns: int | None = None
    components: int | None = None
    precision: int | None = None  # of the first component
    signed: bool | None = None  # of the first component
    cod_offset: int | None = None
    progression: int | None = None  # 0 LRCP, 1 RLCP, 2 RPCL, 3 PCRL, 4 CPRL
    mct: int | None = None  # multiple component transform: 0 off, 1 on
    levels: int | None = None  # decomposition levels
    reversible: bool | None = None  # 5-3 reversible (True) or 9-7 irreversible (False)
    qcd_offset: int | None = None
    quantization: int | None = None  # Sqcd style: 0 none, 1 scalar derived, 2 expounded
    has_cap: bool = False
    has_tlm: bool = False
    complete: bool = False  # the first SOT was reached
    # absolute offset just past the last byte the parse looked at: where the facts'
    # grouping may stop comparing frames' leading bytes (facts.py)
    reached: int = 0


def is_jp2(head: bytes) -> bool:
    """The data starts with the JP2 file-format signature box, not a codestream."""
    return head.startswith(JP2_SIGNATURE[:6])


def is_jxl(head: bytes) -> bool:
    """The data starts with a JPEG XL codestream or container signature."""
    return head.startswith(JXL_CODESTREAM) or head.startswith(JXL_CONTAINER[:8])


def parse_j2k(read: Read, start: int, end: int) -> J2kHeader | None:
    """The main header of a codestream whose first fragment's value is [start, end).

    None when the data does not start with SOC.
    """
    read = _Window(read, end)
    if read(start, 2) != SOC:
        return None
    position = start + 2
    fields: dict[str, object] = {}
    for _ in range(MAX_SEGMENTS):
        head = read(position, 4)
        if len(head) < 4 or head[0] != 0xFF:
            break
        marker = head[1]
        if marker == J2K_SOT:
            fields["complete"] = True
            break
        (length,) = struct.unpack(">H", head[2:4])
        if length < 2 or not _j2k_segment(read, position, marker, length, fields):
            break
        position += 2 + length
    return J2kHeader(**fields, reached=read.reached)  # type: ignore[arg-type]


def _j2k_segment(
    read: Read, position: int, marker: int, length: int, fields: dict[str, object]
) -> bool:
    """Note what the segment at `position` says; False when parsing stops there."""
    body = position + 4
    if marker == J2K_SIZ:
        fields["siz_offset"] = position
        siz = _siz(read(body, 39), length)
        if not siz:
            return False
        fields.update(siz)
    elif marker == J2K_COD:
        cod = read(body, 10)
        fields["cod_offset"] = position
        if len(cod) >= 10:
            fields.update(progression=cod[1], mct=cod[4], levels=cod[5])
            fields["reversible"] = cod[9] == 1
    elif marker == J2K_QCD:
        qcd = read(body, 1)
        fields["qcd_offset"] = position
        if qcd:
            fields["quantization"] = qcd[0] & 0x1F
    elif marker == J2K_CAP:
        fields["has_cap"] = True
    elif marker == J2K_TLM:
        fields["has_tlm"] = True
    return True


def _siz(siz: bytes, length: int) -> dict[str, object]:
    """The fields of a SIZ segment; empty when it is cut short or its length is not
    Lsiz = 38 + 3 Csiz (bytes that merely look like a SIZ marker: stop there)."""
    if len(siz) < 39:
        return {}
    _rsiz, xsiz, ysiz, xosiz, yosiz = struct.unpack(">HIIII", siz[:18])
    (components,) = struct.unpack(">H", siz[34:36])
    if length != 38 + 3 * components:
        return {}
    ssiz = siz[36]
    return {
        "rows": ysiz - yosiz,
        "columns": xsiz - xosiz,
        "components": components,
        "precision": (ssiz & 0x7F) + 1,
        "signed": bool(ssiz & 0x80),
    }


RLE_HEADER_SIZE = 64  # 16 little-endian 32-bit words
RLE_MAX_SEGMENTS = 15


class RleHeader(NamedTuple):
    """The 64-byte RLE header (PS3.5 G.5): segment count and the 15 offsets."""

    segments: int
    offsets: tuple[int, ...]  # all 15, unused ones included


def parse_rle(head: bytes) -> RleHeader | None:
    """None when fewer than 64 bytes are given."""
    if len(head) < RLE_HEADER_SIZE:
        return None
    values = struct.unpack("<16I", head[:RLE_HEADER_SIZE])
    return RleHeader(values[0], values[1:])


class RleDefect(NamedTuple):
    """One thing wrong with an RLE header: its kind, the 32-bit field, and what it says."""

    kind: str  # "segment-count", "first-offset", "past-end", "not-increasing", "odd", "unused"
    field: int  # index of the 32-bit header field: 0 the segment count, 1..15 the offsets
    message: str


def rle_defects(header: RleHeader, frame_length: int) -> list[RleDefect]:
    """The first defect of each kind in an RLE header, in field order (PS3.5 G.4, G.5).

    `frame_length` is the size of the frame's data the offsets point into. A segment
    count outside 1..15 makes the offsets meaningless, so nothing else is checked then.
    """
    count = header.segments
    if not 1 <= count <= RLE_MAX_SEGMENTS:
        return [RleDefect("segment-count", 0, f"segment count is {count}, not 1 to 15")]
    found: dict[str, RleDefect] = {}
    used = header.offsets[:count]
    for index, value in enumerate(used, start=1):
        previous = used[index - 2] if index > 1 else None
        defect = _rle_offset_defect(index, value, previous, frame_length)
        if defect is not None:
            found.setdefault(defect.kind, defect)
    for index, value in enumerate(header.offsets[count:], start=count + 1):
        if value:
            found.setdefault(
                "unused", RleDefect("unused", index, f"unused offset {index} is {value}, not 0")
            )
    return sorted(found.values(), key=lambda defect: defect.field)


def _rle_offset_defect(
    field: int, value: int, previous: int | None, frame_length: int
) -> RleDefect | None:
    """What is wrong with the offset of segment `field`, the most telling kind only."""
    if previous is None and value != RLE_HEADER_SIZE:
        return RleDefect("first-offset", field, f"segment 1 offset is {value}, not 64")
    if value >= frame_length:
        return RleDefect(
            "past-end",
            field,
            f"segment {field} offset {value} is at or past the end of the {frame_length}-byte "
            "frame",
        )
    if previous is not None and value <= previous:
        return RleDefect(
            "not-increasing",
            field,
            f"segment {field} offset {value} is not greater than segment {field - 1}'s "
            f"({previous})",
        )
    if value % 2:
        return RleDefect("odd", field, f"segment {field} offset {value} is odd")
    return None


def deflate_wrapper(head: bytes) -> str | None:
    """'zlib' or 'gzip' when a Deflated Image Frame starts with that wrapper, else None.

    A raw deflate stream has no signature; zlib streams start with CMF/FLG bytes whose
    16-bit value is a multiple of 31 with method 8, gzip streams with 1F 8B.
    """
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    zlib_header = len(head) >= 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7
    if zlib_header and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"
    return None


INFLATE_LIMIT = 1 << 16  # inflated bytes per step: the output is discarded


class DeflateEnd(NamedTuple):
    """Where a raw deflate stream ends, or why it has no end."""

    end: int | None  # absolute offset just past the stream's last byte
    error: str | None = None  # zlib's complaint, or that the data ran out first


def deflate_stream_end(chunks: Iterable[tuple[int, bytes]]) -> DeflateEnd:
    """Inflate consecutive (absolute offset, bytes) chunks as raw deflate (RFC 1951).

    The inflated bytes are thrown away as they come, so memory stays one chunk plus
    INFLATE_LIMIT however large the stream.
    """
    inflater = zlib.decompressobj(-15)
    for offset, chunk in chunks:
        data = chunk
        try:
            while True:
                produced = inflater.decompress(data, INFLATE_LIMIT)
                if inflater.eof:
                    return DeflateEnd(offset + len(chunk) - len(inflater.unused_data))
                data = inflater.unconsumed_tail
                if not data and len(produced) < INFLATE_LIMIT:
                    break  # this chunk is used up: feed the next one
        except zlib.error as exc:
            return DeflateEnd(None, str(exc))
    return DeflateEnd(None, "the data ends before the deflate stream does")


# SOF markers of the lossless JPEG processes (14, 15 and their hierarchical / arithmetic
# variants): every other SOFn is a DCT process, which is lossy.
LOSSLESS_SOF = frozenset({0xC3, 0xC7, 0xCB, 0xCF})


def jpeg_is_lossy(header: JpegHeader) -> bool | None:
    """Whether the JPEG / JPEG-LS process is lossy; None when the header does not say."""
    if header.sof is None:
        return None
    if header.sof == SOF55:
        return None if header.near is None else header.near > 0
    return header.sof not in LOSSLESS_SOF


def j2k_is_lossy(header: J2kHeader) -> bool | None:
    """Whether the codestream is lossy: the 9-7 irreversible wavelet, or quantization.

    A reversible codestream without quantization can still have been truncated to a
    lower rate; that cannot be seen in the header, so it counts as lossless here.
    """
    if header.reversible is None and header.quantization is None:
        return None
    return header.reversible is False or bool(header.quantization)

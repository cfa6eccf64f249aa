"""Per-frame facts: all that a per-frame rule may know of a frame, and frames grouped by
them.

A per-frame rule (declared per_frame=True) judges a frame by its facts alone: how the
frame starts (`Start`), how it ends (`End`), what its codestream header says
(codestream.py) and how many fragments it has. Its context serves nothing else (it
refuses raw reads: context.py). So frames whose facts are equal, positions aside, get
equal verdicts: the engine runs such a rule on one representative of each group, and on
every member of a group only when its representative has a finding. A whole-slide image
of 200,000 tiles that differ in their tables, comments, lengths and entropy-coded data
but agree in what the rules check costs one evaluation per distinct fact record, not one
per frame; the findings still name every frame and byte they concern.

`frame_facts` computes one frame's facts (the rules' view, positions included) and
`group_frames` groups all frames of an element by `facts_key`: in the compiled core
(core.py, _core.c) when it is there, else here, frame by frame. Both give the same facts
and the same groups (tests/test_core.py compares them on every fuzz mutant).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing's
# NamedTuple compiles each string annotation, some 8 us a field at every start-up.
import enum
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from dcmencaps_lint import core
from dcmencaps_lint.codestream import (
    END_OF_IMAGE,
    FILL_LIMIT,
    SOC,
    SOC_SIZ,
    START_OF_IMAGE,
    J2kHeader,
    JpegHeader,
    is_jp2,
    is_jxl,
    parse_j2k,
    parse_jpeg,
)
from dcmencaps_lint.model import (
    Frame,
    Item,
    Items,
    NumberedFrames,
    SingleFragmentFrames,
    Walk,
)
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY, MARKER_CODED, Codec

HEAD_BYTES = 16  # a frame's first bytes, to judge its start
FILL = b"\xff\xff"  # a frame that starts with fill bytes is looked at further for its SOI
FILL_HEAD = 256  # ... up to this many bytes (CSM023 counts up to 255 fill bytes)
TAIL_BYTES = 64  # a frame's last bytes: an end marker further back is "missing"
# The first read of a frame: its start and, in one read, the whole header of nearly every
# JPEG (tables included, ~600 bytes) or JPEG 2000 codestream; the parse reads on beyond.
HEADER_READ = 1024
MIN_FRAMES = 16  # below this many frames, grouping costs more than it saves


class Verdict(enum.Enum):
    """How a frame starts, for the codec of the TS."""

    OK = "ok"
    WRONG_MARKER = "wrong-marker"  # a marker of the codec's family, not the start one
    JP2 = "jp2"  # a JP2 file-format signature box, under a JPEG 2000 TS
    FOREIGN = "foreign"  # another codec's signature, or no marker at all


class Start(NamedTuple):
    """How a frame starts."""

    offset: int  # absolute offset of the frame's first byte
    # OK: the fill bytes and the start signature only (what the verdict rests on);
    # otherwise the first HEAD_BYTES bytes (FILL_HEAD when they start with FILL)
    head: bytes
    verdict: Verdict
    fill: int = 0  # FF fill bytes before SOI
    other: str | None = None  # the other codec recognised (FOREIGN)


class End(NamedTuple):
    """How a frame ends: its last end marker (FF D9) and what follows it."""

    tail_offset: int  # absolute offset of `tail`
    # From the last FF D9 in the frame's last TAIL_BYTES bytes on; the last two bytes
    # when there is none (the entropy-coded bytes before it differ from frame to frame).
    tail: bytes
    end: int  # absolute offset just past the frame's last byte
    marker: int | None  # absolute offset of that FF D9, None when there is none

    @property
    def trailing(self) -> int:
        """Bytes after the end marker."""
        return 0 if self.marker is None else self.end - self.marker - 2


Header = JpegHeader | J2kHeader


class FrameFacts(NamedTuple):
    start: Start | None  # None: the frame has fewer than 2 bytes
    # None: the frame is not this codec's codestream (its start is neither OK nor a
    # wrong marker), or its last fragment is cut short or has fewer than 2 bytes
    end: End | None
    header: Header | None  # JPEG family: JpegHeader; JPEG 2000 family: J2kHeader
    fragments: int  # fragments of the frame, less one


# How the compiled core numbers verdicts and other codecs (_core.c: judge, other_codec)
VERDICTS = (None, Verdict.OK, Verdict.WRONG_MARKER, Verdict.JP2, Verdict.FOREIGN)
OTHER_CODECS = (
    None,
    "a JPEG or JPEG-LS codestream (SOI)",
    "a JPEG 2000 codestream (SOC)",
    "a JP2 file (signature box)",
    "a JPEG XL codestream",
)


def other_codec(head: bytes) -> str | None:
    """What codestream the bytes start with, whatever the TS says; None if none known."""
    if head[:1] == b"\xff" and head.lstrip(b"\xff")[:1] == START_OF_IMAGE[1:]:
        return OTHER_CODECS[1]
    if head.startswith(SOC):
        return OTHER_CODECS[2]
    if is_jp2(head):
        return OTHER_CODECS[3]
    if is_jxl(head):
        return OTHER_CODECS[4]
    return None


def judge(codec: Codec, offset: int, head: bytes) -> Start:
    """How a frame whose first bytes are `head` starts, for `codec`."""
    if codec in JPEG_FAMILY:
        fill = len(head) - len(head.lstrip(b"\xff"))
        if fill and head[fill : fill + 1] == START_OF_IMAGE[1:]:
            return Start(offset, head[: fill + 1], Verdict.OK, fill=fill - 1)
        marker = fill > 0 and head[fill : fill + 1] != b"\x00"  # FF 00 is data, not a marker
        if marker and other_codec(head) is None:
            return Start(offset, head, Verdict.WRONG_MARKER)
    elif codec in J2K_FAMILY:
        if head.startswith(SOC_SIZ):
            return Start(offset, SOC_SIZ, Verdict.OK)
        if is_jp2(head):
            return Start(offset, head, Verdict.JP2)
        marker = head[:1] == b"\xff" and head[1:2] not in (b"", b"\x00")
        if head.startswith(SOC) or (marker and other_codec(head) is None):
            return Start(offset, head, Verdict.WRONG_MARKER)
    elif codec is Codec.JPEG_XL:
        if is_jxl(head):
            return Start(offset, head[: 2 if head[:2] == b"\xff\x0a" else 12], Verdict.OK)
    elif codec is Codec.RLE and other_codec(head) is None:  # an RLE header has no signature
        return Start(offset, b"", Verdict.OK)
    return Start(offset, head, Verdict.FOREIGN, other=other_codec(head))


class _Prefetched:
    """`read` for a header parse, served from the frame's first bytes where it can be."""

    __slots__ = ("_data", "_read", "_start")

    def __init__(self, reader: ByteReader, start: int, data: bytes) -> None:
        self._read, self._start, self._data = reader.read, start, data

    def __call__(self, offset: int, count: int) -> bytes:
        at = offset - self._start
        if at >= 0 and at + count <= len(self._data):
            return self._data[at : at + count]
        return self._read(offset, count)


def frame_facts(
    reader: ByteReader,
    fragments: Sequence[Item],
    codec: Codec,
    frame: Frame,
    data: bytes | None = None,
) -> FrameFacts:
    """The facts of one frame: one read of its first bytes (`data`, when the caller has
    read them: `_first_bytes`), one of its last; by the compiled core where it can."""
    first = fragments[frame.first_fragment - 1]
    offset = first.value_offset
    family = core.family(codec)
    if family and data is None:
        last = fragments[frame.last_fragment - 1]
        compiled = core.frame_facts(reader, family, first, last)
        if compiled is not None:
            return _from_core(family, frame, *compiled)
    if data is None:
        data = _first_bytes(reader, first)
    header: Header | None = None
    if codec in JPEG_FAMILY:
        header = parse_jpeg(_Prefetched(reader, offset, data), offset, first.end)
    elif codec in J2K_FAMILY:
        header = parse_j2k(_Prefetched(reader, offset, data), offset, first.end)
    if first.available < 2:
        return FrameFacts(None, None, header, frame.last_fragment - frame.first_fragment)
    head = data[:HEAD_BYTES]
    if head.startswith(FILL):  # fill bytes: look far enough for the SOI
        head = data[:FILL_HEAD]
    start = judge(codec, offset, head)
    end = None
    last = fragments[frame.last_fragment - 1]
    if start.verdict in (Verdict.OK, Verdict.WRONG_MARKER) and not last.truncated:
        end = _end(reader, last)
    return FrameFacts(start, end, header, frame.last_fragment - frame.first_fragment)


def _from_core(
    family: int,
    frame: Frame,
    start: tuple[object, ...] | None,
    end: tuple[object, ...] | None,
    header: tuple[object, ...] | None,
) -> FrameFacts:
    """The compiled core's fields of a frame's facts, as the types the rules see."""
    made: Header | None = None
    if header is not None:
        made = JpegHeader(*header) if family == core.JPEG else J2kHeader(*header)  # type: ignore[arg-type]
    return FrameFacts(
        None if start is None else _start_from(*start),  # type: ignore[arg-type]
        None if end is None else End(*end),  # type: ignore[arg-type]
        made,
        frame.last_fragment - frame.first_fragment,
    )


def _start_from(offset: int, head: bytes, verdict: int, fill: int, other: int) -> Start:
    return Start(offset, head, VERDICTS[verdict], fill, OTHER_CODECS[other])  # type: ignore[arg-type]


def _first_bytes(reader: ByteReader, first: Item) -> bytes:
    return reader.read(first.value_offset, min(HEADER_READ, first.available))


def _end(reader: ByteReader, last: Item) -> End | None:
    if last.available < 2:
        return None
    tail_offset = max(last.value_offset, last.end - TAIL_BYTES)
    tail = reader.read(tail_offset, last.end - tail_offset)
    index = tail.rfind(END_OF_IMAGE)
    if index < 0:
        return End(last.end - 2, tail[-2:], last.end, None)
    return End(tail_offset + index, tail[index:], last.end, tail_offset + index)


def facts_key(facts: FrameFacts) -> tuple[object, ...]:
    """What the per-frame rules can see of a frame, positions aside: frames with equal
    keys get equal verdicts. (The compiled core computes the same partition.)"""
    start, end, header, fragments = facts
    return (
        fragments,
        None if start is None else start[1:],
        None if end is None else (end.tail, end.marker is None),
        _header_key(header),
    )


def _header_key(header: Header | None) -> tuple[object, ...] | None:
    """The header's fields, each offset reduced to whether the segment was found."""
    if isinstance(header, JpegHeader):
        return (
            header.fill_bytes,
            header.sof,
            header.sof_offset is not None,
            header.precision,
            header.rows,
            header.columns,
            header.components,
            header.has_dqt,
            header.has_dht,
            header.near,
            header.predictor,
            header.sos_offset is not None,
            header.complete,
        )
    if isinstance(header, J2kHeader):
        return (
            header.siz_offset is not None,
            header.rows,
            header.columns,
            header.components,
            header.precision,
            header.signed,
            header.cod_offset is not None,
            header.progression,
            header.mct,
            header.levels,
            header.reversible,
            header.qcd_offset is not None,
            header.quantization,
            header.has_cap,
            header.has_tlm,
            header.complete,
        )
    return None


# --- grouping ---------------------------------------------------------------------------


class FrameGroup(NamedTuple):
    representative: Frame  # the lowest-numbered member
    members: Sequence[Frame]


class _Members(NumberedFrames):
    """The frames of a group, by number, made from the frame map only when the group's
    representative has a finding (a group may hold hundreds of thousands)."""

    __slots__ = ("_frames",)

    def __init__(self, frames: Sequence[Frame], numbers: Sequence[int]) -> None:
        super().__init__(numbers)
        self._frames = frames  # frame n is frames[n - 1]

    def frame(self, number: int) -> Frame:
        return self._frames[number - 1]


def group_frames(
    reader: ByteReader, walk: Walk, codec: Codec, frames: Sequence[Frame]
) -> list[FrameGroup] | None:
    """Frames grouped by their facts, or None when grouping does not apply: a codec
    whose frames are not marker-coded, or too few frames to be worth it."""
    if codec not in MARKER_CODED or len(frames) < MIN_FRAMES:
        return None
    fragments = walk.fragments
    numbers: list[Sequence[int]] | None = _core_groups(reader, walk, codec, frames)
    if numbers is None:
        by_key: dict[tuple[object, ...], list[int]] = {}
        for frame, key in zip(frames, _keys(reader, fragments, codec, frames), strict=True):
            by_key.setdefault(key, []).append(frame.number)
        numbers = list(by_key.values())
    return [FrameGroup(frames[group[0] - 1], _Members(frames, group)) for group in numbers]


def _core_groups(
    reader: ByteReader, walk: Walk, codec: Codec, frames: Sequence[Frame]
) -> list[Sequence[int]] | None:
    """The groups' frame numbers from the compiled core: from the facts it noted while
    it walked the items, else read from the file; None without the core."""
    fragments = walk.fragments
    if not (core.enabled() and isinstance(fragments, Items)):
        return None
    if isinstance(frames, SingleFragmentFrames) and len(frames) == len(fragments):
        firsts = lasts = None  # frame n is fragment n
    else:
        firsts = [frame.first_fragment for frame in frames]
        lasts = [frame.last_fragment for frame in frames]
    family = core.family(codec)
    facts = walk.item_facts
    if facts is not None and facts.family == family:
        base = 0 if walk.bot is None else 1  # the facts' first item is the BOT
        return core.groups_of(facts, base, firsts, lasts, len(frames))
    columns = fragments.offsets, fragments.lengths, fragments.availables
    return core.frame_groups(reader, family, *columns, firsts, lasts)


def _keys(
    reader: ByteReader, fragments: Sequence[Item], codec: Codec, frames: Sequence[Frame]
) -> Iterator[tuple[object, ...]]:
    """`facts_key` of each frame, in Python.

    A frame whose first bytes, as far as its header parse and start judgement looked,
    are those of the frame before shares that frame's start and header facts unparsed:
    whole-slide images written by one encoder cost a comparison per frame, not a parse.
    """
    previous = b""  # the leading bytes the previous frame's facts rest on; b"": none
    previous_key: tuple[object, ...] = ()
    for frame in frames:
        first = fragments[frame.first_fragment - 1]
        data = _first_bytes(reader, first)
        if previous and first.available > len(previous) and data.startswith(previous):
            start = previous_key[1]
            assert isinstance(start, tuple)  # a frame with leading bytes has a start
            last = fragments[frame.last_fragment - 1]
            end = None
            if start[1] in (Verdict.OK, Verdict.WRONG_MARKER) and not last.truncated:
                end = _end(reader, last)
            yield (
                frame.last_fragment - frame.first_fragment,
                start,
                None if end is None else (end.tail, end.marker is None),
                previous_key[3],
            )
            continue
        facts = frame_facts(reader, fragments, codec, frame, data)
        previous, previous_key = _leading(first, facts, data), facts_key(facts)
        yield previous_key


def _leading(first: Item, facts: FrameFacts, data: bytes) -> bytes:
    """The leading bytes a frame's start and header facts rest on; b"" when they reach
    the end of its first fragment or of `data` (nothing to compare the next frame by)."""
    start, header = facts.start, facts.header
    # a header parse that found no SOI / SOC looked at FILL_LIMIT + 2 bytes at most
    reached = header.reached - first.value_offset if header is not None else FILL_LIMIT + 2
    looked = max(reached, HEAD_BYTES)
    if start is not None and start.head.startswith(FILL):  # judged on FILL_HEAD bytes
        looked = max(looked, FILL_HEAD)
    if start is None or looked >= first.available or looked > len(data):
        return b""
    return data[:looked]

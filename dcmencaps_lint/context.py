"""What a rule sees of one file or one Pixel Data element, by what the rule needs.

A rule declares what it needs (`Needs`), and the engine hands it a context of the
matching class, whose attributes are never None where the need says they exist:

| needs          | context               | also guaranteed                              |
|----------------|-----------------------|----------------------------------------------|
| `DATASET`      | `Context`             | the data set (the rule runs once per file)   |
| `PIXEL`        | `PixelContext`        | a Pixel Data element, `pixel`                |
| `ITEMS`        | `ItemsContext`        | its item walk, `walk`                        |
| `ENCAPSULATED` | `EncapsulatedContext` | a known transfer syntax `ts`, the frame map  |

Rules never open files. A rule that needs bytes asks the context for a frame's head or
tail, and the context reads just those bytes. A per-frame rule sees a frame through its
facts only (`frame_facts`, and the headers among them: facts.py); its context refuses
raw reads, so frames with equal facts can share its verdict. Payloads are read only for
deep rules, when deep reads are on.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar, NamedTuple, TypeVar

from dcmencaps_lint import core
from dcmencaps_lint.codestream import J2kHeader, JpegHeader, j2k_is_lossy, jpeg_is_lossy
from dcmencaps_lint.dataset import Element, ParsedDataset, parse_number_of_frames, parse_u64_list
from dcmencaps_lint.facts import FrameFacts, frame_facts
from dcmencaps_lint.model import UNDEFINED_LENGTH, Frame, FrameMap, Item, StopReason, Walk
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY, TransferSyntax

PAYLOAD_CHUNK = 1 << 20  # deep rules read payloads a mebibyte at a time
# The largest frame the decode rules read whole (memory stays one frame); larger frames
# are left unchecked by them (a hostile item length costs nothing).
FRAME_LIMIT = 256 << 20


class FrameData(NamedTuple):
    """A frame's bytes, its fragments' values joined, and where each piece lies in the
    file: `offset_of` maps a position in `data` to an absolute offset."""

    data: bytes
    pieces: tuple[tuple[int, int], ...]  # (position in data, absolute offset), in order

    def offset_of(self, position: int) -> int:
        start, offset = self.pieces[0]
        for piece_start, piece_offset in self.pieces:
            if piece_start > position:
                break
            start, offset = piece_start, piece_offset
        return offset + position - start


PIXEL_DATA = "(7FE0,0010)"

C = TypeVar("C", bound="Context")
# A Context's attributes, in the order of its __init__'s parameters
_FIELDS = (
    "reader",
    "dataset",
    "ts",
    "pixel",
    "walk",
    "frame_map",
    "element",
    "deep",
    "facts_only",
    "_memo",
)
K = TypeVar("K")
T = TypeVar("T")


class Needs(enum.IntEnum):
    """What a rule needs before it can run, from least to most."""

    ENGINE = 0  # emitted by the engine itself (PRS): no check function
    DATASET = 1  # the parsed data set: runs once per file
    PIXEL = 2  # a Pixel Data element's header: runs for each, nested ones too
    ITEMS = 3  # an item walk, whatever the transfer syntax
    ENCAPSULATED = 4  # an item walk under a known encapsulated TS, and its frame map


class Shape(enum.Flag):
    """What a Pixel Data element has that some rules need before they have anything to
    check (a rule's `when=`): the engine runs such a rule only where it is there."""

    NONE = 0
    EOT = enum.auto()  # its data set has an Extended Offset Table or its Lengths
    BOT_VALUES = enum.auto()  # its Basic Offset Table item has a value (length > 0)
    FRAMES = enum.auto()  # Number of Frames says more than one frame
    # Its items are not the regular run: a BOT item, then fragments of even, non-zero,
    # defined length, then a Sequence Delimitation Item of length 0, nothing skipped.
    # What the ITM rules report; the engine calls none of them on a regular run.
    IRREGULAR_ITEMS = enum.auto()


class ContractError(Exception):
    """A rule asked the context for bytes its declaration does not allow it."""


class Context:
    """The data set, and what is known of one Pixel Data element (see the module doc).

    Read-only, like the rest of what rules see. A plain class rather than a dataclass:
    the engine makes several per Pixel Data element, and a frozen dataclass costs a
    millisecond of every start-up to build and microseconds per copy (replace())."""

    __slots__ = _FIELDS
    reader: ByteReader
    dataset: ParsedDataset
    ts: TransferSyntax | None
    pixel: Element | None
    walk: Walk | None
    frame_map: FrameMap | None
    element: str  # the Pixel Data element's path, for nested ones
    deep: bool  # deep reads are on: this rule may read whole payloads
    facts_only: bool  # a per-frame rule: frames through their facts only
    _memo: dict[tuple[object, object], object]  # `memo`'s results, shared by every copy

    def __init__(
        self,
        reader: ByteReader,
        dataset: ParsedDataset,
        ts: TransferSyntax | None,
        pixel: Element | None = None,
        walk: Walk | None = None,
        frame_map: FrameMap | None = None,
        element: str = PIXEL_DATA,
        deep: bool = False,
        facts_only: bool = False,
        _memo: dict[tuple[object, object], object] | None = None,
    ) -> None:
        # One call per attribute, no loop: the engine makes a few contexts per file.
        set_ = object.__setattr__
        set_(self, "reader", reader)
        set_(self, "dataset", dataset)
        set_(self, "ts", ts)
        set_(self, "pixel", pixel)
        set_(self, "walk", walk)
        set_(self, "frame_map", frame_map)
        set_(self, "element", element)
        set_(self, "deep", deep)
        set_(self, "facts_only", facts_only)
        set_(self, "_memo", {} if _memo is None else _memo)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a rule's context is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a rule's context is read-only: cannot delete {name!r}")

    def _copy(self: C, **changes: object) -> C:
        """This context with some attributes changed (the memo stays shared)."""
        copy = object.__new__(type(self))
        for name in _FIELDS:
            object.__setattr__(
                copy, name, changes[name] if name in changes else getattr(self, name)
            )
        return copy

    LEVEL: ClassVar[Needs] = Needs.DATASET

    def memo(self: C, compute: Callable[[C, K], T], key: K) -> T:
        """`compute(self, key)`, computed once per Pixel Data element and kept.

        For what several rules (or one rule on every frame) would otherwise work out
        again: a parsed header, a frame's start, a payload scan. `compute` must be a
        function of the context and the key alone (module-level, so that it names itself).
        Per-frame rules share the results, so what a per-frame rule memoizes must be
        worked out from the frames' facts alone (`frame_facts`).
        """
        results = self._memo
        try:
            return results[compute, key]  # type: ignore[return-value]
        except KeyError:
            value = results[compute, key] = compute(self, key)
            return value

    def with_frames(self: C, frames: Sequence[Frame]) -> C:
        """This context for a per-frame rule: only `frames`, and only their facts."""
        frame_map = self.frame_map
        assert frame_map is not None
        if frames is not frame_map.frames:
            frame_map = frame_map._replace(frames=frames)
        return self._copy(frame_map=frame_map, facts_only=True)

    def with_deep_reads(self: C) -> C:
        """This context for a deep rule that may read whole payloads now."""
        return self if self.deep else self._copy(deep=True)

    @property
    def syntax(self) -> TransferSyntax:
        """The transfer syntax, for a rule declared with codecs= or syntaxes= (the
        engine runs such a rule only where the transfer syntax is known)."""
        if self.ts is None:
            raise ContractError("the transfer syntax is unknown here")
        return self.ts

    @property
    def number_of_frames(self) -> int | None:
        """Number of Frames when present and valid; None when absent or invalid."""
        return parse_number_of_frames(self.dataset.number_of_frames_raw)[0]

    @property
    def expected_frames(self) -> int | None:
        """Frames the data set declares (1 when NoF is absent); None when NoF is invalid."""
        value, valid = parse_number_of_frames(self.dataset.number_of_frames_raw)
        if not valid:
            return None
        return value if value is not None else 1

    @property
    def eot_offsets(self) -> Sequence[int] | None:
        """The Extended Offset Table's values (parsed once: it may hold 200,000)."""
        if self.dataset.eot is None:
            return None
        return self.memo(_eot_offsets, None)

    @property
    def eot_lengths(self) -> Sequence[int] | None:
        if self.dataset.eot_lengths is None:
            return None
        return self.memo(_eot_lengths, None)

    @property
    def has_eot(self) -> bool:
        return self.dataset.eot is not None

    @property
    def shape(self) -> Shape:
        """What this element has (Shape), for the rules declared with when=."""
        dataset, bot = self.dataset, self.walk.bot if self.walk is not None else None
        shape = Shape.NONE
        if dataset.eot is not None or dataset.eot_lengths is not None:
            shape |= Shape.EOT
        if bot is not None and bot.length not in (0, UNDEFINED_LENGTH):
            shape |= Shape.BOT_VALUES
        if (self.expected_frames or 0) > 1:
            shape |= Shape.FRAMES
        if self.walk is not None and not self.memo(_regular_items, None):
            shape |= Shape.IRREGULAR_ITEMS
        return shape

    def read(self, offset: int, count: int) -> bytes:
        """Any bytes of the file; not for per-frame rules (see `frame_facts`)."""
        self._refuse_raw_reads()
        return self.reader.read(offset, count)

    def _refuse_raw_reads(self) -> None:
        if self.facts_only:
            raise ContractError("a per-frame rule sees frames through frame_facts only")

    def fragment(self, number: int) -> Item:
        """Fragment by its 1-based item number (not for per-frame rules: their frames'
        fragments are in the facts)."""
        assert self.walk is not None, "the engine gives fragments only to ITEMS rules"
        self._refuse_raw_reads()
        return self.walk.fragments[number - 1]

    def frame_head(self, frame: Frame, count: int) -> tuple[int, bytes]:
        """(absolute offset, bytes) of the first `count` bytes of a frame."""
        first = self.fragment(frame.first_fragment)
        return first.value_offset, self.reader.read(first.value_offset, min(count, first.available))

    def frame_tail(self, frame: Frame, count: int) -> tuple[int, bytes]:
        """(absolute offset, bytes) of the last `count` bytes of a frame's last fragment."""
        last = self.fragment(frame.last_fragment)
        start = max(last.value_offset, last.end - count)
        return start, self.reader.read(start, last.end - start)

    def frame_facts(self, frame: Frame) -> FrameFacts:
        """How the frame starts and ends, its codestream header, its fragment count
        (facts.py); computed once per frame. All a per-frame rule sees of a frame."""
        return self.memo(_frame_facts, frame)

    def jpeg_header(self, frame: Frame) -> JpegHeader | None:
        """The frame's JPEG / JPEG-LS header, under a JPEG-family TS; else None."""
        header = self.frame_facts(frame).header
        return header if isinstance(header, JpegHeader) else None

    def j2k_header(self, frame: Frame) -> J2kHeader | None:
        """The frame's JPEG 2000 main header, under a JPEG 2000-family TS; else None."""
        header = self.frame_facts(frame).header
        return header if isinstance(header, J2kHeader) else None

    def codestream_lossy(self, frame: Frame) -> bool | None:
        """Whether the frame's codestream header says lossy; None when unknown."""
        if self.ts is None:
            return None
        if self.ts.codec in JPEG_FAMILY:
            jpeg = self.jpeg_header(frame)
            return jpeg_is_lossy(jpeg) if jpeg else None
        if self.ts.codec in J2K_FAMILY:
            j2k = self.j2k_header(frame)
            return j2k_is_lossy(j2k) if j2k else None
        return None

    def frame_data(self, frame: Frame) -> FrameData | None:
        """A whole frame's bytes, for rules with deep reads on (the decode rules); None
        when its fragments hold more than FRAME_LIMIT bytes, or one is cut short by the
        end of the file (ITM005 says so; the frame's end is not there to check)."""
        if not self.deep or self.facts_only:
            raise ContractError("whole frames are read by deep rules, with deep reads on")
        fragments = [self.fragment(n) for n in range(frame.first_fragment, frame.last_fragment + 1)]
        if sum(f.available for f in fragments) > FRAME_LIMIT or any(f.truncated for f in fragments):
            return None
        parts, pieces, position = [], [], 0
        for f in fragments:
            value = self.reader.read(f.value_offset, f.available)
            if len(value) < f.available:
                return None
            pieces.append((position, f.value_offset))
            parts.append(value)
            position += len(value)
        return FrameData(b"".join(parts), tuple(pieces)) if pieces else None

    def payload_chunks(self, item: Item, overlap: int = 0) -> Iterator[tuple[int, bytes]]:
        """(absolute offset, bytes) chunks of a whole item value, for deep rules only.

        Consecutive chunks share `overlap` bytes, so a pattern shorter than that is
        found even when it straddles two chunks; memory stays one chunk.
        """
        if not self.deep or self.facts_only:
            raise ContractError("whole payloads are read by deep rules, with deep reads on")
        position = item.value_offset
        while position < item.end:
            chunk = self.reader.read(position, min(PAYLOAD_CHUNK, item.end - position))
            if not chunk:
                return
            yield position, chunk
            if position + len(chunk) >= item.end:
                return
            position += max(1, len(chunk) - overlap)


class PixelContext(Context):
    """A rule's view of one Pixel Data element (needs=PIXEL)."""

    __slots__ = ()

    LEVEL: ClassVar[Needs] = Needs.PIXEL
    pixel: Element


class ItemsContext(PixelContext):
    """A rule's view of one walked Pixel Data element (needs=ITEMS)."""

    __slots__ = ()

    LEVEL: ClassVar[Needs] = Needs.ITEMS
    walk: Walk

    @property
    def length_bits(self) -> int:
        """Every fragment's length field ORed together: bit 0 says whether any is odd."""
        return self.memo(_length_bits, None)


class EncapsulatedContext(ItemsContext):
    """A rule's view of walked Pixel Data under a known transfer syntax, with its frame
    map (needs=ENCAPSULATED)."""

    __slots__ = ()

    LEVEL: ClassVar[Needs] = Needs.ENCAPSULATED
    ts: TransferSyntax
    frame_map: FrameMap


def _length_bits(ctx: ItemsContext, _: None) -> int:
    return core.bits_of(ctx.walk.fragment_lengths)


def _regular_items(ctx: Context, _: None) -> bool:
    """The element's items are the regular run (see Shape.IRREGULAR_ITEMS)."""
    walk = ctx.walk
    assert walk is not None, "asked where there is a walk"
    bot, delimiter = walk.bot, walk.delimiter
    if walk.stop is not StopReason.DELIMITER or walk.skipped or walk.bot_missing:
        return False
    if bot is None or not walk.fragments or delimiter is None or delimiter.length:
        return False
    # an undefined length (FFFFFFFFH) is odd, and ends the walk anyway
    odd = (ctx.memo(_length_bits, None) | bot.length) & 1
    return not odd and core.lowest(walk.fragment_lengths) != 0


def _eot_offsets(ctx: Context, _: None) -> Sequence[int]:
    return parse_u64_list(ctx.dataset.eot_value)


def _eot_lengths(ctx: Context, _: None) -> Sequence[int]:
    return parse_u64_list(ctx.dataset.eot_lengths_value)


def _frame_facts(ctx: Context, frame: Frame) -> FrameFacts:
    assert ctx.walk is not None and ctx.ts is not None, "frames exist under a known TS"
    return frame_facts(ctx.reader, ctx.walk.fragments, ctx.ts.codec, frame)

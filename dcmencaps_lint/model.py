"""The data model every stage shares: problems, items, the walk, the frame map, reports.

Everything here is immutable, without I/O or pydicom objects, so results can be pickled
across processes and compared in tests. The records are named tuples, the reports
(FileReport, Summary, Report) included: a tuple is cheaper to build and to pickle, and a
named tuple costs 0.1 ms to define where a frozen dataclass costs 1-2 ms and the import
of `dataclasses` some 8 ms more. Only Finding is a frozen dataclass, as the Python API
promises; it lives in findings.py, imported when a run finds something.
"""

from __future__ import annotations

import enum
import functools
from array import array
from collections.abc import Iterator, MutableSequence, Sequence
from functools import cached_property
from itertools import count, repeat
from operator import itemgetter, sub
from typing import TYPE_CHECKING, NamedTuple, overload

from dcmencaps_lint.severity import Severity

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding
    from dcmencaps_lint.fixes import Edit

ITEM_TAG = 0xFFFEE000
ITEM_DELIMITER_TAG = 0xFFFEE00D
SEQUENCE_DELIMITER_TAG = 0xFFFEE0DD
UNDEFINED_LENGTH = 0xFFFFFFFF
ITEM_HEADER_SIZE = 8


def format_tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


class Problem(NamedTuple):
    """What a rule reports: the engine adds the rule's code, name, severity and reference
    to make it a Finding. `fix`, when given, is the edit that would repair it (fixes.py)."""

    message: str
    offset: int | None = None  # absolute byte offset in the file
    length: int | None = None
    frame: int | None = None  # 1-based, as DICOM numbers frames
    item: int | None = None  # 0 = BOT item, 1..n = fragments
    element: str | None = None  # None: the Pixel Data element the rule was run on
    fix: Edit | None = None


class Item(NamedTuple):
    """One item header met in the encapsulated Pixel Data sequence.

    A named tuple rather than a dataclass: a whole-slide image has hundreds of
    thousands of items, and tuples are several times cheaper to build.
    """

    offset: int  # absolute offset of the item tag
    tag: int
    length: int  # the raw 32-bit length field
    available: int  # value bytes that are really in the file (< length when truncated)

    @property
    def value_offset(self) -> int:
        return self.offset + ITEM_HEADER_SIZE

    @property
    def length_offset(self) -> int:
        return self.offset + 4

    @property
    def end(self) -> int:
        """Absolute offset just past the value bytes present in the file."""
        return self.value_offset + self.available

    @property
    def truncated(self) -> bool:
        return self.length != UNDEFINED_LENGTH and self.available < self.length


_new_item = functools.partial(tuple.__new__, Item)


# The array typecode of unsigned 32-bit numbers (item length fields): "I" wherever C's
# unsigned int has 32 bits, as on every platform CPython supports.
LENGTHS = next(code for code in "IL" if array(code).itemsize == 4)


class Items(Sequence[Item]):
    """Item headers kept as columns (offsets, lengths), an Item made when asked for.

    A whole-slide image has hundreds of thousands of fragments; building, keeping and
    freeing a tuple for each cost a fifth of linting one. Rules index and iterate this
    like a tuple of Items; the hot loops read the columns.
    """

    __slots__ = ("_availables", "lengths", "offsets")

    def __init__(
        self,
        offsets: MutableSequence[int],
        lengths: MutableSequence[int],
        availables: MutableSequence[int] | None = None,
    ) -> None:
        self.offsets = offsets
        self.lengths = lengths  # the raw length fields
        self._availables = availables  # None: every value is whole (available == length)

    @property
    def availables(self) -> MutableSequence[int]:
        """Value bytes really in the file, per item."""
        return self.lengths if self._availables is None else self._availables

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, index: int) -> Item: ...
    @overload
    def __getitem__(self, index: slice) -> Items: ...
    def __getitem__(self, index: int | slice) -> Item | Items:
        if isinstance(index, slice):
            availables = None if self._availables is None else self._availables[index]
            return Items(self.offsets[index], self.lengths[index], availables)
        return _new_item(
            (self.offsets[index], ITEM_TAG, self.lengths[index], self.availables[index])
        )

    def __iter__(self) -> Iterator[Item]:
        return map(_new_item, zip(self.offsets, repeat(ITEM_TAG), self.lengths, self.availables))

    def drop_first(self) -> Items:
        """These items but the first, the columns shifted in place: for the walker, whose
        columns no one else holds yet (no copy of 200,000 numbers, as a slice would make)."""
        del self.offsets[0], self.lengths[0]
        if self._availables is not None:
            del self._availables[0]
        return self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Items):
            return (self.offsets, self.lengths, self.availables) == (
                other.offsets,
                other.lengths,
                other.availables,
            )
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Items({list(self)!r})"


class StopReason(enum.Enum):
    """Why the item walk ended."""

    DELIMITER = "delimiter"  # a Sequence Delimitation Item: the normal end
    END_OF_DATA = "end-of-data"  # the data ended cleanly between items, no delimiter
    PARTIAL_HEADER = "partial-header"  # fewer than 8 bytes left for an item header
    UNEXPECTED_TAG = "unexpected-tag"
    UNDEFINED_LENGTH = "undefined-length"
    TRUNCATED = "truncated"  # an item's length runs past the end of the data


class ItemFacts(NamedTuple):
    """Every walked item's facts as the compiled core interned them while it walked
    (core.py), so that facts.py groups frames without a second pass over the file: for
    item i, `heads[i]` is the id of what its first bytes say should it start a frame and
    `tails[i]` the id of how it ends should it end one (native uint32 arrays), and
    `ends[head]` is 1 when a frame that starts so has an end to judge."""

    family: int  # the codec family the facts are of (core.JPEG, core.J2K)
    heads: bytes
    tails: bytes
    ends: bytes


class Walk:
    """What the tolerant item walker found in one encapsulated Pixel Data value.

    Read-only. A plain class, not a dataclass: it keeps the lookups below beside its
    fields (which never change), and a frozen dataclass of this size costs most of a
    millisecond to define at start-up and microseconds to build, once per file."""

    value_offset: int  # absolute offset of the first item tag
    data_end: int  # absolute offset where the data available to the walk ends
    bot: Item | None  # None when the first item is missing or is really a fragment
    fragments: Sequence[Item]  # Items from the walker
    delimiter: Item | None
    stop: StopReason
    stop_offset: int  # where the walk stopped: delimiter, bad tag, truncated item...
    stop_tag: int | None  # the tag met, for UNEXPECTED_TAG
    bot_missing: bool  # the first item's value is codestream data (ITM001)
    skipped: tuple[Item, ...]  # zero-length Item Delimitation Items walked past
    bot_offsets: tuple[int, ...]  # BOT entries as read (whole 4-byte words)
    # Every item's facts from the compiled core, when it walked all the items in one
    # pass; None otherwise (the Python walker, a careful step between items). Not
    # compared: two walks that found the same items are equal.
    item_facts: ItemFacts | None

    def __init__(
        self,
        value_offset: int,
        data_end: int,
        bot: Item | None,
        fragments: Sequence[Item],
        delimiter: Item | None,
        stop: StopReason,
        stop_offset: int,
        stop_tag: int | None = None,
        bot_missing: bool = False,
        skipped: tuple[Item, ...] = (),
        bot_offsets: tuple[int, ...] = (),
        item_facts: ItemFacts | None = None,
    ) -> None:
        fields = vars(self)
        fields.update(value_offset=value_offset, data_end=data_end, bot=bot)
        fields.update(fragments=fragments, delimiter=delimiter, stop=stop)
        fields.update(stop_offset=stop_offset, stop_tag=stop_tag, bot_missing=bot_missing)
        fields.update(skipped=skipped, bot_offsets=bot_offsets, item_facts=item_facts)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a walk is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a walk is read-only: cannot delete {name!r}")

    def _fields(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _WALK_FIELDS}

    def _replace(self, **changes: object) -> Walk:
        """A copy with some fields changed, as a named tuple's `_replace`."""
        return Walk(**{**self._fields(), **changes})  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Walk):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _WALK_FIELDS[:-1])

    __hash__ = None  # type: ignore[assignment]  # its fragments are a list

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={v!r}" for n, v in self._fields().items() if n != "item_facts")
        return f"Walk({fields})"

    @property
    def first_fragment_offset(self) -> int:
        """Origin of BOT and EOT offsets: the first fragment's item tag."""
        if self.fragments:
            return self.fragments[0].offset
        return self.bot.end if self.bot else self.value_offset

    @property
    def complete(self) -> bool:
        """The walk passed every item: it ended at a delimiter or cleanly at the end."""
        return self.stop in (StopReason.DELIMITER, StopReason.END_OF_DATA)

    def fragment_index(self, relative_offset: int) -> int | None:
        """1-based fragment number whose item tag sits at this BOT/EOT offset."""
        return self.fragment_starts.get(relative_offset)

    # The lookups below are computed on first use and kept beside the fields (which never
    # change): several rules ask for them, and a whole-slide image has 200,000 fragments.

    @cached_property
    def fragment_starts(self) -> dict[int, int]:
        """Fragment number by its item tag's offset from the first fragment (BOT/EOT)."""
        return dict(zip(self.relative_offsets, count(1)))

    @cached_property
    def relative_offsets(self) -> list[int]:
        """Each fragment's item tag offset from the first fragment's, as tables count."""
        # C-level passes: hundreds of thousands of fragments in a whole-slide image
        return list(map(sub, self.fragment_offsets, repeat(self.first_fragment_offset)))

    @cached_property
    def fragment_offsets(self) -> Sequence[int]:
        """Each fragment's item tag offset, in order (Items' own column: no copy)."""
        return _column(self.fragments, 0)

    @cached_property
    def fragment_lengths(self) -> Sequence[int]:
        """Each fragment's length field, in order (Items' own column: no copy)."""
        return _column(self.fragments, 2)

    @property
    def fragments_span(self) -> int:
        """Bytes from the first fragment's item tag to the end of the last fragment."""
        if not self.fragments:
            return 0
        return self.fragments[-1].end - self.fragments[0].offset


# Walk's fields, in the order of its __init__'s parameters (item_facts last: not compared)
_WALK_FIELDS = (
    "value_offset",
    "data_end",
    "bot",
    "fragments",
    "delimiter",
    "stop",
    "stop_offset",
    "stop_tag",
    "bot_missing",
    "skipped",
    "bot_offsets",
    "item_facts",
)


def _column(items: Sequence[Item], field: int) -> Sequence[int]:
    """One field of every item: Items' own column (not a copy), else item by item."""
    if isinstance(items, Items) and field in (0, 2):
        return items.offsets if field == 0 else items.lengths
    return list(map(itemgetter(field), items))


class FrameMapSource(enum.Enum):
    EOT = "eot"
    BOT = "bot"
    ONE_PER_FRAGMENT = "one-per-fragment"
    SINGLE_FRAME = "single-frame"
    MARKERS = "markers"
    NONE = "none"


class Frame(NamedTuple):
    number: int  # 1-based
    first_fragment: int  # 1-based fragment numbers, inclusive
    last_fragment: int

    @property
    def fragment_count(self) -> int:
        return self.last_fragment - self.first_fragment + 1


# A Frame from a (number, first, last) tuple, C-level: map() makes hundreds of thousands.
new_frame = functools.partial(tuple.__new__, Frame)


class NumberedFrames(Sequence[Frame]):
    """Frames by number, each Frame made when asked for (`frame(number)`) rather than
    hundreds of thousands kept. Indexing and slicing follow the numbers' own rules."""

    __slots__ = ("numbers",)

    def __init__(self, numbers: Sequence[int]) -> None:
        self.numbers = numbers

    def frame(self, number: int) -> Frame:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.numbers)

    @overload
    def __getitem__(self, index: int) -> Frame: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Frame, ...]: ...
    def __getitem__(self, index: int | slice) -> Frame | tuple[Frame, ...]:
        if isinstance(index, slice):
            return tuple(map(self.frame, self.numbers[index]))
        return self.frame(self.numbers[index])

    def __iter__(self) -> Iterator[Frame]:
        return map(self.frame, self.numbers)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class SingleFragmentFrames(NumberedFrames):
    """Frames 1..n where frame k is fragment k (a whole-slide image, usually)."""

    __slots__ = ()

    def __init__(self, count: int) -> None:
        super().__init__(range(1, count + 1))

    def frame(self, number: int) -> Frame:
        return new_frame((number, number, number))

    def __iter__(self) -> Iterator[Frame]:
        numbers = self.numbers
        return map(new_frame, zip(numbers, numbers, numbers, strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SingleFragmentFrames):
            return self.numbers == other.numbers
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"SingleFragmentFrames({len(self.numbers)})"


class FrameMap(NamedTuple):
    source: FrameMapSource
    frames: Sequence[Frame] = ()


class TransferSyntaxInfo(NamedTuple):
    uid: str
    name: str


class Excerpt(NamedTuple):
    """File bytes around a finding's offset, for reports that show them (HTML)."""

    offset: int  # the finding's offset
    start: int  # absolute offset of data[0]
    data: bytes


class Layout(NamedTuple):
    """Where the items of one encapsulated Pixel Data element lie, for a picture of it."""

    element: str  # the Pixel Data element's path, as in Finding.element
    bot: tuple[int, int] | None  # (item tag offset, value bytes in the file)
    fragments: tuple[tuple[int, int], ...]  # (item tag offset, value bytes in the file)
    frames: tuple[tuple[int, int], ...]  # (first, last) 1-based fragment numbers per frame
    delimiter: int | None  # offset of the Sequence Delimitation Item
    stop: str  # StopReason value: why the walk ended
    stop_offset: int


class Device(NamedTuple):
    """Who wrote the file: what a vendor needs to reproduce a problem."""

    manufacturer: str | None = None
    model: str | None = None
    software_versions: str | None = None


class FileReport(NamedTuple):
    """The result of linting one file."""

    path: str
    status: str  # passed | failed | skipped | error
    findings: tuple[Finding, ...] = ()
    reason: str | None = None  # why a file was skipped
    sop_instance_uid: str | None = None
    sop_class_uid: str | None = None
    transfer_syntax: TransferSyntaxInfo | None = None
    number_of_frames: int | None = None
    fragments: int | None = None
    frames_found: int | None = None
    frame_map_source: str | None = None
    content_sha256: str | None = None  # only when Options.content_hash asks (SARIF)
    # Only when Options.details asks (HTML); the identifying ones only with show_phi.
    excerpts: tuple[Excerpt, ...] = ()
    layout: Layout | None = None
    device: Device | None = None
    patient_name: str | None = None
    patient_id: str | None = None
    institution_name: str | None = None
    # With --fix: the findings of the file as it was that the written file no longer has.
    fixes: tuple[Finding, ...] = ()
    # With --diff: what --fix would change, as lines for people (engine._planned).
    planned: tuple[str, ...] = ()


class Summary(NamedTuple):
    files: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    warnings: int = 0
    infos: int = 0
    fixed: int = 0  # findings repaired (--fix)

    @classmethod
    def of(cls, reports: list[FileReport] | tuple[FileReport, ...]) -> Summary:
        findings = [f for r in reports for f in r.findings]
        return cls(
            files=len(reports),
            passed=sum(r.status == "passed" for r in reports),
            failed=sum(r.status in ("failed", "error") for r in reports),
            skipped=sum(r.status == "skipped" for r in reports),
            errors=sum(f.severity is Severity.ERROR for f in findings),
            warnings=sum(f.severity is Severity.WARNING for f in findings),
            infos=sum(f.severity is Severity.INFO for f in findings),
            fixed=sum(len(r.fixes) for r in reports),
        )


class Report(NamedTuple):
    files: tuple[FileReport, ...]
    summary: Summary = Summary()

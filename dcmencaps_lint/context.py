"""What a rule sees of one file: the parsed data set, the walk, the frame map, and reads.

Rules never open files. A rule that needs bytes asks the context for a frame's head or
tail, and the context reads just those bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dcmencaps_lint.codestream import J2kHeader, JpegHeader, parse_j2k, parse_jpeg
from dcmencaps_lint.dataset import ParsedDataset, parse_number_of_frames, parse_u64_list
from dcmencaps_lint.model import Finding, Frame, FrameMap, Item, Walk
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.registry import Rule
from dcmencaps_lint.transfer_syntax import TransferSyntax

PAYLOAD_CHUNK = 1 << 20  # deep rules read payloads a mebibyte at a time


@dataclass(frozen=True)
class Context:
    reader: ByteReader
    dataset: ParsedDataset
    ts: TransferSyntax | None
    walk: Walk | None = None
    frame_map: FrameMap | None = None
    rule: Rule | None = None
    element: str = "(7FE0,0010)"  # the Pixel Data element's path, for nested ones
    deep: bool = False  # --deep: rules may read whole payloads
    # Parsed codestream headers, shared by the rules of one Pixel Data element.
    cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    def for_rule(self, rule: Rule) -> Context:
        """This context, as seen by `rule` (its findings carry the rule's code).

        dataclasses.replace would run __init__ for every field; this runs once per rule
        per file, so the copy is made directly (same fields, cache shared).
        """
        clone = object.__new__(Context)
        clone.__dict__.update(self.__dict__)
        clone.__dict__["rule"] = rule
        return clone

    def switch_rule(self, rule: Rule) -> None:
        """Make this copy (from `for_rule`) speak for another rule. For the engine only,
        which runs each rule to its end before the next: a copy per rule per file was a
        sixth of the cost of a small file."""
        self.__dict__["rule"] = rule

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
    def eot_offsets(self) -> tuple[int, ...] | None:
        if self.dataset.eot is None:
            return None
        return self._u64_values("eot", self.dataset.eot_value)

    @property
    def eot_lengths(self) -> tuple[int, ...] | None:
        if self.dataset.eot_lengths is None:
            return None
        return self._u64_values("eot-lengths", self.dataset.eot_lengths_value)

    def _u64_values(self, key: str, value: bytes | None) -> tuple[int, ...]:
        # Parsed once per element: several rules read a table of 200,000 entries.
        if key not in self.cache:
            self.cache[key] = parse_u64_list(value)
        return self.cache[key]  # type: ignore[return-value]

    @property
    def has_eot(self) -> bool:
        return self.dataset.eot is not None

    def finding(
        self,
        message: str,
        *,
        offset: int | None = None,
        length: int | None = None,
        frame: int | None = None,
        item: int | None = None,
        element: str | None = None,
    ) -> Finding:
        assert self.rule is not None, "the engine sets the rule before calling it"
        r = self.rule
        return Finding(
            r.code,
            r.name,
            r.severity,
            message,
            offset,
            length,
            frame,
            item,
            element or self.element,
            r.reference,
        )

    def read(self, offset: int, count: int) -> bytes:
        return self.reader.read(offset, count)

    def fragment(self, number: int) -> Item:
        """Fragment by its 1-based item number."""
        assert self.walk is not None
        return self.walk.fragments[number - 1]

    def frame_head(self, frame: Frame, count: int) -> tuple[int, bytes]:
        """(absolute offset, bytes) of the first `count` bytes of a frame."""
        first = self.fragment(frame.first_fragment)
        return first.value_offset, self.read(first.value_offset, min(count, first.available))

    def jpeg_header(self, frame: Frame) -> JpegHeader | None:
        """The frame's JPEG / JPEG-LS header (parsed once per frame), or None."""
        key = ("jpeg", frame.number)
        if key not in self.cache:
            first = self.fragment(frame.first_fragment)
            self.cache[key] = parse_jpeg(self.read, first.value_offset, first.end)
        return self.cache[key]  # type: ignore[return-value]

    def j2k_header(self, frame: Frame) -> J2kHeader | None:
        """The frame's JPEG 2000 main header (parsed once per frame), or None."""
        key = ("j2k", frame.number)
        if key not in self.cache:
            first = self.fragment(frame.first_fragment)
            self.cache[key] = parse_j2k(self.read, first.value_offset, first.end)
        return self.cache[key]  # type: ignore[return-value]

    def codestream_lossy(self, frame: Frame) -> bool | None:
        """Whether the frame's codestream header says lossy; None when unknown."""
        from dcmencaps_lint.codestream import j2k_is_lossy, jpeg_is_lossy
        from dcmencaps_lint.transfer_syntax import J2K_FAMILY, JPEG_FAMILY

        if self.ts is None:
            return None
        if self.ts.codec in JPEG_FAMILY:
            jpeg = self.jpeg_header(frame)
            return jpeg_is_lossy(jpeg) if jpeg else None
        if self.ts.codec in J2K_FAMILY:
            j2k = self.j2k_header(frame)
            return j2k_is_lossy(j2k) if j2k else None
        return None

    def payload_chunks(self, item: Item, overlap: int = 0) -> Iterator[tuple[int, bytes]]:
        """(absolute offset, bytes) chunks of a whole item value, for deep rules only.

        Consecutive chunks share `overlap` bytes, so a pattern shorter than that is
        found even when it straddles two chunks; memory stays one chunk.
        """
        position = item.value_offset
        while position < item.end:
            chunk = self.read(position, min(PAYLOAD_CHUNK, item.end - position))
            if not chunk:
                return
            yield position, chunk
            if position + len(chunk) >= item.end:
                return
            position += max(1, len(chunk) - overlap)

    def frame_tail(self, frame: Frame, count: int) -> tuple[int, bytes]:
        """(absolute offset, bytes) of the last `count` bytes of a frame's last fragment."""
        last = self.fragment(frame.last_fragment)
        start = max(last.value_offset, last.end - count)
        return start, self.read(start, last.end - start)

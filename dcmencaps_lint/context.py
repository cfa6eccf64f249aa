"""What a rule sees of one file: the parsed data set, the walk, the frame map, and reads.

Rules never open files. A rule that needs bytes asks the context for a frame's head or
tail, and the context reads just those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcmencaps_lint.frames import parse_u64_list
from dcmencaps_lint.model import Finding, Frame, FrameMap, Item, Walk
from dcmencaps_lint.registry import Rule
from dcmencaps_lint.source import ByteReader, ParsedDataset
from dcmencaps_lint.transfer_syntax import TransferSyntax


def parse_number_of_frames(raw: bytes | None) -> tuple[int | None, bool]:
    """(value, valid) of Number of Frames; absent is (None, True) and means one frame."""
    if raw is None:
        return None, True
    text = raw.decode("ascii", "replace").strip(" \0")
    try:
        value = int(text)
    except ValueError:
        return None, False
    return (value, True) if value >= 1 else (None, False)


@dataclass(frozen=True)
class Context:
    reader: ByteReader
    dataset: ParsedDataset
    ts: TransferSyntax | None
    walk: Walk | None = None
    frame_map: FrameMap | None = None
    rule: Rule | None = None

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
        return parse_u64_list(self.dataset.eot_value)

    @property
    def eot_lengths(self) -> tuple[int, ...] | None:
        if self.dataset.eot_lengths is None:
            return None
        return parse_u64_list(self.dataset.eot_lengths_value)

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
        element: str = "(7FE0,0010)",
    ) -> Finding:
        assert self.rule is not None, "the engine sets the rule before calling it"
        r = self.rule
        return Finding(
            r.code, r.name, r.severity, message, offset, length, frame, item, element, r.reference
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

    def frame_tail(self, frame: Frame, count: int) -> tuple[int, bytes]:
        """(absolute offset, bytes) of the last `count` bytes of a frame's last fragment."""
        last = self.fragment(frame.last_fragment)
        start = max(last.value_offset, last.end - count)
        return start, self.read(start, last.end - start)

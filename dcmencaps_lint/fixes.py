"""Fixes: how a problem would be repaired, as an edit to the model of the Pixel Data.

Edits to DICOM encapsulation are not local: padding one fragment moves every item after
it, and with them every Basic and Extended Offset Table entry; joining two fragments
changes the fragment numbers that follow. So a rule never says which bytes to change.
It attaches to its Problem an edit of the structure the walker found ("pad fragment 3",
"rebuild the Extended Offset Table from the fragments"), and one writer applies all the
edits of a file together: it rebuilds the items and tables from the edited model, writes
a new file beside the old one, lints it again and repeats until nothing more is fixed
(sqlfluff's fix loop), and replaces the file only when its frames read back unchanged.

Each rule declares whether it offers a fix (registry.FixAvailability, as ruff's
FIX_AVAILABILITY does), and whether its fixes are unsafe. A safe edit leaves every
frame's codestream bytes as they are (at most one trailing pad byte is added); an unsafe
one changes them and is applied only with `--unsafe-fixes`.

This module is the vocabulary; the writer is `--fix`. Only the rules that offer fixes
and the fixer import it: a lint run that fixes nothing does not pay for its classes.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Edit(abc.ABC):
    """One edit of the Pixel Data's structure. Each kind says what it changes."""

    safe: ClassVar[bool] = True  # the frames' codestream bytes stay as they are

    @abc.abstractmethod
    def describe(self) -> str:
        """What the edit does, in a few words (for --diff and the report)."""


@dataclass(frozen=True)
class EmptyBot(Edit):
    def describe(self) -> str:
        return "empty the Basic Offset Table item"


@dataclass(frozen=True)
class MoveOffsetsToEot(Edit):
    """The BOT emptied, and where there is no Extended Offset Table, one written with its
    Lengths (64-bit offsets: frames past 2^32 bytes), right before Pixel Data."""

    def describe(self) -> str:
        return "empty the Basic Offset Table and write the offsets in an Extended Offset Table"


@dataclass(frozen=True)
class RebuildBot(Edit):
    def describe(self) -> str:
        return "rebuild the Basic Offset Table from the frame map"


@dataclass(frozen=True)
class RebuildEot(Edit):
    def describe(self) -> str:
        return "rebuild the Extended Offset Table and its Lengths from the fragments"


@dataclass(frozen=True)
class RemoveEot(Edit):
    def describe(self) -> str:
        return "remove the Extended Offset Table and its Lengths"


@dataclass(frozen=True)
class PadFragment(Edit):
    fragment: int  # 1-based

    def describe(self) -> str:
        return f"pad fragment {self.fragment} with one trailing 00 byte"


@dataclass(frozen=True)
class DropItem(Edit):
    offset: int  # absolute offset of an item that carries no data (an Item Delimitation)

    def describe(self) -> str:
        return f"drop the empty item at byte {self.offset}"


@dataclass(frozen=True)
class AppendDelimiter(Edit):
    def describe(self) -> str:
        return "append the Sequence Delimitation Item after the last fragment"


@dataclass(frozen=True)
class JoinFragments(Edit):
    first: int  # 1-based, inclusive
    last: int

    def describe(self) -> str:
        return f"join fragments {self.first}-{self.last} into one"


@dataclass(frozen=True)
class SplitAtCodestreams(Edit):
    """Each fragment that holds several codestreams cut where each next one starts, so
    that every fragment holds one frame (fixer.py finds where, by the start markers)."""

    def describe(self) -> str:
        return "split each fragment that holds several codestreams where the next one starts"


@dataclass(frozen=True)
class WrapInItems(Edit):
    """A defined-length Pixel Data value that is one whole codestream becomes the one
    fragment of an undefined-length value: an empty BOT item, the fragment, a Sequence
    Delimitation Item."""

    def describe(self) -> str:
        return "write Pixel Data with an undefined length, its codestream as one fragment"


@dataclass(frozen=True)
class ItemsWithUndefinedLength(Edit):
    """A defined-length Pixel Data value that is items already (a BOT item, fragments,
    perhaps a delimiter) gets the undefined length, and a delimiter when it has none."""

    def describe(self) -> str:
        return "write Pixel Data's length as undefined (FFFFFFFFH), its items as they are"


@dataclass(frozen=True)
class VrAsOb(Edit):
    offset: int  # absolute offset of the two VR bytes of an encapsulated Pixel Data element

    def describe(self) -> str:
        return f"write the VR at byte {self.offset} as OB"


@dataclass(frozen=True)
class TrimFragment(Edit):
    """Unsafe: drops bytes of a fragment (e.g. after a frame's end marker)."""

    safe: ClassVar[bool] = False
    fragment: int  # 1-based
    end: int  # absolute offset just past the last byte kept

    def describe(self) -> str:
        return f"cut fragment {self.fragment} at byte {self.end}"


@dataclass(frozen=True)
class SetLossyFlag(Edit):
    """Unsafe: no codestream byte changes, but the data set then says something new of
    the image (that it has been compressed lossily), which only a person may confirm."""

    safe: ClassVar[bool] = False
    offset: int  # absolute offset of Lossy Image Compression's value "00"

    def describe(self) -> str:
        return f'write Lossy Image Compression (0028,2110) at byte {self.offset} as "01"'


@dataclass(frozen=True)
class UnwrapJp2(Edit):
    """Unsafe: a frame that is a JP2 file (one fragment) becomes the codestream of its
    Contiguous Codestream box (jp2c); what the JP2 boxes said of colour goes with them."""

    safe: ClassVar[bool] = False
    fragment: int  # 1-based

    def describe(self) -> str:
        return f"keep only the codestream of fragment {self.fragment} (its JP2 jp2c box's)"


@dataclass(frozen=True)
class RepadRleSegments(Edit):
    """Unsafe: an RLE frame (one fragment) written again with a 00 byte after each
    odd-length segment and its header's offsets moved to match; the segments' bytes
    stay as they are, the frame's bytes do not."""

    safe: ClassVar[bool] = False
    fragment: int  # 1-based

    def describe(self) -> str:
        return f"pad the odd RLE segments of fragment {self.fragment} and move their offsets"


@dataclass(frozen=True)
class AddLossyFlag(Edit):
    """Unsafe, as SetLossyFlag: Lossy Image Compression (0028,2110) "01" added where the
    data set has none (or an empty one), in its place among the elements."""

    safe: ClassVar[bool] = False

    def describe(self) -> str:
        return 'add Lossy Image Compression (0028,2110) "01"'

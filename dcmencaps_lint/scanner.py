"""Read the data set in front of Pixel Data without pydicom, for the common case.

Importing pydicom costs about 90 ms per process and `dcmread` is the main per-file cost
on small files, yet a typical compressed file (DICM prefix, explicit VR little endian,
well-formed elements and sequences) needs little of what pydicom does. `scan_dataset`
walks such a file's element headers with struct and builds the same `ParsedDataset`
as the pydicom path in source.py, value for value and offset for offset.

pydicom stays the reference and the fallback: whenever the file is anything but the
clean common case (no DICM prefix, an implicit, big-endian, deflated or unknown transfer
syntax, an invalid VR, a VR UN pydicom might read as a sequence, a value running past
the end, tags out of order, an attribute whose value pydicom would convert...), the
scanner declines by returning None, and source.py hands the file to pydicom. Declining
is always safe; accepting a file means answering exactly as pydicom would
(tests/test_scanner.py checks it on every test file and on mutated ones).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing's
# NamedTuple compiles each string annotation, some 8 us a field at every start-up.
import re
import struct
from typing import NamedTuple

from dcmencaps_lint import core
from dcmencaps_lint.dataset import (
    EXTENDED_OFFSET_TABLE_LENGTHS_TAG,
    EXTENDED_OFFSET_TABLE_TAG,
    IDENTIFYING_TAGS,
    INT_ATTRIBUTES,
    LONG_VRS,
    LOSSY_IMAGE_COMPRESSION_TAG,
    MAX_NESTING,
    NUMBER_OF_FRAMES_TAG,
    PHOTOMETRIC_INTERPRETATION_TAG,
    PIXEL_DATA_TAG,
    Element,
    ImageAttributes,
    NestedPixelData,
    ParsedDataset,
)
from dcmencaps_lint.model import (
    ITEM_DELIMITER_TAG,
    ITEM_TAG,
    SEQUENCE_DELIMITER_TAG,
    UNDEFINED_LENGTH,
    format_tag,
)
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import DEFLATED_EXPLICIT_VR_LE, lookup

# On disk, reads run to the end of a page: the kernel reads whole pages anyway.
_PAGE = 4096
_LONGEST_HEADER = 12
_GROUP_LENGTH = 0x00020000
_TRANSFER_SYNTAX = 0x00020010
_SOP_CLASS = 0x00080016
_SOP_INSTANCE = 0x00080018
# pydicom's stop_before_pixels stops at any of these (filereader._at_pixel_data).
_STOP_TAGS = frozenset({0x7FE00008, 0x7FE00009, PIXEL_DATA_TAG})
# The valid VRs: those with a 4-byte length (dataset.LONG_VRS), the rest, and all of them
# as written (bytes) mapped to how pydicom names them (str).
_SHORT_VRS = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "PN"}
_SHORT_VRS |= {"SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"}
_VRS = {vr.encode(): vr for vr in LONG_VRS | _SHORT_VRS}
_PIXEL_VRS = frozenset({"OB", "OW"})
# Syntaxes whose data set is not plain explicit VR little endian, or may not be.
_NOT_EXPLICIT_LE = frozenset(
    {
        "1.2.840.10008.1.2",  # implicit VR
        "1.2.840.10008.1.2.2",  # big endian
        DEFLATED_EXPLICIT_VR_LE,
        "1.2.840.10008.1.2.4.95",  # JPIP Referenced Deflate
        "1.2.840.10008.1.2.4.205",  # JPIP HTJ2K Referenced Deflate
    }
)
# The attributes a data set (top level or item) is asked for.
_WANTED = frozenset(
    {
        *INT_ATTRIBUTES.values(),
        _SOP_CLASS,
        _SOP_INSTANCE,
        PHOTOMETRIC_INTERPRETATION_TAG,
        LOSSY_IMAGE_COMPRESSION_TAG,
        NUMBER_OF_FRAMES_TAG,
        EXTENDED_OFFSET_TABLE_TAG,
        EXTENDED_OFFSET_TABLE_LENGTHS_TAG,
    }
)
# A UID pydicom reads back unchanged: digits and dots, at most one byte of padding.
_PLAIN_UID = re.compile(rb"[0-9.]+[\0 ]?")
# A single-valued CS that pydicom converts to the same text: no backslash, no oddities.
_PLAIN_CS = re.compile(rb" *[A-Z0-9_][A-Z0-9_ ]*\0?")
# What `_dataset` must look at element by element: everything else is passed over.
_SLOW_GROUPS = frozenset({0x0000, 0x0010, 0xFFFE})  # group length, Patient, items
_SLOW_TAGS = _WANTED | _STOP_TAGS | IDENTIFYING_TAGS
_SLOW_VRS = frozenset({"SQ", "UN", "PN"})
# What the compiled core's twin of this walk is told (core.scan_dataset): the VRs, and
# sorted tags as native 32-bit words.
CORE_TABLES = (
    b"".join(sorted(vr.encode() for vr in LONG_VRS)),
    b"".join(sorted(vr.encode() for vr in _SHORT_VRS)),
    struct.pack(f"={len(_WANTED)}I", *sorted(_WANTED)),
    struct.pack(f"={len(IDENTIFYING_TAGS)}I", *sorted(IDENTIFYING_TAGS)),
    struct.pack(f"={len(_STOP_TAGS)}I", *sorted(_STOP_TAGS)),
    MAX_NESTING,
)
_HEADER = struct.Struct("<HH2sH")
_TAG_AND_LENGTH = struct.Struct("<HHI")
_LENGTH = struct.Struct("<I")


class _Decline(Exception):
    """Not the common case: pydicom parses this file."""


class _Raw(NamedTuple):
    """An element as pydicom keeps it before converting it: VR, length, where it is.

    Fields in the order of dataset.Element's, which is made from it.
    """

    tag: int
    vr: str
    length: int
    offset: int
    value_offset: int


class _Level:
    """What one data set (the top level or a sequence item) holds that we report."""

    __slots__ = ("end", "identifying", "nested", "pixel", "wanted")

    def __init__(self) -> None:
        self.wanted: dict[int, _Raw] = {}
        self.pixel: _Raw | None = None
        self.nested: list[NestedPixelData] = []
        self.identifying: list[tuple[int, int]] = []
        self.end = 0


def scan_dataset(reader: ByteReader) -> ParsedDataset | None:
    """The data set in front of Pixel Data, or None when pydicom should parse it."""
    try:
        # The compiled core walks the elements where it is there; where it declines
        # (or an icon's Pixel Data is nested in a sequence), the walk here decides.
        scanned = core.scan_dataset(reader, CORE_TABLES)
        if scanned is not None:
            return _Scanner(reader).scanned(*scanned)
        return _Scanner(reader).scan()
    except _Decline:
        return None


class _Scanner:
    def __init__(self, reader: ByteReader) -> None:
        self._reader = reader
        self._size = reader.size
        # A small file read whole is the buffer: every element is in it already.
        self._buffer = reader.data if reader.data is not None else b""
        self._start = 0  # file offset of self._buffer[0]

    def _at(self, offset: int, count: int) -> int:
        """Index in the buffer of the `count` bytes at `offset`, read if not yet there.

        Declines when they run past the end of the file; never reads more than the file
        holds, whatever a length field says. A file on disk is read a page at a time:
        most data sets take one read, and the rest of a page costs no I/O. A caller's
        file object is read a header or a value at a time, like pydicom reads it, so
        that nothing past the Pixel Data element's header is read here (the read budget
        of tests/test_read_budget.py).
        """
        index = offset - self._start
        if index >= 0 and index + count <= len(self._buffer):
            return index
        if offset + count > self._size:
            raise _Decline
        end = offset + max(count, _LONGEST_HEADER)
        if self._reader.on_disk:
            end = -(-end // _PAGE) * _PAGE
        self._buffer = self._reader.read(offset, end - offset)
        self._start = offset
        if len(self._buffer) < count:
            raise _Decline
        return 0

    def _bytes(self, raw: _Raw) -> bytes:
        """The value of an element the walk has checked lies within the file."""
        index = raw.value_offset - self._start
        if index >= 0 and index + raw.length <= len(self._buffer):
            return self._buffer[index : index + raw.length]
        # A large value (an Extended Offset Table) is read on its own, not buffered.
        value = self._reader.read(raw.value_offset, raw.length)
        if len(value) < raw.length:
            raise _Decline
        return value

    def _element(self, offset: int) -> _Raw:
        """The element header at `offset`; items and delimiters have no VR ("")."""
        index = self._at(offset, 8)
        group, element, written, length = _HEADER.unpack_from(self._buffer, index)
        tag = group << 16 | element
        if group == 0xFFFE:
            (length,) = _LENGTH.unpack_from(self._buffer, index + 4)
            return _Raw(tag, "", length, offset, offset + 8)
        vr = _VRS.get(written)
        if vr is None:
            # Implicit VR under an explicit syntax, or garbage: pydicom guesses, we don't.
            raise _Decline
        if vr in LONG_VRS:
            index = self._at(offset, 12)
            (length,) = _LENGTH.unpack_from(self._buffer, index + 8)
            return _Raw(tag, vr, length, offset, offset + 12)
        return _Raw(tag, vr, length, offset, offset + 8)

    def scan(self) -> ParsedDataset:
        self._at(0, 132)
        if self._buffer[128:132] != b"DICM":
            raise _Decline
        syntax, start = self._file_meta()
        return self._parsed(syntax, self._dataset(start, None, 0, ""))

    def scanned(
        self,
        syntax: core.ScannedRaw,
        start: int,
        pixel: core.ScannedRaw,
        wanted: list[core.ScannedRaw],
        identifying: list[tuple[int, int]],
    ) -> ParsedDataset:
        """What the compiled core's walk found, as `scan` would answer."""
        top = _Level()
        top.pixel = _raw_of(pixel)
        top.wanted = {raw[0]: _raw_of(raw) for raw in wanted}
        top.identifying = identifying
        return self._parsed(_raw_of(syntax), top)

    def _parsed(self, syntax: _Raw, top: _Level) -> ParsedDataset:
        """The record of a data set whose walk is done."""
        uid = self._syntax_uid(syntax)
        uid_offset = syntax.value_offset
        assert top.pixel is not None  # the top level ends only at Pixel Data
        wanted = top.wanted
        nof = wanted.get(NUMBER_OF_FRAMES_TAG)
        return ParsedDataset(
            transfer_syntax_uid=uid,
            implicit_vr=False,
            sop_class_uid=self._uid(wanted.get(_SOP_CLASS)),
            sop_instance_uid=self._uid(wanted.get(_SOP_INSTANCE)),
            number_of_frames_raw=None if nof is None else self._raw(nof, "IS") or b"",
            number_of_frames=_header(nof),
            pixel_data=_header(top.pixel),
            eot=_header(wanted.get(EXTENDED_OFFSET_TABLE_TAG)),
            eot_lengths=_header(wanted.get(EXTENDED_OFFSET_TABLE_LENGTHS_TAG)),
            eot_value=self._raw(wanted.get(EXTENDED_OFFSET_TABLE_TAG), "OV"),
            eot_lengths_value=self._raw(wanted.get(EXTENDED_OFFSET_TABLE_LENGTHS_TAG), "OV"),
            dicm_prefix=True,
            image=self._image(wanted),
            nested=tuple(top.nested),
            transfer_syntax_offset=uid_offset,
            identifying=tuple(top.identifying),
        )

    def _file_meta(self) -> tuple[_Raw, int]:
        """(The Transfer Syntax UID element, where the data set starts).

        pydicom reads group 0002 as explicit VR little endian up to the first element
        of another group; a group length that disagrees with that is declined.
        """
        offset, previous, group_end = 132, -1, None
        syntax: _Raw | None = None
        while True:
            index = self._at(offset, 8)
            if self._buffer[index : index + 2] != b"\x02\x00":
                break  # the first element of the data set
            raw = self._element(offset)
            if raw.tag <= previous or raw.vr in ("", "SQ", "UN"):
                raise _Decline
            if raw.length == UNDEFINED_LENGTH or raw.value_offset + raw.length > self._size:
                raise _Decline
            if raw.tag == _GROUP_LENGTH:
                if raw.vr != "UL" or raw.length != 4 or offset != 132:
                    raise _Decline
                (length,) = _LENGTH.unpack_from(self._bytes(raw))
                group_end = raw.value_offset + 4 + length
            if raw.tag == _TRANSFER_SYNTAX:
                syntax = raw
            previous, offset = raw.tag, raw.value_offset + raw.length
        if syntax is None or syntax.vr != "UI" or group_end not in (None, offset):
            raise _Decline
        return syntax, offset

    def _syntax_uid(self, syntax: _Raw) -> str:
        """The Transfer Syntax UID, when it is one of plain explicit VR little endian."""
        value = self._bytes(syntax)
        if not _PLAIN_UID.fullmatch(value):
            raise _Decline
        uid = value.decode("ascii").rstrip("\0 ")
        if uid in _NOT_EXPLICIT_LE or lookup(uid) is None:
            raise _Decline
        return uid

    def _dataset(self, offset: int, end: int | None, depth: int, path: str) -> _Level:
        """Walk one data set: the top level (depth 0, up to Pixel Data), an item of
        defined length (up to `end`) or of undefined length (up to its delimiter)."""
        level, previous = _Level(), -1
        size = self._size
        while end is None or offset < end:
            # The usual element (one nothing is asked of, with a defined length, its
            # header in the buffer) is passed over here; every other goes the long way,
            # its header decoded here too when it is in the buffer (as `_element` would).
            raw: _Raw | None = None
            index = offset - self._start
            if 0 <= index <= len(self._buffer) - _LONGEST_HEADER:
                group, element, written, length = _HEADER.unpack_from(self._buffer, index)
                tag = group << 16 | element
                vr = _VRS.get(written)
                if vr is not None and group != 0xFFFE:  # items have no VR: `_element`
                    value_offset = offset + 8
                    if vr in LONG_VRS:
                        (length,) = _LENGTH.unpack_from(self._buffer, index + 8)
                        value_offset = offset + 12
                    if (
                        tag > previous
                        and group not in _SLOW_GROUPS
                        and tag not in _SLOW_TAGS
                        and vr not in _SLOW_VRS
                        and length != UNDEFINED_LENGTH
                        and value_offset + length <= size
                    ):
                        previous, offset = tag, value_offset + length
                        continue
                    raw = _Raw(tag, vr, length, offset, value_offset)
            if raw is None:
                raw = self._element(offset)
            # pydicom keeps a repeated tag at its first position with its last value, and
            # reads group 0000 as implicit VR: ascending tags rule both out.
            if raw.tag <= previous or raw.tag >> 16 == 0:
                raise _Decline
            previous = raw.tag
            if raw.tag >> 16 == 0xFFFE:
                if depth == 0 or end is not None or raw.tag != ITEM_DELIMITER_TAG or raw.length:
                    raise _Decline
                level.end = raw.value_offset
                return level
            if depth == 0 and raw.tag in _STOP_TAGS:
                if raw.tag != PIXEL_DATA_TAG or raw.vr not in _PIXEL_VRS:
                    raise _Decline
                level.pixel = raw
                return level
            if raw.vr == "UN" and not raw.tag >> 16 & 1:
                raise _Decline  # pydicom may read it as a sequence, in implicit VR
            if raw.tag in _WANTED:
                level.wanted[raw.tag] = raw
            if depth == 0 and raw.length != UNDEFINED_LENGTH and _identifying(raw):
                level.identifying.append((raw.value_offset, raw.value_offset + raw.length))
            if raw.vr == "SQ":
                offset = self._sequence(raw, depth, path, level.nested)
            elif raw.length != UNDEFINED_LENGTH:
                offset = raw.value_offset + raw.length
                if offset > self._size:
                    raise _Decline
            elif depth > 0 and raw.tag == PIXEL_DATA_TAG and raw.vr in _PIXEL_VRS:
                level.pixel = raw  # an icon's encapsulated Pixel Data
                offset = self._fragments(raw.value_offset)
            else:
                raise _Decline  # pydicom searches for a delimiter: not worth mirroring
        if offset != end:
            raise _Decline  # the last element ran past the end of its item
        level.end = offset
        return level

    def _sequence(self, sequence: _Raw, depth: int, path: str, found: list[NestedPixelData]) -> int:
        """Walk a sequence's items, adding the Pixel Data found in them to `found` in the
        order nested_pixel_data() yields them; return where the sequence ends."""
        if depth >= MAX_NESTING:
            raise _Decline  # nested_pixel_data() looks no deeper
        defined = sequence.length != UNDEFINED_LENGTH
        end = sequence.value_offset + sequence.length if defined else None
        offset, index = sequence.value_offset, 0
        while end is None or offset < end:
            item = self._element(offset)
            if item.tag == SEQUENCE_DELIMITER_TAG and end is None and not item.length:
                return item.value_offset
            if item.tag != ITEM_TAG:
                raise _Decline
            item_end = None
            if item.length != UNDEFINED_LENGTH:
                item_end = item.value_offset + item.length
                if item_end > (self._size if end is None else end):
                    raise _Decline
            item_path = f"{path}{format_tag(sequence.tag)}[{index}]/"
            level = self._dataset(item.value_offset, item_end, depth + 1, item_path)
            if level.pixel is not None:
                found.append(self._nested(level, item_path))
            found.extend(level.nested)
            offset, index = level.end, index + 1
        if offset != end:
            raise _Decline
        return offset

    def _fragments(self, offset: int) -> int:
        """Skip the items of an undefined-length Pixel Data up to its delimiter, as
        pydicom reads encapsulated Pixel Data; return where the delimiter ends."""
        while True:
            item = self._element(offset)
            if item.tag == SEQUENCE_DELIMITER_TAG and not item.length:
                return item.value_offset
            if item.tag != ITEM_TAG or item.length == UNDEFINED_LENGTH:
                raise _Decline
            offset = item.value_offset + item.length

    def _nested(self, level: _Level, path: str) -> NestedPixelData:
        pixel = level.pixel
        assert pixel is not None
        nof = level.wanted.get(NUMBER_OF_FRAMES_TAG)
        return NestedPixelData(
            path + format_tag(PIXEL_DATA_TAG),
            Element(*pixel),
            self._image(level.wanted),
            self._raw(nof, "IS"),
        )

    def _raw(self, raw: _Raw | None, vr: str) -> bytes | None:
        """The value as pydicom keeps it unconverted: an empty IS or OV is None."""
        if raw is None:
            return None
        if raw.vr != vr:
            raise _Decline
        return self._bytes(raw) if raw.length else None

    def _uid(self, raw: _Raw | None) -> str | None:
        """A UI value as source._text reads it."""
        if raw is None:
            return None
        if raw.vr != "UI":
            raise _Decline
        return self._bytes(raw).decode("ascii", "replace").strip("\0 ") or None

    def _code_string(self, raw: _Raw) -> str:
        """A CS value as pydicom converts it; anything unusual is declined."""
        if raw.vr != "CS":
            raise _Decline
        value = self._bytes(raw)
        if not _PLAIN_CS.fullmatch(value):
            raise _Decline
        return value.decode("ascii").strip(" \0")

    def _image(self, wanted: dict[int, _Raw]) -> ImageAttributes:
        """What source.image_attributes() finds, for values it would not convert."""
        values: dict[str, object] = {}
        for name, tag in INT_ATTRIBUTES.items():
            raw = wanted.get(tag)
            if raw is not None:
                values[name] = self._us(raw)
        photometric = wanted.get(PHOTOMETRIC_INTERPRETATION_TAG)
        if photometric is not None:
            values["photometric_interpretation"] = self._code_string(photometric)
        lossy = wanted.get(LOSSY_IMAGE_COMPRESSION_TAG)
        if lossy is not None:
            values["lossy_image_compression"] = self._code_string(lossy)
            values["lossy_image_compression_offset"] = lossy.value_offset
        return ImageAttributes(**values)  # type: ignore[arg-type]

    def _us(self, raw: _Raw) -> int:
        """A single US value."""
        if raw.vr != "US" or raw.length != 2:
            raise _Decline
        return int.from_bytes(self._bytes(raw), "little")


def _raw_of(scanned: core.ScannedRaw) -> _Raw:
    """The core's element header, its fields those of a _Raw, as one (no copy)."""
    return tuple.__new__(_Raw, scanned)  # type: ignore[type-var]


def _header(raw: _Raw | None) -> Element | None:
    """The element's header as the data set records it (the same fields: no copy)."""
    return None if raw is None else tuple.__new__(Element, raw)  # type: ignore[type-var]


def _identifying(raw: _Raw) -> bool:
    """source._identifying's choice: VR PN, group 0010 or one of its tags."""
    return raw.vr == "PN" or raw.tag >> 16 == 0x0010 or raw.tag in IDENTIFYING_TAGS

"""Open a file read-only, parse its data set up to Pixel Data, and serve positioned reads.

pydicom parses the data set (`stop_before_pixels`), which leaves the file positioned on
the Pixel Data element. From there the linter reads the file itself: pydicom's
`ds.PixelData` would read every payload byte and drops Pixel Data entirely when the
sequence delimiter is missing.

For the common file (explicit VR little endian, well formed) scanner.py reads the data
set without importing pydicom at all; pydicom parses every other file.
"""

from __future__ import annotations

import functools
import io
import logging
import mmap
import os
import struct
import warnings
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from dcmencaps_lint.model import UNDEFINED_LENGTH, format_tag
from dcmencaps_lint.transfer_syntax import DEFLATED_EXPLICIT_VR_LE

PIXEL_DATA_TAG = 0x7FE00010
EXTENDED_OFFSET_TABLE_TAG = 0x7FE00001
EXTENDED_OFFSET_TABLE_LENGTHS_TAG = 0x7FE00002
NUMBER_OF_FRAMES_TAG = 0x00280008
_PIXEL_DATA_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"UN"}
_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}


# Loops that touch every item of a dense stretch of items (whole-slide images: hundreds
# of thousands of frames a few KB apart) read through a memory-mapped window this big.
WINDOW_SIZE = 8 << 20
# MAP_POPULATE maps the whole window in one call: faulting its pages in one by one cost
# more than the reads themselves (benchmarks/README.md, "Read strategy").
_WINDOW_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)


class ByteReader:
    """Positioned, bounded reads of a file or buffer; never reads past the end.

    A file on disk is read with pread: a few bytes per item and per frame. A memory map
    of the whole file was measured to be no faster on large frames and far worse on small
    ones: the kernel maps 64 KiB around every page touched, so linting a file of 4 KB
    frames brought the whole file into the process's resident memory. Loops over dense
    items read through `window` instead: one populated map of WINDOW_SIZE bytes at a
    time, unmapped before the next, so resident memory stays one window.
    """

    def __init__(self, fileobj: BinaryIO, size: int) -> None:
        self._file = fileobj
        self.size = size
        self._fd: int | None = None
        self._window: mmap.mmap | bytes | None = None
        self._window_start = 0
        if isinstance(fileobj, io.BufferedReader):
            try:
                self._fd = fileobj.fileno()
            except (OSError, ValueError):
                self._fd = None

    @property
    def on_disk(self) -> bool:
        """Reads go straight to a file descriptor, not through a caller's file object."""
        return self._fd is not None

    def unchecked_pread(self) -> Callable[[int, int], bytes]:
        """`pread(count, offset)` without the bounds checks of `read`, for the loops that
        run once per item and keep within the file themselves. Only when `on_disk`."""
        assert self._fd is not None
        return functools.partial(os.pread, self._fd)

    def read(self, offset: int, count: int) -> bytes:
        """Up to `count` bytes at `offset`; fewer at the end of the data."""
        if offset < 0 or count <= 0 or offset >= self.size:
            return b""
        count = min(count, self.size - offset)
        if self._fd is not None:
            return os.pread(self._fd, count, offset)
        self._file.seek(offset)
        return self._file.read(count)

    def window(self, offset: int, count: int) -> tuple[mmap.mmap | bytes, int]:
        """(buffer, absolute offset of its first byte): the file from `offset` on, at
        least `count` bytes of it where the file has them. Only when `on_disk`.

        For loops that visit items in file order and take a few bytes of each: slicing or
        unpacking a buffer costs a fraction of a pread. The buffer stays valid until the
        next call or `close`; callers check their offsets against its length.
        """
        window, start = self._window, self._window_start
        if window is not None and start <= offset and offset + count <= start + len(window):
            return window, start
        self._close_window()
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        length = min(self.size, offset + max(count, WINDOW_SIZE)) - start
        assert self._fd is not None
        try:
            # A mapped page past the end of a file that shrank kills the process (SIGBUS):
            # a file cut short since it was opened is read, never mapped.
            if os.fstat(self._fd).st_size < start + length:
                raise ValueError("the file is shorter than when it was opened")
            window = mmap.mmap(
                self._fd, length, flags=_WINDOW_FLAGS, prot=mmap.PROT_READ, offset=start
            )
        except (OSError, ValueError, OverflowError):  # cannot map here: read it instead
            window = self.read(start, length)
        self._window, self._window_start = window, start
        return window, start

    def _close_window(self) -> None:
        if isinstance(self._window, mmap.mmap):
            self._window.close()
        self._window = None

    def close(self) -> None:
        """Unmap the read window; the file object belongs to whoever opened it."""
        self._close_window()


class Element(NamedTuple):
    """The header of a data element read from the file, and where its value lies."""

    tag: int
    vr: str | None  # None under implicit VR
    length: int
    offset: int  # absolute offset of the tag
    value_offset: int

    @property
    def undefined_length(self) -> bool:
        return self.length == UNDEFINED_LENGTH


class ImageAttributes(NamedTuple):
    """The Image Pixel attributes the codestream rules compare with (None: absent/invalid)."""

    rows: int | None = None
    columns: int | None = None
    samples_per_pixel: int | None = None
    bits_allocated: int | None = None
    bits_stored: int | None = None
    pixel_representation: int | None = None
    photometric_interpretation: str | None = None
    planar_configuration: int | None = None
    lossy_image_compression: str | None = None  # (0028,2110) as written, e.g. "00", "01"
    lossy_image_compression_offset: int | None = None  # its value's offset


class NestedPixelData(NamedTuple):
    """Pixel Data inside a sequence item, e.g. an Icon Image Sequence's icon."""

    path: str  # e.g. "(0088,0200)[0]/(7FE0,0010)"
    pixel_data: Element
    image: ImageAttributes
    number_of_frames_raw: bytes | None


class ParsedDataset(NamedTuple):
    """What the rules need from the data set in front of Pixel Data."""

    transfer_syntax_uid: str | None
    implicit_vr: bool
    sop_class_uid: str | None
    sop_instance_uid: str | None
    number_of_frames_raw: bytes | None  # the raw IS value, parsed by the TSX008 rule
    number_of_frames: Element | None
    pixel_data: Element | None
    eot: Element | None
    eot_lengths: Element | None
    eot_value: bytes | None
    eot_lengths_value: bytes | None
    dicm_prefix: bool
    image: ImageAttributes = ImageAttributes()
    nested: tuple[NestedPixelData, ...] = ()
    transfer_syntax_offset: int | None = None  # the (0002,0010) value's absolute offset
    # Descriptive attributes as text, (keyword, value), for reports (see DESCRIPTIVE).
    descriptive: tuple[tuple[str, str], ...] = ()
    # (start, end) of top-level values that may identify a patient, masked in excerpts
    identifying: tuple[tuple[int, int], ...] = ()


class NotDicomError(Exception):
    """The data does not look like DICOM at all (PRS001)."""


class DatasetError(Exception):
    """The data set cannot be parsed up to Pixel Data (PRS002)."""

    def __init__(self, message: str, offset: int | None) -> None:
        super().__init__(message)
        self.offset = offset


def _text(ds: object, keyword: str) -> str | None:
    """A UI attribute's value, or None when absent or unreadable."""
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    raw = ds.get_item(tag, keep_deferred=True) if tag is not None else None  # type: ignore[attr-defined]
    value = getattr(raw, "value", None)
    if isinstance(value, bytes):  # as read (UIs are ASCII): no conversion needed
        text = value.decode("ascii", "replace").strip("\0 ")
        return text or None
    try:
        value = getattr(ds, keyword, None)
    except Exception:  # pydicom cannot convert it (an unknown VR, say): treat as absent
        return None
    return str(value).strip("\0 ") if value not in (None, "") else None


def _raw_value(ds: object, tag: int) -> tuple[str | None, bytes | None] | None:
    """(VR, raw bytes) of a top-level element without letting pydicom convert it."""
    try:
        elem = ds.get_item(tag)  # type: ignore[attr-defined]
    except Exception:
        return None
    if elem is None:
        return None
    value = getattr(elem, "value", None)
    if value is not None and not isinstance(value, bytes):
        value = None
    return getattr(elem, "VR", None), value


def read_element_header(
    reader: ByteReader, offset: int, implicit_vr: bool, big_endian: bool = False
) -> Element | None:
    """Read the element header at `offset` as it is in the file."""
    head = reader.read(offset, 12)
    if len(head) < 8:
        return None
    order = ">" if big_endian else "<"
    group, elem = struct.unpack_from(f"{order}HH", head)
    tag = group << 16 | elem
    if implicit_vr:
        (length,) = struct.unpack_from(f"{order}I", head, 4)
        return Element(tag, None, length, offset, offset + 8)
    vr = head[4:6]
    if vr in _LONG_VRS:
        if len(head) < 12:
            return None
        (length,) = struct.unpack_from(f"{order}I", head, 8)
        return Element(tag, vr.decode("ascii"), length, offset, offset + 12)
    (length,) = struct.unpack_from(f"{order}H", head, 6)
    return Element(tag, vr.decode("latin-1"), length, offset, offset + 8)


def parse_dataset(
    fileobj: BinaryIO, reader: ByteReader, describe: bool = False, *, scan: bool = True
) -> ParsedDataset:
    """Parse the data set up to Pixel Data, raising NotDicomError or DatasetError.

    `describe`: also read the descriptive attributes (device, patient) that only reports
    for people show. `scan`: False always parses with pydicom, the reference the
    scanner is tested against.
    """
    # pydicom warns about every odd value it meets; the linter reports what matters.
    logging.getLogger("pydicom").disabled = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parse_dataset(fileobj, reader, describe, scan)


class _Bounded:
    """The file as pydicom reads it: each read clamped to the bytes left in the file.

    A real file's read(n) allocates n bytes before reading, so a hostile element length
    (FFFFFFF0) in front of Pixel Data would allocate 4 GiB.
    """

    def __init__(self, fileobj: BinaryIO, size: int) -> None:
        self._file, self._size = fileobj, size

    def read(self, count: int | None = -1) -> bytes:
        if count is not None and count >= 0:
            count = max(0, min(count, self._size - self._file.tell()))
        return self._file.read(count)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def __getattr__(self, name: str) -> object:
        return getattr(self._file, name)


def _meta_bytes(reader: ByteReader) -> bytes:
    """The File Meta group's bytes, by its group length (0002,0000), or a guess of 1 KiB."""
    head = reader.read(132, 12)
    if head[:8] == b"\x02\x00\x00\x00UL\x04\x00":
        return reader.read(144, min(int.from_bytes(head[8:12], "little"), 1 << 16))
    return reader.read(132, 1024)


def _deflated_meta(fileobj: BinaryIO, reader: ByteReader) -> object | None:
    """The File Meta Information when the transfer syntax is Deflated, else None."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    fileobj.seek(0)
    try:
        read_preamble(fileobj, False)  # type: ignore[arg-type]
        meta = _read_file_meta_info(_Bounded(fileobj, reader.size))  # type: ignore[arg-type]
    except Exception:  # the full parse reports what is wrong with the meta
        return None
    return meta if _text(meta, "TransferSyntaxUID") == DEFLATED_EXPLICIT_VR_LE else None


def _parse_dataset(
    fileobj: BinaryIO, reader: ByteReader, describe: bool, scan: bool
) -> ParsedDataset:
    if reader.size == 0:
        raise NotDicomError("the file is empty")
    if scan and not describe:
        # The common file, without importing pydicom (see scanner.py); None: not common.
        from dcmencaps_lint.scanner import scan_dataset

        parsed = scan_dataset(reader)
        if parsed is not None:
            return parsed

    import pydicom
    from pydicom.errors import InvalidDicomError

    dicm = reader.read(128, 4) == b"DICM"
    # The Transfer Syntax UID sits in the first few hundred bytes of the File Meta: look
    # for the deflated one there before paying for a second parse of the meta.
    maybe_deflated = dicm and DEFLATED_EXPLICIT_VR_LE.encode() in _meta_bytes(reader)
    meta = _deflated_meta(fileobj, reader) if maybe_deflated else None
    if meta is not None:
        # pydicom would inflate the whole data set in memory (a deflate bomb could ask
        # for gigabytes); its Pixel Data is native anyway, so the meta is all we read.
        return ParsedDataset(
            transfer_syntax_uid=DEFLATED_EXPLICIT_VR_LE,
            implicit_vr=False,
            sop_class_uid=_text(meta, "MediaStorageSOPClassUID"),
            sop_instance_uid=_text(meta, "MediaStorageSOPInstanceUID"),
            number_of_frames_raw=None,
            number_of_frames=None,
            pixel_data=None,
            eot=None,
            eot_lengths=None,
            eot_value=None,
            eot_lengths_value=None,
            dicm_prefix=True,
        )
    fileobj.seek(0)
    try:
        ds = pydicom.dcmread(
            _Bounded(fileobj, reader.size), stop_before_pixels=True, force=not dicm
        )
    except InvalidDicomError as exc:
        raise NotDicomError(str(exc)) from None
    except Exception as exc:  # pydicom raises many kinds on broken data
        position = _tell(fileobj)
        if not dicm:
            raise NotDicomError(f"{type(exc).__name__}: {exc}") from None
        raise DatasetError(f"{type(exc).__name__}: {exc}", position) from None
    position = _tell(fileobj)

    meta = getattr(ds, "file_meta", None)
    ts_uid = _text(meta, "TransferSyntaxUID") if meta is not None else None
    if not dicm and not _looks_like_dicom(ds):
        raise NotDicomError("no DICM prefix and no recognisable data set")

    from dcmencaps_lint.transfer_syntax import lookup

    ts = lookup(ts_uid) if ts_uid else None
    implicit_vr = (
        ts_uid == "1.2.840.10008.1.2" if ts else bool(getattr(ds, "is_implicit_VR", False))
    )
    big_endian = (
        ts_uid == "1.2.840.10008.1.2.2" if ts else not getattr(ds, "is_little_endian", True)
    )
    deflated = ts_uid == DEFLATED_EXPLICIT_VR_LE
    pixel = None
    if position is not None and not deflated:
        # Some writers encode the data set in implicit VR under an explicit-VR transfer
        # syntax (pydicom reads them); trust the bytes where a VR should be. These VRs
        # start with an odd byte, so an even implicit length can never look like one.
        explicit_here = reader.read(position + 4, 2) in _PIXEL_DATA_VRS
        header = read_element_header(reader, position, not explicit_here, big_endian)
        if header is not None and header.tag == PIXEL_DATA_TAG:
            pixel = header
    if pixel is None and not deflated:
        _check_values_in_file(ds, reader.size)
        _check_no_cut_header(ds, reader.size)
    eot = _raw_value(ds, EXTENDED_OFFSET_TABLE_TAG)
    eotl = _raw_value(ds, EXTENDED_OFFSET_TABLE_LENGTHS_TAG)
    nof = _raw_value(ds, NUMBER_OF_FRAMES_TAG)
    # Before anything converts them: a converted element no longer records its length.
    identifying = _identifying(ds)
    return ParsedDataset(
        transfer_syntax_uid=ts_uid,
        implicit_vr=implicit_vr,
        sop_class_uid=_text(ds, "SOPClassUID"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        number_of_frames_raw=nof[1]
        if nof is not None and nof[1] is not None
        else (b"" if nof else None),
        number_of_frames=_element_of(ds, NUMBER_OF_FRAMES_TAG, nof, implicit_vr),
        pixel_data=pixel,
        eot=_element_of(ds, EXTENDED_OFFSET_TABLE_TAG, eot, implicit_vr),
        eot_lengths=_element_of(ds, EXTENDED_OFFSET_TABLE_LENGTHS_TAG, eotl, implicit_vr),
        eot_value=eot[1] if eot else None,
        eot_lengths_value=eotl[1] if eotl else None,
        dicm_prefix=dicm,
        image=image_attributes(ds),
        nested=tuple(nested_pixel_data(ds, implicit_vr)),
        # File Meta is read from the same file object, so its offsets are absolute.
        transfer_syntax_offset=_value_tell(meta.get_item(0x00020010)) if meta else None,
        descriptive=_descriptive(ds) if describe else (),
        identifying=identifying,
    )


DESCRIPTIVE = (
    "Manufacturer",
    "ManufacturerModelName",
    "SoftwareVersions",
    "InstitutionName",
    "PatientName",
    "PatientID",
)


def _descriptive(ds: object) -> tuple[tuple[str, str], ...]:
    """The DESCRIPTIVE attributes present, multiple values joined with a backslash."""
    from pydicom.multival import MultiValue

    found = []
    for keyword in DESCRIPTIVE:
        try:
            value = getattr(ds, keyword, None)
            many = isinstance(value, MultiValue)
            text = "\\".join(map(str, value)) if many else str(value or "")
        except Exception:  # a value pydicom cannot decode is not worth a failure here
            continue
        if text.strip("\0 "):
            found.append((keyword, text.strip("\0 ")))
    return tuple(found)


# Elements outside group 0010 (Patient) and VR PN that may identify a patient or those
# caring for them: accession number, institution, station, department, study ID.
_IDENTIFYING_TAGS = frozenset(
    {0x00080050, 0x00080080, 0x00080081, 0x00081010, 0x00081040, 0x00200010}
)


def _identifying(ds: object) -> tuple[tuple[int, int], ...]:
    """Value ranges of top-level elements that may identify a patient: VR PN, group
    0010 and the tags above."""
    ranges = []
    for tag in list(ds.keys()):  # type: ignore[attr-defined]
        elem = ds.get_item(tag, keep_deferred=True)  # type: ignore[attr-defined]
        if not (
            getattr(elem, "VR", None) == "PN"
            or int(tag) >> 16 == 0x0010
            or int(tag) in _IDENTIFYING_TAGS
        ):
            continue
        tell, length = _value_tell(elem), getattr(elem, "length", None)
        if tell is not None and isinstance(length, int) and length != UNDEFINED_LENGTH:
            ranges.append((tell, tell + length))
    return tuple(ranges)


def _value_tell(elem: object) -> int | None:
    """Where a raw (value_tell) or converted (file_tell) element's value starts."""
    tell = getattr(elem, "value_tell", getattr(elem, "file_tell", None))
    return tell if isinstance(tell, int) else None


_INT_ATTRIBUTES = {
    "rows": 0x00280010,
    "columns": 0x00280011,
    "samples_per_pixel": 0x00280002,
    "bits_allocated": 0x00280100,
    "bits_stored": 0x00280101,
    "pixel_representation": 0x00280103,
    "planar_configuration": 0x00280006,
}
LOSSY_IMAGE_COMPRESSION_TAG = 0x00282110
MAX_NESTING = 8


def image_attributes(ds: object) -> ImageAttributes:
    """Image Pixel attributes of a data set, tolerant of missing or malformed values."""
    values: dict[str, object] = {}
    little = getattr(ds, "is_little_endian", True) is not False
    for field_name, tag in _INT_ATTRIBUTES.items():
        raw = ds.get_item(tag, keep_deferred=True)  # type: ignore[attr-defined]
        if raw is None:
            continue
        value = getattr(raw, "value", None)
        if isinstance(value, bytes) and len(value) == 2:  # US as read: no conversion needed
            values[field_name] = int.from_bytes(value, "little" if little else "big")
            continue
        try:
            value = ds[tag].value  # type: ignore[index]
            values[field_name] = int(value[0] if isinstance(value, list | tuple) else value)
        except Exception:  # absent, empty or malformed: the rules skip what they lack
            continue
    for field_name, tag in (("photometric_interpretation", 0x00280004),):
        try:
            values[field_name] = str(ds[tag].value).strip(" \0")  # type: ignore[index]
        except Exception:
            continue
    try:
        lossy = ds[LOSSY_IMAGE_COMPRESSION_TAG]  # type: ignore[index]
        values["lossy_image_compression"] = str(lossy.value or "").strip(" \0")
        # Accessing the value converted the raw element; it keeps the offset as file_tell.
        tell = _value_tell(ds.get_item(LOSSY_IMAGE_COMPRESSION_TAG))  # type: ignore[attr-defined]
        values["lossy_image_compression_offset"] = tell if isinstance(tell, int) else None
    except Exception:
        pass
    return ImageAttributes(**values)  # type: ignore[arg-type]


def _is_sequence(tag: int, raw: object) -> bool:
    vr = getattr(raw, "VR", None)
    if vr == "SQ":
        return True
    if vr not in (None, "UN"):
        return False
    from pydicom.datadict import dictionary_VR

    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return False


def _defined_length_and_tell(elem: object) -> tuple[bool, int | None]:
    """(has a defined length, value offset) of a raw or already converted element.

    pydicom yields undefined-length sequences as converted elements, the rest raw.
    """
    length = getattr(elem, "length", None)
    if length is not None:  # a RawDataElement
        tell = getattr(elem, "value_tell", None)
        return length != UNDEFINED_LENGTH, tell if isinstance(tell, int) else None
    tell = getattr(elem, "file_tell", None)
    return not getattr(elem, "is_undefined_length", False), tell if isinstance(tell, int) else None


def nested_pixel_data(
    ds: object, implicit_vr: bool, prefix: str = "", depth: int = 0, base: int = 0
) -> Iterator[NestedPixelData]:
    """Every undefined-length Pixel Data inside sequence items, with its path and offset.

    pydicom parses a defined-length sequence from a copy of its value, so offsets inside
    it are relative to that value: `base` is what makes them absolute again.
    """
    if depth >= MAX_NESTING:
        return
    for tag in list(ds.keys()):  # type: ignore[attr-defined]
        # keep_deferred: an element pydicom cannot convert (an unknown VR) must not raise
        raw_sequence = ds.get_item(tag, keep_deferred=True)  # type: ignore[attr-defined]
        if not _is_sequence(int(tag), raw_sequence):
            continue
        child_base = base
        defined, sequence_tell = _defined_length_and_tell(raw_sequence)
        if defined and sequence_tell is not None:
            child_base = base + sequence_tell
        try:
            items = ds[tag].value  # type: ignore[index]
        except Exception:
            continue
        if not isinstance(items, list) and type(items).__name__ != "Sequence":
            continue
        for index, item in enumerate(items):
            path = f"{prefix}{format_tag(int(tag))}[{index}]/"
            pixel = item.get_item(PIXEL_DATA_TAG)
            defined, tell = _defined_length_and_tell(pixel)
            if pixel is not None and not defined and tell is not None:
                tell += child_base
                vr = None if implicit_vr else getattr(pixel, "VR", None)
                start = tell - (8 if vr is None else 12)
                raw_nof = item.get_item(NUMBER_OF_FRAMES_TAG)
                yield NestedPixelData(
                    path + "(7FE0,0010)",
                    Element(PIXEL_DATA_TAG, vr, UNDEFINED_LENGTH, start, tell),
                    image_attributes(item),
                    raw_nof.value
                    if raw_nof is not None and isinstance(raw_nof.value, bytes)
                    else None,
                )
            yield from nested_pixel_data(item, implicit_vr, path, depth + 1, child_base)


def _element_of(
    ds: object, tag: int, raw: tuple[str | None, bytes | None] | None, implicit_vr: bool
) -> Element | None:
    """Header of a top-level element, with the absolute offset pydicom recorded."""
    if raw is None:
        return None
    elem = ds.get_item(tag)  # type: ignore[attr-defined]
    # An empty value is converted on access and the DataElement keeps it as file_tell.
    value_tell = getattr(elem, "value_tell", getattr(elem, "file_tell", None))
    vr = None if implicit_vr else raw[0]
    value = raw[1] or b""
    header = 8 if implicit_vr or (vr or "").encode() not in _LONG_VRS else 12
    start = value_tell - header if isinstance(value_tell, int) else -1
    return Element(tag, vr, len(value), start, value_tell if isinstance(value_tell, int) else -1)


def _check_values_in_file(ds: object, size: int) -> None:
    """Raise DatasetError when a top-level value runs past the end of the file.

    pydicom reads such a value short without complaint, so a file truncated in front
    of Pixel Data would otherwise look like a complete file without Pixel Data.
    """
    for group in (getattr(ds, "file_meta", None), ds):
        for tag in list(group.keys()) if group is not None else ():  # type: ignore[attr-defined]
            elem = group.get_item(tag, keep_deferred=True)  # type: ignore[attr-defined]
            length, start = getattr(elem, "length", None), getattr(elem, "value_tell", None)
            if not isinstance(length, int) or not isinstance(start, int):
                continue
            if length != UNDEFINED_LENGTH and start + length > size:
                raise DatasetError(
                    f"the value of {format_tag(int(tag))} at byte {start} has "
                    f"length {length} but only {max(0, size - start)} bytes remain",
                    start,
                )


def _check_no_cut_header(ds: object, size: int) -> None:
    """Raise DatasetError when the file ends inside an element header.

    pydicom stops quietly when fewer than 8 bytes are left, so a file cut inside the
    Pixel Data element's header would otherwise look like a file without Pixel Data.
    """
    tags = list(ds.keys())  # type: ignore[attr-defined]
    if not tags:
        return
    last = ds.get_item(tags[-1], keep_deferred=True)  # type: ignore[attr-defined]
    defined, tell = _defined_length_and_tell(last)
    length = getattr(last, "length", None)
    if not defined or tell is None or not isinstance(length, int):
        return  # an undefined-length sequence: its end is not recorded
    left = size - (tell + length)
    if 0 < left < 12:
        raise DatasetError(
            f"the file ends {left} byte(s) into an element header at byte {tell + length}",
            tell + length,
        )


def _looks_like_dicom(ds: object) -> bool:
    """Without a DICM prefix, accept only data that parsed into recognisable elements."""
    # Iterating a Dataset yields its elements; its keys are the tags.
    keys = [int(t) for t in ds.keys()]  # type: ignore[attr-defined]  # noqa: SIM118
    if not keys:
        return False
    known = {0x00080016, 0x00080018, 0x00080060, 0x00280010, 0x00280011, 0x00200013, 0x0020000D}
    return any(k in known for k in keys)


def _tell(fileobj: BinaryIO) -> int | None:
    try:
        return fileobj.tell()
    except (OSError, ValueError):
        return None


class SpecialFileError(OSError):
    """Not a regular file (a FIFO, a device, a socket, a folder): never opened."""


def _special(mode: int) -> SpecialFileError:
    import stat

    kinds = [
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ]
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return SpecialFileError(f"{kind}, not a regular file")


def open_path(path: str | os.PathLike[str]) -> tuple[BinaryIO, int]:
    """Open read-only; special files raise SpecialFileError and are never read or waited on.

    stat() first, so that a device is never opened; then O_NONBLOCK, so that a file
    swapped for a FIFO in between cannot block the open, and fstat() to be sure.
    """
    import stat

    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise _special(st.st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _special(st.st_mode)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise

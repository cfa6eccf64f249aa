"""Parse the data set up to Pixel Data: the fast scanner for the common file, pydicom for
every other.

pydicom parses the data set (`stop_before_pixels`), which leaves the file positioned on
the Pixel Data element. From there the linter reads the file itself: pydicom's
`ds.PixelData` would read every payload byte and drops Pixel Data entirely when the
sequence delimiter is missing.

For the common file (explicit VR little endian, well formed) scanner.py reads the data
set without importing pydicom at all; `parse_dataset` tries it first and hands every
other file to pydicom. Both fill the records of dataset.py.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from typing import BinaryIO

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
    PIXEL_DATA_VRS,
    DatasetError,
    Element,
    ImageAttributes,
    NestedPixelData,
    NotDicomError,
    ParsedDataset,
)
from dcmencaps_lint.model import UNDEFINED_LENGTH, format_tag
from dcmencaps_lint.reader import ByteReader
from dcmencaps_lint.transfer_syntax import DEFLATED_EXPLICIT_VR_LE


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
    vr = head[4:6].decode("latin-1")
    if vr in LONG_VRS:
        if len(head) < 12:
            return None
        (length,) = struct.unpack_from(f"{order}I", head, 8)
        return Element(tag, vr, length, offset, offset + 12)
    (length,) = struct.unpack_from(f"{order}H", head, 6)
    return Element(tag, vr, length, offset, offset + 8)


def parse_dataset(
    fileobj: BinaryIO, reader: ByteReader, describe: bool = False, *, scan: bool = True
) -> ParsedDataset:
    """Parse the data set up to Pixel Data, raising NotDicomError or DatasetError.

    `describe`: also read the descriptive attributes (device, patient) that only reports
    for people show. `scan`: False always parses with pydicom, the reference the
    scanner is tested against.
    """
    if reader.size == 0:
        raise NotDicomError("the file is empty")
    if scan and not describe:
        # The common file, without importing pydicom (see scanner.py); None: not common.
        from dcmencaps_lint.scanner import scan_dataset

        parsed = scan_dataset(reader)
        if parsed is not None:
            return parsed
    with warnings.catch_warnings():  # pydicom warns about every odd value it meets
        warnings.simplefilter("ignore")
        return _parse_with_pydicom(fileobj, reader, describe)


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


def _parse_with_pydicom(fileobj: BinaryIO, reader: ByteReader, describe: bool) -> ParsedDataset:
    import logging

    import pydicom
    from pydicom.errors import InvalidDicomError

    # pydicom logs about every odd value it meets; the linter reports what matters.
    logging.getLogger("pydicom").disabled = True

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
        explicit_here = reader.read(position + 4, 2).decode("latin-1") in PIXEL_DATA_VRS
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


def _identifying(ds: object) -> tuple[tuple[int, int], ...]:
    """Value ranges of top-level elements that may identify a patient: VR PN, group
    0010 and the tags above."""
    ranges = []
    for tag in list(ds.keys()):  # type: ignore[attr-defined]
        elem = ds.get_item(tag, keep_deferred=True)  # type: ignore[attr-defined]
        if not (
            getattr(elem, "VR", None) == "PN"
            or int(tag) >> 16 == 0x0010
            or int(tag) in IDENTIFYING_TAGS
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


def image_attributes(ds: object) -> ImageAttributes:
    """Image Pixel attributes of a data set, tolerant of missing or malformed values."""
    values: dict[str, object] = {}
    little = getattr(ds, "is_little_endian", True) is not False
    for field_name, tag in INT_ATTRIBUTES.items():
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
    for field_name, tag in (("photometric_interpretation", PHOTOMETRIC_INTERPRETATION_TAG),):
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
    header = 8 if implicit_vr or (vr or "") not in LONG_VRS else 12
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

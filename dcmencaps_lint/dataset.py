"""The data set layer's vocabulary: what a parsed data set in front of Pixel Data holds.

Both ways of reading the data set fill these records: scanner.py (the common file, without
pydicom) and source.py (pydicom, for every other file); `source.parse_dataset` chooses.
Tags, VR sets and the small value parsers the rules share are here, defined once.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing's
# NamedTuple compiles each string annotation, some 8 us a field at every start-up.
import sys
from array import array
from collections.abc import Sequence
from typing import NamedTuple

from dcmencaps_lint.model import UNDEFINED_LENGTH

PIXEL_DATA_TAG = 0x7FE00010
EXTENDED_OFFSET_TABLE_TAG = 0x7FE00001
EXTENDED_OFFSET_TABLE_LENGTHS_TAG = 0x7FE00002
NUMBER_OF_FRAMES_TAG = 0x00280008
LOSSY_IMAGE_COMPRESSION_TAG = 0x00282110
PHOTOMETRIC_INTERPRETATION_TAG = 0x00280004
# The Image Pixel attributes read as integers (US), by ImageAttributes field.
INT_ATTRIBUTES = {
    "rows": 0x00280010,
    "columns": 0x00280011,
    "samples_per_pixel": 0x00280002,
    "bits_allocated": 0x00280100,
    "bits_stored": 0x00280101,
    "pixel_representation": 0x00280103,
    "planar_configuration": 0x00280006,
}
# Elements outside group 0010 (Patient) and VR PN that may identify a patient or those
# caring for them: accession number, institution, station, department, study ID.
IDENTIFYING_TAGS = frozenset(
    {0x00080050, 0x00080080, 0x00080081, 0x00081010, 0x00081040, 0x00200010}
)
MAX_NESTING = 8  # sequence levels searched for nested Pixel Data

# VRs whose explicit-VR header has a 32-bit length (PS3.5 Table 7.1-1), as pydicom's
# EXPLICIT_VR_LENGTH_32 lists them.
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
# The VRs Pixel Data may be written with.
PIXEL_DATA_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})


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


def parse_u64_list(value: bytes | None) -> Sequence[int]:
    """Little-endian 64-bit values (an OV value); a trailing partial value is ignored. An
    array: one copy of the bytes, no int object made for a value until it is read (an
    Extended Offset Table may hold 200,000 of them, most files' compared in one C pass)."""
    data = memoryview(value or b"")
    values = array("Q")
    values.frombytes(data[: len(data) - len(data) % 8])
    if sys.byteorder == "big":
        values.byteswap()
    return values

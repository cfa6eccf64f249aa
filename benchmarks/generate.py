"""Write the benchmark workloads: whole-slide images (JPEG, JPEG 2000) and small files.

    python benchmarks/generate.py [--workdir /tmp/encaps-lint-bench] [--only wsi-200k]

Every file is a valid JPEG Baseline (1.2.840.10008.1.2.4.50) or JPEG 2000
(1.2.840.10008.1.2.4.91) file: pydicom writes the File Meta Information and the
attributes (with the Extended Offset Table and its lengths, VR OV, for the multi-frame
files); the Pixel Data items are written here by hand, one frame at a time and in
pieces, so even the >4 GiB file never holds a whole frame in memory.

Every frame is a real codestream, and no two neighbours are alike, as a scanner writes
them (each tile compressed on its own): a linter that caches what it learnt from one
frame's header, or compares frames' bytes, gains nothing. Each frame has
- its own quality: JPEG quantization tables (IJG quality 60-95), JPEG 2000 step sizes;
- a comment with its own text (JPEG COM after SOI or after DQT, JPEG 2000 COM after
  SIZ), and, every 7th JPEG frame, an APP segment (APP1 Exif or APP14 Adobe);
- its own length, within 25 % of the workload's nominal frame size; about half are odd
  and padded with one 00 byte after the EOI / EOC, so each item's length stays even;
- its own entropy-coded bytes (without FF).
All of it drawn from random.Random seeded with the workload and frame number, so a
file is written with the same bytes on every run.

A file that already exists with the size it would be written with is kept (the size is
computed up front from the same seeded lengths), so running this again is cheap. The
work folder must not be inside the repository.
"""

from __future__ import annotations

import argparse
import functools
import io
import itertools
import math
import random
import shutil
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import JPEG2000, JPEGBaseline8Bit, generate_uid

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = Path("/tmp/encaps-lint-bench")

WSI_STORAGE = "1.2.840.10008.5.1.4.1.1.77.1.6"  # VL Whole Slide Microscopy Image Storage
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage

# (7FE0,0010) OB of undefined length, Explicit VR Little Endian
PIXEL_DATA_HEADER = b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff"
ITEM_TAG = b"\xfe\xff\x00\xe0"
EMPTY_BOT = ITEM_TAG + b"\x00\x00\x00\x00"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
ITEM_HEADER = 8
EOI = b"\xff\xd9"  # JPEG end of image; the JPEG 2000 end of codestream (EOC) is the same
PAD = b"\x00"  # after the EOI / EOC of an odd-length codestream: items have even lengths
MiB = 1 << 20


@dataclass(frozen=True)
class Workload:
    """One benchmark workload: a multi-frame file, or a folder of single-frame files."""

    key: str  # what --only takes
    label: str  # the row name in run.py's table
    frames: int  # frames per file
    frame_size: int  # nominal bytes per frame: each one's length is within 25 % of it
    rows: int
    columns: int
    samples: int  # 3: colour tiles (YBR_FULL_422, or YBR_ICT for JPEG 2000); 1: MONOCHROME2
    files: int = 1  # > 1: a folder of that many single-frame files
    codec: str = "jpeg"  # a key of CODECS

    @property
    def folder(self) -> bool:
        return self.files > 1

    def path(self, workdir: Path) -> Path:
        """The file, or the folder of files, in `workdir`."""
        if self.folder:
            return workdir / f"{self.key}-{self.files}x{self.frame_size}"
        return workdir / f"{self.key}-{self.frames}x{self.frame_size}.dcm"


WORKLOADS = (
    Workload("wsi-200k", "200,000 unlike JPEG tiles, 800 MB, EOT", 200_000, 4_000, 256, 256, 3),
    Workload("wsi-20k", "20,000 unlike JPEG tiles, 80 MB, EOT", 20_000, 4_000, 256, 256, 3),
    # 4 MiB + 8 KiB per frame on average: 4.3 GiB in all, so the later frames' offsets
    # need 64 bits
    Workload("big-4gib", "1,100 unlike JPEG frames, 4.3 GiB, EOT", 1_100, 4_202_496, 2048, 2048, 3),
    Workload("small-files", "2,000 single-frame 8-13 KB files", 1, 9_600, 256, 256, 1, 2_000),
    Workload(
        "j2k-100k",
        "100,000 unlike JPEG 2000 tiles, 400 MB, EOT",
        100_000,
        4_000,
        256,
        256,
        3,
        codec="j2k",
    ),
)
BY_KEY = {w.key: w for w in WORKLOADS}


# --- How frames differ ----------------------------------------------------------------------


class FramePlan(NamedTuple):
    """What makes one frame unlike the others; the bytes follow from it."""

    index: int  # the frame's (or single-frame file's) number in its workload, from 0
    length: int  # of the codestream, EOI / EOC included; odd for about half the frames
    quality: int  # 60-95: IJG quality of the JPEG tables, or the JPEG 2000 step sizes
    app: bool  # JPEG: an APP segment after SOI (every 7th frame)
    comment_first: bool  # JPEG: the COM segment right after SOI, else after DQT

    @property
    def padded(self) -> bool:
        """The codestream is odd-length: one 00 byte follows it in its item."""
        return self.length % 2 == 1

    @property
    def item_length(self) -> int:
        return self.length + self.padded

    @property
    def comment(self) -> bytes:
        return b"tile %d q%d" % (self.index, self.quality)


def frame_plans(key: str, first: int, count: int, nominal: int) -> list[FramePlan]:
    """Frames `first` to `first + count - 1` of workload `key`, the same on every run.

    Seeded by (key, first), so the sizes can be known before a byte is written and a
    single-frame file's plan does not depend on the files before it.
    """
    rng = random.Random(f"{key}/{first}")
    spread = nominal // 4
    return [
        FramePlan(
            index,
            length=rng.randint(nominal - spread, nominal + spread),
            quality=rng.randrange(60, 96),
            app=index % 7 == 0,
            comment_first=rng.random() < 0.5,
        )
        for index in range(first, first + count)
    ]


# --- JPEG codestreams (ITU-T T.81) --------------------------------------------------------

# Annex K.1 example quantization tables, in natural (row-major) order
LUMINANCE_Q = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
CHROMINANCE_Q = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
) + (99,) * 32  # fmt: skip

# Annex K.3 typical Huffman tables: (number of codes of each length 1..16, symbols)
DC_LUMINANCE = (bytes((0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)), bytes(range(12)))
DC_CHROMINANCE = (bytes((0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)), bytes(range(12)))
AC_LUMINANCE = (
    bytes((0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D)),
    bytes.fromhex(
        "0102030004110512 2131410613516107 227114328191a108 2342b1c11552d1f0"
        "2433627282090a16 1718191a25262728 292a343536373839 3a43444546474849"
        "4a53545556575859 5a63646566676869 6a73747576777879 7a83848586878889"
        "8a92939495969798 999aa2a3a4a5a6a7 a8a9aab2b3b4b5b6 b7b8b9bac2c3c4c5"
        "c6c7c8c9cad2d3d4 d5d6d7d8d9dae1e2 e3e4e5e6e7e8e9ea f1f2f3f4f5f6f7f8"
        "f9fa"
    ),
)
AC_CHROMINANCE = (
    bytes((0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77)),
    bytes.fromhex(
        "0001020311040521 3106124151076171 1322328108144291 a1b1c109233352f0"
        "156272d10a162434 e125f11718191a26 2728292a35363738 393a434445464748"
        "494a535455565758 595a636465666768 696a737475767778 797a828384858687"
        "88898a9293949596 9798999aa2a3a4a5 a6a7a8a9aab2b3b4 b5b6b7b8b9bac2c3"
        "c4c5c6c7c8c9cad2 d3d4d5d6d7d8d9da e2e3e4e5e6e7e8e9 eaf2f3f4f5f6f7f8"
        "f9fa"
    ),
)


def _zigzag() -> tuple[int, ...]:
    """Natural-order indexes of the 64 coefficients in zig-zag order (Figure A.6)."""
    cells = [(r, c) for r in range(8) for c in range(8)]
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else -rc[0]))
    return tuple(8 * r + c for r, c in cells)


ZIGZAG = _zigzag()


def _quantization(table: Sequence[int], quality: int) -> bytes:
    """`table` scaled to an IJG quality (1-100), in zig-zag order."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return bytes(min(255, max(1, (table[i] * scale + 50) // 100)) for i in ZIGZAG)


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


# APP segments a scanner may write, with their identifiers: an empty Exif (TIFF header,
# little endian, one IFD of no entry) and Adobe's (version 100, no flags, transform 1:
# YCbCr; 0 for grey, where the transform does not apply)
EXIF_APP1 = _segment(0xE1, b"Exif\x00\x00II*\x00" + struct.pack("<IHI", 8, 0, 0))
ADOBE_APP14 = {
    s: _segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, s == 3)) for s in (1, 3)
}


@functools.cache  # 36 qualities, hundreds of thousands of frames
def _jpeg_segments(rows: int, columns: int, samples: int, quality: int) -> tuple[bytes, bytes]:
    """(DQT, SOF0 + DHT + SOS) of an 8-bit baseline JPEG.

    3 samples: Y, Cb, Cr with Y sampled 2x1 (YBR_FULL_422), two quantization tables and
    the four typical Huffman tables, as libjpeg writes them. 1 sample: grey, one of each.
    """
    if samples == 3:
        components = ((1, 0x21, 0), (2, 0x11, 1), (3, 0x11, 1))  # (id, HxV, table)
        tables = (LUMINANCE_Q, CHROMINANCE_Q)
        huffman = ((0x00, DC_LUMINANCE), (0x10, AC_LUMINANCE))
        huffman += ((0x01, DC_CHROMINANCE), (0x11, AC_CHROMINANCE))
        selectors = (0x00, 0x11, 0x11)  # DC table << 4 | AC table
    elif samples == 1:
        components = ((1, 0x11, 0),)
        tables = (LUMINANCE_Q,)
        huffman = ((0x00, DC_LUMINANCE), (0x10, AC_LUMINANCE))
        selectors = (0x00,)
    else:
        raise ValueError(f"samples must be 1 or 3, not {samples}")
    dqt = b"".join(bytes([n]) + _quantization(t, quality) for n, t in enumerate(tables))
    sof = struct.pack(">BHHB", 8, rows, columns, len(components))
    sof += b"".join(bytes(c) for c in components)
    dht = b"".join(bytes([tc_th]) + counts + symbols for tc_th, (counts, symbols) in huffman)
    sos = bytes([len(components)])
    sos += b"".join(bytes((c[0], s)) for c, s in zip(components, selectors, strict=True))
    sos += b"\x00\x3f\x00"  # Ss = 0, Se = 63, Ah = Al = 0: sequential DCT
    return _segment(0xDB, dqt), _segment(0xC0, sof) + _segment(0xC4, dht) + _segment(0xDA, sos)


def jpeg_header(
    rows: int,
    columns: int,
    samples: int,
    quality: int = 80,
    *,
    app: bytes = b"",
    comment: bytes = b"",
    comment_first: bool = False,
) -> bytes:
    """SOI, [APP], [COM], DQT, [COM], SOF0, DHT, SOS: entropy-coded data follows.

    `app` is a whole segment; `comment` the text of a COM segment, right after SOI (and
    APP) when `comment_first`, else after DQT.
    """
    dqt, rest = _jpeg_segments(rows, columns, samples, quality)
    com = _segment(0xFE, comment) if comment else b""
    before, after = (com, b"") if comment_first else (b"", com)
    return b"\xff\xd8" + app + before + dqt + after + rest


def jpeg_frame_header(rows: int, columns: int, samples: int, plan: FramePlan) -> bytes:
    """The header of the JPEG frame `plan` describes."""
    app = b""
    if plan.app:  # alternately Exif and Adobe, so the marker sequences vary too
        app = EXIF_APP1 if plan.index // 7 % 2 == 0 else ADOBE_APP14[samples]
    return jpeg_header(
        rows,
        columns,
        samples,
        plan.quality,
        app=app,
        comment=plan.comment,
        comment_first=plan.comment_first,
    )


# --- JPEG 2000 codestreams (ITU-T T.800) ----------------------------------------------------

J2K_LEVELS = 5  # wavelet decomposition levels: a 256 x 256 tile's LL band is 8 x 8
GUARD_BITS = 2


def _j2k_step_sizes(levels: int, quality: int) -> bytes:
    """SPqcd of scalar expounded quantization (Sqcd style 2): one step per subband.

    Subbands in codestream order: LL of the coarsest level, then HL, LH, HH of each level
    from the coarsest to the finest. The finest level's steps are the largest (its detail
    matters least), halving at each coarser level, and HH's 1.5 times HL's and LH's, as
    visual weighting does; a lower quality scales them all up. Each step is written as
    (exponent, mantissa) relative to the subband's dynamic range, 8 bits + its gain
    (E.1.1.1: step = 2^(R - exponent) * (1 + mantissa / 2^11)).
    """
    finest = (100 - quality) / 4 + 1  # in sample values: 2.25 at quality 95, 11 at 60
    bands = [(levels, 0)]  # (level, gain): LL's gain is 0, HL's and LH's 1, HH's 2
    bands += [(level, gain) for level in range(levels, 0, -1) for gain in (1, 1, 2)]
    steps = b""
    for level, gain in bands:
        step = finest / 2 ** (level - 1) * (1.5 if gain == 2 else 1)
        fraction, exponent = math.frexp(step / 2 ** (8 + gain))  # fraction in [0.5, 1)
        mantissa = min(2047, round((2 * fraction - 1) * 2048))
        steps += struct.pack(">H", (1 - exponent) << 11 | mantissa)
    return steps


@functools.cache
def _j2k_coding(samples: int, quality: int) -> bytes:
    """COD and QCD of the irreversible (9-7) path, one quality layer, 64 x 64 code-blocks."""
    mct = 1 if samples == 3 else 0  # the irreversible colour transform: YBR_ICT
    cod = bytes((0, 0)) + struct.pack(">H", 1) + bytes((mct, J2K_LEVELS, 4, 4, 0, 0))
    qcd = bytes([GUARD_BITS << 5 | 2]) + _j2k_step_sizes(J2K_LEVELS, quality)
    return _segment(0x52, cod) + _segment(0x5C, qcd)


def j2k_header(rows: int, columns: int, samples: int, plan: FramePlan) -> bytes:
    """SOC, SIZ, COM, COD, QCD, SOT, SOD of a one-tile codestream `plan.length` long.

    What follows is the tile's data and EOC (FF D9); Psot, the tile-part's length, counts
    from SOT to the end of the data, so it follows from the codestream's length.
    """
    siz = struct.pack(">HIIIIIIIIH", 0, columns, rows, 0, 0, columns, rows, 0, 0, samples)
    siz += bytes((7, 1, 1)) * samples  # 8-bit unsigned, not subsampled
    main = b"\xff\x4f" + _segment(0x51, siz)
    main += _segment(0x64, b"\x00\x01" + plan.comment)  # Rcom 1: Latin-1 text
    main += _j2k_coding(samples, plan.quality)
    psot = plan.length - len(main) - len(EOI)
    return main + b"\xff\x90" + struct.pack(">HHIBB", 10, 0, psot, 0, 1) + b"\xff\x93"


# --- Frames -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    """How a compression's frames are written, and what the data set says of them."""

    transfer_syntax: str
    method: str  # Lossy Image Compression Method
    colour: str  # Photometric Interpretation of 3-sample frames
    header: Callable[[int, int, int, FramePlan], bytes]  # (rows, columns, samples, plan)


CODECS = {
    "jpeg": Codec(JPEGBaseline8Bit, "ISO_10918_1", "YBR_FULL_422", jpeg_frame_header),
    "j2k": Codec(JPEG2000, "ISO_15444_1", "YBR_ICT", j2k_header),
}


def entropy_pool(size: int = MiB, seed: int = 0x5EED) -> bytes:
    """Pseudo-random bytes without FF, where frames take their entropy-coded data from."""
    return random.Random(seed).randbytes(size).replace(b"\xff", b"\x7f")


def frame_pieces(
    header: bytes, pool: bytes, index: int, size: int, padded: bool = False
) -> Iterator[bytes]:
    """Frame `index` in an item of `size` bytes, in pieces: header, entropy-coded bytes,
    EOI (or EOC), and when `padded` a 00 byte after it (the codestream is then odd)."""
    remaining = size - len(header) - len(EOI) - padded
    if remaining < 0 or size % 2:
        raise ValueError(f"frame size {size} is odd or shorter than the header")
    yield header
    view = memoryview(pool)
    start = (index * 7_919) % len(pool)  # a different slice of the pool for every frame
    while remaining:
        piece = view[start : start + remaining]
        yield piece  # type: ignore[misc]
        remaining -= len(piece)
        start = 0
    yield EOI + PAD if padded else EOI


# --- DICOM files --------------------------------------------------------------------------


def _uid(*parts: object) -> str:
    """A UID that is the same every run, so a file is written with the same bytes."""
    return generate_uid(entropy_srcs=["encaps-lint benchmark", *map(str, parts)])


def _base_dataset(sop_class: str, key: str, index: int, codec: str = "jpeg") -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = _uid(key, "instance", index)
    ds.file_meta.TransferSyntaxUID = CODECS[codec].transfer_syntax
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = _uid(key, "study")
    ds.SeriesInstanceUID = _uid(key, "series")
    ds.StudyDate = ds.ContentDate = "20240102"
    ds.StudyTime = ds.ContentTime = "101500"
    ds.PatientName = "Bench^Mark"
    ds.PatientID = "BENCH-0001"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.Manufacturer = "encaps-lint benchmarks"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = CODECS[codec].method
    return ds


def _tiling(frames: int) -> tuple[int, int]:
    """(tiles across, tiles down) for `frames` tiles, as square as whole tiles allow."""
    down = next(d for d in range(math.isqrt(frames), 0, -1) if frames % d == 0)
    return frames // down, down


def wsi_dataset(
    lengths: Sequence[int],
    rows: int,
    columns: int,
    samples: int = 3,
    key: str = "wsi",
    codec: str = "jpeg",
) -> Dataset:
    """A whole-slide image's attributes, with an Extended Offset Table (VR OV) for items
    of `lengths` bytes, one per frame."""
    frames = len(lengths)
    ds = _base_dataset(WSI_STORAGE, key, 0, codec)
    ds.ImageType = ["DERIVED", "PRIMARY", "VOLUME", "NONE"]
    ds.Modality = "SM"
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = CODECS[codec].colour if samples == 3 else "MONOCHROME2"
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.NumberOfFrames = frames
    ds.Rows = rows
    ds.Columns = columns
    across, down = _tiling(frames)
    ds.TotalPixelMatrixColumns = across * columns
    ds.TotalPixelMatrixRows = down * rows
    ds.DimensionOrganizationType = "TILED_FULL"
    ds.LossyImageCompressionRatio = f"{frames * rows * columns * samples / sum(lengths):.2f}"
    _slide_attributes(ds, key, across * columns, down * rows)
    # offsets from the first item after the BOT to each frame's (only) item
    offsets = itertools.accumulate((ITEM_HEADER + n for n in lengths[:-1]), initial=0)
    ds.add_new(0x7FE00001, "OV", struct.pack(f"<{frames}Q", *offsets))
    ds.add_new(0x7FE00002, "OV", struct.pack(f"<{frames}Q", *lengths))
    return ds


def _item(**attributes: object) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    return _item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def _slide_attributes(ds: Dataset, key: str, width: int, height: int) -> None:
    """The equipment, slide, specimen, optical path and functional groups of a WSI.

    Not the point of the benchmark, but a real WSI's data set has them, and every tool
    parses them before it gets to the Pixel Data.
    """
    spacing = 0.00025  # mm per pixel: a 40x scan
    ds.ManufacturerModelName = "Bench Scanner"
    ds.DeviceSerialNumber = "0001"
    ds.SoftwareVersions = "1.0"
    ds.AcquisitionDateTime = "20240102101500"
    ds.FrameOfReferenceUID = _uid(key, "frame of reference")
    ds.PositionReferenceIndicator = "SLIDE_CORNER"
    ds.VolumetricProperties = "VOLUME"
    ds.BurnedInAnnotation = "NO"
    ds.SpecimenLabelInImage = "NO"
    ds.FocusMethod = "AUTO"
    ds.ExtendedDepthOfField = "NO"
    ds.ImagedVolumeWidth = round(width * spacing, 3)
    ds.ImagedVolumeHeight = round(height * spacing, 3)
    ds.ImagedVolumeDepth = 0.001
    ds.TotalPixelMatrixFocalPlanes = 1
    ds.TotalPixelMatrixOriginSequence = [
        _item(XOffsetInSlideCoordinateSystem=20.0, YOffsetInSlideCoordinateSystem=40.0)
    ]
    ds.ImageOrientationSlide = [0, -1, 0, -1, 0, 0]
    ds.ContainerIdentifier = "SLIDE-0001"
    ds.IssuerOfTheContainerIdentifierSequence = []
    ds.ContainerTypeCodeSequence = [_code("433466003", "SCT", "Microscope slide")]
    ds.SpecimenDescriptionSequence = [
        _item(
            SpecimenIdentifier="SPECIMEN-0001",
            SpecimenUID=_uid(key, "specimen"),
            IssuerOfTheSpecimenIdentifierSequence=[],
            SpecimenPreparationSequence=[],
        )
    ]
    ds.AcquisitionContextSequence = []
    ds.OpticalPathSequence = [
        _item(
            OpticalPathIdentifier="1",
            IlluminationTypeCodeSequence=[_code("111744", "DCM", "Brightfield illumination")],
            IlluminationColorCodeSequence=[_code("11744", "DCM", "Brightfield illumination")],
        )
    ]
    ds.NumberOfOpticalPaths = 1
    ds.DimensionOrganizationSequence = [_item(DimensionOrganizationUID=_uid(key, "dimensions"))]
    ds.SharedFunctionalGroupsSequence = [
        _item(
            PixelMeasuresSequence=[_item(PixelSpacing=[spacing, spacing], SliceThickness=0.001)],
            WholeSlideMicroscopyImageFrameTypeSequence=[
                _item(FrameType=["DERIVED", "PRIMARY", "VOLUME", "NONE"])
            ],
            OpticalPathIdentificationSequence=[_item(OpticalPathIdentifier="1")],
        )
    ]


def small_dataset(index: int, rows: int, columns: int, key: str = "small") -> Dataset:
    """A single-frame grey Secondary Capture image's attributes (no offset table)."""
    ds = _base_dataset(SC_STORAGE, key, index)
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.Laterality = ""
    ds.PatientOrientation = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    return ds


def _prefix(ds: Dataset) -> bytes:
    """Preamble, File Meta Information and every attribute before the Pixel Data."""
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def write_encapsulated(
    path: Path,
    ds: Dataset,
    plans: Sequence[FramePlan],
    header: Callable[[FramePlan], bytes],
    pool: bytes,
) -> tuple[int, bool]:
    """Write `ds`, then Pixel Data: empty BOT, one item per planned frame, delimiter.

    Returns (file size, whether it was written): a file that already has that size is
    kept. Written to a .partial file first, so an interrupted run leaves no bad file.
    """
    prefix = _prefix(ds)
    items = sum(ITEM_HEADER + plan.item_length for plan in plans)
    size = len(prefix) + len(PIXEL_DATA_HEADER) + len(EMPTY_BOT) + items
    size += len(SEQUENCE_DELIMITER)
    if path.is_file() and path.stat().st_size == size:
        return size, False
    free = shutil.disk_usage(path.parent).free
    if size > 1 << 30 and free < size + 512 * MiB:
        raise SystemExit(f"{path}: needs {size / 1e9:.1f} GB, {free / 1e9:.1f} GB free")
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb", buffering=MiB) as f:
        f.write(prefix)
        f.write(PIXEL_DATA_HEADER + EMPTY_BOT)
        for plan in plans:
            f.write(ITEM_TAG + struct.pack("<I", plan.item_length))
            pieces = frame_pieces(header(plan), pool, plan.index, plan.item_length, plan.padded)
            for piece in pieces:
                f.write(piece)
        f.write(SEQUENCE_DELIMITER)
    partial.replace(path)
    return size, True


def write_wsi(
    path: Path,
    frames: int,
    frame_size: int,
    rows: int = 256,
    columns: int = 256,
    samples: int = 3,
    key: str = "wsi",
    codec: str = "jpeg",
) -> tuple[int, bool]:
    """A multi-frame WSI file of unlike frames with an empty BOT and an EOT."""
    plans = frame_plans(key, 0, frames, frame_size)
    ds = wsi_dataset([p.item_length for p in plans], rows, columns, samples, key, codec)
    header = functools.partial(CODECS[codec].header, rows, columns, samples)
    return write_encapsulated(path, ds, plans, header, entropy_pool())


def write_small_files(
    folder: Path, count: int, frame_size: int, rows: int = 256, columns: int = 256
) -> tuple[int, int]:
    """`count` single-frame JPEG Baseline files in `folder`: (bytes, files written)."""
    folder.mkdir(parents=True, exist_ok=True)
    header = functools.partial(jpeg_frame_header, rows, columns, 1)
    pool = entropy_pool()
    total = written = 0
    for index in range(count):
        ds = small_dataset(index, rows, columns, key=folder.name)
        path = folder / f"{index:05d}.dcm"
        plans = frame_plans(folder.name, index, 1, frame_size)
        size, wrote = write_encapsulated(path, ds, plans, header, pool)
        total += size
        written += wrote
    return total, written


def generate(workload: Workload, workdir: Path) -> Path:
    """Write one workload into `workdir` (kept when already there); print what was done."""
    path = workload.path(workdir)
    started = time.perf_counter()
    if workload.folder:
        size, written = write_small_files(
            path, workload.files, workload.frame_size, workload.rows, workload.columns
        )
        what = f"{written} written, {workload.files - written} kept"
    else:
        size, wrote = write_wsi(
            path,
            workload.frames,
            workload.frame_size,
            workload.rows,
            workload.columns,
            workload.samples,
            key=workload.key,
            codec=workload.codec,
        )
        what = "written" if wrote else "kept (already there with the right size)"
    elapsed = time.perf_counter() - started
    print(f"{workload.key}: {path} ({size / 1e6:,.1f} MB) {what} in {elapsed:.1f} s", flush=True)
    return path


def check_workdir(workdir: Path) -> Path:
    """`workdir`, resolved and created; never inside the repository."""
    resolved = workdir.expanduser().resolve()
    if resolved.is_relative_to(REPOSITORY):
        raise SystemExit(f"--workdir {workdir} is inside the repository; use another folder")
    resolved.mkdir(parents=True, exist_ok=True)
    return resolved


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--only", action="append", choices=sorted(BY_KEY), help="this workload (repeatable)"
    )
    args = parser.parse_args(argv)
    workdir = check_workdir(args.workdir)
    started = time.perf_counter()
    for key in args.only or [w.key for w in WORKLOADS]:
        generate(BY_KEY[key], workdir)
    print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

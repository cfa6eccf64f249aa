"""Small builders for DICOM files with encapsulated Pixel Data, exact to the byte.

The data set in front of Pixel Data is written by pydicom; the Pixel Data element and
its items are written byte by byte here, so that every defect is exactly the one a test
asks for. Every builder returns a `Built` that also says where each item landed.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID

from dcmencaps_lint import facts
from dcmencaps_lint.context import Context, EncapsulatedContext
from dcmencaps_lint.engine import _pixel_context, lint_file
from dcmencaps_lint.findings import Finding
from dcmencaps_lint.model import Severity
from dcmencaps_lint.reader import ByteReader, open_path
from dcmencaps_lint.source import parse_dataset
from dcmencaps_lint.transfer_syntax import lookup

ITEM = 0xFFFEE000
SEQ_DELIM = 0xFFFEE0DD
ITEM_DELIM = 0xFFFEE00D
UNDEFINED = 0xFFFFFFFF

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
MPEG2_MPML = "1.2.840.10008.1.2.4.100"
H264_HP41 = "1.2.840.10008.1.2.4.102"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
SOP_CLASS_SC = "1.2.840.10008.5.1.4.1.1.7"
SOP_INSTANCE = "1.2.826.0.1.3680043.8.498.1"


def header(tag: int, length: int) -> bytes:
    """An item-style header: tag (group, element) and a 32-bit length, little endian."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, length)


def item(payload: bytes, *, length: int | None = None, tag: int = ITEM) -> bytes:
    """An item holding `payload`; `length` overrides the length field only."""
    return header(tag, len(payload) if length is None else length) + payload


def bot_item(offsets: Sequence[int]) -> bytes:
    return item(struct.pack(f"<{len(offsets)}I", *offsets))


def delimiter(length: int = 0) -> bytes:
    return header(SEQ_DELIM, length)


def jpeg_frame(size: int = 32, *, fill: int = 0x11) -> bytes:
    """SOI, an APP0 marker, filler, EOI: even length `size` (>= 8)."""
    body = bytes([fill]) * (size - 8)
    return b"\xff\xd8\xff\xe0" + body + b"\x00\x00\xff\xd9"


def j2k_frame(size: int = 32, *, fill: int = 0x22) -> bytes:
    """SOC + SIZ, filler, EOC: even length `size` (>= 8)."""
    return b"\xff\x4f\xff\x51" + bytes([fill]) * (size - 6) + b"\xff\xd9"


def rle_frame(segments: int = 1, size: int = 80) -> bytes:
    """A 64-byte RLE header with `segments` segments, then filler up to `size` bytes."""
    offsets = [64 + 8 * i for i in range(segments)] + [0] * (15 - segments)
    return struct.pack("<16I", segments, *offsets) + b"\x00" * (size - 64)


@dataclass
class Built:
    """A built file and where its parts are."""

    data: bytes
    pixel_offset: int  # the (7FE0,0010) tag
    value_offset: int  # the first item tag
    items: list[int] = field(default_factory=list)  # absolute item tag offsets, [0] = BOT
    delimiter: int | None = None
    eot_value_offset: int | None = None
    eot_lengths_value_offset: int | None = None
    nof_value_offset: int | None = None

    def item_length_field(self, number: int) -> int:
        """Absolute offset of item `number`'s length field (0 = BOT)."""
        return self.items[number] + 4

    def bot_entry(self, index: int) -> int:
        """Absolute offset of the 0-based BOT entry `index`."""
        return self.items[0] + 8 + 4 * index

    def fragment_value(self, number: int) -> int:
        return self.items[number] + 8

    def write(self, path: object) -> object:
        with open(path, "wb") as fh:  # type: ignore[arg-type]
            fh.write(self.data)
        return path


def dataset_prefix(
    ts: str,
    *,
    number_of_frames: str | int | None = None,
    eot: bytes | None = None,
    eot_lengths: bytes | None = None,
    eot_vr: str = "OV",
    extra: dict[str, object] | None = None,
    rows: int = 4,
    columns: int = 4,
) -> bytes:
    """Preamble, File Meta Information and the data set up to (not including) Pixel Data.

    Lossy transfer syntaxes get Lossy Image Compression "01", as a conformant writer
    would. `extra` sets attributes by keyword; a value of None removes one. Any
    transfer syntax UID is written, even one pydicom does not know.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASS_SC
    meta.MediaStorageSOPInstanceUID = SOP_INSTANCE
    meta.TransferSyntaxUID = UID(ts)
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SOP_CLASS_SC
    ds.SOPInstanceUID = SOP_INSTANCE
    ds.Modality = "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if number_of_frames is not None:
        ds.add_new(0x00280008, "IS", str(number_of_frames))
    syntax = lookup(ts)
    if syntax is not None and syntax.lossy:
        # A conformant lossy image says so (TSX006); tests override or delete it via extra.
        ds.LossyImageCompression = "01"
    for keyword, value in (extra or {}).items():
        if value is None:
            delattr(ds, keyword)
            continue
        setattr(ds, keyword, value)
    if "SOPInstanceUID" in ds:  # the File Meta Information names the same instance
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if eot is not None:
        ds.add_new(0x7FE00001, eot_vr, eot)
    if eot_lengths is not None:
        ds.add_new(0x7FE00002, eot_vr, eot_lengths)
    implicit = ts == IMPLICIT_LE
    try:
        return _written(ds, implicit)
    except ValueError:  # a syntax pydicom does not know (JPEG XL, Deflated Image Frame...)
        pass
    # written under a stand-in UID of the same length, swapped: every offset holds
    stand_in = "1.2." + "9" * (len(ts) - 4)
    meta.TransferSyntaxUID = UID(stand_in)
    data = _written(ds, implicit)
    assert data.count(stand_in.encode()) == 1
    return data.replace(stand_in.encode(), ts.encode())


def _written(ds: Dataset, implicit: bool) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True, implicit_vr=implicit, little_endian=True)
    return buffer.getvalue()


def pixel_data_header(*, implicit: bool = False, vr: str = "OB", length: int = UNDEFINED) -> bytes:
    if implicit:
        return struct.pack("<HHI", 0x7FE0, 0x0010, length)
    return struct.pack("<HH2sHI", 0x7FE0, 0x0010, vr.encode(), 0, length)


def u64(values: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(values)}Q", *values)


def encapsulated(
    frames: Sequence[bytes | Sequence[bytes]] = (),
    *,
    ts: str = JPEG_BASELINE,
    bot: str | Sequence[int] | bytes | None = "auto",
    eot: str | tuple[Sequence[int], Sequence[int]] | None = None,
    eot_vr: str = "OV",
    number_of_frames: str | int | None = "auto",
    items: bytes | None = None,
    end: bytes | None = None,
    vr: str = "OB",
    extra: dict[str, object] | None = None,
) -> Built:
    """A file whose Pixel Data holds `frames` (each one fragment, or a list of fragments).

    bot: "auto" (one entry per frame), None/"empty" (empty BOT item), a list of offsets,
    raw bytes (the whole BOT item, header included), or "none" (no BOT item at all).
    eot: "auto" (computed), or (offsets, lengths). items: raw bytes after the BOT item
    instead of the fragments built from `frames`. end: raw bytes instead of the delimiter.
    number_of_frames: "auto" (len(frames) when more than one), None (absent) or a value.
    """
    fragments = [[f] if isinstance(f, bytes | bytearray) else list(f) for f in frames]
    frame_starts: list[int] = []
    position = 0
    for frame in fragments:
        frame_starts.append(position)
        position += sum(8 + len(fragment) for fragment in frame)

    if bot == "auto":
        bot_bytes = bot_item(frame_starts)
    elif bot is None or bot == "empty":
        bot_bytes = item(b"")
    elif bot == "none":
        bot_bytes = b""
    elif isinstance(bot, bytes | bytearray):
        bot_bytes = bytes(bot)
    else:
        bot_bytes = bot_item(list(bot))  # type: ignore[arg-type]

    eot_values: tuple[bytes, bytes] | None = None
    if eot == "auto":
        lengths = [sum(len(fr) for fr in frame) for frame in fragments]
        eot_values = (u64(frame_starts), u64(lengths))
    elif eot is not None:
        eot_values = (u64(list(eot[0])), u64(list(eot[1])))

    if number_of_frames == "auto":
        number_of_frames = len(fragments) if len(fragments) > 1 else None

    prefix = dataset_prefix(
        ts,
        number_of_frames=number_of_frames,
        eot=eot_values[0] if eot_values else None,
        eot_lengths=eot_values[1] if eot_values else None,
        eot_vr=eot_vr,
        extra=extra,
    )
    implicit = ts == IMPLICIT_LE
    pixel_offset = len(prefix)
    head = pixel_data_header(implicit=implicit, vr=vr)
    value_offset = pixel_offset + len(head)

    body = bytearray(bot_bytes)
    item_offsets = [value_offset] if bot_bytes else []
    if items is None:
        for frame in fragments:
            for fragment in frame:
                item_offsets.append(value_offset + len(body))
                body += item(fragment)
    else:
        body += items
    delimiter_offset = value_offset + len(body)
    body += delimiter() if end is None else end

    data = prefix + head + bytes(body)
    built = Built(data, pixel_offset, value_offset, item_offsets)
    built.delimiter = delimiter_offset if end is None else None
    _locate_elements(built)
    return built


def native(ts: str = EXPLICIT_LE, *, length: int | None = 16, **kw: object) -> Built:
    """A file with native Pixel Data of `length` bytes (None: undefined length)."""
    prefix = dataset_prefix(ts, **kw)  # type: ignore[arg-type]
    implicit = ts == IMPLICIT_LE
    if length is None:
        head = pixel_data_header(implicit=implicit, vr="OB")
        payload = item(b"") + item(b"\x00" * 16) + delimiter()
    else:
        head = pixel_data_header(implicit=implicit, vr="OB", length=length)
        payload = b"\x00" * length
    built = Built(prefix + head + payload, len(prefix), len(prefix) + len(head))
    _locate_elements(built)
    return built


def _locate_elements(built: Built) -> None:
    """Record where pydicom finds EOT, EOT Lengths and Number of Frames values."""
    ds = pydicom.dcmread(io.BytesIO(built.data), stop_before_pixels=True)
    for tag, attr in (
        (0x7FE00001, "eot_value_offset"),
        (0x7FE00002, "eot_lengths_value_offset"),
        (0x00280008, "nof_value_offset"),
    ):
        elem = ds.get_item(tag)
        if elem is not None:
            # pydicom converts empty values at once; those keep the offset as file_tell
            setattr(built, attr, getattr(elem, "value_tell", getattr(elem, "file_tell", None)))


# Linting a built file, for the rule tests (pyflakes' `flakes()` in spirit): one copy.
Lintable = Built | bytes | BinaryIO
Row = tuple[str, Severity, int | None, int | None, int | None]


def findings(target: Lintable, code: str | None = None, **options: Any) -> list[Finding]:
    """The findings of lint_file(target, **options), only those of `code` when given."""
    data = target.data if isinstance(target, Built) else target
    found = lint_file(data, **options).findings
    return [f for f in found if code is None or f.code == code]


def codes(target: Lintable, **options: Any) -> set[str]:
    """The codes found in `target`."""
    return {f.code for f in findings(target, **options)}


def where(found: Sequence[Finding]) -> list[Row]:
    """(code, severity, offset, frame, item) of each finding."""
    return [(f.code, f.severity, f.offset, f.frame, f.item) for f in found]


def assert_findings(
    target: Lintable,
    code: str,
    rows: Sequence[tuple[Severity, int | None, int | None, int | None]],
    **options: Any,
) -> list[Finding]:
    """Lint `target` and assert that the findings of `code` are exactly `rows`, each
    (severity, offset, frame, item), in report order. Returns them, for their messages."""
    found = findings(target, code, **options)
    assert [(f.severity, f.offset, f.frame, f.item) for f in found] == list(rows)
    return found


def context_of(built: Built | bytes, *, ts: str | None = "from file") -> Context:
    """The context the engine makes of the top-level Pixel Data of these bytes (under
    `ts`, a transfer syntax UID, instead of the file's when given)."""
    data = built.data if isinstance(built, Built) else built
    fileobj = io.BytesIO(data)
    reader = ByteReader(fileobj, len(data))
    dataset = parse_dataset(fileobj, reader)
    uid = dataset.transfer_syntax_uid if ts == "from file" else ts
    return _pixel_context(reader, dataset, lookup(uid) if uid else None, deep=False)


def frame_groups_of(target: bytes | Path, *, noted: bool = True) -> list[list[int]]:
    """The frame numbers of each group facts.group_frames forms, from bytes or from a
    file (read as lint_file reads it); not `noted`: without the facts the compiled core
    noted while it walked (then it reads them from the file)."""
    if isinstance(target, Path):
        fileobj, size = open_path(target)
    else:
        fileobj, size = io.BytesIO(target), len(target)
    with fileobj:
        reader = ByteReader(fileobj, size)
        dataset = parse_dataset(fileobj, reader)
        ctx = _pixel_context(reader, dataset, lookup(dataset.transfer_syntax_uid or ""), False)
        assert isinstance(ctx, EncapsulatedContext)
        walk = ctx.walk if noted else ctx.walk._replace(item_facts=None)
        groups = facts.group_frames(reader, walk, ctx.ts.codec, ctx.frame_map.frames) or []
        reader.close()
    return [[frame.number for frame in group.members] for group in groups]

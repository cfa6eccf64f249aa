"""Linting never reads fragment payloads beyond the few bytes the CSM rules need.

The file is served through a counting file object without `fileno`, so the engine uses
seek/read (not pread on a file descriptor) and every byte it reads is recorded with its offset.
"""

from __future__ import annotations

import io

import pytest
from builders import (
    HTJ2K_LOSSLESS,
    J2K_LOSSLESS,
    JPEG_LS_LOSSLESS,
    Built,
    encapsulated,
    j2k_frame,
    jpeg_frame,
)

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.facts import HEADER_READ, TAIL_BYTES
from dcmencaps_lint.model import ITEM_HEADER_SIZE, FileReport

FRAMES = 20
FRAGMENT_SIZE = 256 * 1024
# Bytes read per item: its header, and each frame's facts (facts.py): one read of its
# first bytes (the header, in one read), one of its last bytes; the grouping of frames
# by their facts reads them once, the rules on a representative once more.
PER_ITEM_BUDGET = ITEM_HEADER_SIZE + 2 * (HEADER_READ + TAIL_BYTES) + 64
NEAR_EDGE = HEADER_READ  # reads inside a payload stay this close to its first or last byte


class CountingFile:
    """A read-only binary file object over bytes that records every read it serves."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)
        self.reads: list[tuple[int, int]] = []  # (offset, bytes returned)

    def read(self, size: int | None = -1) -> bytes:
        offset = self._buffer.tell()
        data = self._buffer.read(size)
        self.reads.append((offset, len(data)))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        offset = self._buffer.tell()
        count = self._buffer.readinto(buffer)
        self.reads.append((offset, count))
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._buffer.seek(offset, whence)

    def tell(self) -> int:
        return self._buffer.tell()

    @property
    def bytes_read(self) -> int:
        return sum(count for _, count in self.reads)


def lint_counting(built: Built) -> tuple[FileReport, CountingFile]:
    fileobj = CountingFile(built.data)
    return lint_file(fileobj), fileobj  # type: ignore[arg-type]


def payloads(built: Built) -> list[tuple[int, int]]:
    """(start, end) of each fragment's value; items[0] is the BOT."""
    ends = [*built.items[2:], built.delimiter]
    return [(start + 8, end) for start, end in zip(built.items[1:], ends, strict=True)]


def assert_within_budget(built: Built, fileobj: CountingFile) -> None:
    items = len(built.items) + 1  # BOT, fragments and the delimiter
    assert fileobj.bytes_read <= built.value_offset + PER_ITEM_BUDGET * items
    assert fileobj.bytes_read * 100 < len(built.data)


def assert_only_edges_read(built: Built, fileobj: CountingFile) -> None:
    for start, end in payloads(built):
        middle = (start + NEAR_EDGE, end - NEAR_EDGE)
        for offset, count in fileobj.reads:
            if count:
                assert offset + count <= middle[0] or offset >= middle[1], (
                    f"read of {count} bytes at {offset} touches the middle of the payload "
                    f"{start}-{end}"
                )


def split(frame: bytes, parts: int) -> list[bytes]:
    """A frame cut into `parts` even-sized fragments; only the last ends with the marker."""
    size = len(frame) // parts // 2 * 2
    return [frame[i * size : (i + 1) * size if i < parts - 1 else None] for i in range(parts)]


JPEG = jpeg_frame(FRAGMENT_SIZE)
J2K = j2k_frame(FRAGMENT_SIZE)
CASES = {
    "jpeg-bot": encapsulated([JPEG] * FRAMES),
    "jpeg-ls-empty-bot": encapsulated([JPEG] * FRAMES, ts=JPEG_LS_LOSSLESS, bot="empty"),
    "j2k-bot": encapsulated([J2K] * FRAMES, ts=J2K_LOSSLESS),
    "htj2k-eot": encapsulated([J2K] * FRAMES, ts=HTJ2K_LOSSLESS, bot="empty", eot="auto"),
    "jpeg-eot": encapsulated([JPEG] * FRAMES, bot="empty", eot="auto"),
    "jpeg-markers": encapsulated([split(JPEG, 4)] * FRAMES, bot="empty"),
    "j2k-markers": encapsulated([split(J2K, 3)] * FRAMES, ts=J2K_LOSSLESS, bot="empty"),
    "jpeg-bot-multi-fragment": encapsulated([split(JPEG, 4)] * FRAMES),
    "jpeg-single-frame": encapsulated([split(JPEG, 8) * 4], bot="empty"),
}
EXPECTED_SOURCE = {
    "jpeg-bot": "bot",
    "jpeg-ls-empty-bot": "one-per-fragment",
    "j2k-bot": "bot",
    "htj2k-eot": "eot",
    "jpeg-eot": "eot",
    "jpeg-markers": "markers",
    "j2k-markers": "markers",
    "jpeg-bot-multi-fragment": "bot",
    "jpeg-single-frame": "single-frame",
}


@pytest.mark.parametrize("name", list(CASES))
def test_reads_stay_within_budget(name: str) -> None:
    built = CASES[name]
    report, fileobj = lint_counting(built)
    assert report.frame_map_source == EXPECTED_SOURCE[name]
    assert report.fragments == len(built.items) - 1
    assert_within_budget(built, fileobj)


@pytest.mark.parametrize("name", list(CASES))
def test_reads_touch_only_payload_edges(name: str) -> None:
    built = CASES[name]
    _, fileobj = lint_counting(built)
    assert_only_edges_read(built, fileobj)


def test_the_rules_do_read_frame_edges() -> None:
    # Guards the two tests above against passing because nothing was linted: the CSM
    # rules must have looked at each frame's first and last bytes.
    built = CASES["jpeg-bot"]
    _, fileobj = lint_counting(built)
    spans = payloads(built)
    heads = {start for start, _ in spans}
    touched_heads = {offset for offset, count in fileobj.reads if count and offset in heads}
    touched_tails = {
        end
        for _, end in spans
        for offset, count in fileobj.reads
        if count and offset < end <= offset + count
    }
    assert touched_heads == heads
    assert touched_tails == {end for _, end in spans}


def test_findings_do_not_need_more_reads() -> None:
    # Broken frames (no SOI, no EOI) are reported within the same budget.
    broken = b"\xff\xe0" + JPEG[2:-2] + b"\x00\x00"  # APP0 where SOI should be
    built = encapsulated([JPEG, broken] * (FRAMES // 2))
    report, fileobj = lint_counting(built)
    assert {f.code for f in report.findings} >= {"CSM001", "CSM002"}
    assert_within_budget(built, fileobj)
    assert_only_edges_read(built, fileobj)


def real_header(name: str, end_marker: bytes) -> bytes:
    """A real codestream's header from a pydicom test file, up to `end_marker`'s segment.

    JPEG: through the SOS segment; JPEG 2000: up to (not including) the first SOT.
    """
    import struct

    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.encaps import generate_frames

    path = get_testdata_file(name)
    assert path is not None
    ds = dcmread(path)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    at = frame.index(end_marker)
    if end_marker == b"\xff\xda":  # keep the whole SOS segment
        (length,) = struct.unpack(">H", frame[at + 2 : at + 4])
        return frame[: at + 2 + length]
    return frame[:at]


@pytest.mark.parametrize(
    ("name", "ts", "end_marker", "tail"),
    [
        ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50", b"\xff\xda", b"\xff\xd9"),
        ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91", b"\xff\x90", b"\xff\xd9"),
    ],
)
def test_real_headers_are_read_but_not_the_data_after_them(
    name: str, ts: str, end_marker: bytes, tail: bytes
) -> None:
    """Real headers (tables, comments, several hundred bytes) are read in one read of a
    frame's first HEADER_READ bytes (more where the header is longer); the entropy-coded
    data beyond is never read, only the frame's last bytes."""
    head = real_header(name, end_marker)
    body = bytes([0x11]) * FRAGMENT_SIZE  # stands in for entropy-coded data: no markers
    frames = [head + body + tail for _ in range(5)]
    frames = [f + b"\x00" * (len(f) % 2) for f in frames]
    built = encapsulated(frames, ts=ts)
    _, fileobj = lint_counting(built)
    for start, end in payloads(built):
        allowed = [(start, start + max(len(head) + 8, HEADER_READ)), (end - TAIL_BYTES, end)]
        for offset, count in fileobj.reads:
            if count and start <= offset < end:
                assert any(lo <= offset and offset + count <= hi for lo, hi in allowed), (
                    f"read of {count} bytes at {offset - start} into a {end - start}-byte payload"
                )

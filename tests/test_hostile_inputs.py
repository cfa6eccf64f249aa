"""Hostile Pixel Data: lengths that name gigabytes, garbage, absurd tables.

A valid data set prefix is followed by hostile Pixel Data. Linting must return a
FileReport (never raise), every finding's offset must lie inside the file, and memory
must stay small whatever a length field claims.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from builders import (
    ITEM,
    JPEG_BASELINE,
    UNDEFINED,
    Built,
    encapsulated,
    header,
    item,
    jpeg_frame,
    pixel_data_header,
)
from measure import with_peak

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import FileReport

MEMORY_LIMIT = 4 * 1024 * 1024  # bytes of peak Python allocation for a ~1 KB input


def prefix() -> bytes:
    """The valid file up to and including the Pixel Data header (undefined length)."""
    built = encapsulated([jpeg_frame()])
    return built.data[: built.value_offset]


def padded(data: bytes, size: int = 1024) -> bytes:
    return data + bytes(max(0, size - len(data)))


def check(data: bytes) -> FileReport:
    """Lint and assert what every hostile input must satisfy."""
    lint_file(data[:200])  # warm up imports and the rule cache outside the measurement
    report, peak = with_peak(lambda: lint_file(data))
    assert isinstance(report, FileReport)
    assert report.status in ("passed", "failed", "skipped", "error")
    for f in report.findings:
        if f.offset is not None:
            assert 0 <= f.offset <= len(data), f
        if f.frame is not None:
            assert f.frame >= 1, f
    assert peak < MEMORY_LIMIT, peak
    return report


def codes(report: FileReport) -> set[str]:
    return {f.code for f in report.findings}


HOSTILE_ITEMS = {
    "bot-length-fffffff0": header(ITEM, 0xFFFFFFF0),
    "bot-length-4gb": header(ITEM, 0xFFFFFFFC),
    "fragment-length-fffffff0": item(b"") + header(ITEM, 0xFFFFFFF0) + b"\xff\xd8\xff\xe0",
    "codestream-first-item-fffffff0": header(ITEM, 0xFFFFFFF0) + b"\xff\xd8\xff\xe0",
    "fragment-length-fffffffe": item(b"") + header(ITEM, 0xFFFFFFFE),
    "many-undefined-lengths": header(ITEM, UNDEFINED) * 100,
    "undefined-after-bot": item(b"") + header(ITEM, UNDEFINED) * 100,
    "delimiter-length-fffffff0": item(b"") + item(jpeg_frame()) + header(0xFFFEE0DD, 0xFFFFFFF0),
    "many-empty-items": item(b"") * 120,
    "item-delimitations": item(b"") + header(0xFFFEE00D, 0) * 120,
}


@pytest.mark.parametrize("raw", HOSTILE_ITEMS.values(), ids=HOSTILE_ITEMS.keys())
def test_hostile_items(raw: bytes) -> None:
    check(padded(prefix() + raw))


def test_bot_length_fffffff0_is_a_truncated_item() -> None:
    report = check(padded(prefix() + header(ITEM, 0xFFFFFFF0)))
    assert "ITM005" in codes(report)


def test_fragment_length_fffffff0_is_a_truncated_item() -> None:
    raw = item(b"") + header(ITEM, 0xFFFFFFF0) + b"\xff\xd8\xff\xe0"
    report = check(padded(prefix() + raw))
    [f] = [f for f in report.findings if f.code == "ITM005"]
    assert f.item == 1


def test_many_undefined_lengths_stop_at_the_first() -> None:
    data = padded(prefix() + item(b"") + header(ITEM, UNDEFINED) * 100)
    report = check(data)
    assert [f.code for f in report.findings if f.code == "ITM003"] == ["ITM003"]


def test_hostile_bot_from_a_real_file(tmp_path: Path) -> None:
    """The same through a path: the reader reads the file itself, not a buffer."""
    data = padded(prefix() + header(ITEM, 0xFFFFFFFC))
    path = tmp_path / "hostile.dcm"
    path.write_bytes(data)
    report, peak = with_peak(lambda: lint_file(path))
    assert "ITM005" in codes(report)
    assert all(f.offset is None or 0 <= f.offset <= len(data) for f in report.findings)
    assert peak < MEMORY_LIMIT


@pytest.mark.parametrize("seed", range(200))
def test_random_bytes_after_pixel_data_header(seed: int) -> None:
    rng = random.Random(seed)
    body = rng.randbytes(rng.randrange(0, 1024))
    if seed % 4 == 1:  # random items: plausible tags, random lengths and payloads
        parts = [item(b"")]
        for _ in range(rng.randrange(1, 12)):
            tag = rng.choice([ITEM, ITEM, 0xFFFEE00D, 0xFFFEE0DD, rng.getrandbits(32)])
            length = rng.choice([0, 1, 2, 7, 16, 0xFFFFFFFF, 0xFFFFFFF0, rng.getrandbits(32)])
            parts.append(header(tag, length) + rng.randbytes(rng.randrange(0, 64)))
        body = b"".join(parts)
    elif seed % 4 == 2:  # a JPEG-looking start, then garbage
        body = item(b"") + header(ITEM, rng.getrandbits(32)) + b"\xff\xd8\xff" + body
    check(prefix() + body)


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_under_defined_length(seed: int) -> None:
    rng = random.Random(1000 + seed)
    built = encapsulated([jpeg_frame()])
    head = built.data[: built.pixel_offset]
    length = rng.choice([0, 1, 0xFFFFFFF0, rng.getrandbits(32)])
    check(head + pixel_data_header(length=length) + rng.randbytes(rng.randrange(0, 900)))


def test_eot_with_huge_values() -> None:
    top = 2**64 - 1
    built = encapsulated([jpeg_frame(), jpeg_frame()], bot="empty", eot=([0, top], [top, top - 1]))
    report = check(padded(built.data))
    assert codes(report) & {"EOT004", "EOT005"}


def test_eot_huge_values_single_frame() -> None:
    built = encapsulated([jpeg_frame()], bot="empty", eot=([2**63], [2**64 - 2]))
    check(padded(built.data))


def test_eot_with_many_entries() -> None:
    offsets = list(range(0, 8 * 2000, 8))
    built = encapsulated([jpeg_frame()], bot="empty", eot=(offsets, [2**40] * 2000))
    check(built.data)


@pytest.mark.parametrize("bot", [[0xFFFFFFFF], [0, 0xFFFFFFF0, 0x7FFFFFFF]])
def test_bot_with_huge_offsets(bot: list[int]) -> None:
    built = encapsulated([jpeg_frame()] * len(bot), bot=bot)
    check(padded(built.data))


@pytest.mark.parametrize("frames", [1, 3])
def test_number_of_frames_huge(frames: int) -> None:
    built: Built = encapsulated(
        [jpeg_frame()] * frames, ts=JPEG_BASELINE, number_of_frames="999999999"
    )
    report = check(padded(built.data))
    assert "TSX008" not in codes(report)  # valid, only absurd: the frame rules report it


def test_number_of_frames_huge_with_empty_bot() -> None:
    built = encapsulated([jpeg_frame()] * 3, bot="empty", number_of_frames="999999999")
    check(padded(built.data))


def _deflate_bomb(tmp_path: Path, inflated_mib: int) -> Path:
    """File Meta saying Deflated Explicit VR Little Endian, then a deflate stream of
    zeros that would inflate to `inflated_mib` MiB."""
    import struct
    import zlib

    from builders import dataset_prefix

    prefix = dataset_prefix("1.2.840.10008.1.2.1.99")
    position = 132
    group = 0x0002
    while group == 0x0002:  # walk past the File Meta elements (explicit VR LE)
        group, _ = struct.unpack_from("<HH", prefix, position)
        if group != 0x0002:
            break
        if prefix[position + 4 : position + 6] in (b"OB", b"UN", b"SQ", b"UT", b"OW"):
            position += 12 + struct.unpack_from("<I", prefix, position + 8)[0]
        else:
            position += 8 + struct.unpack_from("<H", prefix, position + 6)[0]
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    body = b"".join(deflater.compress(zeros) for _ in range(inflated_mib)) + deflater.flush()
    path = tmp_path / "bomb.dcm"
    path.write_bytes(prefix[:position] + body)
    return path


def test_deflate_bomb_is_not_inflated(tmp_path: Path) -> None:
    path = _deflate_bomb(tmp_path, inflated_mib=256)
    assert path.stat().st_size < 1 << 20  # a small file...
    lint_file(path)  # warm up imports outside the measurement
    report, peak = with_peak(lambda: lint_file(path))  # ...that pydicom would inflate whole
    assert (report.status, report.reason) == ("skipped", "deflated data set: Pixel Data is native")
    assert peak < 16 * 2**20

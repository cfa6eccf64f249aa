"""EOT001-EOT011: the Extended Offset Table and its Lengths (rules/README.md, "EOT")."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pydicom
from builders import (
    H264_HP41,
    JPEG_BASELINE,
    Built,
    assert_findings,
    codes,
    dataset_prefix,
    delimiter,
    encapsulated,
    findings,
    item,
    jpeg_frame,
    pixel_data_header,
    u64,
    where,
)
from test_rules_bot import BOT_CODES, EOT_CODES, big_file

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Severity

EOT = "(7FE0,0001)"
EOT_LENGTHS = "(7FE0,0002)"
# Under explicit VR an OV/OB element header is tag, VR, 2 reserved bytes, 32-bit length.
EXPLICIT_LONG_HEADER = 12


def three_frames() -> list[bytes]:
    return [jpeg_frame(), jpeg_frame(), jpeg_frame()]


def starts_of(frames: Sequence[bytes]) -> list[int]:
    starts, position = [], 0
    for frame in frames:
        starts.append(position)
        position += 8 + len(frame)
    return starts


def with_raw_eot(
    frames: Sequence[bytes],
    *,
    eot: bytes | None,
    eot_lengths: bytes | None,
    number_of_frames: int | None = None,
    extra: dict[str, object] | None = None,
) -> Built:
    """One fragment per frame, an empty BOT, and the EOT values exactly as given
    (`extra`: attributes as builders.dataset_prefix sets them).

    builders.encapsulated writes whole 64-bit values and cannot record where an empty
    value lies, so this writes the two elements raw and finds them with pydicom.
    """
    if number_of_frames is None and len(frames) > 1:
        number_of_frames = len(frames)
    prefix = dataset_prefix(
        JPEG_BASELINE,
        number_of_frames=number_of_frames,
        eot=eot,
        eot_lengths=eot_lengths,
        extra=extra,
    )
    head = pixel_data_header()
    value_offset = len(prefix) + len(head)
    body = bytearray(item(b""))
    items = [value_offset]
    for frame in frames:
        items.append(value_offset + len(body))
        body += item(frame)
    built = Built(prefix + head + bytes(body) + delimiter(), len(prefix), value_offset, items)
    built.delimiter = value_offset + len(body)
    ds = pydicom.dcmread(io.BytesIO(built.data), stop_before_pixels=True)
    for tag, attr in ((0x7FE00001, "eot_value_offset"), (0x7FE00002, "eot_lengths_value_offset")):
        raw = ds.get_item(tag, keep_deferred=True)
        if raw is not None:
            setattr(built, attr, raw.value_tell)
    return built


def element_offset(value_offset: int | None) -> int:
    """The tag offset of an explicit VR OV element whose value is at `value_offset`."""
    assert value_offset is not None
    return value_offset - EXPLICIT_LONG_HEADER


def eot_entry(built: Built, index: int) -> int:
    assert built.eot_value_offset is not None
    return built.eot_value_offset + 8 * index


def lengths_entry(built: Built, index: int) -> int:
    assert built.eot_lengths_value_offset is not None
    return built.eot_lengths_value_offset + 8 * index


def elements(found: list) -> list[tuple[str, Severity, int | None, str]]:
    return [(f.code, f.severity, f.offset, f.element) for f in found]


class TestValid:
    def test_correct_eot_with_empty_bot(self) -> None:
        built = encapsulated(three_frames(), bot="empty", eot="auto")
        assert not codes(built) & (BOT_CODES | EOT_CODES)

    def test_correct_eot_single_frame(self) -> None:
        built = encapsulated([jpeg_frame()], bot="empty", eot="auto")
        assert not codes(built) & (BOT_CODES | EOT_CODES)

    def test_raw_builder_matches_encapsulated(self) -> None:
        frames = three_frames()
        raw = with_raw_eot(frames, eot=u64(starts_of(frames)), eot_lengths=u64([32] * 3))
        built = encapsulated(frames, bot="empty", eot="auto")
        assert raw.data == built.data
        assert raw.items == built.items
        assert raw.eot_value_offset == built.eot_value_offset
        assert raw.eot_lengths_value_offset == built.eot_lengths_value_offset


class TestEOT001:
    def test_offsets_without_lengths(self) -> None:
        frames = three_frames()
        built = with_raw_eot(frames, eot=u64(starts_of(frames)), eot_lengths=None)
        found = findings(built, "EOT001")
        assert elements(found) == [
            ("EOT001", Severity.ERROR, element_offset(built.eot_value_offset), EOT)
        ]
        assert codes(built) & EOT_CODES == {"EOT001"}

    def test_lengths_without_offsets(self) -> None:
        frames = three_frames()
        built = with_raw_eot(frames, eot=None, eot_lengths=u64([32] * 3))
        found = findings(built, "EOT001")
        assert elements(found) == [
            ("EOT001", Severity.ERROR, element_offset(built.eot_lengths_value_offset), EOT_LENGTHS)
        ]
        assert codes(built) & EOT_CODES == {"EOT001"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT001")


class TestEOT002:
    def test_offsets_length_12(self) -> None:
        built = with_raw_eot([jpeg_frame()], eot=u64([0]) + b"\x00" * 4, eot_lengths=u64([32]))
        assert elements(findings(built, "EOT002")) == [
            ("EOT002", Severity.ERROR, element_offset(built.eot_value_offset), EOT)
        ]
        assert codes(built) & EOT_CODES == {"EOT002"}

    def test_lengths_length_12(self) -> None:
        built = with_raw_eot([jpeg_frame()], eot=u64([0]), eot_lengths=u64([32]) + b"\x00" * 4)
        assert elements(findings(built, "EOT002")) == [
            ("EOT002", Severity.ERROR, element_offset(built.eot_lengths_value_offset), EOT_LENGTHS)
        ]
        assert codes(built) & EOT_CODES == {"EOT002"}

    def test_valid(self) -> None:
        built = with_raw_eot([jpeg_frame()], eot=u64([0]), eot_lengths=u64([32]))
        assert not findings(built, "EOT002")


class TestEOT003:
    def test_lengths_count_differs_from_offsets(self) -> None:
        frames = three_frames()
        built = encapsulated(frames, bot="empty", eot=(starts_of(frames), [32, 32]))
        assert elements(findings(built, "EOT003")) == [
            ("EOT003", Severity.ERROR, element_offset(built.eot_lengths_value_offset), EOT_LENGTHS)
        ]

    def test_offsets_count_differs_from_number_of_frames(self) -> None:
        frames = three_frames()
        built = encapsulated(frames, bot="empty", eot=(starts_of(frames)[:2], [32, 32]))
        assert elements(findings(built, "EOT003")) == [
            ("EOT003", Severity.ERROR, element_offset(built.eot_value_offset), EOT)
        ]
        # The last frame seems to span two fragments only because an offset is missing.
        assert codes(built) & EOT_CODES == {"EOT003"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT003")


class TestEOT004:
    def test_offset_inside_a_fragment(self) -> None:
        frames = three_frames()
        starts = starts_of(frames)
        built = encapsulated(
            frames, bot="empty", eot=([0, starts[1] - 20, starts[2]], [32, 32, 32])
        )
        assert_findings(built, "EOT004", [(Severity.ERROR, eot_entry(built, 1), 2, None)])
        assert findings(built, "EOT004")[0].element == EOT

    def test_first_offset_not_zero(self) -> None:
        frames = three_frames()
        starts = starts_of(frames)
        built = encapsulated(frames, bot="empty", eot=([8, *starts[1:]], [32, 32, 32]))
        assert_findings(built, "EOT004", [(Severity.ERROR, eot_entry(built, 0), 1, None)])

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT004")


class TestEOT005:
    # A frame whose last byte is a 00 pad after EOI: 30 bytes, 29 of them codestream.
    PADDED = b"\xff\xd8\xff\xe0" + b"\x11" * 23 + b"\xff\xd9\x00"

    def built(self, lengths: list[int]) -> Built:
        frames = [jpeg_frame(), self.PADDED, jpeg_frame()]
        return encapsulated(frames, bot="empty", eot=(starts_of(frames), lengths))

    def test_wrong_length(self) -> None:
        built = self.built([32, 28, 32])
        assert_findings(built, "EOT005", [(Severity.ERROR, lengths_entry(built, 1), 2, 2)])
        assert findings(built, "EOT005")[0].element == EOT_LENGTHS

    def test_one_less_without_a_pad_byte(self) -> None:
        built = self.built([32, 30, 31])
        assert_findings(built, "EOT005", [(Severity.ERROR, lengths_entry(built, 2), 3, 3)])

    def test_padded_length_is_accepted(self) -> None:
        assert len(self.PADDED) == 30
        assert not findings(self.built([32, 30, 32]), "EOT005")

    def test_one_less_when_the_last_byte_is_a_pad(self) -> None:
        assert not findings(self.built([32, 29, 32]), "EOT005")


class TestEOT006:
    def test_frame_of_two_fragments(self) -> None:
        first = jpeg_frame()
        frames = [[first[:16], first[16:]], [jpeg_frame()]]
        layout = encapsulated(frames, bot="empty")
        second_frame = layout.items[3] - layout.items[1]
        built = encapsulated(frames, bot="empty", eot=([0, second_frame], [32, 32]))
        assert_findings(built, "EOT006", [(Severity.ERROR, built.items[2], 1, 2)])
        # No length can describe a frame of two fragments: that is EOT006, once.
        assert codes(built) & EOT_CODES == {"EOT006"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT006")


class TestEOT007:
    def test_decreasing(self) -> None:
        frames = three_frames()
        starts = starts_of(frames)
        built = encapsulated(frames, bot="empty", eot=([0, starts[2], starts[1]], [32, 32, 32]))
        assert_findings(built, "EOT007", [(Severity.ERROR, eot_entry(built, 2), 3, None)])
        assert codes(built) & EOT_CODES == {"EOT007"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT007")


class TestEOT008:
    def test_vr_ob(self) -> None:
        built = encapsulated(three_frames(), bot="empty", eot="auto", eot_vr="OB")
        assert elements(findings(built, "EOT008")) == [
            ("EOT008", Severity.WARNING, element_offset(built.eot_value_offset), EOT),
            (
                "EOT008",
                Severity.WARNING,
                element_offset(built.eot_lengths_value_offset),
                EOT_LENGTHS,
            ),
        ]
        assert codes(built) & EOT_CODES == {"EOT008"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT008")


class TestEOT009:
    def test_over_4_gib_without_eot(self) -> None:
        big = big_file(bot="empty", eot=False)
        report = lint_file(big.open())
        assert where([f for f in report.findings if f.code == "EOT009"]) == [
            ("EOT009", Severity.INFO, big.items[0], None, None)
        ]

    def test_over_4_gib_with_eot(self) -> None:
        report = lint_file(big_file(bot="empty", eot=True).open())
        assert not [f for f in report.findings if f.code == "EOT009"]

    def test_small_multi_frame_without_eot(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty"), "EOT009")


class TestEOT010:
    def test_empty_values(self) -> None:
        built = with_raw_eot(three_frames(), eot=b"", eot_lengths=b"")
        assert elements(findings(built, "EOT010")) == [
            ("EOT010", Severity.ERROR, element_offset(built.eot_value_offset), EOT),
            ("EOT010", Severity.ERROR, element_offset(built.eot_lengths_value_offset), EOT_LENGTHS),
        ]
        assert codes(built) & EOT_CODES == {"EOT010"}

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT010")


class TestEOT011:
    STREAM = b"\x00\x00\x00\x01\x67" + b"\x10" * 27  # an H.264 SPS NAL unit, then filler

    def test_eot_under_video(self) -> None:
        built = encapsulated([self.STREAM], ts=H264_HP41, bot="empty", eot=([0], [32]))
        assert elements(findings(built, "EOT011")) == [
            ("EOT011", Severity.ERROR, element_offset(built.eot_value_offset), EOT)
        ]
        assert codes(built) & (BOT_CODES | EOT_CODES) == {"EOT011"}

    def test_video_without_eot(self) -> None:
        built = encapsulated([self.STREAM], ts=H264_HP41, bot="empty")
        assert not codes(built) & (BOT_CODES | EOT_CODES)

    def test_valid(self) -> None:
        assert not findings(encapsulated(three_frames(), bot="empty", eot="auto"), "EOT011")

"""ITM: the item sequence of encapsulated Pixel Data (ITM001-ITM010)."""

from __future__ import annotations

import struct

import pytest
from builders import (
    ITEM,
    ITEM_DELIM,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    UNDEFINED,
    Built,
    assert_findings,
    bot_item,
    delimiter,
    encapsulated,
    findings,
    header,
    item,
    j2k_frame,
    jpeg_frame,
    where,
)

from dcmencaps_lint.context import PAYLOAD_CHUNK
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Severity


def itm_codes(built: Built) -> list[str]:
    return sorted(f.code for f in lint_file(built.data).findings if f.code.startswith("ITM"))


def after_bot(built: Built) -> int:
    """Offset of the item tag after the BOT item (fragment 1 when `items=` was used)."""
    (length,) = struct.unpack_from("<I", built.data, built.item_length_field(0))
    return built.items[0] + 8 + length


def valid() -> Built:
    return encapsulated([jpeg_frame(), jpeg_frame(40)])


def test_valid_file_has_no_item_findings() -> None:
    report = lint_file(valid().data)
    assert [f.code for f in report.findings if f.code.startswith("ITM")] == []
    assert report.status == "passed"


class TestFirstItemNotBot:
    def test_valid_with_values_is_quiet(self) -> None:
        assert findings(valid(), "ITM001") == []

    def test_valid_with_empty_bot_is_quiet(self) -> None:
        assert findings(encapsulated([jpeg_frame()], bot="empty"), "ITM001") == []

    @pytest.mark.parametrize(
        ("frame", "ts"),
        [(jpeg_frame(), JPEG_BASELINE), (j2k_frame(), J2K_LOSSLESS)],
        ids=["jpeg-soi", "j2k-soc-siz"],
    )
    def test_bot_item_missing(self, frame: bytes, ts: str) -> None:
        built = encapsulated([frame], ts=ts, bot="none")
        [f] = findings(built, "ITM001")
        # The first item is really fragment 1; the finding points at its item tag.
        assert where([f]) == [("ITM001", Severity.ERROR, built.items[0], None, 1)]
        assert built.items[0] == built.value_offset

    def test_first_element_not_an_item(self) -> None:
        garbage = header(0x00100010, 4) + b"ABCD"
        built = encapsulated([], bot="none", end=garbage)
        [f] = findings(built, "ITM001")
        assert where([f]) == [("ITM001", Severity.ERROR, built.value_offset, None, None)]
        # The root cause is reported once: not also as an unexpected tag.
        assert itm_codes(built) == ["ITM001"]

    def test_pixel_data_holds_only_the_delimiter(self) -> None:
        built = encapsulated([], bot="none")
        [f] = findings(built, "ITM001")
        assert where([f]) == [("ITM001", Severity.ERROR, built.delimiter, None, None)]
        assert built.delimiter == built.value_offset
        assert itm_codes(built) == ["ITM001"]


class TestUnexpectedTag:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM002") == []

    def test_item_delimitation_between_fragments_walk_continues(self) -> None:
        first, second = jpeg_frame(), jpeg_frame() + b"\xff"  # the second is odd
        raw = item(first) + header(ITEM_DELIM, 0) + item(second)
        built = encapsulated([first], items=raw)
        delim_at = after_bot(built) + len(item(first))
        second_at = delim_at + 8
        [f] = findings(built, "ITM002")
        assert where([f]) == [("ITM002", Severity.ERROR, delim_at, None, None)]
        # The walk went past the zero-length Item Delimitation Item: later items count.
        [odd] = findings(built, "ITM004")
        assert where([odd]) == [("ITM004", Severity.ERROR, second_at + 4, None, 2)]
        assert findings(built, "ITM006") == []

    def test_two_item_delimitations_each_reported(self) -> None:
        frame = jpeg_frame()
        raw = item(frame) + header(ITEM_DELIM, 0) + item(frame) + header(ITEM_DELIM, 0)
        built = encapsulated([frame], items=raw)
        start = after_bot(built)
        first = start + len(item(frame))
        second = first + 8 + len(item(frame))
        assert_findings(
            built,
            "ITM002",
            [(Severity.ERROR, first, None, None), (Severity.ERROR, second, None, None)],
        )
        assert itm_codes(built) == ["ITM002", "ITM002"]

    @pytest.mark.parametrize(
        "tag",
        [0xFEFF00E0, 0x00000000, ITEM_DELIM],
        ids=["byte-swapped-item", "zeros", "item-delimitation-with-length"],
    )
    def test_unexpected_tag_stops_the_walk(self, tag: int) -> None:
        frame = jpeg_frame()
        length = 8 if tag == ITEM_DELIM else len(frame)
        raw = item(frame) + header(tag, length) + frame + item(frame)
        built = encapsulated([frame], items=raw)
        bad_at = after_bot(built) + len(item(frame))
        [f] = findings(built, "ITM002")
        assert where([f]) == [("ITM002", Severity.ERROR, bad_at, None, None)]
        # The walk stops there: no missing-delimiter consequence is reported.
        assert itm_codes(built) == ["ITM002"]

    def test_byte_swapped_tag_is_named_in_the_message(self) -> None:
        frame = jpeg_frame()
        built = encapsulated([frame], items=item(frame) + header(0xFEFF00E0, 32) + frame)
        [f] = findings(built, "ITM002")
        assert "(FEFF,00E0)" in f.message


class TestUndefinedLengthItem:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM003") == []

    def test_undefined_length_fragment(self) -> None:
        frame = jpeg_frame()
        raw = item(frame) + item(frame, length=UNDEFINED) + item(frame)
        built = encapsulated([frame], items=raw)
        second = after_bot(built) + len(item(frame))
        [f] = findings(built, "ITM003")
        assert where([f]) == [("ITM003", Severity.ERROR, second + 4, None, 2)]
        # The walk cannot go on, but that is not a missing delimiter.
        assert itm_codes(built) == ["ITM003"]

    def test_undefined_length_bot(self) -> None:
        built = encapsulated([], bot=header(ITEM, UNDEFINED) + item(jpeg_frame()))
        [f] = findings(built, "ITM003")
        assert where([f]) == [("ITM003", Severity.ERROR, built.item_length_field(0), None, 0)]
        assert itm_codes(built) == ["ITM003"]


class TestOddLengthItem:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM004") == []

    def test_odd_fragment(self) -> None:
        built = encapsulated([jpeg_frame(), jpeg_frame() + b"\xff"])
        [f] = findings(built, "ITM004")
        assert where([f]) == [("ITM004", Severity.ERROR, built.item_length_field(2), None, 2)]

    def test_odd_bot(self) -> None:
        bot = item(b"\x00\x00\x00\x00\x00")
        built = encapsulated([jpeg_frame()], bot=bot)
        [f] = findings(built, "ITM004")
        assert where([f]) == [("ITM004", Severity.ERROR, built.item_length_field(0), None, 0)]

    def test_every_odd_item_reported(self) -> None:
        built = encapsulated([jpeg_frame() + b"\xff", jpeg_frame(), jpeg_frame() + b"\xff"])
        assert_findings(
            built,
            "ITM004",
            [
                (Severity.ERROR, built.item_length_field(1), None, 1),
                (Severity.ERROR, built.item_length_field(3), None, 3),
            ],
        )


class TestItemExceedsData:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM005") == []

    def test_truncated_last_fragment(self) -> None:
        frame = jpeg_frame(40)
        built = encapsulated([jpeg_frame(), frame], end=b"")
        data = built.data[:-10]  # cut into the last fragment's value
        report = lint_file(data)
        codes = sorted(f.code for f in report.findings if f.code.startswith("ITM"))
        assert codes == ["ITM005"]  # and not ITM006: the delimiter is a consequence
        [f] = [f for f in report.findings if f.code == "ITM005"]
        assert where([f]) == [("ITM005", Severity.ERROR, built.item_length_field(2), None, 2)]
        assert "only 30 bytes remain" in f.message

    def test_odd_length_running_past_the_end_is_only_itm005(self) -> None:
        frame = jpeg_frame()
        built = encapsulated([frame], items=item(frame, length=1001), end=b"")
        assert itm_codes(built) == ["ITM005"]
        [f] = findings(built, "ITM005")
        fragment_at = after_bot(built)
        assert where([f]) == [("ITM005", Severity.ERROR, fragment_at + 4, None, 1)]

    def test_truncated_bot(self) -> None:
        built = encapsulated([], bot=header(ITEM, 0x1000) + b"\x00" * 8, end=b"")
        assert itm_codes(built) == ["ITM005"]
        [f] = findings(built, "ITM005")
        assert where([f]) == [("ITM005", Severity.ERROR, built.item_length_field(0), None, 0)]

    def test_item_header_only(self) -> None:
        frame = jpeg_frame()
        built = encapsulated([frame], end=header(ITEM, 16))
        last = built.items[1] + len(item(frame))
        assert itm_codes(built) == ["ITM005"]
        [f] = findings(built, "ITM005")
        assert where([f]) == [("ITM005", Severity.ERROR, last + 4, None, 2)]
        assert "only 0 bytes remain" in f.message


class TestMissingSequenceDelimiter:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM006") == []

    def test_clean_end_without_delimiter(self) -> None:
        built = encapsulated([jpeg_frame(), jpeg_frame()], end=b"")
        [f] = findings(built, "ITM006")
        end = built.items[2] + len(item(jpeg_frame()))
        assert end == len(built.data)
        assert where([f]) == [("ITM006", Severity.ERROR, end, None, None)]
        assert itm_codes(built) == ["ITM006"]

    @pytest.mark.parametrize("stray", range(1, 8))
    def test_stray_bytes_instead_of_delimiter(self, stray: int) -> None:
        built = encapsulated([jpeg_frame()], end=delimiter()[:stray])
        end = built.items[1] + len(item(jpeg_frame()))
        [f] = findings(built, "ITM006")
        assert where([f]) == [("ITM006", Severity.ERROR, end, None, None)]
        assert f.length == stray
        assert f"{stray} stray byte" in f.message
        assert itm_codes(built) == ["ITM006"]


class TestDelimiterNonzeroLength:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM007") == []

    @pytest.mark.parametrize("length", [4, UNDEFINED])
    def test_delimiter_with_length(self, length: int) -> None:
        built = encapsulated([jpeg_frame()], end=delimiter(length))
        end = built.items[1] + len(item(jpeg_frame()))
        [f] = findings(built, "ITM007")
        assert where([f]) == [("ITM007", Severity.ERROR, end + 4, None, None)]
        assert str(length) in f.message
        assert itm_codes(built) == ["ITM007"]


class TestEmptyFragment:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM008") == []

    def test_empty_bot_is_fine(self) -> None:
        built = encapsulated([jpeg_frame()], bot="empty")
        assert itm_codes(built) == []

    @pytest.mark.parametrize("position", [1, 2, 3])
    def test_empty_fragment(self, position: int) -> None:
        frames = [jpeg_frame(), jpeg_frame()]
        frames.insert(position - 1, b"")
        built = encapsulated([frames], bot="empty")  # one frame of three fragments
        [f] = findings(built, "ITM008")
        expected = ("ITM008", Severity.ERROR, built.item_length_field(position), None, position)
        assert where([f]) == [expected]
        assert itm_codes(built) == ["ITM008"]


class TestNoFragments:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM009") == []

    @pytest.mark.parametrize("bot", ["empty", [0]], ids=["empty-bot", "bot-with-values"])
    def test_bot_then_delimiter(self, bot: object) -> None:
        built = encapsulated([], bot=bot)  # type: ignore[arg-type]
        [f] = findings(built, "ITM009")
        assert where([f]) == [("ITM009", Severity.ERROR, built.delimiter, None, None)]

    def test_bot_then_end_of_data(self) -> None:
        built = encapsulated([], bot="empty", end=b"")
        [f] = findings(built, "ITM009")
        assert where([f]) == [("ITM009", Severity.ERROR, len(built.data), None, None)]
        assert itm_codes(built) == ["ITM006", "ITM009"]

    def test_truncated_bot_is_not_no_fragments(self) -> None:
        built = encapsulated([], bot=header(ITEM, 64), end=b"")
        assert itm_codes(built) == ["ITM005"]


DELIMITER_TAG = b"\xfe\xff\xdd\xe0"


def with_tag(following: bytes = b"\x00\x00\x00\x00", *, at: int = 12, size: int = 32) -> bytes:
    """A JPEG frame of `size` bytes with FE FF DD E0 + `following` written at byte `at`."""
    frame = bytearray(jpeg_frame(size))
    frame[at : at + 4 + len(following)] = DELIMITER_TAG + following
    return bytes(frame)


class TestEmbeddedDelimiterBytes:
    def test_valid_is_quiet(self) -> None:
        assert findings(valid(), "ITM010", deep=True) == []

    def test_not_run_without_deep(self) -> None:
        built = encapsulated([with_tag()])
        assert findings(built, "ITM010") == []

    def test_full_delimiter_inside_a_fragment(self) -> None:
        built = encapsulated([with_tag()])
        [f] = findings(built, "ITM010", deep=True)
        assert where([f]) == [("ITM010", Severity.WARNING, built.fragment_value(1) + 12, 1, 1)]
        assert f.length == 4
        assert "followed by 00 00 00 00" in f.message
        # The file itself is valid: the item walk is not fooled.
        assert itm_codes(built) == []

    def test_tag_with_a_nonzero_length(self) -> None:
        # As in pydicom's JPEG2000-embedded-sequence-delimiter.dcm: FE FF DD E0 01 00 00 00.
        built = encapsulated([with_tag(b"\x01\x00\x00\x00")])
        [f] = findings(built, "ITM010", deep=True)
        assert where([f]) == [("ITM010", Severity.WARNING, built.fragment_value(1) + 12, 1, 1)]
        assert "followed by 01 00 00 00" in f.message

    def test_every_occurrence_with_its_frame_and_item(self) -> None:
        two = with_tag(at=8)
        two = two[:20] + DELIMITER_TAG + two[24:]
        built = encapsulated([jpeg_frame(), two, with_tag(at=16)])
        assert_findings(
            built,
            "ITM010",
            [
                (Severity.WARNING, built.fragment_value(2) + 8, 2, 2),
                (Severity.WARNING, built.fragment_value(2) + 20, 2, 2),
                (Severity.WARNING, built.fragment_value(3) + 16, 3, 3),
            ],
            deep=True,
        )

    def test_frame_of_a_later_fragment_of_the_frame(self) -> None:
        frame = with_tag(at=20)
        built = encapsulated([jpeg_frame(), [frame[:16], frame[16:]]])
        [f] = findings(built, "ITM010", deep=True)
        assert where([f]) == [("ITM010", Severity.WARNING, built.fragment_value(3) + 4, 2, 3)]

    def test_tag_in_the_last_bytes_of_a_fragment(self) -> None:
        # The 4 bytes after it are the next item's tag; the message says so.
        frame = jpeg_frame() + DELIMITER_TAG
        built = encapsulated([frame, jpeg_frame()])
        [f] = findings(built, "ITM010", deep=True)
        assert where([f]) == [("ITM010", Severity.WARNING, built.fragment_value(1) + 32, 1, 1)]
        assert "followed by FE FF 00 E0" in f.message

    def test_unknown_transfer_syntax(self) -> None:
        # Item rules run under any transfer syntax; without a frame map there is no frame.
        built = encapsulated([with_tag()], ts="1.2.3.4")
        [f] = findings(built, "ITM010", deep=True)
        assert where([f]) == [("ITM010", Severity.WARNING, built.fragment_value(1) + 12, None, 1)]

    def test_bytes_split_by_an_item_header_are_not_reported(self) -> None:
        first = jpeg_frame()[:-2] + DELIMITER_TAG[:2]
        second = DELIMITER_TAG[2:] + jpeg_frame()[2:]
        built = encapsulated([[first, second]])
        assert findings(built, "ITM010", deep=True) == []

    def test_bot_values_are_not_scanned(self) -> None:
        bot = bot_item([0xE0DDFFFE])  # the tag's bytes as a BOT entry
        built = encapsulated([jpeg_frame()], bot=bot)
        assert findings(built, "ITM010", deep=True) == []

    @pytest.mark.parametrize("shift", [-12, -7, -6, -5, -4, -3, -2, -1, 0, 4])
    def test_found_once_across_a_chunk_edge(self, shift: int) -> None:
        # Fragments are read a chunk at a time with overlapping edges: a tag before, in
        # or across the overlap, or after it, is found exactly once.
        at = PAYLOAD_CHUNK + shift
        built = encapsulated([with_tag(at=at, size=PAYLOAD_CHUNK + 64)])
        [f] = findings(built, "ITM010", deep=True)
        assert where([f]) == [("ITM010", Severity.WARNING, built.fragment_value(1) + at, 1, 1)]
        assert "followed by 00 00 00 00" in f.message

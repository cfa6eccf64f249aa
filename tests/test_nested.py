"""Pixel Data nested in a sequence item: an Icon Image Sequence (0088,0200) icon.

The same rules check nested encapsulated Pixel Data; findings name the element path,
e.g. "(0088,0200)[0]/(7FE0,0010)", and give absolute offsets in the file whether the
sequences around it have a defined or an undefined length.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import Built, encapsulated, item, jpeg_frame
from click.testing import CliRunner
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate

from dcmencaps_lint.cli import main
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.findings import Finding
from dcmencaps_lint.model import Severity

TOP = "(7FE0,0010)"
ICON = "(0088,0200)[0]/(7FE0,0010)"
ICON_SQ = b"\x88\x00\x00\x02SQ\x00\x00"  # (0088,0200) SQ, explicit VR little endian
REFERENCED_SQ = b"\x08\x00\x40\x11SQ\x00\x00"  # (0008,1140) Referenced Image Sequence
PIXEL_DATA_OB_UNDEFINED = b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
ITEM_TAG = 0xE000FFFE


def icon(value: bytes | None = None, *, native: bytes | None = None) -> Dataset:
    """An icon item whose Pixel Data is `value` (encapsulated, undefined length: pydicom
    adds the delimiter) or `native` (defined length)."""
    ds = Dataset()
    ds.Rows = 4
    ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    if native is not None:
        ds.add_new(0x7FE00010, "OB", native)
    else:
        ds.add_new(0x7FE00010, "OB", encapsulate([jpeg_frame()]) if value is None else value)
        ds[0x7FE00010].is_undefined_length = True
    return ds


# Icons' Pixel Data values (without the delimiter, which pydicom writes).
VALID = encapsulate([jpeg_frame()])
MISSING_EOI = encapsulate([jpeg_frame()[:-2] + b"\x00\x00"])
ODD_FRAGMENTS = item(b"") + item(jpeg_frame(66)[:33]) + item(jpeg_frame(66)[33:])
NO_BOT = item(jpeg_frame())


def with_icons(*icons: Dataset, top: bytes = jpeg_frame()) -> Built:
    return encapsulated([top], extra={"IconImageSequence": list(icons)})


def undefined_length_sequence(data: bytes, header: bytes = ICON_SQ) -> bytes:
    """The file with the top-level sequence `header` rewritten to undefined length: its
    length field becomes FFFFFFFFH and a Sequence Delimitation Item follows its items.

    The builder sets top-level attributes by keyword, so this is the way to reach the
    sequence element's length; nested sequences get `is_undefined_length` instead.
    """
    at = data.index(header)
    (length,) = struct.unpack_from("<I", data, at + 8)
    end = at + 12 + length
    return (
        data[: at + 8] + b"\xff\xff\xff\xff" + data[at + 12 : end] + SEQUENCE_DELIMITER + data[end:]
    )


def pixel_values(data: bytes) -> list[int]:
    """Value offsets of every undefined-length OB Pixel Data element, in file order."""
    found, at = [], data.find(PIXEL_DATA_OB_UNDEFINED)
    while at >= 0:
        found.append(at + len(PIXEL_DATA_OB_UNDEFINED))
        at = data.find(PIXEL_DATA_OB_UNDEFINED, at + 1)
    return found


def items(data: bytes, value_offset: int) -> list[int]:
    """Absolute offsets of the item tags from `value_offset` up to the delimiter."""
    offsets, at = [], value_offset
    while True:
        tag, length = struct.unpack_from("<II", data, at)
        if tag != ITEM_TAG:
            return offsets
        offsets.append(at)
        at += 8 + length


def where(found: list[Finding]) -> list[tuple[str, Severity, int | None, str]]:
    return [(f.code, f.severity, f.offset, f.element) for f in found]


def nested(data: bytes) -> list[Finding]:
    return [f for f in lint_file(data).findings if f.element != TOP]


def first_icon_items(data: bytes) -> list[int]:
    return items(data, pixel_values(data)[0])


# How the sequences around the icon are encoded: the builder writes defined lengths.
def defined(data: bytes) -> bytes:
    return data


def undefined(data: bytes) -> bytes:
    return undefined_length_sequence(data)


ENCODINGS: list[Callable[[bytes], bytes]] = [defined, undefined]


@pytest.fixture(params=ENCODINGS, ids=lambda f: f"{f.__name__}-length-sequence")
def encode(request: pytest.FixtureRequest) -> Callable[[bytes], bytes]:
    return request.param  # type: ignore[no-any-return]


class TestBrokenIcon:
    def test_missing_eoi(self, encode: Callable[[bytes], bytes]) -> None:
        data = encode(with_icons(icon(MISSING_EOI)).data)
        fragment = first_icon_items(data)[1]
        end = fragment + 8 + len(jpeg_frame())
        assert where(nested(data)) == [("CSM002", Severity.ERROR, end - 2, ICON)]

    def test_odd_fragments(self, encode: Callable[[bytes], bytes]) -> None:
        data = encode(with_icons(icon(ODD_FRAGMENTS)).data)
        _, first, second = first_icon_items(data)
        found = [f for f in nested(data) if f.code == "ITM004"]
        assert where(found) == [
            ("ITM004", Severity.ERROR, first + 4, ICON),
            ("ITM004", Severity.ERROR, second + 4, ICON),
        ]
        assert [f.item for f in found] == [1, 2]

    def test_missing_bot_item(self, encode: Callable[[bytes], bytes]) -> None:
        data = encode(with_icons(icon(NO_BOT)).data)
        [first] = first_icon_items(data)
        assert first == pixel_values(data)[0]
        found = [f for f in nested(data) if f.code == "ITM001"]
        assert where(found) == [("ITM001", Severity.ERROR, first, ICON)]

    def test_undefined_length_items(self) -> None:
        # The icon's item itself has an undefined length (an Item Delimitation Item ends it).
        ds = icon(ODD_FRAGMENTS)
        ds.is_undefined_length_sequence_item = True
        for data in (with_icons(ds).data, undefined(with_icons(ds).data)):
            _, first, second = first_icon_items(data)
            assert where([f for f in nested(data) if f.code == "ITM004"]) == [
                ("ITM004", Severity.ERROR, first + 4, ICON),
                ("ITM004", Severity.ERROR, second + 4, ICON),
            ]

    def test_second_icon(self, encode: Callable[[bytes], bytes]) -> None:
        data = encode(with_icons(icon(VALID), icon(NO_BOT)).data)
        second_icon = pixel_values(data)[1]
        assert where(nested(data)) == [
            ("ITM001", Severity.ERROR, second_icon, "(0088,0200)[1]/(7FE0,0010)")
        ]


class TestValidIcon:
    def test_encapsulated_icon_is_quiet(self, encode: Callable[[bytes], bytes]) -> None:
        data = encode(with_icons(icon(VALID)).data)
        assert nested(data) == []

    def test_native_icon_under_an_encapsulated_ts_is_fine(
        self, encode: Callable[[bytes], bytes]
    ) -> None:
        data = encode(with_icons(icon(native=b"\x00" * 16)).data)
        plain = encapsulated([jpeg_frame()]).data
        assert nested(data) == []
        assert sorted(f.code for f in lint_file(data).findings) == sorted(
            f.code for f in lint_file(plain).findings
        )


class TestTopLevelKeepsItsElement:
    def test_both_broken(self, encode: Callable[[bytes], bytes]) -> None:
        built = with_icons(icon(ODD_FRAGMENTS), top=jpeg_frame() + b"\xff")
        data = encode(built.data)
        shift = len(data) - len(built.data)  # the sequence delimiter, when added
        _, first, second = first_icon_items(data)
        found = [f for f in lint_file(data).findings if f.code == "ITM004"]
        assert where(found) == [
            ("ITM004", Severity.ERROR, first + 4, ICON),
            ("ITM004", Severity.ERROR, second + 4, ICON),
            ("ITM004", Severity.ERROR, built.item_length_field(1) + shift, TOP),
        ]
        assert items(data, pixel_values(data)[-1])[1] == built.items[1] + shift


class TestTwoLevelsDeep:
    PATH = "(0008,1140)[0]/(0088,0200)[0]/(7FE0,0010)"

    @staticmethod
    def build(*icons: Dataset, inner_undefined: bool = False) -> Built:
        outer = Dataset()
        outer.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        outer.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.2"
        outer.IconImageSequence = list(icons)
        outer["IconImageSequence"].is_undefined_length = inner_undefined
        return encapsulated([jpeg_frame()], extra={"ReferencedImageSequence": [outer]})

    @pytest.mark.parametrize(
        ("outer_undefined", "inner_undefined"),
        [(False, False), (True, False), (False, True), (True, True)],
        ids=["both-defined", "outer-undefined", "inner-undefined", "both-undefined"],
    )
    def test_broken_icon(self, outer_undefined: bool, inner_undefined: bool) -> None:
        data = self.build(icon(ODD_FRAGMENTS), inner_undefined=inner_undefined).data
        if outer_undefined:
            data = undefined_length_sequence(data, REFERENCED_SQ)
        (inner_length,) = struct.unpack_from("<I", data, data.index(ICON_SQ) + 8)
        assert (inner_length == 0xFFFFFFFF) is inner_undefined
        _, first, second = first_icon_items(data)
        assert where([f for f in nested(data) if f.code == "ITM004"]) == [
            ("ITM004", Severity.ERROR, first + 4, self.PATH),
            ("ITM004", Severity.ERROR, second + 4, self.PATH),
        ]

    def test_valid_icon(self) -> None:
        assert nested(self.build(icon(VALID)).data) == []


def test_json_output_carries_the_element_path(tmp_path: Path) -> None:
    path = with_icons(icon(NO_BOT)).write(tmp_path / "icon.dcm")
    result = CliRunner().invoke(main, ["--format", "json", "-j", "1", str(path)])
    (file,) = json.loads(result.output)["files"]
    data = Path(path).read_bytes()  # type: ignore[arg-type]
    assert [
        (f["code"], f["offset"], f["element"])
        for f in file["findings"]
        if f["code"].startswith("ITM")
    ] == [("ITM001", pixel_values(data)[0], ICON)]


def test_undefined_encoding_rewrites_the_sequence_length() -> None:
    data = undefined(with_icons(icon(VALID)).data)
    assert data[data.index(ICON_SQ) + 8 :].startswith(b"\xff\xff\xff\xff")


def test_deep_rules_check_the_icon_too() -> None:
    frame = bytearray(jpeg_frame())
    frame[12:16] = b"\xfe\xff\xdd\xe0"
    data = with_icons(icon(encapsulate([bytes(frame)]))).data
    fragment = first_icon_items(data)[1]
    found = [f for f in lint_file(data, deep=True).findings if f.code == "ITM010"]
    assert [(f.offset, f.element, f.item) for f in found] == [(fragment + 8 + 12, ICON, 1)]

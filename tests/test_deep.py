"""Deep rules (ITM010, FRG005, and CSM022's payload check): when they run, and how they
read the payloads.

Deep rules read whole fragment values. They run with --deep (Selection(deep=True)) or
when selected by exact code or name, never when only their family is selected, and
only then is a payload read beyond its edges: once, a chunk at a time. A partly deep
rule (CSM022) always runs its other checks; its payload check follows the same rule
(tests/test_rules_csm.py, TestDeflateStreamInvalid).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pydicom.data
import pytest
from builders import Built, encapsulated, jpeg_frame
from click.testing import CliRunner
from test_read_budget import CountingFile, assert_only_edges_read, assert_within_budget

from dcmencaps_lint.cli import main
from dcmencaps_lint.context import PAYLOAD_CHUNK
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import FileReport, Severity
from dcmencaps_lint.registry import Deep, load_rules
from dcmencaps_lint.rules.payload import OVERLAP

DEEP = {"ITM010", "FRG005"}
DELIMITER_TAG = b"\xfe\xff\xdd\xe0"
REAL_FILE = (
    Path(pydicom.data.__file__).parent / "test_files" / "JPEG2000-embedded-sequence-delimiter.dcm"
)


def both_deep_defects() -> Built:
    """One fragment with two JPEG codestreams (FRG005), the first holding FE FF DD E0
    00 00 00 00 at byte 12 of the value (ITM010)."""
    first = bytearray(jpeg_frame(32))
    first[12:20] = DELIMITER_TAG + b"\x00" * 4
    return encapsulated([bytes(first) + jpeg_frame(32, fill=0x33)])


def deep_codes(report: FileReport) -> set[str]:
    return {f.code for f in report.findings} & DEEP


def test_the_deep_rules() -> None:
    # the decode rules read whole frames too, but run with --decode (test_selection.py)
    assert {r.code for r in load_rules() if r.deep is Deep.WHOLE and not r.decode} == DEEP
    assert {r.code for r in load_rules() if r.deep is Deep.PART} == {"CSM022"}


class TestWhenDeepRulesRun:
    def test_not_by_default(self) -> None:
        assert deep_codes(lint_file(both_deep_defects().data)) == set()

    def test_with_deep(self) -> None:
        built = both_deep_defects()
        found = {f.code: f for f in lint_file(built.data, deep=True).findings}
        assert found["ITM010"].offset == built.fragment_value(1) + 12
        assert found["FRG005"].offset == built.fragment_value(1) + 32

    @pytest.mark.parametrize(
        ("select", "expected"),
        [
            (("ITM010",), {"ITM010"}),
            (("embedded-delimiter-bytes",), {"ITM010"}),
            (("FRG005",), {"FRG005"}),
            (("fragment-spans-frames",), {"FRG005"}),
            (("ITM010", "FRG005"), DEEP),
            (("ITM",), set()),
            (("FRG",), set()),
            (("ITM", "FRG"), set()),
            (("ALL",), set()),
        ],
    )
    def test_selected_by_exact_code_or_name_only(
        self, select: tuple[str, ...], expected: set
    ) -> None:
        report = lint_file(both_deep_defects().data, select=select)
        assert deep_codes(report) == expected

    def test_family_selection_with_deep(self) -> None:
        report = lint_file(both_deep_defects().data, select=("ITM", "FRG"), deep=True)
        assert deep_codes(report) == DEEP

    def test_ignored_even_with_deep(self) -> None:
        report = lint_file(both_deep_defects().data, ignore=("ITM010",), deep=True)
        assert deep_codes(report) == {"FRG005"}


class TestCommandLine:
    @staticmethod
    def codes(path: Path, *args: str) -> set[str]:
        result = CliRunner().invoke(main, [*args, "--format", "json", "-j", "1", str(path)])
        assert result.exit_code in (0, 1), result.output
        (file,) = json.loads(result.output)["files"]
        return {f["code"] for f in file["findings"]}

    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            ((), set()),
            (("--deep",), DEEP),
            (("--select", "ITM010"), {"ITM010"}),
            (("--select", "ITM"), set()),
            (("--select", "ITM", "--deep"), {"ITM010"}),
            (("--select", "fragment-spans-frames"), {"FRG005"}),
            (("--deep", "--ignore", "FRG005"), {"ITM010"}),
        ],
    )
    def test_deep_option_and_selection(self, tmp_path: Path, args: tuple, expected: set) -> None:
        path = both_deep_defects().write(tmp_path / "deep.dcm")
        assert self.codes(path, *args) & DEEP == expected  # type: ignore[arg-type]


def fragment_value_range(data: bytes) -> tuple[int, int]:
    """(start, end) of the only fragment's value of the top-level Pixel Data."""
    pixel = data.rindex(b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff")
    bot = pixel + 12
    (bot_length,) = struct.unpack_from("<I", data, bot + 4)
    fragment = bot + 8 + bot_length
    tag, length = struct.unpack_from("<II", data, fragment)
    assert tag == 0xE000FFFE
    return fragment + 8, fragment + 8 + length


class TestRealFile:
    """pydicom's JPEG2000-embedded-sequence-delimiter.dcm (pydicom PR #1141)."""

    def test_itm010_with_deep(self) -> None:
        data = REAL_FILE.read_bytes()
        start, end = fragment_value_range(data)
        at = data.index(DELIMITER_TAG, start, end)
        assert DELIMITER_TAG not in data[at + 1 : end]  # one occurrence in the fragment
        assert data[at + 4 : at + 8] == b"\x01\x00\x00\x00"  # a tag, not a full delimiter
        found = [f for f in lint_file(REAL_FILE, deep=True).findings if f.code == "ITM010"]
        assert [(f.code, f.severity, f.offset, f.frame, f.item) for f in found] == [
            ("ITM010", Severity.WARNING, at, 1, 1)
        ]
        assert "followed by 01 00 00 00" in found[0].message

    def test_nothing_deep_without_deep(self) -> None:
        assert deep_codes(lint_file(REAL_FILE)) == set()
        assert deep_codes(lint_file(REAL_FILE, select=("ITM",))) == set()

    def test_itm010_when_selected(self) -> None:
        assert deep_codes(lint_file(REAL_FILE, select=("ITM010",))) == {"ITM010"}


FRAME_SIZE = PAYLOAD_CHUNK * 5 // 2  # each frame takes three chunks
FRAMES = 3


@pytest.fixture(scope="module")
def large() -> Built:
    return encapsulated([jpeg_frame(FRAME_SIZE)] * FRAMES)


def lint_counting(built: Built, **options: object) -> tuple[FileReport, CountingFile]:
    fileobj = CountingFile(built.data)
    return lint_file(fileobj, **options), fileobj  # type: ignore[arg-type]


def payload_ranges(built: Built) -> list[tuple[int, int]]:
    ends = [*built.items[2:], built.delimiter]
    return [(start + 8, end) for start, end in zip(built.items[1:], ends, strict=True)]


def uncovered(ranges: list[tuple[int, int]], reads: list[tuple[int, int]]) -> int:
    """Bytes of the ranges that no read touched."""
    missing = 0
    spans = sorted((offset, offset + count) for offset, count in reads if count)
    for start, end in ranges:
        position = start
        for left, right in spans:
            if left <= position < right:
                position = right
        missing += max(0, end - position)
    return missing


class TestPayloadReads:
    @pytest.mark.parametrize("select", [("ALL",), ("ITM", "FRG")])
    def test_without_deep_the_read_budget_holds(self, large: Built, select: tuple) -> None:
        _, fileobj = lint_counting(large, select=select)
        assert_within_budget(large, fileobj)
        assert_only_edges_read(large, fileobj)

    @pytest.mark.parametrize(
        ("options", "baseline"),
        [
            ({"deep": True}, {}),
            ({"select": ("ITM010", "FRG005")}, {"select": ("ITM009",)}),
            ({"select": ("ITM010",)}, {"select": ("ITM009",)}),
        ],
        ids=["deep", "both-selected", "one-selected"],
    )
    def test_deep_reads_each_payload_once_in_chunks(
        self, large: Built, options: dict, baseline: dict
    ) -> None:
        # The baseline runs the same header work without the deep rules (ITM009 reads
        # nothing beyond the item walk), so the difference is what the deep rules read.
        _, shallow = lint_counting(large, **baseline)
        report, deep = lint_counting(large, **options)
        assert deep_codes(report) == set()
        ranges = payload_ranges(large)
        assert uncovered(ranges, deep.reads) == 0
        # Memory stays bounded: no read is larger than one chunk.
        assert max(count for _, count in deep.reads) == PAYLOAD_CHUNK
        # One pass shared by the deep rules: every payload byte once, plus the overlaps.
        payload = sum(end - start for start, end in ranges)
        step = PAYLOAD_CHUNK - OVERLAP
        chunks = sum(-(-(end - start - OVERLAP) // step) for start, end in ranges)
        assert chunks == 3 * FRAMES
        extra = deep.bytes_read - shallow.bytes_read
        assert payload <= extra <= payload + OVERLAP * chunks

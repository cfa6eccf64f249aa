"""PRS: the file could not be linted (PRS001-PRS005, emitted by the engine)."""

from __future__ import annotations

import os
import signal
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import (
    EXPLICIT_LE,
    JPEG_BASELINE,
    Built,
    dataset_prefix,
    encapsulated,
    jpeg_frame,
    native,
)

from dcmencaps_lint import engine
from dcmencaps_lint.context import Context
from dcmencaps_lint.engine import lint_file, lint_paths
from dcmencaps_lint.findings import Finding
from dcmencaps_lint.model import FileReport, Severity
from dcmencaps_lint.registry import RuleSet, load_rules

NOT_DICOM = b"This is a plain text file, not a DICOM file at all.\n" * 20


def codes(report: FileReport) -> list[str]:
    return [f.code for f in report.findings]


def only(report: FileReport, code: str) -> Finding:
    [f] = [f for f in report.findings if f.code == code]
    return f


def without_transfer_syntax(built: Built) -> tuple[bytes, int]:
    """(file with (0002,0010) removed and the group length fixed, bytes removed)."""
    data = built.data
    at = data.find(b"\x02\x00\x10\x00UI")
    assert at > 132
    (length,) = struct.unpack_from("<H", data, at + 6)
    removed = 8 + length
    out = bytearray(data[:at] + data[at + removed :])
    # (0002,0000) UL is the first meta element: its value sits at 140.
    assert out[132:138] == b"\x02\x00\x00\x00UL"
    (group_length,) = struct.unpack_from("<I", out, 140)
    out[140:144] = struct.pack("<I", group_length - removed)
    return bytes(out), removed


class TestNotDicom:
    def test_dicom_file_is_quiet(self, tmp_path: Path) -> None:
        path = encapsulated([jpeg_frame()]).write(tmp_path / "good.dcm")
        report = lint_file(path)
        assert report.status == "passed"
        assert "PRS001" not in codes(report)

    def test_named_explicitly(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.txt"
        path.write_bytes(NOT_DICOM)
        report = lint_file(path)
        assert report.status == "error"
        f = only(report, "PRS001")
        assert (f.severity, f.offset, f.frame) == (Severity.ERROR, None, None)
        assert codes(report) == ["PRS001"]

    def test_bytes_are_explicit_too(self) -> None:
        report = lint_file(NOT_DICOM)
        assert (report.status, codes(report)) == ("error", ["PRS001"])

    def test_named_explicitly_in_lint_paths(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.txt"
        path.write_bytes(NOT_DICOM)
        [report] = lint_paths([path]).files
        assert (report.status, codes(report)) == ("error", ["PRS001"])

    def test_skipped_in_a_folder_walk(self, tmp_path: Path) -> None:
        (tmp_path / "notes.txt").write_bytes(NOT_DICOM)
        encapsulated([jpeg_frame()]).write(tmp_path / "good.dcm")
        result = lint_paths([tmp_path])
        by_name = {Path(r.path).name: r for r in result.files}
        skipped = by_name["notes.txt"]
        assert skipped.status == "skipped"
        assert skipped.findings == ()
        assert skipped.reason
        assert by_name["good.dcm"].status == "passed"
        assert (result.summary.files, result.summary.skipped, result.summary.errors) == (2, 1, 0)


class TestUnreadableDataset:
    def test_valid_is_quiet(self) -> None:
        assert "PRS002" not in codes(lint_file(encapsulated([jpeg_frame()]).data))

    def test_sequence_that_never_ends(self) -> None:
        # An undefined-length SQ whose "item" is garbage: pydicom reads on past the end
        # of the file and raises before it ever reaches Pixel Data.
        prefix = dataset_prefix(JPEG_BASELINE)
        sq = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
        data = prefix + sq + b"\x01\x02\x03\x04\xff\xff\xff\xff" + b"z" * 20
        report = lint_file(data)
        assert report.status == "error"
        assert codes(report) == ["PRS002"]
        f = only(report, "PRS002")
        assert f.severity is Severity.ERROR
        assert f.offset is not None and len(prefix) <= f.offset <= len(data)
        assert f"near byte {f.offset}" in f.message

    @pytest.mark.parametrize("vr", ["UN", "OB"])
    def test_long_value_runs_past_the_end(self, vr: str) -> None:
        # pydicom reads the short value without complaint; the file is truncated in
        # front of Pixel Data and must not pass as "no Pixel Data".
        prefix = dataset_prefix(JPEG_BASELINE)
        element = struct.pack("<HH2sHI", 0x0029, 0x1010, vr.encode(), 0, 0x7FFFFFF0)
        data = prefix + element + b"abcd"
        report = lint_file(data)
        assert (report.status, codes(report)) == ("error", ["PRS002"])
        f = only(report, "PRS002")
        assert f.offset == len(prefix) + 12  # the value that runs past the end
        assert "(0029,1010)" in f.message and "only 4 bytes remain" in f.message

    def test_short_value_length_runs_past_the_end(self) -> None:
        built = encapsulated([jpeg_frame()])
        at = built.data.find(b"\x08\x00\x60\x00CS")  # Modality
        data = bytearray(built.data)
        data[at + 6 : at + 8] = struct.pack("<H", 0xFFF0)
        report = lint_file(bytes(data))
        f = only(report, "PRS002")
        assert (f.severity, f.offset) == (Severity.ERROR, at + 8)
        assert codes(report) == ["PRS002"]

    def test_truncated_before_pixel_data_in_a_folder_walk(self, tmp_path: Path) -> None:
        built = encapsulated([jpeg_frame()])
        at = built.data.find(b"\x08\x00\x60\x00CS")
        (tmp_path / "cut.dcm").write_bytes(built.data[: at + 9])
        [report] = lint_paths([tmp_path]).files
        assert (report.status, codes(report)) == ("error", ["PRS002"])

    def test_dicm_prefix_with_garbage_is_not_skipped_silently(self) -> None:
        prefix = dataset_prefix(JPEG_BASELINE)
        sq = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
        report = lint_file(prefix + sq + b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + b"\x07" * 9)
        assert report.status == "error"
        assert codes(report) == ["PRS002"]


class TestCutInsidePixelDataHeader:
    """pydicom stops quietly when fewer than 8 bytes are left: the file must not pass as
    one without Pixel Data."""

    @pytest.mark.parametrize("cut", [1, 4, 7, 8, 11])
    def test_file_cut_inside_the_pixel_data_header(self, cut: int) -> None:
        built = encapsulated([jpeg_frame()])
        report = lint_file(built.data[: built.pixel_offset + cut])
        assert report.status == "error"
        [finding] = report.findings
        assert (finding.code, finding.severity) == ("PRS002", Severity.ERROR)
        assert built.pixel_offset <= finding.offset <= built.pixel_offset + cut

    def test_file_ending_after_a_whole_element_is_not_cut(self) -> None:
        built = encapsulated([jpeg_frame()])
        report = lint_file(built.data[: built.pixel_offset])
        assert (report.status, report.reason, report.findings) == ("skipped", "no Pixel Data", ())


class TestMissingTransferSyntax:
    def test_valid_is_quiet(self) -> None:
        assert "PRS003" not in codes(lint_file(encapsulated([jpeg_frame()]).data))

    def test_no_transfer_syntax_with_pixel_data(self) -> None:
        data, _ = without_transfer_syntax(encapsulated([jpeg_frame()]))
        report = lint_file(data)
        assert report.status == "error"
        f = only(report, "PRS003")
        assert (f.severity, f.offset, f.frame) == (Severity.ERROR, None, None)
        assert codes(report) == ["PRS003"]

    def test_item_rules_still_run(self) -> None:
        built = encapsulated([jpeg_frame() + b"\xff"], bot="empty")
        data, removed = without_transfer_syntax(built)
        report = lint_file(data)
        assert sorted(codes(report)) == ["ITM004", "PRS003"]
        odd = only(report, "ITM004")
        assert (odd.offset, odd.item) == (built.item_length_field(1) - removed, 1)

    def test_no_transfer_syntax_and_no_pixel_data(self) -> None:
        built = native()
        data, _ = without_transfer_syntax(built)
        report = lint_file(data[: built.pixel_offset - (len(built.data) - len(data))])
        assert report.status == "skipped"
        assert report.findings == ()


class TestIoError:
    def test_nonexistent_path(self, tmp_path: Path) -> None:
        report = lint_file(tmp_path / "missing.dcm")
        assert report.status == "error"
        f = only(report, "PRS004")
        assert (f.severity, f.offset) == (Severity.ERROR, None)
        assert codes(report) == ["PRS004"]

    def test_directory_passed_to_lint_file(self, tmp_path: Path) -> None:
        report = lint_file(tmp_path)
        assert (report.status, codes(report)) == ("error", ["PRS004"])

    @pytest.fixture
    def fifo(self, tmp_path: Path) -> Iterator[Path]:
        path = tmp_path / "pipe.dcm"
        os.mkfifo(path)

        def hung(signum: int, frame: object) -> None:
            raise TimeoutError("lint_file blocked on a FIFO")

        # Opening a FIFO for reading blocks until a writer appears: make a hang fail.
        previous = signal.signal(signal.SIGALRM, hung)
        signal.alarm(20)
        try:
            yield path
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    def test_fifo_does_not_block(self, fifo: Path) -> None:
        report = lint_file(fifo)
        assert (report.status, codes(report)) == ("error", ["PRS004"])

    def test_fifo_in_a_folder_walk(self, fifo: Path) -> None:
        [report] = lint_paths([fifo.parent]).files
        assert (report.status, codes(report)) == ("error", ["PRS004"])


class TestInternalError:
    @pytest.fixture
    def broken_tsx009(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def boom(ctx: Context) -> Iterator[Finding]:
            raise ZeroDivisionError("rule bug")

        rules = load_rules()
        patched = RuleSet(tuple(r._replace(check=boom) if r.code == "TSX009" else r for r in rules))
        monkeypatch.setattr(engine, "load_rules", lambda: patched)

    def test_valid_is_quiet(self) -> None:
        report = lint_file(encapsulated([jpeg_frame()]).data)
        assert "PRS005" not in codes(report)

    @pytest.mark.usefixtures("broken_tsx009")
    def test_raising_rule_other_findings_stand(self) -> None:
        built = encapsulated([jpeg_frame(), b""])  # ITM008: an empty fragment
        report = lint_file(built.data)
        f = only(report, "PRS005")
        assert (f.severity, f.offset) == (Severity.ERROR, None)
        assert "TSX009" in f.message and "ZeroDivisionError" in f.message
        empty = only(report, "ITM008")
        assert (empty.offset, empty.item) == (built.item_length_field(2), 2)
        assert report.status == "error"

    @pytest.mark.usefixtures("broken_tsx009")
    def test_raising_rule_on_every_file(self) -> None:
        report = lint_file(encapsulated([jpeg_frame()]).data)
        assert codes(report) == ["PRS005"]


class TestNoPixelData:
    def test_no_pixel_data_is_skipped(self) -> None:
        report = lint_file(dataset_prefix(EXPLICIT_LE))
        assert report.status == "skipped"
        assert report.findings == ()
        assert report.reason

    def test_native_pixel_data_is_passed(self) -> None:
        report = lint_file(native().data)
        assert (report.status, report.findings) == ("passed", ())

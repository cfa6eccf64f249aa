"""The benchmarks in benchmarks/: small versions of every workload are valid files, the
pydicom scripts the runner times work on them, and the runner produces its table.

No timing is asserted here: speed is measured by benchmarks/run.py, never by tests.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.encaps import parse_fragments

from dcmencaps_lint.codestream import parse_jpeg
from dcmencaps_lint.engine import lint_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks package

from benchmarks import generate, run

AC_SYMBOLS = sorted(
    {0x00, 0xF0} | {run_ << 4 | size for run_ in range(16) for size in range(1, 11)}
)


def read_whole(path: Path):
    """A reader for parse_jpeg over a file's bytes."""
    data = path.read_bytes()
    return lambda offset, count: data[offset : offset + count]


class TestJpegFrames:
    @pytest.mark.parametrize(
        "table", [generate.AC_LUMINANCE, generate.AC_CHROMINANCE], ids=["luma", "chroma"]
    )
    def test_ac_huffman_tables_hold_every_symbol_once(self, table):
        counts, symbols = table
        assert len(counts) == 16
        assert sum(counts) == len(symbols) == 162
        assert sorted(symbols) == AC_SYMBOLS

    @pytest.mark.parametrize("table", [generate.DC_LUMINANCE, generate.DC_CHROMINANCE])
    def test_dc_huffman_tables(self, table):
        counts, symbols = table
        assert sum(counts) == len(symbols) == 12

    def test_zigzag_order(self):
        assert sorted(generate.ZIGZAG) == list(range(64))
        assert generate.ZIGZAG[:6] == (0, 1, 8, 16, 9, 2)
        assert generate.ZIGZAG[-1] == 63

    @pytest.mark.parametrize("samples", [1, 3])
    def test_frame_is_a_baseline_codestream(self, samples, tmp_path):
        header = generate.jpeg_header(512, 256, samples)
        frame = b"".join(generate.frame_pieces(header, generate.entropy_pool(), 5, 2000))
        path = tmp_path / "frame.jpg"
        path.write_bytes(frame)
        jpeg = parse_jpeg(read_whole(path), 0, len(frame))
        assert len(frame) == 2000
        assert frame.startswith(b"\xff\xd8") and frame.endswith(b"\xff\xd9")
        assert b"\xff" not in frame[len(header) : -2]  # entropy-coded bytes: no markers
        assert jpeg is not None and jpeg.complete
        assert (jpeg.sof, jpeg.precision, jpeg.rows, jpeg.columns) == (0xC0, 8, 512, 256)
        assert jpeg.components == samples
        assert jpeg.has_dqt and jpeg.has_dht

    def test_frames_share_the_header_not_the_entropy_data(self):
        header = generate.jpeg_header(256, 256, 3)
        pool = generate.entropy_pool()
        first, second = (b"".join(generate.frame_pieces(header, pool, i, 3000)) for i in (0, 1))
        assert first[: len(header)] == second[: len(header)]
        assert first != second

    def test_a_frame_larger_than_the_pool_comes_in_pieces(self):
        pool = generate.entropy_pool(size=4096)
        header = generate.jpeg_header(256, 256, 3)
        pieces = list(generate.frame_pieces(header, pool, 3, 20_000))
        assert sum(len(p) for p in pieces) == 20_000
        assert max(len(p) for p in pieces) <= len(pool)

    def test_odd_frame_size_is_refused(self):
        header = generate.jpeg_header(256, 256, 3)
        with pytest.raises(ValueError, match="odd"):
            list(generate.frame_pieces(header, generate.entropy_pool(), 0, 1001))


class TestWorkloads:
    @pytest.mark.parametrize(("frames", "frame_size"), [(7, 1000), (3, 2 * generate.MiB + 2)])
    def test_wsi_file_is_valid_with_an_eot(self, tmp_path, frames, frame_size):
        path = tmp_path / "wsi.dcm"
        size, written = generate.write_wsi(path, frames, frame_size, key="test")
        report = lint_file(path)
        assert written and path.stat().st_size == size
        assert report.findings == ()
        assert report.status == "passed"
        assert (report.number_of_frames, report.fragments, report.frames_found) == (
            frames,
            frames,
            frames,
        )
        assert report.frame_map_source == "eot"

    def test_eot_points_at_every_item(self, tmp_path):
        path = tmp_path / "wsi.dcm"
        generate.write_wsi(path, 5, 1000, key="test")
        with path.open("rb") as f:
            ds = dcmread(f, stop_before_pixels=True)
            f.seek(len(generate.PIXEL_DATA_HEADER) + len(generate.EMPTY_BOT), 1)
            first = f.tell()
            count, positions = parse_fragments(f)
            item_lengths = []
            for position in positions:
                f.seek(position + 4)
                item_lengths.append(struct.unpack("<I", f.read(4))[0])
        offsets = struct.unpack("<5Q", ds.ExtendedOffsetTable)
        lengths = struct.unpack("<5Q", ds.ExtendedOffsetTableLengths)
        assert ds["ExtendedOffsetTable"].VR == ds["ExtendedOffsetTableLengths"].VR == "OV"
        assert count == 5
        assert list(offsets) == [p - first for p in positions]
        assert list(lengths) == item_lengths
        assert len(set(item_lengths)) > 1  # unlike frames: lengths vary around 1000
        assert all(750 <= n <= 1250 for n in item_lengths)

    def test_file_with_the_right_size_is_kept(self, tmp_path):
        path = tmp_path / "wsi.dcm"
        size, _ = generate.write_wsi(path, 4, 1000, key="test")
        path.write_bytes(b"\0" * size)  # same size: kept as it is
        assert generate.write_wsi(path, 4, 1000, key="test") == (size, False)
        assert path.read_bytes() == b"\0" * size
        path.write_bytes(b"\0" * 10)  # wrong size: written again
        assert generate.write_wsi(path, 4, 1000, key="test") == (size, True)
        assert lint_file(path).findings == ()

    def test_small_files_are_valid_single_frames(self, tmp_path):
        folder = tmp_path / "small"
        total, written = generate.write_small_files(folder, 3, 2000)
        files = sorted(folder.iterdir())
        assert (len(files), written) == (3, 3)
        assert total == sum(p.stat().st_size for p in files)
        for path in files:
            report = lint_file(path)
            assert report.findings == ()
            assert (report.fragments, report.frames_found) == (1, 1)
            assert report.frame_map_source == "single-frame"
        assert len({dcmread(p).SOPInstanceUID for p in files}) == 3

    def test_default_workloads_match_the_issue(self):
        by_key = generate.BY_KEY
        assert by_key["wsi-200k"].frames == 200_000
        assert by_key["wsi-20k"].frames == 20_000
        big = by_key["big-4gib"]
        assert big.frames == 1_100 and big.frames * big.frame_size > 4.3 * 2**30
        assert by_key["small-files"].files == 2_000

    def test_workdir_inside_the_repository_is_refused(self):
        with pytest.raises(SystemExit, match="inside the repository"):
            generate.check_workdir(generate.REPOSITORY / "bench")


class TestPydicomScripts:
    """The scripts the runner times succeed on the workloads (exit 0, nothing on stderr)."""

    @pytest.mark.parametrize("script", [run.PYDICOM_FAST, run.PYDICOM_FRAMES, run.PYDICOM_DCMREAD])
    def test_on_a_wsi_file_and_a_folder(self, tmp_path, script):
        generate.write_wsi(tmp_path / "wsi.dcm", 6, 1000, key="test")
        generate.write_small_files(tmp_path / "small", 2, 2000)
        for target in (tmp_path / "wsi.dcm", tmp_path / "small"):
            done = subprocess.run(
                [sys.executable, "-c", script, str(target)], capture_output=True, text=True
            )
            assert (done.returncode, done.stderr) == (0, "")

    def test_fast_path_fails_on_a_fragment_count_mismatch(self, tmp_path):
        path = tmp_path / "wsi.dcm"
        generate.write_wsi(path, 6, 1000, key="test")
        ds = dcmread(path)
        ds.NumberOfFrames = 7
        ds.save_as(tmp_path / "seven.dcm")
        done = subprocess.run(
            [sys.executable, "-c", run.PYDICOM_FAST, str(tmp_path / "seven.dcm")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1
        assert "6 fragments for 7 frames" in done.stderr


class TestRunner:
    def test_measure_and_render_a_trivial_command(self):
        cases = [
            run.Case("encaps-lint", (sys.executable, "-c", "pass")),
            run.Case("pydicom-fast", (sys.executable, "-c", "import sys; sys.exit(3)")),
            run.Case("dcmdump", skip="not installed"),
        ]
        results = run.measure(cases, runs=2, warmup=1)
        workload = dataclasses.replace(generate.BY_KEY["wsi-20k"], label="trivial")
        table = run.render([(workload, results)], 2, 1, "Machine: test").splitlines()

        assert [len(r.samples) for r in results] == [2, 2, 0]
        assert [r.exit_codes for r in results[:2]] == [[0], [3]]
        assert all(s.max_rss > 0 for r in results for s in r.samples)
        assert table[0] == "| work | encaps-lint | pydicom fast path | dcmdump |"
        assert table[1] == "|---|---|---|---|"
        row = table[2].split(" | ")
        assert row[0] == "| trivial"
        assert row[1].endswith(" MB)")  # reference: time and RSS, no ratio
        assert "×" in row[2] and row[2].endswith("†")  # ratio, and the exit code mark
        assert row[3] == "not installed |"
        assert "| wsi-20k | pydicom fast path | 2 |" in "\n".join(table)
        assert table[-1] == "Machine: test"

    def test_folder_rows_count_files_per_second(self):
        folder = dataclasses.replace(generate.BY_KEY["small-files"], files=10)
        results = run.measure([run.Case("encaps-lint", (sys.executable, "-c", "pass"))], 1, 0)
        assert "files/s" in run.cell(folder, results[0], results[0])

    def test_fixed_costs_stay_in_ms_on_the_folder(self):
        folder = dataclasses.replace(generate.BY_KEY["small-files"], files=10)
        startup = run.measure([run.Case("python-startup", (sys.executable, "-c", "pass"))], 1, 0)
        assert run.cell(folder, startup[0], None).endswith(" MB)")
        assert "files/s" not in run.cell(folder, startup[0], None)

    def test_floors_run_encaps_lint_without_its_rules(self, tmp_path):
        workload = generate.BY_KEY["small-files"]
        generate.write_small_files(tmp_path, 2, 2000)
        cases = {c.tool: c for c in run.cases_for(workload, tmp_path, run.FLOOR_TOOLS)}
        assert set(run.FLOOR_TOOLS) <= set(run.TOOLS)
        assert not set(run.FLOORS_ONLY) & set(run.DEFAULT_TOOLS)  # not in the default run
        no_rules = ("-q", "--jobs", "1", "--select", "PRS")
        assert cases["encaps-lint-no-rules"].argv[-6:] == (str(tmp_path), *no_rules)
        assert cases["encaps-lint-no-rules-j2"].argv[-5:] == (
            "-q",
            "--jobs",
            "2",
            "--select",
            "PRS",
        )
        # The command really lints without a rule: a broken file gives no rule's finding.
        broken = tmp_path / "00000.dcm"
        data = bytearray(broken.read_bytes())
        end = data.rindex(b"\xff\xd9")
        data[end : end + 2] = b"\0\0"  # no end-of-image marker: CSM rules would say so
        broken.write_bytes(bytes(data))
        codes = {}
        for tool in ("encaps-lint", "encaps-lint-no-rules"):
            argv = [*cases[tool].argv, "--format", "json"]
            report = json.loads(subprocess.run(argv, capture_output=True, text=True).stdout)
            codes[tool] = {f["code"][:3] for f in report["files"][0]["findings"]}
        assert codes == {"encaps-lint": {"CSM"}, "encaps-lint-no-rules": set()}

    def test_small_files_commands(self, tmp_path):
        workload = generate.BY_KEY["small-files"]
        generate.write_small_files(tmp_path, 1, 2000)
        cases = {c.tool: c for c in run.cases_for(workload, tmp_path, list(run.TOOLS))}
        assert cases["encaps-lint"].argv[-4:] == (str(tmp_path), "-q", "--jobs", "1")
        assert cases["encaps-lint-j2"].argv[-4:] == (str(tmp_path), "-q", "--jobs", "2")
        assert cases["dciodvfy"].skip == "not installed" or cases["dciodvfy"].argv[0] == "sh"

    def test_machine_line(self):
        line = run.machine()
        assert line.startswith("Machine: ")
        assert "cores" in line and "Python" in line

"""Baselines: --write-baseline records findings by content hash + code, --baseline drops them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from builders import RLE_LOSSLESS, Built, encapsulated, item, rle_frame
from click.testing import CliRunner, Result

from dcmencaps_lint import baseline, lint_file
from dcmencaps_lint.cli import main
from dcmencaps_lint.engine import Options
from dcmencaps_lint.model import Severity

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def bot_length_10() -> Built:
    """BOT001 only: a BOT item of 10 bytes."""
    return encapsulated([rle_frame()], ts=RLE_LOSSLESS, bot=item(b"\x00" * 10))


def bot_and_itm() -> Built:
    """BOT004 (entry 2 points inside fragment 1) and ITM006 (no delimiter)."""
    return encapsulated([rle_frame(), rle_frame()], ts=RLE_LOSSLESS, bot=[0, 42], end=b"")


def two_bot004() -> Built:
    """BOT004 twice: entries 2 and 3 point inside fragments."""
    return encapsulated([rle_frame()] * 3, ts=RLE_LOSSLESS, bot=[0, 42, 130])


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["-j", "1", *args], input=input)


def reported(result: Result) -> list[tuple[str, str, int | None]]:
    """(file name, code, offset) of every finding in a --format json report."""
    return [
        (Path(f["path"]).name, x["code"], x["offset"])
        for f in json.loads(result.stdout)["files"]
        for x in f["findings"]
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of samples/broken."""
    return Path(shutil.copytree(SAMPLES / "broken", tmp_path / "broken"))


class TestWriteBaseline:
    def test_entries_by_content_hash_and_code(self, tmp_path: Path) -> None:
        a = bot_and_itm().write(tmp_path / "a.dcm")
        b = two_bot004().write(tmp_path / "b.dcm")
        result = run("--write-baseline", str(tmp_path / "base.json"), str(a), str(b))
        data = json.loads((tmp_path / "base.json").read_text())
        assert data["schema_version"] == 1
        assert data["tool"]["name"] == "encaps-lint"
        assert data["entries"] == [
            {"sha256": sha256(a), "path": str(a), "code": "BOT004", "count": 1},
            {"sha256": sha256(a), "path": str(a), "code": "ITM006", "count": 1},
            {"sha256": sha256(b), "path": str(b), "code": "BOT004", "count": 2},
        ]
        # Writing a baseline changes neither the report nor the exit code.
        assert result.exit_code == 1
        assert result.stdout.splitlines()[-1].startswith("Found 4 errors")

    def test_copies_share_one_entry_and_clean_files_have_none(self, tmp_path: Path) -> None:
        first = bot_length_10().write(tmp_path / "a.dcm")
        bot_length_10().write(tmp_path / "b.dcm")
        encapsulated([rle_frame()], ts=RLE_LOSSLESS).write(tmp_path / "c.dcm")
        run("--write-baseline", str(tmp_path / "base.json"), str(tmp_path))
        entries = json.loads((tmp_path / "base.json").read_text())["entries"]
        assert entries == [
            {"sha256": sha256(first), "path": str(first), "code": "BOT001", "count": 1}
        ]


class TestBaselineOnSamples:
    @pytest.fixture
    def base(self, broken: Path, tmp_path: Path) -> Path:
        path = tmp_path / "base.json"
        assert run("--write-baseline", str(path), str(broken)).exit_code == 1
        return path

    def test_everything_recorded_is_dropped(self, broken: Path, base: Path) -> None:
        count = len(list(broken.glob("*.dcm")))
        result = run("--baseline", str(base), str(broken))
        assert result.exit_code == 0
        assert result.stdout.splitlines() == [
            f"No findings in {count} files: 0 failed, {count} passed, 0 skipped"
        ]

    def test_a_renamed_copy_is_still_covered(self, broken: Path, base: Path) -> None:
        shutil.copy(broken / "ITM004-odd-fragment.dcm", broken / "renamed.dcm")
        (broken / "ITM004-odd-fragment.dcm").rename(broken / "moved.dcm")
        result = run("--baseline", str(base), "--format", "json", str(broken))
        assert result.exit_code == 0
        assert reported(result) == []

    def test_a_changed_file_is_reported(self, broken: Path, base: Path) -> None:
        # Fragment 1's odd length 63 becomes 64: another defect, and other bytes.
        path = broken / "ITM004-odd-fragment.dcm"
        data = bytearray(path.read_bytes())
        (odd,) = [f for f in lint_file(path).findings if f.code == "ITM004"]
        assert odd.offset is not None and data[odd.offset] == 63
        data[odd.offset] = 64
        path.write_bytes(bytes(data))
        expected = [(path.name, f.code, f.offset) for f in lint_file(path).findings]
        assert expected and "ITM004" not in [code for _, code, _ in expected]
        result = run("--baseline", str(base), "--format", "json", str(broken))
        assert result.exit_code == 1
        assert reported(result) == expected


class TestBaseline:
    def write(self, tmp_path: Path, *files: Path) -> Path:
        path = tmp_path / "base.json"
        run("--write-baseline", str(path), *map(str, files))
        return path

    def test_the_same_defect_in_changed_bytes_comes_back(self, tmp_path: Path) -> None:
        built = bot_length_10()
        path = built.write(tmp_path / "a.dcm")
        base = self.write(tmp_path, path)
        data = bytearray(built.data)
        data[built.fragment_value(1) + 70] ^= 0x01  # RLE payload, not a header
        path.write_bytes(bytes(data))
        result = run("--baseline", str(base), "--format", "json", str(path))
        assert result.exit_code == 1
        assert reported(result) == [("a.dcm", "BOT001", built.item_length_field(0))]

    def test_only_recorded_codes_are_dropped(self, tmp_path: Path) -> None:
        built = bot_and_itm()
        path = built.write(tmp_path / "a.dcm")
        base = self.write(tmp_path, path)
        data = json.loads(base.read_text())
        data["entries"] = [e for e in data["entries"] if e["code"] == "BOT004"]
        base.write_text(json.dumps(data))
        result = run("--baseline", str(base), "--format", "json", str(path))
        assert result.exit_code == 1
        assert reported(result) == [("a.dcm", "ITM006", len(built.data))]
        report = json.loads(result.stdout)
        assert report["files"][0]["status"] == "failed"
        assert report["summary"]["errors"] == 1

    def test_a_recorded_code_drops_every_count(self, tmp_path: Path) -> None:
        path = two_bot004().write(tmp_path / "a.dcm")
        base = self.write(tmp_path, path)
        data = json.loads(base.read_text())
        assert [e["count"] for e in data["entries"]] == [2]
        data["entries"][0]["count"] = 1  # fewer than found now: still all dropped
        base.write_text(json.dumps(data))
        result = run("--baseline", str(base), "--format", "json", str(path))
        assert result.exit_code == 0
        assert reported(result) == []
        assert json.loads(result.stdout)["files"][0]["status"] == "passed"

    def test_write_with_baseline_records_everything(self, tmp_path: Path) -> None:
        path = bot_and_itm().write(tmp_path / "a.dcm")
        base = self.write(tmp_path, path)
        again = tmp_path / "again.json"
        result = run("--baseline", str(base), "--write-baseline", str(again), str(path))
        assert result.exit_code == 0
        assert json.loads(again.read_text())["entries"] == json.loads(base.read_text())["entries"]

    def test_standard_input_and_worker_processes(self, tmp_path: Path) -> None:
        built = bot_length_10()
        path = built.write(tmp_path / "a.dcm")
        base = self.write(tmp_path, path)
        assert run("--baseline", str(base), "-", input=built.data).exit_code == 0
        bot_length_10().write(tmp_path / "b.dcm")
        both = CliRunner().invoke(main, ["-j", "2", "--baseline", str(base), str(tmp_path)])
        assert both.exit_code == 0

    def test_baseline_from_the_config_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = bot_length_10().write(tmp_path / "a.dcm")
        self.write(tmp_path, path)
        (tmp_path / "sub").mkdir()
        (tmp_path / "encaps-lint.toml").write_text('baseline = "base.json"\n')
        monkeypatch.chdir(tmp_path / "sub")  # the path is relative to the config's folder
        assert run(str(path)).exit_code == 0


class TestBadBaseline:
    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("{", "not a JSON baseline: "),
            ('{"schema_version": 2, "entries": []}', "not an encaps-lint baseline of "),
            ("[]", "not an encaps-lint baseline of "),
            ('{"schema_version": 1}', "'entries' must be a list"),
            (
                '{"schema_version": 1, "entries": [{"sha256": "ab", "code": "BOT001"}]}',
                "entry 0 needs a 'sha256' (64 hex digits) and a 'code'",
            ),
        ],
    )
    def test_one_line_naming_the_file(self, tmp_path: Path, text: str, problem: str) -> None:
        base = tmp_path / "base.json"
        base.write_text(text)
        path = bot_length_10().write(tmp_path / "a.dcm")
        result = run("--baseline", str(base), str(path))
        assert result.exit_code == 2
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(f"encaps-lint: error: {base}: {problem}")

    def test_missing_file(self, tmp_path: Path) -> None:
        result = run("--baseline", str(tmp_path / "nowhere.json"), str(tmp_path))
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [
            f"encaps-lint: error: {tmp_path / 'nowhere.json'}: cannot read the baseline: "
            "No such file or directory"
        ]


class TestSuppress:
    def test_status_is_redone_and_unhashed_files_are_kept(self) -> None:
        built = bot_and_itm()
        report = lint_file(built.data, options=Options(content_hash=True))
        digest = hashlib.sha256(built.data).hexdigest()
        assert report.content_sha256 == digest and report.status == "failed"
        known = frozenset({(digest, "BOT004"), (digest, "ITM006")})
        assert baseline.suppress(report, known, Severity.ERROR).status == "passed"
        warn = frozenset({(digest, "BOT004")})
        assert baseline.suppress(report, warn, Severity.ERROR).findings == tuple(
            f for f in report.findings if f.code == "ITM006"
        )
        unhashed = lint_file(built.data)
        assert baseline.suppress(unhashed, known, Severity.ERROR) is unhashed

    def test_entries_skip_unhashed_reports(self) -> None:
        report = lint_file(bot_length_10().data)
        assert report.content_sha256 is None
        assert report.findings
        assert baseline.entries([report]) == []

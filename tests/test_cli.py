"""The command line: exit codes, options, the text format, folders, stdin and --jobs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from builders import Built, encapsulated, item, jpeg_frame
from click.testing import CliRunner, Result

from dcmencaps_lint import __version__, lint_file
from dcmencaps_lint.cli import main
from dcmencaps_lint.docs import fix_kind, sections
from dcmencaps_lint.registry import FixAvailability, load_rules

FINDING_LINE = re.compile(
    r"^(?P<path>.+?)(:0x(?P<offset>[0-9A-F]{8}))?: (?P<code>[A-Z]{3}[0-9]{3}) "
    r"(?P<severity>error|warning|info) (?P<message>.+) \[(?P<name>[a-z0-9-]+)\]$"
)
SUMMARY_LINE = re.compile(
    r"^(No findings|Found \d+ errors?, \d+ warnings?, \d+ infos?) in \d+ files?: "
    r"\d+ failed, \d+ passed, \d+ skipped$"
)
STATISTICS_LINE = re.compile(r"^ *(?P<count>\d+)  (?P<code>[A-Z]{3}\d{3})  (?P<name>[a-z0-9-]+)$")

EXPECTED_CODES = (
    [f"PRS{n:03d}" for n in range(1, 6)]
    + ["TSX001", "TSX002", "TSX003", "TSX007", "TSX008"]
    + [f"ITM{n:03d}" for n in range(1, 10)]
    + [f"BOT{n:03d}" for n in range(1, 11)]
    + [f"EOT{n:03d}" for n in range(1, 12)]
    + [f"FRG{n:03d}" for n in range(1, 5)]
    + ["CSM001", "CSM002", "CSM004", "CSM005"]
)


def valid() -> Built:
    return encapsulated([jpeg_frame(), jpeg_frame()])


def bot_length_10() -> Built:
    """BOT001: a BOT item of 10 bytes."""
    return encapsulated([jpeg_frame()], bot=item(b"\x00" * 10))


def bot_and_itm() -> Built:
    """BOT004 (entry 2 points inside fragment 1) and ITM006 (no delimiter)."""
    return encapsulated([jpeg_frame(), jpeg_frame()], bot=[0, 42], end=b"")


def warning_only() -> Built:
    """BOT007 only: 2 JPEG frames in 4 fragments and an empty BOT."""
    frame = jpeg_frame(32)
    return encapsulated([[frame[:16], frame[16:]], [frame[:16], frame[16:]]], bot="empty")


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def codes_in(output: str) -> list[str]:
    return [m["code"] for line in output.splitlines() if (m := FINDING_LINE.match(line))]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Valid, broken, warning-only and non-DICOM files, some in a sub-folder."""
    root = tmp_path / "archive"
    (root / "sub" / "deeper").mkdir(parents=True)
    valid().write(root / "a_valid.dcm")
    bot_length_10().write(root / "b_bot001.dcm")
    bot_and_itm().write(root / "sub" / "c_bot004.dcm")
    warning_only().write(root / "sub" / "deeper" / "d_warning.dcm")
    (root / "sub" / "notes.txt").write_text("not DICOM at all\n")
    valid().write(root / "sub" / "deeper" / "e_valid.dcm")
    return root


class TestExitCodes:
    def test_valid_file_exits_0(self, tmp_path: Path) -> None:
        path = valid().write(tmp_path / "ok.dcm")
        result = run(str(path))
        assert result.exit_code == 0
        assert result.stdout.splitlines() == [
            "No findings in 1 file: 0 failed, 1 passed, 0 skipped"
        ]

    def test_broken_file_exits_1(self, tmp_path: Path) -> None:
        path = bot_length_10().write(tmp_path / "bad.dcm")
        assert run(str(path)).exit_code == 1

    def test_unknown_select_exits_2_with_one_line(self, tmp_path: Path) -> None:
        path = valid().write(tmp_path / "ok.dcm")
        result = run("--select", "XYZ123", str(path))
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert result.stderr.splitlines() == [
            "encaps-lint: error: --select: unknown rule code, prefix or name: 'XYZ123'"
        ]
        assert result.stdout == ""

    def test_invalid_format_exits_2(self, tmp_path: Path) -> None:
        path = valid().write(tmp_path / "ok.dcm")
        result = run("--format", "yaml", str(path))
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        lines = result.stderr.splitlines()
        assert (
            len(lines) == 1 and lines[0].startswith("encaps-lint: error: ") and "yaml" in lines[0]
        )

    def test_warning_exits_0_by_default_and_1_with_fail_on_warning(self, tmp_path: Path) -> None:
        path = str(warning_only().write(tmp_path / "warn.dcm"))
        assert [f.code for f in lint_file(path).findings] == ["BOT007"]
        assert run(path).exit_code == 0
        assert run("--fail-on", "error", path).exit_code == 0
        assert run("--fail-on", "warning", path).exit_code == 1

    def test_fail_on_info(self, tmp_path: Path) -> None:
        warn = str(warning_only().write(tmp_path / "warn.dcm"))
        ok = str(valid().write(tmp_path / "ok.dcm"))
        assert run("--fail-on", "info", warn).exit_code == 1
        assert run("--fail-on", "info", ok).exit_code == 0

    def test_exit_zero_and_fail_on_never(self, tmp_path: Path) -> None:
        path = str(bot_length_10().write(tmp_path / "bad.dcm"))
        exit_zero = run("--exit-zero", path)
        assert exit_zero.exit_code == 0
        assert "BOT001" in codes_in(exit_zero.stdout)  # still reported
        assert run("--exit-zero", "--fail-on", "warning", path).exit_code == 0
        assert run("--fail-on", "never", path).exit_code == 0


class TestInformation:
    def test_version(self) -> None:
        result = run("--version")
        assert result.exit_code == 0
        assert result.stdout.splitlines()[0].startswith(f"encaps-lint {__version__} ")

    def test_list_rules_shows_every_rule(self) -> None:
        result = run("--list-rules")
        assert result.exit_code == 0
        listed = [line.split()[0] for line in result.stdout.splitlines()]
        assert set(EXPECTED_CODES) <= set(listed)
        assert listed == [r.code for r in load_rules()]
        bot004 = next(line for line in result.stdout.splitlines() if line.startswith("BOT004"))
        assert "bot-offset-not-item-start" in bot004
        assert "error" in bot004

    def test_list_rules_has_a_fix_column(self) -> None:
        result = run("--list-rules")
        rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()}
        for r in load_rules():
            code, name, severity, fix = rows[r.code][:4]
            assert (code, name, severity) == (r.code, r.name, r.severity.label)
            assert fix == (fix_kind(r) or "—")

    def test_list_rules_as_json(self) -> None:
        result = run("--list-rules", "--format", "json")
        assert result.exit_code == 0
        listed = json.loads(result.stdout)
        assert [entry["code"] for entry in listed] == [r.code for r in load_rules()]
        assert all(
            set(entry)
            == {
                "code",
                "name",
                "severity",
                "summary",
                "reference",
                "deep",
                "decode",
                "fix",
                "origin",
            }
            for entry in listed
        )
        by_code = {entry["code"]: entry for entry in listed}
        assert by_code["BOT004"]["severity"] == "error"
        assert by_code["CSM024"] == {
            "code": "CSM024",
            "name": "rle-segment-odd-length",
            "severity": "warning",
            "summary": load_rules().get("CSM024").summary,  # type: ignore[union-attr]
            "reference": "PS3.5 G.5",
            "deep": "no",
            "decode": False,
            "fix": "unsafe",
            "origin": "dcmencaps_lint",
        }
        assert {entry["deep"] for entry in listed} == {"no", "part", "yes"}

    def test_list_rules_prints_text_or_json_only(self) -> None:
        result = run("--list-rules", "--format", "sarif")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "--list-rules prints text or json, not sarif" in result.stderr

    @pytest.mark.parametrize(
        ("fix", "unsafe", "kind"),
        [
            (FixAvailability.NEVER, False, None),
            (FixAvailability.SOMETIMES, False, "safe"),
            (FixAvailability.ALWAYS, False, "safe"),
            (FixAvailability.ALWAYS, True, "unsafe"),
        ],
    )
    def test_fix_kinds(self, fix: FixAvailability, unsafe: bool, kind: str | None) -> None:
        declared = load_rules().get("BOT001")
        assert declared is not None
        assert fix_kind(declared._replace(fix=fix, unsafe_fix=unsafe)) == kind

    @pytest.mark.parametrize("key", ["BOT004", "bot-offset-not-item-start", "bot004"])
    def test_explain(self, key: str) -> None:
        result = run("--explain", key)
        assert result.exit_code == 0
        r = load_rules().get("BOT004")
        assert r is not None
        lines = result.stdout.splitlines()
        assert lines[0] == "BOT004 bot-offset-not-item-start"
        assert r.summary + "." in lines
        for title, text in sections(r).items():
            assert f"{title}\n{'-' * len(title)}\n{text}" in result.stdout
        assert "PS3.5 A.4" in result.stdout

    def test_explain_unknown_exits_2(self) -> None:
        result = run("--explain", "NOP999")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "Traceback" not in result.output
        assert len([line for line in result.stderr.splitlines() if "NOP999" in line]) == 1


class TestTextFormat:
    def test_finding_line_matches_spec(self, tmp_path: Path) -> None:
        built = bot_length_10()
        path = str(built.write(tmp_path / "bad.dcm"))
        result = run(path)
        lines = result.stdout.splitlines()
        offset = built.item_length_field(0)
        assert (
            f"{path}:0x{offset:08X}: BOT001 error BOT item length 10 is not a multiple of 4 "
            "[bot-length-not-multiple-of-4]"
        ) in lines
        expected = lint_file(path).findings
        matches = [FINDING_LINE.match(line) for line in lines[:-1]]
        assert all(matches)
        assert [
            (m["path"], int(m["offset"], 16), m["code"], m["severity"], m["name"]) for m in matches
        ] == [(path, f.offset, f.code, f.severity.label, f.name) for f in expected]
        assert SUMMARY_LINE.match(lines[-1])
        errors = f"{len(expected)} error" + ("" if len(expected) == 1 else "s")
        assert (
            lines[-1]
            == f"Found {errors}, 0 warnings, 0 infos in 1 file: 1 failed, 0 passed, 0 skipped"
        )

    def test_quiet_drops_the_summary(self, tmp_path: Path) -> None:
        path = str(bot_length_10().write(tmp_path / "bad.dcm"))
        loud = run(path).stdout.splitlines()
        quiet = run("-q", path)
        assert quiet.exit_code == 1
        assert quiet.stdout.splitlines() == loud[:-1]
        assert all(FINDING_LINE.match(line) for line in quiet.stdout.splitlines())

    def test_quiet_valid_file_prints_nothing(self, tmp_path: Path) -> None:
        path = str(valid().write(tmp_path / "ok.dcm"))
        assert run("-q", path).stdout == ""

    def test_statistics_counts_per_rule(self, tmp_path: Path, folder: Path) -> None:
        result = run("--statistics", str(folder))
        lines = result.stdout.splitlines()
        stats = [m for line in lines if (m := STATISTICS_LINE.match(line))]
        expected = Counter(codes_in(result.stdout))
        assert {m["code"]: int(m["count"]) for m in stats} == dict(expected)
        assert [m["code"] for m in stats] == sorted(expected)
        assert SUMMARY_LINE.match(lines[-1])
        assert not any(STATISTICS_LINE.match(line) for line in run(str(folder)).stdout.splitlines())

    def test_output_file(self, tmp_path: Path) -> None:
        path = str(bot_length_10().write(tmp_path / "bad.dcm"))
        report = tmp_path / "report.txt"
        result = run("-o", str(report), path)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert report.read_text(encoding="utf-8") == run(path).stdout

    def test_output_file_json(self, tmp_path: Path) -> None:
        path = str(bot_length_10().write(tmp_path / "bad.dcm"))
        report = tmp_path / "report.json"
        result = run("--format", "json", "-o", str(report), path)
        assert result.exit_code == 1
        assert result.stdout == ""
        data = json.loads(report.read_text(encoding="utf-8"))
        assert [f["code"] for f in data["files"][0]["findings"]] == [
            f.code for f in lint_file(path).findings
        ]

    @pytest.mark.parametrize("name", ["evil\nname.dcm", "red\x1b[31mname.dcm", "a\rb\tc.dcm"])
    def test_control_characters_in_path_are_escaped(self, tmp_path: Path, name: str) -> None:
        path = bot_length_10().write(tmp_path / name)
        count = len(lint_file(path).findings)
        result = run(str(path))
        escaped = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(path))
        lines = result.stdout.splitlines()
        assert len(lines) == count + 1
        assert all(line.startswith(f"{escaped}:0x") for line in lines[:-1])
        assert all(FINDING_LINE.match(line) for line in lines[:-1])
        assert "\x1b" not in result.stdout
        assert "\r" not in result.stdout
        assert "\t" not in result.stdout


class TestFolders:
    def test_folder_is_walked_recursively(self, folder: Path) -> None:
        result = run(str(folder))
        paths = {
            m["path"] for line in result.stdout.splitlines() if (m := FINDING_LINE.match(line))
        }
        assert paths == {
            str(folder / "b_bot001.dcm"),
            str(folder / "sub" / "c_bot004.dcm"),
            # the warning is reported even though it does not fail the run
            str(folder / "sub" / "deeper" / "d_warning.dcm"),
        }
        assert result.exit_code == 1
        assert result.stdout.splitlines()[-1].endswith("in 6 files: 2 failed, 3 passed, 1 skipped")

    def test_non_dicom_in_folder_is_skipped_silently(self, folder: Path) -> None:
        result = run(str(folder))
        assert "notes.txt" not in result.stdout
        assert "PRS001" not in codes_in(result.stdout)
        data = json.loads(run("--format", "json", str(folder)).stdout)
        notes = [f for f in data["files"] if f["path"].endswith("notes.txt")]
        assert len(notes) == 1
        assert notes[0]["status"] == "skipped"
        assert notes[0]["findings"] == []
        assert notes[0]["reason"]

    def test_verbose_lists_skipped_files(self, folder: Path) -> None:
        result = run("-v", str(folder))
        notes = str(folder / "sub" / "notes.txt")
        assert f"{notes}: skipped (not a DICOM file)" in result.stdout.splitlines()

    def test_non_dicom_named_explicitly_is_prs001(self, folder: Path) -> None:
        notes = str(folder / "sub" / "notes.txt")
        result = run(notes)
        assert result.exit_code == 1
        assert codes_in(result.stdout) == ["PRS001"]
        assert result.stdout.startswith(f"{notes}: PRS001 error ")

    @pytest.mark.parametrize("fmt", ["text", "json"])
    def test_jobs_give_identical_output_in_input_order(self, folder: Path, fmt: str) -> None:
        extra = str(bot_length_10().write(folder.parent / "z_first.dcm"))
        args = ["--format", fmt, extra, str(folder)]
        one = run("-j", "1", *args)
        two = run("-j", "2", *args)
        assert one.exit_code == two.exit_code == 1
        assert one.stdout_bytes == two.stdout_bytes
        if fmt == "json":
            paths = [f["path"] for f in json.loads(one.stdout)["files"]]
            assert paths[0] == extra  # input order, not sorted order
            # a folder: its files in name order, then its sub-folders in name order
            assert paths[1:] == [
                str(folder / "a_valid.dcm"),
                str(folder / "b_bot001.dcm"),
                str(folder / "sub" / "c_bot004.dcm"),
                str(folder / "sub" / "notes.txt"),
                str(folder / "sub" / "deeper" / "d_warning.dcm"),
                str(folder / "sub" / "deeper" / "e_valid.dcm"),
            ]


class TestStdin:
    def test_broken_bytes_on_stdin(self, tmp_path: Path) -> None:
        built = bot_length_10()
        result = run("-", input=built.data)
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        expected = lint_file(built.data).findings
        assert lines[:-1] == [
            f"-:0x{f.offset:08X}: {f.code} {f.severity.label} {f.message} [{f.name}]"
            for f in expected
        ]
        assert "BOT001" in codes_in(result.stdout)

    def test_non_dicom_on_stdin_is_prs001(self) -> None:
        result = run("-", input=b"just some text, no DICOM here\n")
        assert result.exit_code == 1
        assert codes_in(result.stdout) == ["PRS001"]
        assert result.stdout.startswith("-: PRS001 error ")

    def test_stdin_with_other_paths_is_a_usage_error(self, tmp_path: Path) -> None:
        path = str(valid().write(tmp_path / "ok.dcm"))
        result = run("-", path, input=valid().data)
        assert result.exit_code == 2


class TestSelection:
    @pytest.fixture
    def path(self, tmp_path: Path) -> str:
        return str(bot_and_itm().write(tmp_path / "two.dcm"))

    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            ([], ["BOT004", "ITM006"]),
            (["--select", "BOT"], ["BOT004"]),
            (["--select", "BOT", "--ignore", "BOT004"], []),
            (["--ignore", "BOT004"], ["ITM006"]),
            (["--ignore", "ITM006", "--extend-ignore", "BOT004"], []),
            (["--extend-ignore", "ITM"], ["BOT004"]),
            (["--select", "ITM", "--extend-select", "BOT004"], ["BOT004", "ITM006"]),
            (["--select", "BOT004,ITM006"], ["BOT004", "ITM006"]),
            (["--select", "bot-offset-not-item-start"], ["BOT004"]),
            (["--ignore", "missing-sequence-delimiter"], ["BOT004"]),
            (["--select", "ITM", "--select", "BOT"], ["BOT004", "ITM006"]),
            (["--select", "BOT004", "--ignore", "BOT"], ["BOT004"]),
        ],
    )
    def test_selection_options(self, path: str, args: list[str], expected: list[str]) -> None:
        result = run("-q", *args, path)
        assert sorted(codes_in(result.stdout)) == expected
        assert result.exit_code == (1 if expected else 0)

    def test_unknown_ignore_exits_2(self, path: str) -> None:
        result = run("--ignore", "not-a-rule", path)
        assert result.exit_code == 2
        assert "not-a-rule" in result.stderr


def test_entry_points_run_as_installed(tmp_path: Path) -> None:
    """The console script and `python -m dcmencaps_lint` both run the CLI."""
    built = bot_length_10()
    path = str(built.write(tmp_path / "bad.dcm"))
    script = Path(sys.executable).parent / "encaps-lint"
    outputs = []
    for command in ([str(script)], [sys.executable, "-m", "dcmencaps_lint"]):
        done = subprocess.run([*command, path], capture_output=True, text=True, check=False)
        assert done.returncode == 1, done.stderr
        assert done.stderr == ""
        assert f"{path}:0x{built.item_length_field(0):08X}: BOT001 error" in done.stdout
        outputs.append(done.stdout)
        version = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, check=False
        )
        assert version.returncode == 0
        assert version.stdout.startswith(f"encaps-lint {__version__}")
        bad = subprocess.run(
            [*command, "--select", "XYZ123", path], capture_output=True, text=True, check=False
        )
        assert bad.returncode == 2
        assert "Traceback" not in bad.stderr
    assert outputs[0] == outputs[1]

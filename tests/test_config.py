"""Configuration files: discovery, every key, the command line's precedence, errors,
severity overrides and per-file-ignores (with their path matching)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from builders import RLE_LOSSLESS, Built, encapsulated, item, rle_frame
from click.testing import CliRunner, Result

from dcmencaps_lint import config, lint_file
from dcmencaps_lint.cli import main
from dcmencaps_lint.engine import Options
from dcmencaps_lint.model import Severity
from dcmencaps_lint.paths import path_matches
from dcmencaps_lint.registry import Selection, SelectionError


def valid() -> Built:
    return encapsulated([rle_frame(), rle_frame()], ts=RLE_LOSSLESS)


def bot_length_10() -> Built:
    """BOT001 only: a BOT item of 10 bytes."""
    return encapsulated([rle_frame()], ts=RLE_LOSSLESS, bot=item(b"\x00" * 10))


def bot_and_itm() -> Built:
    """BOT004 (entry 2 points inside fragment 1) and ITM006 (no delimiter)."""
    return encapsulated([rle_frame(), rle_frame()], ts=RLE_LOSSLESS, bot=[0, 42], end=b"")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["-j", "1", *args])


def json_findings(result: Result) -> list[tuple[str, str, str, int | None]]:
    """(file name, code, severity, offset) of every finding in a --format json report."""
    report = json.loads(result.stdout)
    return [
        (Path(f["path"]).name, x["code"], x["severity"], x["offset"])
        for f in report["files"]
        for x in f["findings"]
    ]


def error_line(result: Result) -> str:
    """The one line an exit-2 error writes (and nothing on stdout)."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder, made the current one, with a BOT001 file and a BOT004+ITM006 file."""
    root = tmp_path / "project"
    (root / "scans").mkdir(parents=True)
    bot_length_10().write(root / "scans" / "bot001.dcm")
    bot_and_itm().write(root / "scans" / "bot004.dcm")
    monkeypatch.chdir(root)
    return root


class TestDiscovery:
    def test_pyproject_table_found_from_a_sub_folder(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text('[tool.encaps-lint]\nfail-on = "never"\n')
        (tmp_path / "a" / "b").mkdir(parents=True)
        assert config.discover(tmp_path / "a" / "b") == tmp_path / "pyproject.toml"

    def test_pyproject_without_the_table_is_skipped(self, tmp_path: Path) -> None:
        (tmp_path / "encaps-lint.toml").write_text('fail-on = "never"\n')
        sub = tmp_path / "sub"
        sub.mkdir()
        (sub / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
        assert config.discover(sub) == tmp_path / "encaps-lint.toml"

    def test_in_one_folder_the_pyproject_table_comes_first(self, tmp_path: Path) -> None:
        (tmp_path / "encaps-lint.toml").write_text('fail-on = "never"\n')
        (tmp_path / "pyproject.toml").write_text('[tool.encaps-lint]\nfail-on = "info"\n')
        assert config.discover(tmp_path) == tmp_path / "pyproject.toml"

    def test_the_closest_folder_wins(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text('[tool.encaps-lint]\nfail-on = "info"\n')
        sub = tmp_path / "sub"
        sub.mkdir()
        (sub / "encaps-lint.toml").write_text('fail-on = "never"\n')
        assert config.discover(sub) == sub / "encaps-lint.toml"

    def test_a_folder_without_either_file_gives_nothing_of_its_own(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        found = config.discover(tmp_path)
        assert found is None or tmp_path not in found.parents

    def test_discovered_file_is_applied(self, project: Path) -> None:
        (project / "pyproject.toml").write_text('[tool.encaps-lint]\nfail-on = "never"\n')
        assert run("scans").exit_code == 0
        (project / "pyproject.toml").unlink()
        assert run("scans").exit_code == 1

    def test_explicit_config_wins_over_the_discovered_one(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('fail-on = "never"\n')
        (project / "strict.toml").write_text('fail-on = "error"\n')
        assert run("scans").exit_code == 0
        assert run("--config", "strict.toml", "scans").exit_code == 1

    def test_explicit_pyproject_is_read_from_its_table(self, project: Path) -> None:
        (project / "other").mkdir()
        (project / "other" / "pyproject.toml").write_text('[tool.encaps-lint]\nfail-on = "never"\n')
        assert run("--config", "other/pyproject.toml", "scans").exit_code == 0

    def test_version_and_list_rules_ignore_a_broken_config(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text("selct = 1\n")
        assert run("--version").exit_code == 0
        assert run("--list-rules").exit_code == 0
        assert run("scans").exit_code == 2


class TestKeys:
    def test_select_and_ignore_lists(self, project: Path) -> None:
        built = bot_and_itm()
        (project / "encaps-lint.toml").write_text('select = ["BOT", "ITM"]\nignore = ["ITM006"]\n')
        result = run("--format", "json", "scans/bot004.dcm")
        assert json_findings(result) == [("bot004.dcm", "BOT004", "error", built.bot_entry(1))]

    def test_comma_strings(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('select = "BOT, ITM"\nextend-ignore = "BOT"\n')
        result = run("--format", "json", "scans/bot004.dcm")
        assert [code for _, code, _, _ in json_findings(result)] == ["ITM006"]

    def test_extend_select_adds_to_select(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('select = ["ITM"]\nextend-select = ["BOT004"]\n')
        result = run("--format", "json", "scans/bot004.dcm")
        assert [code for _, code, _, _ in json_findings(result)] == ["BOT004", "ITM006"]

    def test_format_output_statistics_fail_on(self, project: Path) -> None:
        (project / "conf").mkdir()
        (project / "conf" / "encaps-lint.toml").write_text(
            'format = "text"\noutput = "report.txt"\nstatistics = true\nfail-on = "never"\n'
        )
        result = run("--config", "conf/encaps-lint.toml", "scans/bot001.dcm")
        assert result.exit_code == 0
        assert result.stdout == ""
        lines = (project / "conf" / "report.txt").read_text().splitlines()  # config's folder
        assert lines[0].endswith("[bot-length-not-multiple-of-4]")
        assert lines[1].split() == ["1", "BOT001", "bot-length-not-multiple-of-4"]

    def test_format_json(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('format = "json"\n')
        result = run("scans/bot001.dcm")
        assert json_findings(result) == [
            ("bot001.dcm", "BOT001", "error", bot_length_10().item_length_field(0))
        ]

    def test_scalar_keys_reach_the_parameters(self) -> None:
        cfg = config.Config(
            path="x.toml",
            values={"deep": True, "jobs": 3, "format": "json", "fail-on": "info"},
        )
        params = {
            "deep": False,
            "jobs": None,
            "fmt": "text",
            "fail_on": "error",
            "select": (),
            "extend_select": (),
            "ignore": (),
        }
        merged = cfg.apply(params, given=set())
        assert (merged["deep"], merged["jobs"], merged["fmt"], merged["fail_on"]) == (
            True,
            3,
            "json",
            "info",
        )
        merged = cfg.apply(params, given={"jobs", "fmt"})
        assert (merged["deep"], merged["jobs"], merged["fmt"]) == (True, None, "text")


class TestCommandLineWins:
    @pytest.fixture(autouse=True)
    def _config(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text(
            'select = ["ITM"]\nextend-select = ["BOT001"]\nignore = ["BOT004"]\n'
            'fail-on = "never"\nformat = "json"\n'
        )

    def codes(self, *args: str) -> list[str]:
        return [code for _, code, _, _ in json_findings(run(*args, "scans"))]

    def test_config_alone(self) -> None:
        assert self.codes() == ["BOT001", "ITM006"]

    def test_select_starts_the_selection_over(self) -> None:
        # The config's select, extend-select and ignore are all dropped.
        assert self.codes("--select", "BOT004") == ["BOT004"]

    def test_extend_select_adds_to_the_configured_selection(self) -> None:
        assert self.codes("--extend-select", "BOT004") == ["BOT001", "BOT004", "ITM006"]

    def test_ignore_adds_to_the_configured_ignores(self) -> None:
        assert self.codes("--ignore", "ITM") == ["BOT001"]

    def test_scalar_options(self, project: Path) -> None:
        assert run("scans").exit_code == 0
        result = run("--fail-on", "error", "--format", "text", "scans")
        assert result.exit_code == 1
        assert result.stdout.splitlines()[-1].startswith("Found 2 errors")


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("selct = ['BOT']\n", "unknown key 'selct' (did you mean 'select'?)"),
            ("fail_on = 'never'\n", "unknown key 'fail_on' (did you mean 'fail-on'?)"),
            ("colour = true\n", "unknown key 'colour'"),
            ("select = ['BOT999']\n", "select: unknown rule code, prefix or name: 'BOT999'"),
            (
                "ignore = 3\n",
                "ignore: expected a list of codes, families or names (or a comma string)",
            ),
            (
                "fail-on = 'fatal'\n",
                "fail-on: expected one of error, warning, info, never, not 'fatal'",
            ),
            ("deep = 'yes'\n", "deep: expected true or false, not 'yes'"),
            ("jobs = 0\n", "jobs: expected a whole number of at least 1, not 0"),
            ("jobs = true\n", "jobs: expected a whole number of at least 1, not True"),
            ("output = 5\n", "output: expected a file path, not 5"),
            (
                "severity = 'BOT001'\n",
                'severity: expected a table of code = "error" | "warning" | "info"',
            ),
            (
                "[severity]\nBOT999 = 'info'\n",
                "severity.BOT999: unknown rule code or name 'BOT999'",
            ),
            (
                "[severity]\nBOT001 = 'fatal'\n",
                "severity.BOT001: expected one of error, warning, info, not 'fatal'",
            ),
            (
                "[per-file-ignores]\n'a/*' = ['NOPE']\n",
                "per-file-ignores.'a/*': unknown rule code, prefix or name: 'NOPE'",
            ),
            ("per-file-ignores = ['a']\n", "per-file-ignores: expected a table of glob = [codes]"),
        ],
    )
    def test_one_line_naming_file_and_key(self, project: Path, text: str, problem: str) -> None:
        (project / "encaps-lint.toml").write_text(text)
        assert error_line(run("scans")) == f"encaps-lint: error: encaps-lint.toml: {problem}"

    def test_format_choices(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('format = "yaml"\n')
        line = error_line(run("scans"))
        assert line.startswith("encaps-lint: error: encaps-lint.toml: format: expected one of ")
        assert line.endswith(", not 'yaml'")

    def test_pyproject_errors_name_the_table(self, project: Path) -> None:
        (project / "pyproject.toml").write_text("[tool.encaps-lint]\nselct = ['BOT']\n")
        assert error_line(run("scans")) == (
            "encaps-lint: error: pyproject.toml [tool.encaps-lint]: unknown key 'selct' "
            "(did you mean 'select'?)"
        )

    def test_invalid_toml(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text("select = [\n")
        assert error_line(run("scans")).startswith(
            "encaps-lint: error: encaps-lint.toml: invalid TOML: "
        )

    def test_explicit_pyproject_without_the_table(self, project: Path) -> None:
        (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        assert error_line(run("--config", "pyproject.toml", "scans")) == (
            "encaps-lint: error: pyproject.toml: no [tool.encaps-lint] table"
        )

    def test_missing_explicit_config(self, project: Path) -> None:
        line = error_line(run("--config", "nowhere.toml", "scans"))
        assert line.startswith("encaps-lint: error: ") and "nowhere.toml" in line

    def test_a_config_above_the_current_folder_is_named_by_its_path(
        self, project: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (project / "encaps-lint.toml").write_text("selct = 1\n")
        monkeypatch.chdir(project / "scans")
        expected = f"{project / 'encaps-lint.toml'}: unknown key 'selct'"
        assert error_line(run(".")).startswith(f"encaps-lint: error: {expected}")


class TestSeverity:
    def test_override_by_code_changes_severity_and_exit_code(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('format = "json"\n[severity]\nBOT001 = "info"\n')
        result = run("scans/bot001.dcm")
        assert result.exit_code == 0
        offset = bot_length_10().item_length_field(0)
        assert json_findings(result) == [("bot001.dcm", "BOT001", "info", offset)]

    def test_override_by_name(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text(
            'format = "json"\n[severity]\nbot-offset-not-item-start = "warning"\n'
        )
        result = run("scans/bot004.dcm")
        assert json_findings(result) == [
            ("bot004.dcm", "BOT004", "warning", bot_and_itm().bot_entry(1)),
            ("bot004.dcm", "ITM006", "error", len(bot_and_itm().data)),
        ]


class TestPerFileIgnores:
    def codes(self, *args: str) -> list[tuple[str, str]]:
        return [(name, code) for name, code, _, _ in json_findings(run("--format", "json", *args))]

    def test_pattern_with_a_folder(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text(
            '[per-file-ignores]\n"scans/bot00[4]*" = ["BOT"]\n'
        )
        assert self.codes("scans") == [("bot001.dcm", "BOT001"), ("bot004.dcm", "ITM006")]

    def test_pattern_without_a_folder_matches_the_file_name(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text(
            '[per-file-ignores]\n"bot001.dcm" = ["BOT001"]\n"*4.dcm" = ["ITM006"]\n'
        )
        assert self.codes("scans") == [("bot004.dcm", "BOT004")]

    def test_double_star_matches_no_folder_too(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('[per-file-ignores]\n"**/scans/**" = ["ALL"]\n')
        assert self.codes("scans") == []
        assert self.codes("./scans/bot001.dcm") == []

    def test_relative_to_the_config_folder_from_a_sub_folder(
        self, project: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (project / "encaps-lint.toml").write_text('[per-file-ignores]\n"scans/*" = ["BOT"]\n')
        (project / "other").mkdir()
        monkeypatch.chdir(project / "other")
        assert self.codes("../scans") == [("bot004.dcm", "ITM006")]

    def test_drops_a_rule_even_when_selected_by_code(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text(
            'select = ["BOT001"]\n[per-file-ignores]\n"scans/*" = ["BOT"]\n'
        )
        assert self.codes("scans") == []

    def test_engine_findings_too(self, project: Path) -> None:
        (project / "notes.dcm").write_text("not DICOM\n")
        assert self.codes("notes.dcm") == [("notes.dcm", "PRS001")]
        (project / "encaps-lint.toml").write_text('[per-file-ignores]\n"notes.*" = ["PRS001"]\n')
        result = run("notes.dcm")
        assert result.exit_code == 0

    def test_same_result_with_worker_processes(self, project: Path) -> None:
        (project / "encaps-lint.toml").write_text('[per-file-ignores]\n"bot004.dcm" = ["BOT"]\n')
        one = run("--format", "json", "scans")
        two = CliRunner().invoke(main, ["-j", "2", "--format", "json", "scans"])
        assert (
            json_findings(two)
            == json_findings(one)
            == [
                ("bot001.dcm", "BOT001", "error", bot_length_10().item_length_field(0)),
                ("bot004.dcm", "ITM006", "error", len(bot_and_itm().data)),
            ]
        )


class TestPathMatches:
    @pytest.mark.parametrize(
        ("pattern", "path", "expected"),
        [
            ("legacy/*", "legacy/a.dcm", True),
            ("legacy/*", "legacy/sub/a.dcm", True),  # fnmatch: `*` crosses "/"
            ("legacy/*", "new/legacy/a.dcm", False),
            ("legacy/**", "legacy/sub/a.dcm", True),
            ("legacy/*", "./legacy/a.dcm", True),
            ("**/icons/*.dcm", "icons/a.dcm", True),
            ("**/icons/*.dcm", "x/y/icons/a.dcm", True),
            ("**/x/**/y.dcm", "x/y.dcm", True),
            ("*.dcm", "deep/down/a.dcm", True),  # no "/": the file name
            ("*.DCM", "deep/down/a.dcm", False),  # case-sensitive
            ("a.dcm", "deep/a.dcm", True),
            ("a.dcm", "deep/ba.dcm", False),
            ("sub/[ab].dcm", "sub/b.dcm", True),
            ("sub/[ab].dcm", "sub/c.dcm", False),
        ],
    )
    def test_rules(self, pattern: str, path: str, expected: bool) -> None:
        assert path_matches(pattern, path) is expected

    def test_absolute_pattern_matches_a_relative_path(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        anchored = config._patterns("legacy/*.dcm", tmp_path)[1]
        assert anchored == f"{tmp_path.as_posix()}/legacy/*.dcm"
        assert path_matches(anchored, os.path.join("legacy", "a.dcm"))
        assert not path_matches(anchored, os.path.join("other", "a.dcm"))

    def test_anchor_folder_with_glob_characters_is_escaped(self, tmp_path: Path) -> None:
        folder = tmp_path / "[x]"
        anchored = config._patterns("a/*.dcm", folder)[1]
        assert path_matches(anchored, str(folder / "a" / "b.dcm"))
        assert not path_matches(anchored, str(tmp_path / "x" / "a" / "b.dcm"))


class TestPythonApi:
    def test_options_per_file_ignores(self) -> None:
        built = bot_and_itm()
        options = Options(per_file_ignores=(("legacy/*", ("ITM006",)),))
        kept = lint_file(built.data, options=options, path="legacy/a.dcm")
        assert [(f.code, f.severity, f.offset) for f in kept.findings] == [
            ("BOT004", Severity.ERROR, built.bot_entry(1))
        ]
        other = lint_file(built.data, options=options, path="new/a.dcm")
        assert [f.code for f in other.findings] == ["BOT004", "ITM006"]

    def test_unknown_per_file_selector_is_refused(self) -> None:
        options = Options(Selection(), per_file_ignores=(("*", ("NOPE",)),))
        with pytest.raises(SelectionError, match="NOPE"):
            lint_file(valid().data, options=options)

"""The command line read without click (command.plain_command_line) means what click
would make of it, and a plain run neither imports click nor prints anything else."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import click
import pytest
from builders import Built, encapsulated, item, jpeg_frame
from click.testing import CliRunner

from dcmencaps_lint.cli import main
from dcmencaps_lint.command import DEFAULTS, plain_command_line


def bot_length_10() -> Built:
    """BOT001 only: a BOT item of 10 bytes."""
    return encapsulated([jpeg_frame()], bot=item(b"\x00" * 10))


# Pieces of command lines: what plain_command_line reads, and what it must leave to click.
TOKENS = [
    "a.dcm",
    "folder/",
    "x y.dcm",
    "-q",
    "--quiet",
    "--deep",
    "--exit-zero",
    "--statistics",
    "--version",
    "--format",
    "json",
    "--format=sarif",
    "--format=bogus",
    "--fail-on",
    "warning",
    "--fail-on=never",
    "-j",
    "--jobs",
    "2",
    "--jobs=1",
    "0",
    "+3",
    " 4",
    "١",  # an Arabic-Indic digit: isdecimal(), and click would read it as 1
    "-j3",
    "-j=3",
    "--quiet=yes",
    "-",
    "--",
    "",
    "-h",
    "--help",
    "--select",
    "BOT",
    "-v",
    "--bogus",
]


def _click_reading(argv: list[str]) -> tuple[dict[str, object], set[str]]:
    ctx = main.make_context("encaps-lint", list(argv))
    given = {
        name
        for name in ctx.params
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    }
    return dict(ctx.params), given


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["a.dcm"],
        ["a.dcm", "b.dcm", "folder"],
        ["-q", "--jobs", "1", "a.dcm"],
        ["a.dcm", "-q", "-j", "2", "--format", "json", "--fail-on", "warning"],
        ["--format=jsonl", "--jobs=3", "--deep", "--exit-zero", "--statistics", "a.dcm"],
        ["--version"],
        ["--quiet", "--quiet", "-j", "1", "-j", "2", "a.dcm"],  # the last value wins
    ],
)
def test_plain_command_lines_mean_what_click_makes_of_them(argv: list[str]) -> None:
    plain = plain_command_line(argv)
    assert plain is not None
    assert plain == _click_reading(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["-"],
        ["--", "a.dcm"],
        [""],
        ["-h"],
        ["--help"],
        ["--select", "BOT", "a.dcm"],
        ["-v", "a.dcm"],
        ["-j3", "a.dcm"],
        ["-j=3", "a.dcm"],
        ["--jobs", "0"],
        ["--jobs", "+3"],
        ["--jobs", "١"],
        ["--jobs", "9" * 5000],
        ["--jobs"],
        ["--format", "bogus"],
        ["--format"],
        ["--fail-on", "ERROR"],
        ["--quiet=yes"],
        ["--bogus"],
    ],
)
def test_everything_else_goes_to_click(argv: list[str]) -> None:
    assert plain_command_line(argv) is None


def test_random_command_lines_read_plainly_agree_with_click() -> None:
    chance = random.Random(20261204)
    read = 0
    for _ in range(3000):
        argv = chance.choices(TOKENS, k=chance.randint(0, 6))
        plain = plain_command_line(argv)
        if plain is None:
            continue
        read += 1
        assert plain == _click_reading(argv), argv
    assert read > 300  # the comparison ran on many command lines, not a handful


def test_defaults_are_clicks() -> None:
    assert dict(DEFAULTS) == main.make_context("encaps-lint", []).params


@pytest.mark.parametrize(
    "extra",
    [[], ["-q"], ["--format", "json", "-j", "1"], ["--fail-on=never"], ["--version"]],
)
def test_a_plain_run_prints_what_the_click_run_prints(tmp_path: Path, extra: list[str]) -> None:
    path = str(bot_length_10().write(tmp_path / "bad.dcm"))
    child = (
        "import sys\n"
        "from dcmencaps_lint.__main__ import main\n"
        f"sys.argv = ['encaps-lint', {path!r}, *{extra!r}]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print('click' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, cwd=tmp_path
    )
    by_click = CliRunner().invoke(main, [path, *extra])
    assert done.stderr == "False\n"  # no click, no warning, no error
    assert done.stdout == by_click.stdout
    assert done.returncode == by_click.exit_code
    assert "BOT001" in done.stdout or "--version" in extra


def test_a_plain_run_with_a_broken_configuration_exits_2_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "encaps-lint.toml").write_text('fail-on = "sometimes"\n')
    path = str(bot_length_10().write(tmp_path / "bad.dcm"))
    done = subprocess.run(
        [sys.executable, "-m", "dcmencaps_lint", path],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "encaps-lint: error: encaps-lint.toml: fail-on: expected one of error, warning, "
        "info, never, not 'sometimes'\n"
    )

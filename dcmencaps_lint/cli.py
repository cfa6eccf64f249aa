"""The command line, parsed by click: options to command.run().

__main__.py starts every run; the plainest command lines are read without click
(command.plain_command_line). This module holds the whole command (its help, its checks
of each option) for every other one.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from dcmencaps_lint.command import (
    DEFAULTS,
    FAIL_ON,
    FORMATS,
    configure_logging,
    configured,
    guarded,
    run,
)


class _OneLineErrors(click.Command):
    """Usage errors as one line on stderr and exit 2, like every other error here."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.ClickException as exc:
            click.echo(f"encaps-lint: error: {exc.format_message()}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("encaps-lint: aborted", err=True)
            sys.exit(2)
        sys.exit(result if isinstance(result, int) else 0)


@click.command(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=DEFAULTS["fmt"], show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write the report here."
)
@click.option(
    "--select",
    multiple=True,
    help="Codes, families (BOT) or names to check; replaces the default (ALL).",
)
@click.option("--extend-select", multiple=True, help="Codes, families or names to add.")
@click.option("--ignore", multiple=True, help="Codes, families or names not to check.")
@click.option("--extend-ignore", multiple=True, help="More codes, families or names not to check.")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default=DEFAULTS["fail_on"],
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option(
    "--exit-zero", is_flag=True, help="Exit 0 even with findings (same as --fail-on never)."
)
@click.option("--deep", is_flag=True, help="Also run the rules that read whole payloads.")
@click.option(
    "--decode",
    is_flag=True,
    help="Also check each frame's coded data (the DEC rules: whole frames are read).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Files linted in parallel (default: all cores).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=DEFAULTS["scheduler"],
    help="Lint on the Dask cluster of this scheduler (tcp://HOST:PORT; the extra "
    "encaps-lint[dask]); its workers read the files at the same paths.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULTS["timeout"],
    show_default=True,
    metavar="SECONDS",
    help="Time limit per file; a file that takes longer gets PRS005 (0: no limit).",
)
@click.option("--statistics", is_flag=True, help="Count findings per rule at the end.")
@click.option(
    "--show-phi",
    is_flag=True,
    help="HTML: also show patient name and ID and the institution (hidden by default).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="TOML file of options (default: [tool.encaps-lint] in the nearest pyproject.toml, "
    "else encaps-lint.toml).",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=str),
    help="Drop the findings recorded in this baseline (keyed by file content hash + code).",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, writable=True, path_type=str),
    help="Record every current finding in this baseline file.",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Repair what the safe fixes can, in place: each file is rewritten beside itself, "
    "checked (same frames, the findings gone, none new), then renamed over the old one.",
)
@click.option(
    "--fix-dir",
    type=click.Path(file_okay=False, path_type=str),
    help="With or without --fix: write the repaired files under this folder instead "
    "(inputs untouched).",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Write nothing; show what --fix would change in each file (exit 1 when any).",
)
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="With --fix, --fix-dir or --diff: also the fixes that change codestream bytes.",
)
@click.option("-q", "--quiet", is_flag=True, help="Findings only, no summary line.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Also list skipped files; tracebacks on errors."
)
@click.option("--list-rules", is_flag=True, help="List every rule and exit.")
@click.option("--explain", metavar="CODE|NAME", help="Show one rule's documentation and exit.")
@click.option("--version", is_flag=True, help="Show the version and the rule plugins loaded.")
def main(verbose: bool, config_file: str | None, **_: Any) -> None:
    """Lint the encapsulated Pixel Data of DICOM files.

    PATHS are files, folders (searched recursively; non-DICOM files are skipped) or -
    for standard input. Without PATHS the current folder is linted.
    """
    # click passes every option; run() takes them (after the configuration) by name.
    configure_logging(verbose)
    ctx = click.get_current_context()
    from_cli = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    given = {name for name in ctx.params if ctx.get_parameter_source(name) in from_cli}
    sys.exit(guarded(lambda: run(**configured(ctx.params, given, config_file)), verbose=verbose))

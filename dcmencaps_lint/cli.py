"""The command line: parse options, call the engine, pick a renderer, set the exit code.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage,
configuration or internal error (one line; the traceback only with --verbose).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from dcmencaps_lint.model import Report, Severity

FORMATS = ("text", "json")
FAIL_ON = ("error", "warning", "info", "never")


def _codes(values: Sequence[str]) -> tuple[str, ...]:
    """Comma-separated codes from options that may be repeated."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _print_rules() -> None:
    from dcmencaps_lint.registry import load_rules

    rules = load_rules()
    width = max(len(r.name) for r in rules)
    for r in rules:
        deep = " (deep)" if r.deep else ""
        click.echo(f"{r.code}  {r.name:<{width}}  {r.severity.label:<7}  {r.summary}{deep}")


def _explain(key: str) -> None:
    from dcmencaps_lint.docs import text_page
    from dcmencaps_lint.registry import load_rules

    r = load_rules().get(key)
    if r is None:
        raise click.UsageError(f"unknown rule: {key!r} (see --list-rules)")
    click.echo(text_page(r), nl=False)


def _version() -> str:
    from dcmencaps_lint import __version__
    from dcmencaps_lint.registry import load_rules

    rules = load_rules()
    lines = [f"encaps-lint {__version__} ({len(rules.rules)} rules)"]
    lines += [f"plugin: {p}" for p in rules.plugins]
    return "\n".join(lines)


def _exit_code(report: Report, fail_on: Severity | None) -> int:
    if fail_on is None:
        return 0
    failing = any(f.severity >= fail_on for r in report.files for f in r.findings)
    return 1 if failing else 0


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
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
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
    default="error",
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option(
    "--exit-zero", is_flag=True, help="Exit 0 even with findings (same as --fail-on never)."
)
@click.option("--deep", is_flag=True, help="Also run the rules that read whole payloads.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Files linted in parallel (default: all cores).",
)
@click.option("--statistics", is_flag=True, help="Count findings per rule at the end.")
@click.option("-q", "--quiet", is_flag=True, help="Findings only, no summary line.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Also list skipped files; tracebacks on errors."
)
@click.option("--list-rules", is_flag=True, help="List every rule and exit.")
@click.option("--explain", metavar="CODE|NAME", help="Show one rule's documentation and exit.")
@click.option("--version", is_flag=True, help="Show the version and the rule plugins loaded.")
def main(
    paths: tuple[str, ...],
    fmt: str,
    output: str | None,
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_ignore: tuple[str, ...],
    fail_on: str,
    exit_zero: bool,
    deep: bool,
    jobs: int | None,
    statistics: bool,
    quiet: bool,
    verbose: bool,
    list_rules: bool,
    explain: str | None,
    version: bool,
) -> None:
    """Lint the encapsulated Pixel Data of DICOM files.

    PATHS are files, folders (searched recursively; non-DICOM files are skipped) or -
    for standard input. Without PATHS the current folder is linted.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="encaps-lint: %(message)s"
    )
    try:
        code = _run(
            paths,
            fmt,
            output,
            select,
            extend_select,
            ignore,
            extend_ignore,
            fail_on,
            exit_zero,
            deep,
            jobs,
            statistics,
            quiet,
            verbose,
            list_rules,
            explain,
            version,
        )
    except click.ClickException:
        raise
    except BrokenPipeError:  # `encaps-lint ... | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:  # one line for the user; the traceback only on request
        if verbose:
            traceback.print_exc()
        click.echo(f"encaps-lint: error: {exc}", err=True)
        sys.exit(2)
    sys.exit(code)


def _run(
    paths: tuple[str, ...],
    fmt: str,
    output: str | None,
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_ignore: tuple[str, ...],
    fail_on: str,
    exit_zero: bool,
    deep: bool,
    jobs: int | None,
    statistics: bool,
    quiet: bool,
    verbose: bool,
    list_rules: bool,
    explain: str | None,
    version: bool,
) -> int:
    from dcmencaps_lint.engine import Options, lint_file, lint_paths
    from dcmencaps_lint.formats import RENDERERS
    from dcmencaps_lint.model import Summary
    from dcmencaps_lint.registry import Selection, SelectionError, load_rules

    try:
        if version:
            click.echo(_version())
            return 0
        if list_rules:
            _print_rules()
            return 0
        if explain:
            _explain(explain)
            return 0
        selected = (_codes(select) or ("ALL",)) + _codes(extend_select)
        ignored = _codes(ignore) + _codes(extend_ignore)
        threshold = None if exit_zero or fail_on == "never" else Severity.parse(fail_on)
        options = Options(Selection(selected, ignored, deep), fail_on=threshold)
        options.selection.validate(load_rules())
    except SelectionError as exc:  # a RegistryError is not a usage error: main() reports it
        raise click.UsageError(str(exc)) from None

    targets = list(paths) or ["."]
    if "-" in targets:
        if len(targets) > 1:
            raise click.UsageError("'-' (standard input) cannot be combined with other paths")
        data = sys.stdin.buffer.read()
        one = lint_file(data, options=options, path="-")
        report = Report((one,), Summary.of([one]))
    else:
        workers = jobs or os.cpu_count() or 1
        report = lint_paths(targets, options=options, jobs=workers)

    text = RENDERERS[fmt](report, quiet=quiet, verbose=verbose, statistics=statistics)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)
    return _exit_code(report, threshold)

"""The command line: parse options, call the engine, pick a renderer, set the exit code.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage,
configuration or internal error (one line; the traceback only with --verbose).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

import click

from dcmencaps_lint.formats import RENDERERS
from dcmencaps_lint.model import FileReport, Report, Severity
from dcmencaps_lint.progress import Progress

FORMATS = tuple(RENDERERS)
FAIL_ON = ("error", "warning", "info", "never")
DEFAULT_TIMEOUT = 60.0  # seconds per file: generous, only a pathological file gets there


def _codes(values: Sequence[str]) -> tuple[str, ...]:
    """Comma-separated codes from options that may be repeated."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _print_rules() -> None:
    from dcmencaps_lint.registry import Deep, load_rules

    rules = load_rules()
    width = max(len(r.name) for r in rules)
    for r in rules:
        deep = {Deep.WHOLE: " (deep)", Deep.PART: " (partly deep)"}.get(r.deep, "")
        click.echo(f"{r.code}  {r.name:<{width}}  {r.severity.label:<7}  {r.summary}{deep}")


def _explain(key: str) -> None:
    from dcmencaps_lint.docs import text_page
    from dcmencaps_lint.registry import load_rules

    r = load_rules().get(key)
    if r is None:
        raise click.UsageError(f"unknown rule: {key!r} (see --list-rules)")
    click.echo(text_page(r), nl=False)


def _version() -> str:
    from dcmencaps_lint import __version__, core
    from dcmencaps_lint.registry import load_rules

    rules = load_rules()
    lines = [f"encaps-lint {__version__} ({len(rules.rules)} rules, {core.description()})"]
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
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
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
    # click passes every option; _run takes them (after the configuration) by name.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="encaps-lint: %(message)s"
    )
    try:
        code = _run(**_configured(click.get_current_context(), config_file))
    except click.ClickException:
        raise
    except BrokenPipeError:  # `encaps-lint ... | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:  # one line for the user; the traceback only on request
        if verbose:
            import traceback

            traceback.print_exc()
        click.echo(f"encaps-lint: error: {exc}", err=True)
        sys.exit(2)
    sys.exit(code)


def _configured(ctx: click.Context, config_file: str | None) -> dict[str, Any]:
    """The parameters for _run: the command line's, then the configuration file's."""
    from click.core import ParameterSource

    from dcmencaps_lint import config

    params = {k: v for k, v in ctx.params.items() if k != "config_file"}
    if params["version"] or params["list_rules"] or params["explain"]:
        return params  # these read no configuration, so a broken one cannot stop them
    try:
        found = config.load(config_file)
    except config.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if found is None:
        return params
    from_cli = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    given = {name for name in params if ctx.get_parameter_source(name) in from_cli}
    return found.apply(params, given)


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
    baseline: str | None = None,
    write_baseline: str | None = None,
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = (),
    severity: tuple[tuple[str, Severity], ...] = (),
    show_phi: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
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
        from dcmencaps_lint.engine import Options, iter_lint_paths, lint_file

        selected = (_codes(select) or ("ALL",)) + _codes(extend_select)
        ignored = _codes(ignore) + _codes(extend_ignore)
        threshold = None if exit_zero or fail_on == "never" else Severity.parse(fail_on)
        # SARIF fingerprints, artifact hashes and baselines need each file's SHA-256
        # (a full read).
        options = Options(
            Selection(selected, ignored, deep),
            severity=severity,
            fail_on=threshold,
            content_hash=fmt.startswith("sarif") or bool(baseline or write_baseline),
            per_file_ignores=per_file_ignores,
            details=fmt == "html",  # hex excerpts and the Pixel Data layout
            show_phi=show_phi,
            timeout=timeout or None,
        )
        rules = load_rules()
        # Named by option: the configuration file's selectors were checked when read.
        for option, values in (
            ("--select", select),
            ("--extend-select", extend_select),
            ("--ignore", ignore),
            ("--extend-ignore", extend_ignore),
        ):
            try:
                Selection(_codes(values)).validate(rules)
            except SelectionError as exc:
                raise click.UsageError(f"{option}: {exc}") from None
        options.selection.validate(rules)
    except SelectionError as exc:
        # a RegistryError is not a usage error: main() reports it
        raise click.UsageError(str(exc)) from None
    known = _load_baseline(baseline) if baseline else frozenset()

    targets = list(paths) or ["."]
    _check_output("--output", output, targets)
    _check_output("--write-baseline", write_baseline, targets)
    if "-" in targets:
        if len(targets) > 1:
            raise click.UsageError("'-' (standard input) cannot be combined with other paths")
        data = sys.stdin.buffer.read()
        files: Iterable[FileReport] = [lint_file(data, options=options, path="-")]
    else:
        workers = jobs or os.cpu_count() or 1
        progress = Progress()
        files = _closing(
            iter_lint_paths(targets, options=options, jobs=workers, progress=progress),
            progress,
        )
    recorded: list[FileReport] = []  # every finding, for --write-baseline
    if write_baseline:
        files = _recording(files, recorded)
    if known:
        from dcmencaps_lint.baseline import suppress

        files = (suppress(f, known, threshold) for f in files)

    with _open_output(output) as out:
        if fmt == "jsonl":  # streamed: each line is written as soon as its file is done
            from dcmencaps_lint.formats import jsonl

            done = []
            for file in files:
                out.write(jsonl.file_line(file))
                out.flush()
                done.append(file)
            report = Report(tuple(done), Summary.of(done))
            out.write(jsonl.summary_line(report.summary))
        else:
            done = list(files)
            report = Report(tuple(done), Summary.of(done))
            out.write(RENDERERS[fmt](report, quiet=quiet, verbose=verbose, statistics=statistics))
    if write_baseline:
        from dcmencaps_lint.baseline import write

        write(write_baseline, recorded)
    return _exit_code(report, threshold)


def _load_baseline(path: str) -> frozenset[tuple[str, str]]:
    from dcmencaps_lint import baseline

    try:
        return baseline.load(path)
    except baseline.BaselineError as exc:
        raise click.UsageError(str(exc)) from None


def _recording(files: Iterable[FileReport], into: list[FileReport]) -> Iterator[FileReport]:
    for file in files:
        into.append(file)
        yield file


def _check_output(option: str, path: str | None, inputs: Sequence[str]) -> None:
    """A file to write: its folder exists and it is not one of the files to lint."""
    if path is None:
        return
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise click.UsageError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise click.UsageError(f"{option} {path}: is a folder")
    for given in inputs:
        with contextlib.suppress(OSError):
            if given != "-" and os.path.samefile(given, path):
                raise click.UsageError(f"{option} {path}: is one of the files to lint")


def _closing(files: Iterator[FileReport], progress: Progress) -> Iterator[FileReport]:
    """The reports, then the progress line cleared (however the loop ends)."""
    try:
        yield from files
    finally:
        progress.close()


@contextlib.contextmanager
def _open_output(output: str | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        fh = open(output, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise click.UsageError(f"--output {output}: cannot write: {exc.strerror or exc}") from None
    with fh:
        yield fh

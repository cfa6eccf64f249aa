"""What a command line asks for, done: options to engine to renderer to exit code.

click (cli.py) parses every command line except the plainest ones: paths and a few
common options, which `plain_command_line` reads itself (__main__.py chooses), because
importing click costs ~20 ms of every run on the benchmark machine, as much as DCMTK's
whole `dcmdump -M` of a 4 GiB file. It accepts only what it reads exactly as click
would (tests/test_command.py compares the two on every option it knows); anything
else, help and every mistake included, goes to click. So this module imports click only
on the way out with an error.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage,
configuration or internal error (one line; the traceback only with --verbose).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from dcmencaps_lint.formats import RENDERERS
from dcmencaps_lint.model import FileReport, Report, Severity
from dcmencaps_lint.paths import is_url
from dcmencaps_lint.progress import Progress

if TYPE_CHECKING:
    import click

FORMATS = tuple(RENDERERS)
FAIL_ON = ("error", "warning", "info", "never")
DEFAULT_TIMEOUT = 60.0  # seconds per file: generous, only a pathological file gets there

# Every parameter of the command and its default: cli.py's options default to these.
DEFAULTS: Mapping[str, Any] = {
    "paths": (),
    "fmt": "text",
    "output": None,
    "select": (),
    "extend_select": (),
    "ignore": (),
    "extend_ignore": (),
    "fail_on": "error",
    "exit_zero": False,
    "deep": False,
    "decode": False,
    "jobs": None,
    "scheduler": None,
    "timeout": DEFAULT_TIMEOUT,
    "statistics": False,
    "show_phi": False,
    "config_file": None,
    "baseline": None,
    "write_baseline": None,
    "quiet": False,
    "verbose": False,
    "list_rules": False,
    "explain": None,
    "version": False,
    "fix": False,
    "fix_dir": None,
    "diff": False,
    "unsafe_fixes": False,
}
# The options plain_command_line reads: spelling -> parameter, flags then valued ones.
_FLAGS = {
    "-q": "quiet",
    "--quiet": "quiet",
    "--deep": "deep",
    "--decode": "decode",
    "--exit-zero": "exit_zero",
    "--statistics": "statistics",
    "--version": "version",
}


def _at_least_one(value: str) -> int | None:
    # A few ASCII digits only: click's int() also takes "+3", " 3" and other scripts'
    # digits, and refuses 4,300 digits and more (Python's limit) with its own message.
    plain = value.isascii() and value.isdecimal() and len(value) < 10
    return int(value) if plain and int(value) >= 1 else None


_VALUED: dict[str, tuple[str, Callable[[str], Any]]] = {
    "--format": ("fmt", lambda value: value if value in FORMATS else None),
    "--fail-on": ("fail_on", lambda value: value if value in FAIL_ON else None),
    "-j": ("jobs", _at_least_one),
    "--jobs": ("jobs", _at_least_one),
}


def plain_command_line(argv: Sequence[str]) -> tuple[dict[str, Any], set[str]] | None:
    """The parameters and the names given, for a command line of paths and the options
    above with valid values (`--opt value` or `--opt=value`); None for anything else."""
    params = dict(DEFAULTS)
    given: set[str] = set()
    paths: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if not argument.startswith("-"):
            if not argument:
                return None
            paths.append(argument)
            continue
        spelling, equals, value = argument.partition("=")
        if not equals and spelling in _FLAGS:
            params[_FLAGS[spelling]] = True
            given.add(_FLAGS[spelling])
            continue
        if spelling not in _VALUED or (equals and not spelling.startswith("--")):
            return None
        if not equals:
            value = next(arguments, "")
        name, convert = _VALUED[spelling]
        converted = convert(value)
        if converted is None:
            return None
        params[name] = converted
        given.add(name)
    params["paths"] = tuple(paths)
    if paths:
        given.add("paths")
    return params, given


def configure_logging(verbose: bool) -> None:
    """Log lines as `encaps-lint: message` on stderr (debug ones with --verbose)."""
    import logging  # here: a plain run logs nothing, and logging costs start-up time

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="encaps-lint: %(message)s"
    )


def guarded(call: Callable[[], int], verbose: bool) -> int:
    """`call()`'s exit code, every error turned into one line on stderr and its code."""
    try:
        return call()
    except BrokenPipeError:  # `encaps-lint ... | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # as click reports it
        print("\nencaps-lint: aborted", file=sys.stderr)
        return 2
    except Exception as exc:  # one line for the user; the traceback only on request
        import click

        if isinstance(exc, click.ClickException):
            print(f"encaps-lint: error: {exc.format_message()}", file=sys.stderr)
            return 2
        if verbose:
            import traceback

            traceback.print_exc()
        print(f"encaps-lint: error: {exc}", file=sys.stderr)
        return 2


def usage_error(message: str) -> click.UsageError:
    """A mistake on the command line or in the configuration (exit 2)."""
    import click

    return click.UsageError(message)


def configured(
    params: Mapping[str, Any], given: Collection[str], config_file: str | None = None
) -> dict[str, Any]:
    """The parameters for run(): the command line's (`given` names those it set), then
    the configuration file's."""
    from dcmencaps_lint import config

    params = {k: v for k, v in params.items() if k != "config_file"}
    if params["version"] or params["list_rules"] or params["explain"]:
        return params  # these read no configuration, so a broken one cannot stop them
    try:
        found = config.load(config_file)
    except config.ConfigError as exc:
        raise usage_error(str(exc)) from None
    if found is None:
        return params
    return found.apply(params, given)


def _codes(values: Sequence[str]) -> tuple[str, ...]:
    """Comma-separated codes from options that may be repeated."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _print_rules(fmt: str) -> None:
    """The catalogue: a table for people, or (--format json) a list for tools."""
    from dcmencaps_lint.docs import catalogue, deep_label, fix_kind
    from dcmencaps_lint.registry import load_rules

    rules = load_rules()
    if fmt == "json":
        import json

        print(json.dumps(catalogue(rules), indent=1))
        return
    if fmt != "text":
        raise usage_error(f"--list-rules prints text or json, not {fmt}")
    width = max(len(r.name) for r in rules)
    for r in rules:
        deep = {"yes": " (deep)", "part": " (partly deep)"}.get(deep_label(r), "")
        deep = " (--decode)" if r.decode else deep
        fix = fix_kind(r) or "—"
        print(f"{r.code}  {r.name:<{width}}  {r.severity.label:<7}  {fix:<6}  {r.summary}{deep}")


def _explain(key: str) -> None:
    from dcmencaps_lint.docs import text_page
    from dcmencaps_lint.registry import load_rules

    r = load_rules().get(key)
    if r is None:
        raise usage_error(f"unknown rule: {key!r} (see --list-rules)")
    sys.stdout.write(text_page(r))


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


def run(
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
    fix: bool = False,
    fix_dir: str | None = None,
    diff: bool = False,
    unsafe_fixes: bool = False,
    scheduler: str | None = None,
    decode: bool = False,
) -> int:
    from dcmencaps_lint.model import Summary
    from dcmencaps_lint.registry import Selection, SelectionError, load_rules

    try:
        if version:
            print(_version())
            return 0
        if list_rules:
            _print_rules(fmt)
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
            Selection(selected, ignored, deep, decode),
            severity=severity,
            fail_on=threshold,
            content_hash=fmt.startswith("sarif") or bool(baseline or write_baseline),
            per_file_ignores=per_file_ignores,
            details=fmt == "html",  # hex excerpts and the Pixel Data layout
            show_phi=show_phi,
            timeout=timeout or None,
            fix=fix or fix_dir is not None,
            fix_dir=fix_dir,
            diff=diff,
            unsafe_fixes=unsafe_fixes,
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
                raise usage_error(f"{option}: {exc}") from None
        options.selection.validate(rules)
    except SelectionError as exc:
        # a RegistryError is not a usage error: main() reports it
        raise usage_error(str(exc)) from None
    known = _load_baseline(baseline) if baseline else frozenset()

    targets = list(paths) or ["."]
    _check_output("--output", output, targets)
    _check_output("--write-baseline", write_baseline, targets)
    if "-" in targets and (fix or fix_dir is not None):
        raise usage_error("--fix cannot write back to standard input ('-')")
    if scheduler and (fix or fix_dir is not None or diff):
        raise usage_error("--scheduler lints only: --fix, --fix-dir and --diff run locally")
    if diff and (fix or fix_dir is not None):
        raise usage_error("--diff writes nothing: it cannot go with --fix or --fix-dir")
    urls = [t for t in targets if is_url(t)]
    if urls and (fix or fix_dir is not None or diff):
        raise usage_error(f"{urls[0]}: --fix, --fix-dir and --diff work on local files only")
    if urls:
        from dcmencaps_lint.remote import check

        if (unreadable := check(urls)) is not None:
            raise usage_error(unreadable)
    if "-" in targets:
        if len(targets) > 1:
            raise usage_error("'-' (standard input) cannot be combined with other paths")
        data = sys.stdin.buffer.read()
        files: Iterable[FileReport] = [lint_file(data, options=options, path="-")]
    else:
        workers = jobs or os.cpu_count() or 1
        client = _dask_client(scheduler) if scheduler else None
        progress = Progress()
        lints = iter_lint_paths(
            targets, options=options, jobs=workers, progress=progress, client=client
        )
        files = _closing(lints, progress, client)
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
    if diff and any(f.planned for f in report.files):
        return 1  # fixes are pending
    return _exit_code(report, threshold)


def _load_baseline(path: str) -> frozenset[tuple[str, str]]:
    from dcmencaps_lint import baseline

    try:
        return baseline.load(path)
    except baseline.BaselineError as exc:
        raise usage_error(str(exc)) from None


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
        raise usage_error(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise usage_error(f"{option} {path}: is a folder")
    for given in inputs:
        with contextlib.suppress(OSError):
            if given != "-" and os.path.samefile(given, path):
                raise usage_error(f"{option} {path}: is one of the files to lint")


def _dask_client(address: str) -> Any:
    """A client of the Dask scheduler at `address` (--scheduler)."""
    try:
        from distributed import Client
    except ImportError:
        raise usage_error(
            '--scheduler needs Dask\'s distributed: pip install "encaps-lint[dask]"'
        ) from None
    try:  # waiting as Dask's configuration says (distributed.comm.timeouts.connect: 30s)
        return Client(address)
    except (OSError, TimeoutError) as exc:
        raise usage_error(f"--scheduler: no Dask scheduler answers at {address}: {exc}") from None


def _closing(
    files: Iterator[FileReport], progress: Progress, client: Any = None
) -> Iterator[FileReport]:
    """The reports, then the progress line cleared and the Dask client (--scheduler)
    closed, however the loop ends."""
    try:
        yield from files
    finally:
        progress.close()
        if client is not None:
            client.close()


@contextlib.contextmanager
def _open_output(output: str | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        fh = open(output, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise usage_error(f"--output {output}: cannot write: {exc.strerror or exc}") from None
    with fh:
        yield fh

"""Lint one file or many: open, parse, walk, map frames, run the selected rules.

The engine is the only place that decides a file's status; renderers only render.
A rule that raises becomes a PRS005 finding and the other rules still run.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from dcmencaps_lint.context import (
    PIXEL_DATA,
    Context,
    EncapsulatedContext,
    ItemsContext,
    Needs,
    PixelContext,
    Shape,
)
from dcmencaps_lint.dataset import (
    DatasetError,
    NotDicomError,
    ParsedDataset,
    parse_number_of_frames,
)
from dcmencaps_lint.details import add_details
from dcmencaps_lint.facts import group_frames
from dcmencaps_lint.frames import build_frame_map
from dcmencaps_lint.model import (
    FileReport,
    Problem,
    Report,
    Severity,
    Summary,
    TransferSyntaxInfo,
)
from dcmencaps_lint.paths import PathEntry, expand_paths, is_url, path_matches
from dcmencaps_lint.reader import ByteReader, open_path
from dcmencaps_lint.registry import FixAvailability, Rule, RuleSet, Selection, load_rules
from dcmencaps_lint.rules.prs import (
    INTERNAL_ERROR,
    IO_ERROR,
    MISSING_TRANSFER_SYNTAX,
    NOT_DICOM,
    UNREADABLE_DATASET,
)
from dcmencaps_lint.source import parse_dataset
from dcmencaps_lint.transfer_syntax import (
    DEFLATED_EXPLICIT_VR_LE,
    Codec,
    TransferSyntax,
    lookup,
)
from dcmencaps_lint.walker import walk
from dcmencaps_lint.watchdog import TimedOut, Watchdog

if TYPE_CHECKING:
    from dcmencaps_lint.findings import Finding
    from dcmencaps_lint.fixes import Edit  # only rules that offer fixes import fixes.py

Target = str | os.PathLike[str] | bytes | bytearray | BinaryIO


class Options(NamedTuple):
    """Everything that decides what a lint run reports."""

    selection: Selection = Selection()
    severity: tuple[tuple[str, Severity], ...] = ()  # per-code overrides
    fail_on: Severity | None = Severity.ERROR  # None: never fail
    content_hash: bool = False  # fill FileReport.content_sha256: reads every byte (SARIF)
    details: bool = False  # fill FileReport excerpts, layout and device (HTML)
    show_phi: bool = False  # fill FileReport patient_name, patient_id, institution_name
    # (glob, selectors): rules not run on the files a glob matches (see path_matches)
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Seconds one file may take (None: no limit); past it the file gets PRS005. See
    # iter_lint_paths for how it is enforced.
    timeout: float | None = None
    # --fix: write the repaired file (in place, or under fix_dir); see _fixed.
    fix: bool = False
    fix_dir: str | None = None
    diff: bool = False  # --diff: what --fix would change, nothing written; see _planned
    unsafe_fixes: bool = False  # also the fixes that change codestream bytes


class _Plan(NamedTuple):
    """The rules that apply to one kind of Pixel Data element, by how they are run."""

    plain: list[Rule]  # on the element's context
    deep: list[Rule]  # on its context with deep reads on (--deep, or a rule selected by code)
    per_frame: list[Rule]  # on its frames' facts (_FramePasses)


class _Run:
    """The selected rules with their effective severities."""

    def __init__(self, rules: RuleSet, options: Options) -> None:
        options.selection.validate(rules)
        overrides = dict(options.severity)
        self.rules = rules
        self.options = options
        self.active: list[Rule] = [
            r._replace(severity=overrides[r.code]) if r.code in overrides else r
            for r in rules
            if options.selection.enabled(r)
        ]
        self.by_code = {r.code: r for r in self.active}
        for _, selectors in options.per_file_ignores:
            Selection(selectors).validate(rules)
        self._per_path: dict[tuple[int, ...], _Run] = {}
        self._plans: dict[tuple[Needs, bool, str | None, Shape], _Plan] = {}

    def rules_for(self, ctx: Context, top_level: bool) -> _Plan:
        """The active rules whose declaration applies to this context (cached): what
        they need is there, and their codecs, syntaxes, scope and shape admit it."""
        level, ts, shape = ctx.LEVEL, ctx.ts, ctx.shape
        key = (level, top_level, ts.uid if ts is not None else None, shape)
        plan = self._plans.get(key)
        if plan is None:
            applying = [
                r
                for r in self.active
                if r.check is not None
                and r.needs <= level
                and (top_level or (r.needs is not Needs.DATASET and not r.top_level))
                and r.applies_to(ts)
                and r.when & shape == r.when
            ]
            deep_reads = self.options.selection.deep_reads
            plan = self._plans[key] = _Plan(
                [r for r in applying if not r.per_frame and not (r.deep and deep_reads(r))],
                [r for r in applying if not r.per_frame and r.deep and deep_reads(r)],
                [r for r in applying if r.per_frame],
            )
        return plan

    def for_path(self, name: str) -> _Run:
        """This run less the rules that per-file-ignores drop for `name` (cached)."""
        patterns = self.options.per_file_ignores
        if not patterns:
            return self
        matched = tuple(i for i, (glob, _) in enumerate(patterns) if path_matches(glob, name))
        if not matched:
            return self
        run = self._per_path.get(matched)
        if run is None:
            # Any match drops the rule, however specifically it was selected.
            dropped = Selection(tuple(s for i in matched for s in patterns[i][1]), (), True, True)
            import copy  # here: most runs have no per-file-ignores (start-up time)

            run = copy.copy(self)
            run.active = [r for r in self.active if not dropped.enabled(r)]
            run.by_code = {r.code: r for r in run.active}
            run._plans = {}
            self._per_path[matched] = run
        return run

    def engine_finding(
        self, declared: Rule, message: str, offset: int | None = None
    ) -> Finding | None:
        """A finding of one of the engine's own rules (PRS), when that rule is selected."""
        r = self.by_code.get(declared.code)
        if r is None:
            return None
        return _new_finding(
            r.code, r.name, r.severity, message, offset, None, None, None, "", r.reference
        )

    def status(self, findings: Sequence[Finding]) -> str:
        return file_status(findings, self.options.fail_on)


def file_status(findings: Sequence[Finding], fail_on: Severity | None) -> str:
    """error (a PRS finding), failed (a finding at or above fail_on) or passed."""
    if any(f.code.startswith("PRS") for f in findings):
        return "error"
    if fail_on is not None and any(f.severity >= fail_on for f in findings):
        return "failed"
    return "passed"


def lint_file(
    target: Target,
    *,
    select: Iterable[str] = ("ALL",),
    ignore: Iterable[str] = (),
    deep: bool = False,
    options: Options | None = None,
    path: str | None = None,
    decode: bool = False,
) -> FileReport:
    """Lint one file given as a path, its bytes, or a binary file object."""
    if options is None:
        options = Options(Selection(tuple(select), tuple(ignore), deep, decode))
    return _lint_one(_Run(load_rules(), options), target, path=path, explicit=True)


class Linter:
    """Lints one target after another with the same rules and options: lint_file's
    reports, without choosing the rules again for each (a PACS gate lints thousands of
    instances; choosing costs more than linting a small one). Safe to share between
    threads: what it caches is the same whichever thread fills it."""

    def __init__(self, options: Options | None = None) -> None:
        self._run = _Run(load_rules(), options or Options())

    @property
    def options(self) -> Options:
        return self._run.options

    def lint(self, target: Target, *, path: str | None = None) -> FileReport:
        return _lint_one(self._run, target, path=path, explicit=True)


def lint_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    select: Iterable[str] = ("ALL",),
    ignore: Iterable[str] = (),
    deep: bool = False,
    options: Options | None = None,
    jobs: int = 1,
    client: Any = None,
    decode: bool = False,
) -> Report:
    """Lint files and folders (recursively); folders skip non-DICOM files quietly. With
    a `distributed.Client`, on its Dask cluster (the files at the same paths there)."""
    if options is None:
        options = Options(Selection(tuple(select), tuple(ignore), deep, decode))
    reports = tuple(iter_lint_paths(paths, options=options, jobs=jobs, client=client))
    return Report(reports, Summary.of(reports))


def iter_lint_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    options: Options,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    client: Any = None,
) -> Iterator[FileReport]:
    """Each file's report as soon as it and every file before it are done (input order).

    With a `distributed.Client`, the files are linted on its Dask cluster (cluster.py);
    `jobs` is then unused.

    With jobs > 1 the files are linted in worker processes (see dcmencaps_lint.workers):
    a worker that dies costs only the file it was on, and a file still running after
    options.timeout seconds has its worker killed; either way that file gets a PRS005
    finding and the run goes on. With one job the files are linted in this process and
    the time limit is a SIGALRM timer (Unix, main thread; elsewhere there is no limit).
    `progress(done, total)` is called after each file.
    """
    run = _Run(load_rules(), options)  # validates the selection before any work
    entries = list(_expand(paths))
    if client is not None:
        from dcmencaps_lint.cluster import imap_cluster

        failed = functools.partial(_abandoned, run)
        reports = imap_cluster(client, _lint_batch, entries, options, failed)
    else:
        reports = _lint_entries(run, options, entries, jobs)
    for done, report in enumerate(reports, start=1):
        if progress is not None:
            progress(done, len(entries))
        yield report


def _expand(paths: Iterable[str | os.PathLike[str]]) -> Iterator[PathEntry]:
    """Each file to lint: local paths as paths.expand_paths walks them, URLs as
    remote.expand_url lists them."""
    for path in paths:
        if is_url(path):
            from dcmencaps_lint.remote import expand_url

            yield from expand_url(str(path))
        else:
            yield from expand_paths([path])


def _lint_entries(
    run: _Run, options: Options, entries: list[PathEntry], jobs: int
) -> Iterator[FileReport]:
    if jobs > 1 and len(entries) > 1:
        from dcmencaps_lint.workers import imap_ordered

        yield from imap_ordered(
            _worker_lint,
            entries,
            jobs=jobs,
            failed=functools.partial(_abandoned, run),
            initializer=_init_worker,
            # the time limit is the parent's to enforce, by killing the worker: no timer
            initargs=(options._replace(timeout=None),),
            limit=options.timeout,
        )
    else:
        for entry in entries:
            yield _lint_entry(run, entry)


_worker_run: _Run | None = None
_batch_runs: dict[Options, _Run] = {}  # on a Dask worker: the rules chosen once per options
_batch_watchdog: Watchdog | None = None  # on a Dask worker: the time limit per file


def _init_worker(options: Options) -> None:
    global _worker_run
    _worker_run = _Run(load_rules(), options)


def _lint_batch(entries: list[PathEntry], options: Options) -> list[FileReport]:
    """A Dask worker's task (cluster.py): the reports of some files, each stopped at
    options.timeout by the watchdog (a task's thread has no SIGALRM), as PRS005."""
    global _batch_watchdog
    run = _batch_runs.get(options)
    if run is None:  # the time limit is the watchdog's here, not a timer's
        run = _batch_runs[options] = _Run(load_rules(), options._replace(timeout=None))
    if not options.timeout:
        return [_lint_entry(run, entry) for entry in entries]
    if _batch_watchdog is None:
        _batch_watchdog = Watchdog()
    reports = []
    for entry in entries:
        try:
            armed = _batch_watchdog.arm(options.timeout)
            try:
                reports.append(_lint_entry(run, entry))
            finally:
                _batch_watchdog.disarm(armed)
        except TimedOut:
            from dcmencaps_lint.workers import timeout_message

            reports.append(_abandoned(run, entry, timeout_message(options.timeout)))
    return reports


def _worker_lint(entry: PathEntry) -> FileReport:
    assert _worker_run is not None
    return _lint_entry(_worker_run, entry)


class _TimedOut(BaseException):
    """Raised by the timer; a BaseException so that no `except Exception` swallows it."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise _TimedOut in this thread after `seconds` (SIGALRM: main thread on Unix)."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _TimedOut

    try:
        previous = signal.signal(signal.SIGALRM, expire)
        in_main_thread = True
    except ValueError:  # only the main thread handles signals (no threading import)
        in_main_thread = False
    if not in_main_thread:
        yield
        return
    started = time.monotonic()
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # the caller's own timer runs on
            left = max(outer - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def _lint_entry(run: _Run, entry: PathEntry) -> FileReport:
    """One file's report, its folder's listing error, or PRS005 past the time limit."""
    if entry.error is not None:
        return _error(run.for_path(entry.path), entry.path, IO_ERROR, entry.error)
    if not run.options.timeout:  # (workers: the pool keeps the time)
        return _lint_and_fix(run, entry)
    try:
        with _time_limit(run.options.timeout):
            return _lint_and_fix(run, entry)
    except _TimedOut:
        from dcmencaps_lint.workers import timeout_message

        return _abandoned(run, entry, timeout_message(run.options.timeout))


def _lint_and_fix(run: _Run, entry: PathEntry) -> FileReport:
    """One file's report; with --fix or --diff, what fixing it did or would do."""
    report = _lint_one(run, entry.path, explicit=entry.explicit)
    fixing = run.options.diff or run.options.fix
    if fixing and any(_applies(f, run.options) for f in report.findings):
        if run.options.diff:
            return _planned(run, report, entry.path)
        return _fixed(run, entry, report)
    return report


def _applies(finding: Finding, options: Options) -> bool:
    """The finding offers a fix this run applies: a safe one, or any with --unsafe-fixes."""
    return finding.fix is not None and (finding.fix.safe or options.unsafe_fixes)


def _applied(report: FileReport, options: Options) -> tuple[list[Finding], list[Edit]]:
    """The findings whose fixes this run applies, and their edits (each once)."""
    fixable = [f for f in report.findings if _applies(f, options)]
    return fixable, list(dict.fromkeys(f.fix for f in fixable if f.fix is not None))


def _fixed(run: _Run, entry: PathEntry, report: FileReport) -> FileReport:
    """--fix: the file written again with its findings' edits applied (fixer.py), if
    the new file passes fixer.check, then the new file's report with what was fixed;
    else the old report, each finding that offered a fix saying why it was not applied.

    In place, or under fix_dir at the file's path below the folder it was found in (a
    file named directly: at its name; of two such files with one name, the last one
    fixed is kept). The old file is never changed but by the rename that puts a checked
    new file in its place (writer.py)."""
    import dataclasses  # here: a run that finds nothing has no finding to copy

    from dcmencaps_lint.fixer import CannotFix, check, layout
    from dcmencaps_lint.writer import WriteRefused, write_file

    fixable, edits = _applied(report, run.options)
    destination = entry.path
    if run.options.fix_dir is not None:
        below = os.path.relpath(entry.path, entry.root) if entry.root else entry.path
        if entry.root is None or below.startswith(os.pardir):
            below = os.path.basename(entry.path)
        destination = os.path.join(run.options.fix_dir, below)
    try:
        elsewhere = run.options.fix_dir is not None and os.path.exists(destination)
        if elsewhere and os.path.samefile(destination, entry.path):
            raise CannotFix("--fix-dir would write over the file itself")
        checked: list[FileReport] = []  # the new file's report, as verify made it
        with _element(entry.path) as old:
            planned = layout(old, edits)

            def verify(path: str) -> str | None:
                checked.append(_lint_one(run, path, path=report.path, explicit=True))
                try:
                    with _element(path) as new:
                        if not isinstance(new, EncapsulatedContext):
                            return "the new file's Pixel Data is not encapsulated"
                        fixed = {f.code for f in fixable}
                        return check(old, report, new, checked[-1], planned, fixed)
                except CannotFix as exc:
                    return str(exc)

            os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
            write_file(entry.path, planned.pieces, destination, verify)
    except Exception as exc:  # the old file stays as it was, whatever went wrong
        if isinstance(exc, CannotFix | WriteRefused):
            why = f"not fixed: {exc}"
        elif isinstance(exc, OSError):
            why = f"not fixed: {exc.strerror or exc}"
        else:  # a bug: said in the finding, as a rule that raises is (PRS005)
            why = f"not fixed: the fixer raised {type(exc).__name__}: {exc}"
        findings = tuple(
            dataclasses.replace(f, message=f"{f.message} ({why})")
            if _applies(f, run.options)
            else f
            for f in report.findings
        )
        return report._replace(findings=findings)
    # the written file is the one verify linted: its report, under its new name
    return checked[-1]._replace(path=destination, fixes=tuple(fixable))


def _planned(run: _Run, report: FileReport, path: str) -> FileReport:
    """--diff: the fixes --fix would apply to this file and the bytes they would change
    (old offsets -> new offsets: old bytes -> new bytes, 16 at most shown), or why they
    cannot be applied. Nothing is written."""
    from dcmencaps_lint.fixer import CannotFix, hunks, layout

    fixable, edits = _applied(report, run.options)
    lines = [f"{f.code} {f.fix.describe()}" for f in fixable if f.fix is not None]
    try:
        with _element(path) as old:
            changes = hunks(layout(old, edits).pieces, old.reader)
            for h in changes:
                was = old.reader.read(h.old_start, min(h.old_end - h.old_start, 16))
                lines.append(
                    f"  0x{h.old_start:08X}-0x{h.old_end:08X} -> "
                    f"0x{h.new_start:08X}-0x{h.new_start + len(h.new):08X}: "
                    f"{_hex(was, h.old_end - h.old_start)} -> {_hex(h.new[:16], len(h.new))}"
                )
    except CannotFix as exc:
        lines.append(f"  cannot be applied: {exc}")
    except OSError as exc:
        lines.append(f"  cannot be applied: {exc.strerror or exc}")
    return report._replace(planned=tuple(lines))


def _hex(data: bytes, length: int) -> str:
    shown = data.hex(" ").upper() if data else "(nothing)"
    return shown + (" ..." if length > len(data) else "")


@contextlib.contextmanager
def _element(path: str) -> Iterator[PixelContext]:
    """The top-level Pixel Data of a file, as the rules see it (for --fix): walked and
    frame-mapped, or (TSX001: a defined length under an encapsulated transfer syntax)
    its header only."""
    from dcmencaps_lint.fixer import CannotFix

    fileobj, size = open_path(path)
    reader = ByteReader(fileobj, size)
    try:
        dataset = parse_dataset(fileobj, reader)
        ts = lookup(dataset.transfer_syntax_uid) if dataset.transfer_syntax_uid else None
        ctx = _pixel_context(reader, dataset, ts, deep=False)
        # an element not walked (a defined length) under an encapsulated syntax: TSX001's
        unwalked = type(ctx) is PixelContext and ts is not None and ts.encapsulated
        if not (isinstance(ctx, EncapsulatedContext) or unwalked):
            raise CannotFix("no encapsulated Pixel Data of a known transfer syntax")
        yield ctx
    except (NotDicomError, DatasetError) as exc:
        raise CannotFix(f"the data set cannot be read: {exc}") from None
    finally:
        reader.close()
        fileobj.close()


def _abandoned(run: _Run, entry: PathEntry, message: str) -> FileReport:
    """A file given up on (time limit, dead worker): PRS005."""
    return _error(run.for_path(entry.path), entry.path, INTERNAL_ERROR, message)


def _open(target: Target) -> tuple[BinaryIO, int, int | None]:
    """(file object, size, the caller's position to restore; None: ours, to close)."""
    if isinstance(target, bytes | bytearray):
        return io.BytesIO(bytes(target)), len(target), None
    if is_url(target):
        from dcmencaps_lint.remote import open_url

        fileobj, size = open_url(str(target))
        return fileobj, size, None
    if isinstance(target, str | os.PathLike):
        fileobj, size = open_path(target)
        return fileobj, size, None
    position = target.tell()
    size = target.seek(0, io.SEEK_END)
    target.seek(0)
    return target, size, position


def _name_of(target: Target, path: str | None) -> str:
    if path is not None:
        return path
    if isinstance(target, str | os.PathLike):
        return os.fspath(target)
    if isinstance(target, bytes | bytearray):
        return "<bytes>"
    return str(getattr(target, "name", "<stream>"))


def _lint_one(run: _Run, target: Target, *, path: str | None = None, explicit: bool) -> FileReport:
    name = _name_of(target, path)
    run = run.for_path(name)
    try:
        fileobj, size, position = _open(target)
    except OSError as exc:
        return _error(run, name, IO_ERROR, f"cannot read the file: {exc.strerror or exc}")
    reader = ByteReader(fileobj, size)
    try:
        report = _lint_open_gc_paused(run, name, fileobj, reader, explicit)
        if run.options.content_hash and report.status != "skipped":
            report = report._replace(content_sha256=_sha256(fileobj))
        return report
    except OSError as exc:
        return _error(run, name, IO_ERROR, f"reading the file failed: {exc.strerror or exc}")
    finally:
        reader.close()
        if position is None:
            fileobj.close()
        else:  # the caller's file object is left where the caller had it
            fileobj.seek(position)


def _lint_open_gc_paused(
    run: _Run, name: str, fileobj: BinaryIO, reader: ByteReader, explicit: bool
) -> FileReport:
    """_lint_open with no cyclic garbage collection while one file is linted.

    A whole-slide image makes hundreds of thousands of item and frame tuples that all
    live until the file is done; the collector would scan them again and again (a
    third of the walk's time on 200,000 items). They hold no cycles; whatever cycles a
    file leaves are collected between files. (A plain try, not a context manager: that
    would cost a small file more than a microsecond.)
    """
    if not gc.isenabled():
        return _lint_open(run, name, fileobj, reader, explicit)
    gc.disable()
    try:
        return _lint_open(run, name, fileobj, reader, explicit)
    finally:
        gc.enable()


def _sha256(fileobj: BinaryIO) -> str | None:
    """The whole file's SHA-256, streamed in 1 MiB chunks; None when it cannot be read."""
    import hashlib  # here: only content hashes need it (OpenSSL takes milliseconds to load)

    digest = hashlib.sha256()
    try:
        fileobj.seek(0)
        while chunk := fileobj.read(1 << 20):
            digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _error(
    run: _Run, name: str, declared: Rule, message: str, offset: int | None = None
) -> FileReport:
    finding = run.engine_finding(declared, message, offset)
    findings = (finding,) if finding else ()
    return FileReport(path=name, status="error" if findings else "passed", findings=findings)


def _lint_open(
    run: _Run, name: str, fileobj: BinaryIO, reader: ByteReader, explicit: bool
) -> FileReport:
    try:
        describe = run.options.details or run.options.show_phi
        dataset = parse_dataset(fileobj, reader, describe)
    except NotDicomError as exc:
        if not explicit:
            return FileReport(path=name, status="skipped", reason="not a DICOM file")
        return _error(run, name, NOT_DICOM, f"not a DICOM file ({exc})")
    except DatasetError as exc:
        where = f" near byte {exc.offset}" if exc.offset is not None else ""
        return _error(
            run,
            name,
            UNREADABLE_DATASET,
            f"the data set cannot be parsed{where}: {exc}",
            exc.offset,
        )

    findings: list[Finding] = []
    ts = lookup(dataset.transfer_syntax_uid) if dataset.transfer_syntax_uid else None
    pixel = dataset.pixel_data
    if dataset.transfer_syntax_uid is None and pixel is not None:
        missing = run.engine_finding(
            MISSING_TRANSFER_SYNTAX,
            "no Transfer Syntax UID (0002,0010): the encoding of Pixel Data is unknown"
            if pixel.undefined_length
            else "no Transfer Syntax UID (0002,0010); Pixel Data has a defined length, so it "
            "is presumably native",
        )
        findings.extend([missing] if missing else [])

    if pixel is not None and reader.data is None and not reader.on_disk and pixel.undefined_length:
        # a remote file whose items are dense is fetched whole and read as a local one
        # (a small file, read whole at its opening, never gets here: no work for it)
        frames, _ = parse_number_of_frames(dataset.number_of_frames_raw)
        reader.expect_items(pixel.value_offset, frames or 1)
    deep = run.options.selection.deep
    ctx = _pixel_context(reader, dataset, ts, deep)
    findings.extend(_run_rules(run, ctx, name, top_level=True))
    for nested in dataset.nested:
        # Pixel Data inside a sequence item (an icon, say) is checked by the same rules,
        # with that item's attributes; the findings name the element path.
        view = dataset._replace(
            pixel_data=nested.pixel_data,
            number_of_frames_raw=nested.number_of_frames_raw,
            number_of_frames=None,
            eot=None,
            eot_lengths=None,
            eot_value=None,
            eot_lengths_value=None,
            image=nested.image,
            nested=(),
        )
        nested_ctx = _pixel_context(reader, view, ts, deep, element=nested.path)
        findings.extend(_run_rules(run, nested_ctx, name, top_level=False))

    findings.sort(key=lambda f: (f.offset is not None, f.offset or 0, f.code))
    if pixel is None and not findings:
        deflated = dataset.transfer_syntax_uid == DEFLATED_EXPLICIT_VR_LE
        # A deflated data set is read from an inflated copy, so Pixel Data (always native
        # there) has no position in the file.
        reason = "deflated data set: Pixel Data is native" if deflated else "no Pixel Data"
        report = _describe(name, "skipped", (), reason, dataset, ctx)
    else:
        report = _describe(name, run.status(findings), tuple(findings), None, dataset, ctx)
    return add_details(
        report, dataset, ctx, details=run.options.details, show_phi=run.options.show_phi
    )


def _pixel_context(
    reader: ByteReader,
    dataset: ParsedDataset,
    ts: TransferSyntax | None,
    deep: bool,
    element: str = PIXEL_DATA,
) -> Context:
    """The context of one Pixel Data element, of the class that says what is known of it:
    walked and frame-mapped when encapsulated (context.py)."""
    pixel = dataset.pixel_data
    if pixel is None:
        return Context(reader, dataset, ts, element=element, deep=deep)
    # Under a JPIP Referenced syntax Pixel Data shall be absent (TSX010): not walked.
    walkable = ts is None or (ts.encapsulated and ts.codec is not Codec.JPIP)
    if not (pixel.undefined_length and walkable):
        return PixelContext(reader, dataset, ts, pixel, element=element, deep=deep)
    item_walk = walk(reader, pixel.value_offset, codec=ts.codec if ts else None)
    items = ItemsContext(reader, dataset, ts, pixel, item_walk, element=element, deep=deep)
    if ts is None:
        return items
    frame_map = build_frame_map(reader, item_walk, ts, items.expected_frames, items.eot_offsets)
    # The same memo: the Extended Offset Table is parsed once for the map and the rules.
    return EncapsulatedContext(
        reader, dataset, ts, pixel, item_walk, frame_map, element, deep, _memo=items._memo
    )


def _run_rules(run: _Run, ctx: Context, name: str, *, top_level: bool) -> list[Finding]:
    """The selected rules that apply to this Pixel Data element (and to the file, when
    it is the top-level one). Their order does not matter: _lint_open sorts the
    findings by offset and code."""
    plan = run.rules_for(ctx, top_level)
    findings = _run_each(run, plan.plain, ctx, name)
    if plan.deep:
        findings += _run_each(run, plan.deep, ctx.with_deep_reads(), name)
    if plan.per_frame:
        passes = _FramePasses(ctx)
        findings += passes.widened(run, _run_each(run, plan.per_frame, passes.first, name), name)
    return findings


def _run_each(run: _Run, rules: Sequence[Rule], ctx: Context, name: str) -> list[Finding]:
    """Each rule's problems on `ctx` as findings; a rule that raises is PRS005 for this
    file. One loop, no call per rule: most rules find nothing, and a small file's 19
    rules each cost about a microsecond of their own."""
    findings: list[Finding] = []
    element = ctx.element
    for r in rules:
        try:
            problems = list(r.check(ctx))  # type: ignore[misc]
            if problems:
                findings += [_finding(r, problem, element) for problem in problems]
        except Exception as exc:
            findings += _raised(run, r, exc, name)
    return findings


def _raised(run: _Run, r: Rule, exc: Exception, name: str) -> list[Finding]:
    """What a rule that raised reports: PRS005 (its traceback in the debug log)."""
    import logging  # here: most runs log nothing, and logging costs start-up time
    import traceback

    log = logging.getLogger("dcmencaps_lint")
    log.debug("rule %s raised on %s\n%s", r.code, name, traceback.format_exc())
    internal = run.engine_finding(
        INTERNAL_ERROR, f"rule {r.code} ({r.name}) raised {type(exc).__name__}: {exc}"
    )
    return [internal] if internal else []


class _FramePasses:
    """How per-frame rules run on one element: each sees frames through their facts only
    (the context refuses other reads), and where frames are grouped by their facts
    (facts.py), first only one frame per group, then every member of a group whose
    representative has a finding."""

    def __init__(self, ctx: Context) -> None:
        assert isinstance(ctx, EncapsulatedContext), "per-frame rules need ENCAPSULATED"
        self.ctx = ctx
        frames = ctx.frame_map.frames
        self.groups = group_frames(ctx.reader, ctx.walk, ctx.ts.codec, frames)
        if self.groups:
            frames = tuple(g.representative for g in self.groups)
        self.first = ctx.with_frames(frames)

    def widened(self, run: _Run, found: list[Finding], name: str) -> list[Finding]:
        """The findings on the first pass (`found`), where a rule flagged a group's
        representative replaced by that rule's findings on every member of the group."""
        if not found or not self.groups:
            return found
        flagged: dict[str, set[int]] = {}
        for f in found:
            if f.frame is not None:
                flagged.setdefault(f.code, set()).add(f.frame)
        if not flagged:
            return found
        kept = [f for f in found if f.code not in flagged]
        for code, numbers in flagged.items():
            frames = [
                frame
                for g in self.groups
                for frame in (
                    g.members if g.representative.number in numbers else (g.representative,)
                )
            ]
            frames.sort(key=lambda f: f.number)
            again = self.ctx.with_frames(tuple(frames))
            kept += _run_each(run, [run.by_code[code]], again, name)
        return kept


def _finding(r: Rule, problem: Problem, element: str) -> Finding:
    """A rule's problem, with what the rule's declaration says of it."""
    message, offset, length, frame, item, problem_element, fix = problem
    if fix is not None and (r.fix is FixAvailability.NEVER or not (fix.safe or r.unsafe_fix)):
        raise TypeError(f"a {'safe' if fix.safe else 'unsafe'} fix its declaration does not offer")
    return _new_finding(
        r.code,
        r.name,
        r.severity,
        message,
        offset,
        length,
        frame,
        item,
        problem_element or element,
        r.reference,
        fix,
    )


def _new_finding(*fields: object) -> Finding:
    """A Finding of these fields. Imported here: most files have no finding, and a run
    that has none never imports dataclasses (findings.py)."""
    from dcmencaps_lint.findings import Finding

    return Finding(*fields)  # type: ignore[arg-type]


def _describe(
    name: str,
    status: str,
    findings: tuple[Finding, ...],
    reason: str | None,
    dataset: ParsedDataset,
    ctx: Context,
) -> FileReport:
    """A file's report with what the data set says about it (built once, not copied)."""
    ts_uid = dataset.transfer_syntax_uid
    ts_info = None
    if ts_uid is not None:
        ts_info = TransferSyntaxInfo(ts_uid, ctx.ts.name if ctx.ts else "unknown")
    frames = ctx.frame_map
    return FileReport(
        name,
        status,
        findings,
        reason,
        sop_instance_uid=dataset.sop_instance_uid,
        sop_class_uid=dataset.sop_class_uid,
        transfer_syntax=ts_info,
        number_of_frames=ctx.expected_frames,
        fragments=len(ctx.walk.fragments) if ctx.walk else None,
        frames_found=len(frames.frames) if frames and frames.frames else (0 if frames else None),
        frame_map_source=frames.source.value if frames else None,
    )

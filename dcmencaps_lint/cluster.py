"""Linting on a Dask cluster: `encaps-lint --scheduler tcp://HOST:PORT`, or
`lint_paths(..., client=distributed.Client(...))` (the optional extra
`pip install "encaps-lint[dask]"`).

The files go out in batches (64 to 1,024 paths: see MIN_BATCH), one Dask task each, so
that a small file does not pay a task's overhead (some milliseconds) alone; the workers read
the files themselves (the scheduler sees paths, never bytes: the files must be at the
same paths on every worker, as on a shared file system). Reports come back in input
order, each batch as soon as it and every batch before it are done, as the local worker
pool gives them: every output format is the same as a local run's.

A worker that dies costs nothing: Dask runs its batches again on another worker. A batch
that Dask gives up on (it was on `distributed.scheduler.allowed-failures` workers that
died: KilledWorker) is linted again one file at a time, and a file that still kills
its workers gets a PRS005 finding alone; the run goes on. The time limit per file is the
watchdog's on a worker (watchdog.py; a task's thread has no timer): past it, PRS005.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dcmencaps_lint.paths import PathEntry, is_url

if TYPE_CHECKING:
    from dcmencaps_lint.model import FileReport

# Files per task: four tasks per worker, so that the work spreads and a dead worker's
# share is small, within these bounds: a task costs the scheduler, the worker and this
# process some milliseconds, and fewer, larger tasks are faster (20,000 small files on 2
# workers: 4.3 s in tasks of 64, 2.8 s of 256, 2.4 s of 1,024; measured).
MIN_BATCH, MAX_BATCH = 64, 1024

# A task: the reports of some files, as a local run makes them, given the run's options
# (engine._lint_batch; the paths come absolute, as a worker runs in a folder of its own).
Task = Callable[[list[PathEntry], Any], "list[FileReport]"]


def _absolute(entry: PathEntry) -> PathEntry:
    if is_url(entry.path):  # each worker reads it from where it lives
        return entry
    return entry._replace(path=os.path.abspath(entry.path))


def imap_cluster(
    client: Any,
    task: Task,
    entries: Sequence[PathEntry],
    options: Any,
    failed: Callable[[PathEntry, str], FileReport],
) -> Iterator[FileReport]:
    """The reports of `entries`, in their order, linted by the client's cluster."""
    from distributed import KilledWorker

    workers = max(len(client.scheduler_info().get("workers", ())), 1)
    size = min(max(math.ceil(len(entries) / (4 * workers)), MIN_BATCH), MAX_BATCH)
    batches = [list(entries[i : i + size]) for i in range(0, len(entries), size)]
    futures = [client.submit(task, [_absolute(e) for e in b], options, pure=False) for b in batches]
    try:
        for batch, future in zip(batches, futures, strict=True):
            try:
                reports = future.result()
            except KilledWorker:
                yield from _one_by_one(client, task, batch, options, failed)
            else:
                yield from _named(reports, batch)
    finally:
        client.cancel([f for f in futures if not f.done()])


def _one_by_one(
    client: Any,
    task: Task,
    batch: list[PathEntry],
    options: Any,
    failed: Callable[[PathEntry, str], FileReport],
) -> Iterator[FileReport]:
    """A batch Dask gave up on, again file by file and one at a time: Dask blames every
    task a dying worker held, so a file's task is blamed alone only when no other of
    these is in flight; then only the file that kills its workers gets PRS005. Rare, so
    slow is fine."""
    from distributed import KilledWorker

    for entry in batch:
        future = client.submit(task, [_absolute(entry)], options, pure=False)
        try:
            yield from _named(future.result(), [entry])
        except KilledWorker as exc:
            yield failed(entry, f"the Dask workers linting it died ({exc})")


def _named(reports: list[FileReport], entries: list[PathEntry]) -> Iterator[FileReport]:
    """The reports under the paths as the caller gave them."""
    for report, entry in zip(reports, entries, strict=True):
        yield report._replace(path=entry.path)

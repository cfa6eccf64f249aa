"""Worker processes that lint files in parallel and survive crashes and hangs.

concurrent.futures' ProcessPoolExecutor can neither stop one stuck task nor tell, when
a worker dies, which task killed it: every task in flight fails with BrokenProcessPool.
Here each worker holds at most DEPTH tasks, in a known order, so:

- a worker that dies (a signal, os._exit, a crash in C code) costs only the task it was
  on, which gets `failed(item, message)`; its other tasks go back to the queue and a new
  worker takes its place;
- a task still running `limit` seconds after it started has its worker killed, and gets
  `failed(item, message)` too (the kill stops code stuck in C as well);
- results come back in input order, each as soon as it and every item before it are done.

`function` and `initializer` must be module-level functions (they are pickled where
processes are spawned rather than forked); items and results must be picklable.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEPTH = 8  # tasks sent ahead to each worker, so that it never waits for the parent


def timeout_message(limit: float) -> str:
    """The PRS005 message of a file abandoned at the time limit."""
    return f"linting took longer than {limit:g} s (the time limit per file); abandoned"


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit status {exitcode}"
    return f"the worker process linting this file died ({how}); abandoned"


def _serve(
    conn: Connection,
    function: Callable[[Any], Any],
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> None:
    """A worker: [(index, item), ...] in; (index, result, None) or (index, None, error)
    out, one message per item as soon as it is done.

    It stops on None, or when the parent is gone (a forked worker holds copies of the
    parent's pipe ends, so it would never see the pipe close).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    parent = os.getppid()
    if initializer is not None:
        initializer(*initargs)
    while True:
        while not conn.poll(1.0):
            if os.getppid() != parent:
                return
        try:
            tasks = conn.recv()
        except EOFError:
            return
        if tasks is None:
            return
        for index, item in tasks:
            try:
                conn.send((index, function(item), None))
            except Exception as exc:  # raised by `function`, or a result that cannot pickle
                error = f"the worker process failed: {type(exc).__name__}: {exc}"
                conn.send((index, None, error))


class _Worker:
    def __init__(self, context: Any, args: tuple[Any, ...]) -> None:
        # A forked child would flush a copy of anything still buffered here.
        sys.stdout.flush()
        sys.stderr.flush()
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.tasks: deque[int] = deque()  # indices sent and not answered, in order
        self.since = time.monotonic()  # when tasks[0] started (about)

    def send(self, batch: list[tuple[int, object]]) -> None:
        if not self.tasks:
            self.since = time.monotonic()
        self.tasks.extend(index for index, _ in batch)
        # A dead worker cannot take it: the caller notices the death by its sentinel.
        with contextlib.suppress(OSError):
            self.conn.send(batch)

    def receive(self) -> tuple[list[tuple[int, Any, str | None]], bool]:
        """Every answer ready now, and whether the pipe is still open."""
        answers = []
        try:
            while self.tasks and self.conn.poll():
                answers.append(self.conn.recv())
                self.tasks.popleft()
                self.since = time.monotonic()
        except (EOFError, OSError):  # the worker died
            return answers, False
        return answers, True

    def stop(self, kill: bool) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)  # an idle worker returns
        self.conn.close()
        self.process.join(None if kill else 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _context() -> Any:
    # fork where it is the safe default (Linux): workers start fast and see what the
    # parent has loaded; elsewhere the platform's default (spawn).
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def imap_ordered(
    function: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int,
    failed: Callable[[T, str], R],
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    limit: float | None = None,
) -> Iterator[R]:
    """function(item) for each item in `jobs` worker processes, in input order.

    A task whose worker dies, or that runs longer than `limit` seconds, gives
    failed(item, message) (called in this process) instead.
    """
    context = _context()
    args = (function, initializer, initargs)
    pending = deque(range(len(items)))
    results: dict[int, R] = {}
    workers = [_Worker(context, args) for _ in range(min(jobs, len(items)))]
    following = 0  # the next index to yield
    finished = False
    try:
        while following < len(items):
            for number, worker in enumerate(workers):  # topped up when half done
                if pending and not worker.tasks and not worker.process.is_alive():
                    worker.stop(kill=True)  # died idle (the OOM killer?): nothing lost
                    worker = workers[number] = _Worker(context, args)
                if pending and len(worker.tasks) <= DEPTH // 2:
                    count = min(DEPTH - len(worker.tasks), len(pending))
                    batch = [pending.popleft() for _ in range(count)]
                    worker.send([(index, items[index]) for index in batch])
            busy = [w for w in workers if w.tasks]
            if not busy:  # every item is pending, answered or failed: this cannot happen
                raise RuntimeError("worker pool: no task in flight and results missing")
            timeout = None
            if limit is not None:
                timeout = max(0.0, min(w.since for w in busy) + limit - time.monotonic())
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
            for number, worker in enumerate(workers):
                answers, open_ = worker.receive()
                for index, result, error in answers:
                    results[index] = result if error is None else failed(items[index], error)
                if not worker.tasks:
                    continue
                if not open_ or (not answers and not worker.process.is_alive()):
                    worker.process.join(1)  # reaped, so that its exit code is known
                    message = _death(worker.process.exitcode)
                elif limit is not None and time.monotonic() - worker.since >= limit:
                    message = timeout_message(limit)
                else:
                    continue
                index = worker.tasks.popleft()
                results[index] = failed(items[index], message)
                pending.extendleft(reversed(worker.tasks))  # not started: back to the front
                worker.tasks.clear()
                worker.stop(kill=True)  # stop() may be called again: it is idempotent
                if pending:
                    workers[number] = _Worker(context, args)
            for worker in [w for w in workers if not w.tasks and not pending]:
                worker.stop(kill=False)  # no work left for it
                workers.remove(worker)
            while following in results:
                yield results.pop(following)
                following += 1
        finished = True
    finally:
        for worker in workers:
            worker.stop(kill=not finished)

"""Worker processes that lint files in parallel and survive crashes and hangs.

concurrent.futures' ProcessPoolExecutor can neither stop one stuck task nor tell, when
a worker dies, which task killed it: every task in flight fails with BrokenProcessPool.
Here each worker holds at most DEPTH tasks, in a known order, and tells the parent
through two shared numbers (no message) how many tasks it has started and when the
one running started, so:

- a worker that dies (a signal, os._exit, a crash in C code) costs only the task it was
  on, which gets `failed(item, message)`; its other tasks go back to the queue and a new
  worker takes its place;
- a task still running `limit` seconds after it started has its worker killed, and gets
  `failed(item, message)` too (the kill stops code stuck in C as well);
- results come back in input order, each as soon as it and every item before it are done.

Tasks go out and results come back in batches: one message per file would cost the
parent a wake-up per file, as much as linting a small file. A worker sends what it has
done every BATCH results, every FLUSH seconds, and whenever it runs out of tasks. A task
is an index into the items, which every worker has from its start: the parent never
waits to write to a worker (DEPTH numbers fit in any pipe), so a worker that waits for
the parent to read its results never waits on a parent that waits for it. Processes and
pipes come from processes.py.

`function` and `initializer` must be module-level functions (they are pickled where
processes are spawned rather than forked); items and results must be picklable.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from dcmencaps_lint import processes

T = TypeVar("T")
R = TypeVar("R")

# Results a worker sends in one message, at most: 64 small files' worth is a few
# milliseconds of work, and every message wakes the parent, which shares the processors
# with the workers (16 a message cost 2,000 small files 10 ms of wall time on 2 cores).
BATCH = 64
DEPTH = 2 * BATCH  # tasks a worker holds: a batch to work on while the parent answers
FLUSH = 0.05  # seconds a worker keeps a result before sending it, at most
# The shared numbers of a worker: tasks started so far, and when (time.monotonic(),
# the same clock in every process) the one running started; 0.0 between tasks.
_STARTED, _SINCE = 0, 1

Answer = tuple[int, Any, "str | None"]  # (index, result, None) or (index, None, error)


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
    conn: Any,
    state: Any,
    function: Callable[[Any], Any],
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
    items: Sequence[Any],
) -> None:
    """A worker: lists of indices into `items` in; lists of (index, result, None) or
    (index, None, error) out, in the order the indices came.

    It stops on None, or when the parent is gone (a forked worker holds copies of the
    parent's pipe ends, so it would never see the pipe close).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    parent = os.getppid()
    if initializer is not None:
        initializer(*initargs)
    # What the worker has now (the parent's objects, when forked, and the rules) lives
    # as long as it does: the cyclic collector need not look at it again. Looking would
    # write to every such object's header, copying each page the parent shares with it.
    gc.freeze()
    queue: deque[int] = deque()
    done: list[Answer] = []
    kept_since = 0.0  # when the oldest result in `done` was made
    started = 0
    while True:
        # The pipe is read only when the queue is empty, not before every task (a system
        # call a file): what waits in it is at most DEPTH small numbers.
        if not queue:
            _send(conn, done)
            while not conn.poll(1.0):
                if os.getppid() != parent:
                    return
            try:
                tasks = conn.recv()
            except EOFError:
                return
            if tasks is None:
                return
            queue.extend(tasks)
            continue
        index = queue.popleft()
        # The parent reads these unlocked: the time first, so that it never pairs a
        # task with an older start than its own (see _Worker.running).
        state[_SINCE] = time.monotonic()
        started += 1
        state[_STARTED] = started
        try:
            answer: Answer = (index, function(items[index]), None)
        except Exception as exc:  # raised by `function`
            answer = (index, None, f"the worker process failed: {type(exc).__name__}: {exc}")
        state[_SINCE] = 0.0
        if not done:
            kept_since = time.monotonic()
        done.append(answer)
        if len(done) >= BATCH or time.monotonic() - kept_since >= FLUSH:
            _send(conn, done)


def _send(conn: Any, done: list[Answer]) -> None:
    """Send the results made and not sent yet (a result that cannot pickle: an error)."""
    if not done:
        return
    try:
        conn.send(done)
    except (OSError, EOFError):  # the parent is gone: nothing to do
        pass
    except Exception:  # a result that cannot pickle: find it, send the rest
        import pickle

        checked = []
        for index, result, error in done:
            try:
                pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
                checked.append((index, result, error))
            except Exception as exc:
                message = f"the worker process failed: {type(exc).__name__}: {exc}"
                checked.append((index, None, message))
        with contextlib.suppress(OSError, EOFError):
            conn.send(checked)
    done.clear()


class _Worker:
    def __init__(self, args: tuple[Any, ...], spawn: bool) -> None:
        self.conn, self.state, self.process = processes.start(_serve, args, spawn=spawn)
        self.tasks: deque[int] = deque()  # indices sent and not answered, in order
        self.answered = 0  # answers received from this worker, in all
        self.stopped = False

    def send(self, batch: list[int]) -> None:
        self.tasks.extend(batch)
        # A dead worker cannot take it: the caller notices the death by its sentinel.
        with contextlib.suppress(OSError):
            self.conn.send(batch)

    def receive(self) -> tuple[list[Answer], bool]:
        """Every answer ready now, and whether the pipe is still open."""
        answers: list[Answer] = []
        try:
            while self.tasks and self.conn.poll():
                batch = self.conn.recv()
                answers.extend(batch)
                for _ in batch:
                    self.tasks.popleft()
                self.answered += len(batch)
        except (EOFError, OSError):  # the worker died
            return answers, False
        return answers, True

    def running(self) -> tuple[int, float] | None:
        """(position in self.tasks, start time) of the task the worker is on, if any."""
        started = self.state[_STARTED]
        since = self.state[_SINCE]
        if since == 0.0 or self.state[_STARTED] != started:
            return None  # between two tasks, or moving on while we looked
        # `since` may belong to the next task, not yet counted: a later start, so a
        # time limit is never reached early.
        position = int(started) - self.answered - 1
        return (position, since) if 0 <= position < len(self.tasks) else None

    def stop(self, kill: bool) -> None:
        if self.stopped:
            return
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
        self.process.close()  # its sentinel
        self.stopped = True


def imap_ordered(
    function: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int,
    failed: Callable[[T, str], R],
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    limit: float | None = None,
    spawn: bool = False,
) -> Iterator[R]:
    """function(item) for each item in `jobs` worker processes, in input order.

    A task whose worker dies, or that runs longer than `limit` seconds, gives
    failed(item, message) (called in this process) instead. `spawn` starts the workers
    as multiprocessing does where there is no safe fork (processes.py), here too.
    """
    # Each worker has the items from its start (a forked one shares the parent's list;
    # a spawned one gets a copy): tasks are their indices, so that what waits in a
    # worker's pipe is a few bytes a task, and the parent never waits to write it.
    args = (function, initializer, initargs, items)
    pending = deque(range(len(items)))
    results: dict[int, R] = {}
    workers = [_Worker(args, spawn) for _ in range(min(jobs, len(items)))]
    following = 0  # the next index to yield
    finished = False
    try:
        while following < len(items):
            _top_up(workers, pending, args, spawn)
            busy = [w for w in workers if w.tasks]
            if not busy:  # every item is pending, answered or failed: this cannot happen
                raise RuntimeError("worker pool: no task in flight and results missing")
            waited = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            processes.wait(waited, _wait(busy, limit))
            for number, worker in enumerate(workers):
                answers, open_ = worker.receive()
                for index, result, error in answers:
                    results[index] = result if error is None else failed(items[index], error)
                if not worker.tasks:
                    continue
                message, position = _verdict(worker, answers, open_, limit)
                if message is None:
                    continue
                index = worker.tasks[position]
                results[index] = failed(items[index], message)
                del worker.tasks[position]
                # Not started, or done and not sent (lost with the worker): linted again.
                pending.extendleft(reversed(worker.tasks))
                worker.tasks.clear()
                worker.stop(kill=True)  # stop() may be called again: it is idempotent
                if pending:
                    workers[number] = _Worker(args, spawn)
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


def _top_up(
    workers: list[_Worker],
    pending: deque[int],
    args: tuple[Any, ...],
    spawn: bool,
) -> None:
    """Send tasks to every worker down to half its DEPTH; replace workers that died idle."""
    for number, worker in enumerate(workers):
        if pending and not worker.tasks and not worker.process.is_alive():
            worker.stop(kill=True)  # died idle (the OOM killer?): nothing lost
            worker = workers[number] = _Worker(args, spawn)
        if pending and len(worker.tasks) <= DEPTH // 2:
            # Near the end the tasks left are shared out, so that no worker idles
            # while another has a queue.
            share = math.ceil(len(pending) / len(workers))
            count = min(DEPTH - len(worker.tasks), share)
            batch = [pending.popleft() for _ in range(count)]
            worker.send(batch)


def _wait(busy: list[_Worker], limit: float | None) -> float | None:
    """Seconds until the first task running could pass the time limit."""
    if limit is None:
        return None
    now = time.monotonic()
    starts = [running[1] for w in busy if (running := w.running()) is not None]
    # A task that starts after now cannot pass the limit before now + limit.
    return max(0.0, min([*starts, now]) + limit - now)


def _verdict(
    worker: _Worker, answers: list[Answer], open_: bool, limit: float | None
) -> tuple[str | None, int]:
    """(why the worker is given up on, position of the task that gets it) or (None, 0)."""
    running = worker.running()
    if not open_ or (not answers and not worker.process.is_alive()):
        worker.process.join(1)  # reaped, so that its exit code is known
        if running is None:  # died between tasks: the last one started, if any
            last = int(worker.state[_STARTED]) - worker.answered - 1
            running = (last if 0 <= last < len(worker.tasks) else 0, 0.0)
        return _death(worker.process.exitcode), running[0]
    if limit is not None and running is not None and time.monotonic() - running[1] >= limit:
        return timeout_message(limit), running[0]
    return None, 0

"""Worker processes and their pipes: forked by hand on Linux, by multiprocessing elsewhere.

workers.py needs little of a process: start it with a function, send and receive
picklable messages, wait until a message or its end can be seen, kill it, and read its
exit code. On Linux (where fork is the safe default) that is os.fork and two pipes, and
importing multiprocessing would cost more than all of it: its connection, context and
shared-memory modules bring threading, socket, tempfile, shutil, subprocess and ctypes,
some 12 ms of every parallel run's start-up, as much as linting 200 small files. Where
there is no safe fork (Windows, macOS), multiprocessing spawns each worker as it always
has; `start(..., spawn=True)` takes that way on Linux too, so tests cover both.

A forked worker's messages are pickles, each after its length (8 bytes, little endian).
Its exit can be waited for on `sentinel`, the read end of a pipe whose only write end
the worker holds: the kernel closes it when the worker ends, however it ends.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import pickle
import select
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any

_LENGTH = struct.Struct("<Q")
_CHUNK = 1 << 20  # the most read from a pipe at once


class Pipe:
    """One side of a forked worker's two pipes: messages out on one, in on the other."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd

    def fileno(self) -> int:
        return self._read_fd

    def send(self, message: object) -> None:
        """Write the message whole (OSError, BrokenPipeError say, when the other side is
        gone). A write to a pipe may take only part of the bytes: the rest follows."""
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            view = view[os.write(self._write_fd, view) :]

    def recv(self) -> Any:
        """The next message, waiting for it; EOFError once the other side has closed."""
        (length,) = _LENGTH.unpack(self._read_exactly(_LENGTH.size))
        return pickle.loads(self._read_exactly(length))

    def poll(self, timeout: float = 0.0) -> bool:
        """Whether a message (or the other side's end) can be read within `timeout` s."""
        return _readable([self._read_fd], timeout)

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1

    def _read_exactly(self, count: int) -> bytes:
        parts = []
        while count:
            part = os.read(self._read_fd, min(count, _CHUNK))
            if not part:
                raise EOFError("the other side of the pipe has closed it")
            parts.append(part)
            count -= len(part)
        return b"".join(parts)


class ForkedProcess:
    """A worker made by os.fork, known by its process id; the methods that
    workers.py calls of a multiprocessing.Process, with the same meaning."""

    def __init__(self, pid: int, sentinel: int) -> None:
        self.pid = pid
        self.sentinel = sentinel
        self.exitcode: int | None = None  # negative: killed by that signal

    def is_alive(self) -> bool:
        self._reap(block=False)
        return self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker's end (at most `timeout` s) and reap it."""
        if self.exitcode is None and _readable([self.sentinel], timeout):
            self._reap(block=True)

    def kill(self) -> None:
        if self.exitcode is None:
            with contextlib.suppress(ProcessLookupError):  # ended and reaped elsewhere
                os.kill(self.pid, signal.SIGKILL)

    def _reap(self, *, block: bool) -> None:
        if self.exitcode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped already (by a SIGCHLD handler, say)
            self.exitcode = 1
            return
        if pid:
            self.exitcode = os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        """Release the sentinel, once the worker has ended (as Process.close does)."""
        if self.exitcode is None:
            raise ValueError("the worker is still running")
        if self.sentinel >= 0:
            os.close(self.sentinel)
            self.sentinel = -1


def start(
    target: Callable[..., None], args: tuple[Any, ...], *, spawn: bool = False
) -> tuple[Any, Any, Any]:
    """(the parent's pipe, the two shared numbers, the process) of a new worker that runs
    target(its pipe, the shared numbers, *args) and then ends.

    The shared numbers are two doubles both processes index (workers.py's _STARTED and
    _SINCE): a shared anonymous mapping for a forked worker, multiprocessing's RawArray
    for a spawned one."""
    if spawn or not _FORK:
        return _spawned(target, args)
    # A forked child would flush a copy of anything still buffered here.
    sys.stdout.flush()
    sys.stderr.flush()
    state = memoryview(mmap.mmap(-1, 16)).cast("d")
    to_child = os.pipe()
    to_parent = os.pipe()
    ended = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: it never returns from here
        _run_child(target, (Pipe(to_child[0], to_parent[1]), state, *args), to_child[1], ended[0])
    for fd in (to_child[0], to_parent[1], ended[1]):
        os.close(fd)
    return Pipe(to_parent[0], to_child[1]), state, ForkedProcess(pid, ended[0])


def _run_child(
    target: Callable[..., None], args: tuple[Any, ...], parent_end: int, sentinel_read: int
) -> None:
    code = 1
    try:
        os.close(parent_end)
        os.close(sentinel_read)
        # as multiprocessing does: a worker never reads the parent's standard input
        if sys.stdin is not None:
            sys.stdin.close()
            sys.stdin = open(os.devnull)  # noqa: SIM115 - the process's own, for its life
        target(*args)
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback  # here: only a worker that fails needs it (start-up time)

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # never the parent's clean-up (atexit, buffers, finally blocks)


def wait(objects: Sequence[Any], timeout: float | None) -> None:
    """Until one of the pipes or sentinels can be read (a message, or an end), or until
    `timeout` seconds have passed (None: no limit)."""
    if _FORK:
        _readable([o if isinstance(o, int) else o.fileno() for o in objects], timeout)
    else:
        from multiprocessing.connection import wait as wait_for

        wait_for(list(objects), timeout)


def _readable(fds: list[int], timeout: float | None) -> bool:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)  # hang-ups and errors are reported anyway
    # (poll counts milliseconds: rounded up, it never returns before the time is up)
    return bool(poller.poll(None if timeout is None else math.ceil(timeout * 1000)))


def _spawned(target: Callable[..., None], args: tuple[Any, ...]) -> tuple[Any, Any, Any]:
    import multiprocessing

    context = multiprocessing.get_context("spawn" if _FORK else None)
    parent, child = context.Pipe()
    state = context.RawArray("d", 2)
    process = context.Process(target=target, args=(child, state, *args), daemon=True)
    process.start()
    child.close()
    return parent, state, process


# Fork by hand only where multiprocessing itself forks by default.
_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")

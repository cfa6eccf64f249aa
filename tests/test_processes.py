"""processes.py: the workers forked by hand (Linux) and those multiprocessing spawns
(the way of platforms without a safe fork), each through the calls workers.py makes."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from dcmencaps_lint import processes, workers

BIG = bytes(range(256)) * (3 << 12)  # 3 MiB: many times what a pipe holds


def _echo(conn: Any, state: Any) -> None:
    """Send back every message until None; count them in the first shared number."""
    while (message := conn.recv()) is not None:
        state[0] += 1
        conn.send(message)


def _raise(conn: Any, state: Any) -> None:
    raise RuntimeError("a bug in the worker")


def _exit_3(conn: Any, state: Any) -> None:
    os._exit(3)


def _system_exit(conn: Any, state: Any) -> None:
    raise SystemExit


def _killed(conn: Any, state: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep(conn: Any, state: Any) -> None:
    time.sleep(60)


def _square(item: int) -> int:
    if item == 7:
        os._exit(3)  # a crash on this item alone
    if item == 11:
        time.sleep(60)  # a hang on this one
    return item * item


def _failed(item: int, message: str) -> str:
    return f"{item}: {message}"


@pytest.fixture(params=[False, True], ids=["forked", "spawned"])
def spawn(request: pytest.FixtureRequest) -> bool:
    return request.param


class TestPipes:
    def test_messages_larger_than_a_pipe_arrive_whole_and_in_order(self, spawn: bool) -> None:
        conn, state, process = processes.start(_echo, (), spawn=spawn)
        messages = [BIG, {"small": (1, 2.5, None)}, b"", BIG[::-1]]
        for message in messages:  # each written in many parts, read in many
            conn.send(message)
            assert conn.recv() == message
        conn.send(None)
        process.join(30)
        assert process.exitcode == 0
        assert state[0] == len(messages)  # the worker's writes, seen here
        process.close()

    def test_a_message_is_read_only_once_it_is_there(self, spawn: bool) -> None:
        conn, _, process = processes.start(_echo, (), spawn=spawn)
        assert not conn.poll(0.05)
        conn.send("ping")
        assert conn.poll(30)
        assert conn.recv() == "ping"
        conn.send(None)
        process.join(30)
        assert process.exitcode == 0

    def test_the_pipe_ends_with_the_worker(self, spawn: bool) -> None:
        conn, _, process = processes.start(_exit_3, (), spawn=spawn)
        process.join(30)
        assert conn.poll(0)  # the end can be read: no wait
        with pytest.raises(EOFError):
            conn.recv()
        with pytest.raises(OSError):
            conn.send(BIG)  # nobody reads: a broken pipe, never a hang


class TestExits:
    @pytest.mark.parametrize(
        ("target", "code"),
        [(_exit_3, 3), (_raise, 1), (_system_exit, 0), (_killed, -signal.SIGKILL)],
        ids=["os-exit", "raises", "system-exit", "sigkill"],
    )
    def test_exit_code(self, spawn: bool, target: Any, code: int) -> None:
        conn, _, process = processes.start(target, (), spawn=spawn)
        process.join(30)
        assert not process.is_alive()
        assert process.exitcode == code
        process.close()
        conn.close()

    def test_a_worker_that_raises_says_why_on_stderr(self, capfd: pytest.CaptureFixture) -> None:
        _, _, process = processes.start(_raise, ())
        process.join(30)
        assert "RuntimeError: a bug in the worker" in capfd.readouterr().err

    def test_join_returns_at_its_timeout_and_kill_ends_it(self, spawn: bool) -> None:
        conn, _, process = processes.start(_sleep, (), spawn=spawn)
        process.join(0.2)  # returns, the worker still running
        assert process.is_alive()
        assert process.exitcode is None
        with pytest.raises(ValueError):
            process.close()  # not while it runs
        processes.wait([conn, process.sentinel], 0.05)  # nothing to see yet: returns
        process.kill()
        processes.wait([process.sentinel], 30)
        process.join(30)
        assert process.exitcode == -signal.SIGKILL
        process.close()
        conn.close()


class TestWorkersEitherWay:
    def test_results_in_order_with_a_crash_and_a_hang(self, spawn: bool) -> None:
        items = list(range(20))
        results = list(
            workers.imap_ordered(
                _square, items, jobs=2, failed=_failed, limit=2 if spawn else 1, spawn=spawn
            )
        )
        limit = 2 if spawn else 1
        died = "the worker process linting this file died (exit status 3); abandoned"
        expected: list[object] = [n * n for n in items]
        expected[7] = f"7: {died}"
        expected[11] = f"11: {workers.timeout_message(limit)}"
        assert results == expected

    def test_items_and_results_larger_than_a_pipe_do_not_stall_the_pool(self, spawn: bool) -> None:
        """Results that fill the pipe make a worker wait for the parent to read them;
        the parent never waits on that worker in turn: it sends only indices into the
        items, which each worker has from its start (sending these 50 kB items would
        make both wait for ever)."""
        items = [("x" * 50_000, n) for n in range(3 * workers.DEPTH)]
        results = list(workers.imap_ordered(_swapped, items, jobs=2, failed=_failed, spawn=spawn))
        assert results == [(n, "x" * 50_000) for n in range(3 * workers.DEPTH)]


def _swapped(item: tuple[str, int]) -> tuple[int, str]:
    """A large result for a large task: either side's message fills the pipe."""
    return item[1], item[0]

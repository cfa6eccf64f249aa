"""A time limit for code running in any thread: the Orthanc gate's lints (Orthanc's
threads) and the files a Dask worker lints (its task threads), where the engine's
SIGALRM timer cannot reach (signals go to the main thread only).

    watchdog = Watchdog()
    armed = watchdog.arm(seconds)
    try:
        try:
            ...  # the work
        finally:
            watchdog.disarm(armed)
    except TimedOut:
        ...  # past its time
"""

from __future__ import annotations

import threading
import time


class TimedOut(BaseException):
    """Raised in a lint past its time limit; a BaseException, so that the engine's
    `except Exception` (a rule that raises) does not take it for a rule's bug."""


class Armed:
    """One lint under the watchdog."""

    def __init__(self, deadline: float) -> None:
        self.thread = threading.get_ident()
        self.deadline = deadline
        self.fired = False


class Watchdog:
    """Stops a lint past its time limit: one thread of its own looks every POLL seconds
    and raises TimedOut in the thread of a lint past its deadline
    (PyThreadState_SetAsyncExc), which sees it at its next Python instruction. So a
    call into the compiled core ends first; each is bounded by the bytes of the
    instance. Arming and disarming hold one lock, and disarming clears an exception
    raised too late to be seen yet: it is never seen outside the lint.

    It looks by the clock rather than being woken by each lint: waking it would hand
    the interpreter to it and back, which cost Orthanc 0.3 ms an instance (measured)."""

    POLL = 0.05  # seconds: how late past its deadline a lint may be stopped

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Armed] = []
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> Armed:
        armed = Armed(time.monotonic() + seconds)
        with self._lock:
            self._armed.append(armed)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="encaps-lint watchdog", daemon=True
                )
                self._thread.start()
        return armed

    def disarm(self, armed: Armed) -> None:
        with self._lock:
            if armed.fired:
                raise_in(armed.thread, None)  # not seen yet: never to be
            else:
                self._armed.remove(armed)

    def _watch(self) -> None:
        while True:
            time.sleep(self.POLL)
            with self._lock:
                now = time.monotonic()
                for armed in [a for a in self._armed if a.deadline <= now]:
                    self._armed.remove(armed)
                    armed.fired = True
                    raise_in(armed.thread, TimedOut)


def raise_in(thread: int, exception: type[BaseException] | None) -> None:
    """Raise `exception` in another thread at its next instruction (None: clear one
    that is pending)."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), None if exception is None else ctypes.py_object(exception)
    )

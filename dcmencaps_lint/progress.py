"""A progress line on stderr, for long runs at a terminal only.

Nothing is printed when stderr is not a terminal (a pipe, a file, CI logs), nor for runs
shorter than a second; at most ten updates a second; the line is cleared at the end so
that the report that follows starts on a clean line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

DELAY = 1.0  # seconds before the first update: short runs stay silent
INTERVAL = 0.1  # seconds between updates


class Progress:
    """`progress(done, total)` callback that draws `N/M files, R files/s, ETA`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self.shown = 0.0  # when the line was last drawn; 0: never
        self.enabled = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed < DELAY or (now - self.shown < INTERVAL and done < total):
            return
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        line = f"encaps-lint: {done}/{total} files, {rate:,.0f} files/s, ETA {eta:,.0f} s"
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.shown = now

    def close(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

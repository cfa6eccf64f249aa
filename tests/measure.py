"""Peak Python memory of one call, for the tests that bound allocations (never time)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def with_peak(call: Callable[[], T]) -> tuple[T, int]:
    """(the call's result, the peak bytes tracemalloc saw allocated during it)."""
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak

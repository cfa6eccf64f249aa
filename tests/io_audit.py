"""What the code under test opens and maps, seen through an audit hook (PEP 578).

The only way to see the engine's own open() and mmap() calls without patching it; the
hook can also refuse to open a path, as permissions would (tests run as root, where
chmod 000 does not stop a read).
Hooks cannot be removed, so one hook is installed when this module is first imported
and it records only inside `watching()`; forked worker processes are not seen (lint
with one job to watch everything).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import sys
from collections.abc import Iterator
from typing import Any

Event = tuple[str, tuple[Any, ...]]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC | os.O_CREAT
_watching: list[Event] | None = None
_refused: set[str] = set()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _refused and isinstance(args[0], str) and args[0] in _refused:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), args[0])
    if _watching is not None and event in ("open", "mmap.__new__"):
        _watching.append((event, args))


sys.addaudithook(_audit)


@contextlib.contextmanager
def watching() -> Iterator[list[Event]]:
    """Every open() (builtin, io, os) and mmap() made inside the block, as it happens."""
    global _watching
    _watching = []
    try:
        yield _watching
    finally:
        _watching = None


@contextlib.contextmanager
def refusing(*paths: str) -> Iterator[None]:
    """open() of these paths (as the caller names them) fails with EACCES in the block."""
    _refused.update(paths)
    try:
        yield
    finally:
        _refused.difference_update(paths)


def writes(events: list[Event]) -> list[str]:
    """Every open in a writing mode and every file mapping with write access."""
    found = []
    for event, args in events:
        if event == "open":
            path, mode, flags = args
            if mode is not None and set(mode) - set("rbt"):
                found.append(f"open({path!r}, {mode!r})")
            elif mode is None and flags & _WRITE_FLAGS:
                found.append(f"os.open({path!r}, flags={flags:#o})")
        elif event == "mmap.__new__":
            fileno, _length, access, _offset = args
            if fileno != -1 and access not in (mmap.ACCESS_READ, mmap.ACCESS_COPY):
                found.append(f"mmap(fd {fileno}, access={access})")
    return found

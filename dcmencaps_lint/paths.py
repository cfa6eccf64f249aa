"""Which files a run lints: folder walks, and the per-file-ignores patterns.

Folders are walked iteratively (no recursion limit), in name order, without following
links to folders (no loops); every other entry is listed and judged when it is opened.
URLs (`is_url`) are listed and read by remote.py.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(path: object) -> bool:
    """Whether a PATH names a remote file or folder (scheme://..., read by remote.py)."""
    return isinstance(path, str) and _URL.match(path) is not None


class PathEntry(NamedTuple):
    """A file to lint, or a folder that could not be listed (`error` says why: PRS004)."""

    path: str
    explicit: bool  # named by the caller, not found in a folder walk
    error: str | None = None
    root: str | None = None  # the folder named by the caller that the walk found it in


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[PathEntry]:
    """Each file to lint; folders are walked depth first, in name order, iteratively.

    A folder gives its files in name order, then its sub-folders' in name order (as
    os.walk, which recurses and so fails on deep trees). Links to folders found in a
    walk are not followed (no loops); every other entry is listed (files, links to
    files, broken links, FIFOs, devices) and judged when it is opened.
    """
    for p in paths:
        top = os.fspath(p)
        if not os.path.isdir(top):
            yield PathEntry(top, True)
            continue
        folders = [top]
        while folders:
            folder = folders.pop()
            try:
                with os.scandir(folder) as listing:
                    found = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                yield PathEntry(folder, True, f"cannot list the folder: {exc.strerror or exc}")
                continue
            below = []
            for e in found:
                if _is_dir(e, follow=False):
                    below.append(e.path)
                elif not (e.is_symlink() and _is_dir(e, follow=True)):
                    yield PathEntry(e.path, False, root=top)
            folders.extend(reversed(below))


def _is_dir(entry: os.DirEntry[str], *, follow: bool) -> bool:
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


def path_matches(pattern: str, path: str) -> bool:
    """Whether a per-file-ignores glob matches a path (the rules are in config.py).

    fnmatch on POSIX paths, case-sensitive, `*` crossing "/"; `**/` may match no folder;
    a pattern without "/" matches the file name, one with "/" the path as given (less a
    leading "./") or the absolute path.
    """
    posix = path.replace(os.sep, "/")
    if "/" not in pattern:
        candidates = [posix.rsplit("/", 1)[-1]]
    else:
        candidates = [posix.removeprefix("./"), os.path.abspath(path).replace(os.sep, "/")]
    first, *rest = pattern.split("**/")
    variants = {first}
    for part in rest:  # each `**/` as itself or as nothing at all
        variants = {v + sep + part for v in variants for sep in ("**/", "")}
    return any(fnmatch.fnmatchcase(c, v) for c in candidates for v in variants)

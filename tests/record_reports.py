"""Record every report the test suite produces, to prove a refactoring changes none.

With ENCAPS_LINT_RECORD=FILE set, conftest.py wraps the engine's one-file entry point
(`engine._lint_one`) for the whole run: each report is appended to FILE as one JSON line
keyed by what decides it (the file's bytes and the options), with the path left out
(tests write to fresh temporary folders). `python tests/record_reports.py BEFORE AFTER`
then compares two such runs: every input linted in both must have the same reports.
Worker processes are forked, so their reports are recorded too.

Recording must not change what the tests observe: a caller's file object is not read
(reads through it are counted by some tests; such inputs are not recorded), a file is
digested through a descriptor of its own, a chunk at a time, and the records are
written with os.write to a descriptor opened before any test runs (tests that audit
every open see no write). .ci/run records both of its runs (the compiled core, the pure
Python path) and compares them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

SAMPLED = 16 << 20  # larger inputs (sparse test files of several GiB) are keyed by samples


def _digest(target: object) -> str | None:
    """SHA-256 of the input's bytes (head, tail and size beyond SAMPLED); None if unknown."""
    digest = hashlib.sha256()
    if isinstance(target, bytes | bytearray):
        data = memoryview(target)
        digest.update(data if len(data) <= SAMPLED else data[: 1 << 20])
        if len(data) > SAMPLED:
            digest.update(data[-(1 << 20) :])
        digest.update(str(len(data)).encode())
        return digest.hexdigest()
    if not isinstance(target, str | os.PathLike):
        return None  # a caller's file object: reading it would change what tests count
    try:
        fd = os.open(target, os.O_RDONLY)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        spans = [(0, size)] if size <= SAMPLED else [(0, 1 << 20), (size - (1 << 20), size)]
        for start, end in spans:
            while start < end:
                chunk = os.pread(fd, min(1 << 20, end - start), start)
                if not chunk:
                    break
                digest.update(chunk)
                start += len(chunk)
        digest.update(str(size).encode())
    except OSError:
        return None
    finally:
        os.close(fd)
    return digest.hexdigest()


def _options_key(options: Any) -> str:
    """What in the options decides a report (the same before and after a refactoring)."""
    selection = options.selection
    return repr(
        (
            tuple(selection.select),
            tuple(selection.ignore),
            bool(selection.deep),
            tuple(options.severity),
            options.fail_on,
            options.content_hash,
            options.details,
            options.show_phi,
            tuple(options.per_file_ignores),
        )
    )


def install(path: str) -> None:
    from dcmencaps_lint import engine

    original: Callable[..., Any] = engine._lint_one
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def recorded(run: Any, target: Any, **kw: Any) -> Any:
        digest = _digest(target)
        report = original(run, target, **kw)
        if digest is not None:
            line = json.dumps(
                {
                    "input": digest,
                    "options": _options_key(run.options),
                    "explicit": kw.get("explicit"),
                    "report": repr(report._replace(path="")),
                }
            )
            os.write(out, (line + "\n").encode())  # one append per line: atomic
        return report

    engine._lint_one = recorded  # type: ignore[assignment]


def _load(path: str) -> dict[tuple[str, str, str], set[str]]:
    found: dict[tuple[str, str, str], set[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            key = (record["input"], record["options"], repr(record["explicit"]))
            found.setdefault(key, set()).add(record["report"])
    return found


def compare(before_path: str, after_path: str) -> int:
    before, after = _load(before_path), _load(after_path)
    shared = before.keys() & after.keys()
    differ = [key for key in shared if before[key] != after[key]]
    print(
        f"{len(before)} inputs before, {len(after)} after, {len(shared)} in both; "
        f"{len(differ)} with different reports"
    )
    for key in differ[:10]:
        print("input", key[0], "options", key[1])
        print("  before:", *sorted(before[key]), sep="\n    ")
        print("  after: ", *sorted(after[key]), sep="\n    ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(compare(sys.argv[1], sys.argv[2]))

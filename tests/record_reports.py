"""Record every report the test suite produces, to prove a refactoring changes none.

With ENCAPS_LINT_RECORD=FILE set, conftest.py wraps the engine's one-file entry point
(`engine._lint_one`) for the whole run: each report is appended to FILE as one JSON line
keyed by what decides it (the file's bytes and the options), with the path left out
(tests write to fresh temporary folders). `python tests/record_reports.py BEFORE AFTER`
then compares two such runs: every input linted in both must have the same reports.
Worker processes are forked, so their reports are recorded too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

SAMPLED = 16 << 20  # larger inputs (sparse test files of several GiB) are keyed by samples


def _digest(target: object) -> str | None:
    """SHA-256 of the input's bytes (head, tail and size beyond SAMPLED); None if unknown."""
    digest = hashlib.sha256()
    try:
        if isinstance(target, bytes | bytearray):
            data = bytes(target)
            digest.update(data if len(data) <= SAMPLED else data[: 1 << 20] + data[-(1 << 20) :])
            digest.update(str(len(data)).encode())
            return digest.hexdigest()
        if isinstance(target, str | os.PathLike):
            fileobj: Any = open(target, "rb")  # noqa: SIM115
            position = None
        else:
            fileobj, position = target, target.tell()  # type: ignore[attr-defined]
        try:
            size = fileobj.seek(0, io.SEEK_END)
            fileobj.seek(0)
            if size <= SAMPLED:
                digest.update(fileobj.read())
            else:
                digest.update(fileobj.read(1 << 20))
                fileobj.seek(size - (1 << 20))
                digest.update(fileobj.read())
            digest.update(str(size).encode())
        finally:
            if position is None:
                fileobj.close()
            else:
                fileobj.seek(position)
    except (OSError, ValueError):
        return None
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

    def recorded(run: Any, target: Any, **kw: Any) -> Any:
        digest = _digest(target)
        report = original(run, target, **kw)
        if digest is not None:
            line = json.dumps(
                {
                    "input": digest,
                    "options": _options_key(run.options),
                    "explicit": kw.get("explicit"),
                    "report": repr(replace(report, path="")),
                }
            )
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
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

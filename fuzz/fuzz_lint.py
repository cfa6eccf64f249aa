"""Coverage-guided fuzzing of encaps-lint with atheris (libFuzzer); not run in CI.

    pip install atheris
    python fuzz/fuzz_lint.py -max_total_time=600          # a fresh corpus in a temp folder
    python fuzz/fuzz_lint.py CORPUS_DIR -runs=100000      # or your own corpus folder

Without a corpus folder, one is made in a temporary folder and seeded with
samples/valid/*.dcm and pydicom's files with encapsulated Pixel Data (libFuzzer writes
new inputs into the first folder, so never point it at samples/). Every input is linted
from bytes, normally and in deep mode; a crash is any exception, a rule that raised
(PRS005), a finding whose offset lies outside the input, or an unknown status. libFuzzer
writes the input that crashed to crash-<sha1> in the current folder.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["dcmencaps_lint"]):
    from dcmencaps_lint.engine import lint_file

STATUSES = {"passed", "failed", "error", "skipped"}


def test_one_input(data: bytes) -> None:
    for deep in (False, True):
        report = lint_file(data, deep=deep)
        if report.status not in STATUSES:
            raise RuntimeError(f"status {report.status!r}")
        for f in report.findings:
            if f.code == "PRS005":
                raise RuntimeError(f.message)
            if f.offset is not None and not 0 <= f.offset <= len(data):
                raise RuntimeError(f"{f.code} offset {f.offset} outside 0..{len(data)}")


def seed_corpus() -> str:
    import pydicom.data

    folder = Path(tempfile.mkdtemp(prefix="encaps-lint-corpus-"))
    root = Path(__file__).resolve().parent.parent
    seeds = list((root / "samples" / "valid").glob("*.dcm"))
    shipped = Path(pydicom.data.__file__).parent / "test_files"
    for path in sorted(shipped.glob("*.dcm")):
        report = lint_file(path)
        if report.fragments and path.stat().st_size < 64 * 1024:
            seeds.append(path)
    for path in seeds:
        shutil.copy(path, folder / path.name)
    return str(folder)


def main() -> None:
    args = sys.argv[:]
    if not any(not a.startswith("-") for a in args[1:]):
        args.insert(1, seed_corpus())
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""Every real file shipped with pydicom and pydicom-data, linted and pinned.

tests/data/real_files_expected.json holds, for each file (by its path relative to its
root, prefixed "pydicom/" or "pydicom-data/"), its status and the sorted (code, offset)
of its findings. Every flagged file was checked by hand (bytes, dcmdump, pydicom);
tests/data/README.md says what is wrong in each. When a rule change moves a result,
check the file by hand, then regenerate with `python tests/test_real_files.py` and
update the README.

The two folders are listed here, never through pydicom.data.get_testdata_files, which
tries to download missing files.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import data_store
import pydicom
import pydicom.data
import pytest
from pydicom.encaps import generate_frames, parse_fragments

from dcmencaps_lint import FileReport, Severity, lint_paths
from dcmencaps_lint.registry import load_rules

DATA = Path(__file__).parent / "data"
EXPECTED_PATH = DATA / "real_files_expected.json"
README_PATH = DATA / "README.md"
ROOTS = {
    "pydicom": Path(pydicom.data.__file__).parent / "test_files",
    "pydicom-data": Path(data_store.__file__).parent / "data",
}
EXPECTED: dict[str, dict] = (
    json.loads(EXPECTED_PATH.read_text(encoding="utf-8")) if EXPECTED_PATH.exists() else {}
)
# Files valid as far as the catalogue goes: no finding above info (a retired transfer
# syntax, TSX004, is worth knowing but not a defect of the encapsulation).
VALID = sorted(
    name
    for name, e in EXPECTED.items()
    if all(load_rules().get(code).severity is Severity.INFO for code, _ in e["findings"])
)


def lint_real_files() -> dict[str, FileReport]:
    """Every file under both roots, linted with every rule (deep ones too)."""
    reports: dict[str, FileReport] = {}
    for prefix, root in ROOTS.items():
        for report in lint_paths([root], deep=True).files:
            name = f"{prefix}/{Path(report.path).relative_to(root).as_posix()}"
            reports[name] = report
    return reports


def pinned(report: FileReport) -> dict:
    """What the expectation file records for one file."""
    findings = sorted(([f.code, f.offset] for f in report.findings), key=sort_key)
    return {"status": report.status, "findings": findings}


def sort_key(pair: list) -> tuple:
    code, offset = pair
    return (code, -1 if offset is None else offset)


@pytest.fixture(scope="module")
def actual() -> dict[str, FileReport]:
    return lint_real_files()


def test_the_same_files_are_found(actual: dict[str, FileReport]) -> None:
    assert len(actual) > 200  # both roots were found and walked
    assert sorted(actual) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_result_is_pinned(actual: dict[str, FileReport], name: str) -> None:
    got = pinned(actual[name])
    expected = EXPECTED[name]
    assert got["status"] == expected["status"]
    assert sorted(got["findings"], key=sort_key) == sorted(expected["findings"], key=sort_key)


@pytest.mark.parametrize("name", VALID)
def test_valid_file_has_no_error_or_warning(actual: dict[str, FileReport], name: str) -> None:
    loud = [f for f in actual[name].findings if f.severity >= Severity.WARNING]
    assert loud == []


def test_every_flagged_file_is_explained_in_the_readme() -> None:
    readme = README_PATH.read_text(encoding="utf-8")
    flagged = [name for name, e in EXPECTED.items() if e["findings"]]
    assert flagged
    assert [name for name in flagged if f"`{name}`" not in readme] == []


def test_pydicom_agrees_on_fragments_and_frames(actual: dict[str, FileReport]) -> None:
    """pydicom's own item parser finds the same fragments and frames in every file
    the linter walked completely (no item, table or fragment finding)."""
    structural = ("ITM", "BOT", "EOT", "FRG")
    compared = []
    for name, report in actual.items():
        if report.fragments is None or any(f.code.startswith(structural) for f in report.findings):
            continue
        prefix, _, relative = name.partition("/")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(ROOTS[prefix] / relative)
        items, _ = parse_fragments(ds.PixelData)  # the BOT item is counted too
        frames = list(generate_frames(ds.PixelData, number_of_frames=report.number_of_frames))
        compared.append((name, items - 1, len(frames)))
        assert (items - 1, len(frames)) == (report.fragments, report.frames_found), name
    assert len(compared) > 50


START, END = "<!-- every-file:start -->", "<!-- every-file:end -->"


def every_file_lines(reports: dict[str, FileReport]) -> str:
    """One line per file for the README: its verdict."""
    lines = []
    for name, report in sorted(reports.items()):
        if report.status == "skipped":
            verdict = f"skipped ({report.reason})"
        elif not report.findings:
            verdict = "valid"
        else:
            codes = ", ".join(sorted({f.code for f in report.findings}))
            verdict = f"{codes}: see the table above"
        lines.append(f"- `{name}`: {verdict}")
    return "\n".join(lines)


def test_readme_has_one_line_per_file(actual: dict[str, FileReport]) -> None:
    readme = README_PATH.read_text(encoding="utf-8")
    section = readme.split(START)[1].split(END)[0].strip()
    assert section == every_file_lines(actual)


def write_expected() -> None:
    reports = lint_real_files()
    results = {name: pinned(report) for name, report in sorted(reports.items())}
    EXPECTED_PATH.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    readme = README_PATH.read_text(encoding="utf-8")
    if START not in readme:
        readme += f"\n## Every file\n\n{START}\n{END}\n"
    before, rest = readme.split(START)
    after = rest.split(END)[1]
    README_PATH.write_text(
        f"{before}{START}\n{every_file_lines(reports)}\n{END}{after}", encoding="utf-8"
    )


if __name__ == "__main__":
    write_expected()
    sys.exit(0)

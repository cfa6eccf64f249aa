"""The shipped samples are fresh, and each one gives exactly what its name promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dcmencaps_lint import lint_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def test_samples_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_samples.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted((SAMPLES / "valid").glob("*.dcm")), ids=lambda p: p.name)
def test_valid_samples_pass(path: Path) -> None:
    report = lint_file(path)
    assert report.status == "passed"
    assert report.findings == ()


@pytest.mark.parametrize("path", sorted((SAMPLES / "broken").glob("*.dcm")), ids=lambda p: p.name)
def test_broken_samples_give_their_one_finding(path: Path) -> None:
    expected_code = path.name.split("-", 1)[0]
    report = lint_file(path)
    assert report.status == "failed"
    assert [f.code for f in report.findings] == [expected_code]
    finding = report.findings[0]
    assert finding.offset is not None and 0 <= finding.offset <= path.stat().st_size


def test_there_are_samples_of_both_kinds() -> None:
    assert len(list((SAMPLES / "valid").glob("*.dcm"))) >= 3
    assert len(list((SAMPLES / "broken").glob("*.dcm"))) >= 5

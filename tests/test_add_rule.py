"""scripts/add_rule.py: adding a rule touches its family's module, its test module and the
generated pages only, and the new rule is registered, documented and tested (its tests
fail until the rule is written)."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("dcmencaps_lint", "tests", "rules", "scripts", "pyproject.toml")


def _files(root: Path) -> dict[str, Path]:
    return {
        str(path.relative_to(root)): path
        for name in COPIED
        for path in ([root / name] if (root / name).is_file() else (root / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_add_rule_in_a_copy_of_the_project(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, copy / name)
    env = {**os.environ, "PYTHONPATH": str(copy)}
    done = subprocess.run(
        [
            sys.executable,
            "scripts/add_rule.py",
            "FRG",
            "example-rule",
            "--severity",
            "warning",
            "--ref",
            "PS3.5 A.4",
            "--summary",
            "An example",
            "--codecs",
            "JPEG_FAMILY",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("FRG007 example-rule:")

    before, after = _files(ROOT), _files(copy)
    changed = sorted(
        name for name in after if name not in before or not filecmp.cmp(before[name], after[name])
    )
    assert changed == [
        "dcmencaps_lint/rules/frg.py",
        "rules/FRG007.md",
        "rules/README.md",
        "tests/test_rules_frg.py",
    ]

    # registered from the family module as declared, in a fresh interpreter on the copy
    probe = (
        "from dcmencaps_lint.registry import load_rules\n"
        "from dcmencaps_lint.transfer_syntax import JPEG_FAMILY\n"
        "r = load_rules().get('FRG007')\n"
        "print(r.name, r.severity.label, r.reference, r.codecs == JPEG_FAMILY, r.fix.value)\n"
        "import dcmencaps_lint; print(dcmencaps_lint.__file__)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=copy, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert shown[0] == "example-rule warning PS3.5 A.4 True never"
    assert shown[1].startswith(str(copy))

    page = (copy / "rules" / "FRG007.md").read_text()
    assert page.startswith("# FRG007 example-rule\n\nAn example.\n")
    assert (
        "| [FRG007](FRG007.md) | example-rule | warning |" in (copy / "rules/README.md").read_text()
    )

    # the skeleton's tests fail until the rule is written; the docs tests pass
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_rules_frg.py::TestExampleRule", "tests/test_docs.py"],
        cwd=copy, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "2 failed" in tested.stdout, tested.stdout[-2000:]
    assert "FRG007: build the exact bytes of a broken file" in tested.stdout
    assert "tests/test_docs.py" not in "".join(
        line for line in tested.stdout.splitlines() if line.startswith("FAILED")
    )

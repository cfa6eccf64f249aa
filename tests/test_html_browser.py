"""The HTML report in a real browser: headless Chromium (Debian's `chromium`).

Chromium loads the page from disk (file://), runs its script, and prints the DOM
(--dump-dom). The checks read that DOM with html.parser, so they do not rest on what
the page says about itself: the findings are visible, no injected markup is live, the
filters work, and 10,000 files render. A screenshot of the samples' report is kept as
artifacts/html-report.png (a CI artifact; artifacts/ is git-ignored).

Chromium is required: without it these tests fail (.ci/run installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import encapsulated, item, jpeg_frame
from click.testing import CliRunner
from test_format_html import (
    IMG_PAYLOAD,
    NAME_PAYLOAD,
    SCRIPT_PAYLOAD,
    Page,
    injected_markup,
    synthetic_report,
)

from dcmencaps_lint.cli import main
from dcmencaps_lint.formats.html import render_html

ROOT = Path(__file__).parent.parent
SAMPLES = ROOT / "samples"
SCREENSHOT = ROOT / "artifacts" / "html-report.png"
CODE = re.compile(r"^([A-Z]{3}\d{3})-")  # samples/broken/<CODE>-<what>.dcm: one defect each


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "headless Chromium is needed to test the HTML report and is not installed: "
            "apt-get install chromium (.ci/run does this)",
            pytrace=False,
        )
    return found


def browse(chromium: str, page: Path, profile: Path, *mode: str) -> str:
    """Run Chromium headless on a file:// page; its stdout (the DOM with --dump-dom)."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",  # let load and error events finish first
        *mode,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def hostile_files(folder: Path) -> list[Path]:
    """A broken file and a clean one whose names and descriptive strings are payloads."""
    extra = {
        "Manufacturer": SCRIPT_PAYLOAD,
        "ManufacturerModelName": '"><svg onload="window.__xss=5">',
        "InstitutionName": IMG_PAYLOAD,
        "PatientName": SCRIPT_PAYLOAD,
    }
    folder.mkdir()
    broken = encapsulated([jpeg_frame(), jpeg_frame()], bot=item(b"\x00" * 10), extra=extra)
    clean = encapsulated([jpeg_frame()], extra=extra)
    return [
        broken.write(folder / NAME_PAYLOAD),  # type: ignore[list-item]
        clean.write(folder / ("clean-" + NAME_PAYLOAD)),  # type: ignore[list-item]
    ]


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the samples and the hostile files, from the CLI (patient data shown,
    so that those strings go through the page too)."""
    folder = tmp_path_factory.mktemp("report")
    paths = [SAMPLES / "broken", SAMPLES / "valid", *hostile_files(folder / "in")]
    out = folder / "report.html"
    result = CliRunner().invoke(
        main, ["--format", "html", "--show-phi", "-o", str(out), *map(str, paths)]
    )
    assert result.exit_code == 1, result.output
    return out


@pytest.fixture(scope="module")
def rendered(chromium: str, report_page: Path, tmp_path_factory: pytest.TempPathFactory) -> Page:
    profile = tmp_path_factory.mktemp("profile")
    return Page(browse(chromium, report_page, profile, "--dump-dom"))


def broken_samples() -> list[tuple[str, str]]:
    found = []
    for path in sorted((SAMPLES / "broken").glob("*.dcm")):
        match = CODE.match(path.name)
        assert match, path.name
        found.append((path.name, match[1]))
    return found


class TestSamplesReport:
    def test_the_page_script_ran(self, rendered: Page) -> None:
        (html,) = rendered.find_all("html")
        assert "js" in html.classes()
        (shown,) = rendered.find_all("output")
        assert re.fullmatch(r"(\d+) of \1 files shown", shown.text())

    @pytest.mark.parametrize(("name", "code"), broken_samples())
    def test_each_finding_is_visible(self, rendered: Page, name: str, code: str) -> None:
        sections = {Path(p).name: s for p, s in rendered.file_sections().items()}
        section = sections[name]
        assert "open" in section.attrs
        visible = section.visible_text()
        assert code in visible
        (finding,) = [f for f in section.find_all("div", "finding") if f.attrs["data-code"] == code]
        assert "hidden" not in finding.attrs
        assert finding.find_all("p", "msg")[0].text() in visible

    def test_no_injected_markup_is_live(self, rendered: Page) -> None:
        assert injected_markup(rendered) == []
        (script,) = rendered.find_all("script")  # the page's own, only
        assert "__xss" not in script.text()
        svgs = rendered.find_all("svg")
        assert svgs and all(
            set(s.attrs) <= {"width", "height", "viewbox", "role", "aria-label"} for s in svgs
        )

    def test_the_payloads_are_text(self, rendered: Page) -> None:
        (section,) = [s for p, s in rendered.file_sections().items() if p.endswith(NAME_PAYLOAD)]
        visible = section.visible_text()
        for payload in (
            SCRIPT_PAYLOAD,
            IMG_PAYLOAD,
            NAME_PAYLOAD,
            '"><svg onload="window.__xss=5">',
        ):
            assert payload in visible
        listing = rendered.find_all("details", "list")[0].text()
        assert "clean-" + NAME_PAYLOAD in listing

    def test_screenshot(
        self, chromium: str, report_page: Path, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.unlink(missing_ok=True)
        profile = tmp_path_factory.mktemp("shot")
        browse(
            chromium,
            report_page,
            profile,
            "--hide-scrollbars",
            "--window-size=1280,2000",
            f"--screenshot={SCREENSHOT}",
        )
        assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Appended to a copy of the page, without its Content-Security-Policy (which would stop
# any injected script by itself): so this checks the escaping alone. After the load
# event (and so after any image error), it records window.__xss, then unticks the
# BOT001 rule filter as a user would. (It spells __xss in two pieces, so that no
# script with that name in it is ours.)
PROBE = """<script>
window.addEventListener("load", function () {
  document.body.setAttribute("data-xss", String(window["__" + "xss"]));
  var box = document.querySelector('input[data-filter="code"][value="BOT001"]');
  box.click();
});
</script>"""


@pytest.fixture(scope="module")
def probed(chromium: str, report_page: Path, tmp_path_factory: pytest.TempPathFactory) -> Page:
    folder = tmp_path_factory.mktemp("probe")
    html = report_page.read_text(encoding="utf-8")
    html, removed = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert removed == 1
    copy = folder / "probe.html"
    copy.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    return Page(browse(chromium, copy, folder / "profile", "--dump-dom"))


class TestWithoutThePolicy:
    def test_no_payload_ran(self, probed: Page) -> None:
        (body,) = probed.find_all("body")
        assert body.attrs["data-xss"] == "undefined"
        assert injected_markup(probed) == []

    def test_the_rule_filter_hides_that_rule(self, probed: Page) -> None:
        sections = {Path(p).name: s for p, s in probed.file_sections().items()}
        assert "hidden" in sections["BOT001-bot-length-10.dcm"].attrs
        assert "hidden" not in sections["ITM004-odd-fragment.dcm"].attrs
        hidden = [f for f in probed.find_all("div", "finding") if "hidden" in f.attrs]
        assert hidden and {f.attrs["data-code"] for f in hidden} == {"BOT001"}
        (shown,) = probed.find_all("output")
        total = len(sections)
        with_bot001_only = [
            s
            for s in sections.values()
            if {f.attrs["data-code"] for f in s.find_all("div", "finding")} == {"BOT001"}
        ]
        assert shown.text() == f"{total - len(with_bot001_only)} of {total} files shown"


def test_ten_thousand_files_render(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "big.html"
    page.write_text(render_html(synthetic_report()), encoding="utf-8")
    dom = Page(browse(chromium, page, tmp_path / "profile", "--dump-dom"))
    assert len(dom.find_all("details", "file")) == 10_000
    (shown,) = dom.find_all("output")
    assert shown.text() == "10000 of 10000 files shown"

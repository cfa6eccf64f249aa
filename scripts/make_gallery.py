"""Write the report gallery: every output format for the sample files, under reports/.

    python scripts/make_gallery.py            # (re)write reports/samples.*
    python scripts/make_gallery.py --check    # exit 1 when the gallery is stale

The reports are made by the command line itself, from the repository root, so that
their paths read `samples/...` whatever the machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from click.testing import CliRunner

from dcmencaps_lint import cli

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "reports"
FILE_NAMES = {
    "text": "samples.txt",
    "json": "samples.json",
    "jsonl": "samples.jsonl",
    "html": "samples.html",
    "sarif": "samples.sarif",
    "sarif-github": "samples.github.sarif",
    "junit": "samples.junit.xml",
    "github": "samples.github-annotations.txt",
    "gitlab": "samples.gitlab-codequality.json",
}


def render(fmt: str) -> str:
    """The report of samples/ in one format, as the command line prints it."""
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(cli.main, ["--format", fmt, "--jobs", "1", "samples"])
    finally:
        os.chdir(here)
    if result.exit_code not in (0, 1):
        raise RuntimeError(f"--format {fmt} exited {result.exit_code}: {result.output}")
    return result.stdout


def main(argv: list[str]) -> int:
    missing = [fmt for fmt in cli.FORMATS if fmt not in FILE_NAMES]
    if missing:
        print("no gallery file name for format(s):", *missing)
        return 1
    stale = []
    for fmt in cli.FORMATS:
        path = GALLERY / FILE_NAMES[fmt]
        text = render(fmt)
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale gallery (run python scripts/make_gallery.py):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

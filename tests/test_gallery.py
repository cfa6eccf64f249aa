"""reports/ shows every output format for the samples, and is kept fresh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gallery_is_fresh_and_covers_every_format() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_gallery.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""Renderers: turn a Report into text for people or documents for tools.

Renderers never filter findings or decide exit codes; the engine does that once.
"""

from __future__ import annotations

from collections.abc import Callable

from dcmencaps_lint.formats.github import render_github
from dcmencaps_lint.formats.gitlab import render_gitlab
from dcmencaps_lint.formats.html import render_html
from dcmencaps_lint.formats.json import render_json
from dcmencaps_lint.formats.jsonl import render_jsonl
from dcmencaps_lint.formats.junit import render_junit
from dcmencaps_lint.formats.sarif import render_sarif, render_sarif_github
from dcmencaps_lint.formats.text import render_text

Renderer = Callable[..., str]

RENDERERS: dict[str, Renderer] = {
    "text": render_text,
    "json": render_json,
    "jsonl": render_jsonl,
    "html": render_html,
    "sarif": render_sarif,
    "sarif-github": render_sarif_github,
    "junit": render_junit,
    "github": render_github,
    "gitlab": render_gitlab,
}

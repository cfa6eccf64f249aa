"""Renderers: turn a Report into text for people or documents for tools.

Renderers never filter findings or decide exit codes; the engine does that once.
"""

from __future__ import annotations

from collections.abc import Callable

from dcmencaps_lint.formats.json import render_json
from dcmencaps_lint.formats.text import render_text

Renderer = Callable[..., str]

RENDERERS: dict[str, Renderer] = {
    "text": render_text,
    "json": render_json,
}

"""Renderers: turn a Report into text for people or documents for tools.

Renderers never filter findings or decide exit codes; the engine does that once.
A renderer's module is imported when the renderer is first looked up: a run pays for
its own format only (HTML brings jinja2, SARIF the rule documentation).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

Renderer = Callable[..., str]

# format -> (module in this package, function)
_WHERE: dict[str, tuple[str, str]] = {
    "text": ("text", "render_text"),
    "json": ("json", "render_json"),
    "jsonl": ("jsonl", "render_jsonl"),
    "html": ("html", "render_html"),
    "sarif": ("sarif", "render_sarif"),
    "sarif-github": ("sarif", "render_sarif_github"),
    "junit": ("junit", "render_junit"),
    "github": ("github", "render_github"),
    "gitlab": ("gitlab", "render_gitlab"),
}


class _Renderers(Mapping[str, Renderer]):
    """Format name -> renderer, each imported on first use."""

    def __getitem__(self, fmt: str) -> Renderer:
        module, function = _WHERE[fmt]
        renderer: Renderer = getattr(importlib.import_module(f"{__name__}.{module}"), function)
        return renderer

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


RENDERERS: Mapping[str, Renderer] = _Renderers()

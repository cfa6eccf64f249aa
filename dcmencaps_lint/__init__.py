"""encaps-lint: a linter for the encapsulated (compressed) Pixel Data of DICOM files.

>>> from dcmencaps_lint import lint_file
>>> report = lint_file("image.dcm")            # doctest: +SKIP
>>> [f.code for f in report.findings]          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dcmencaps_lint.engine import Options, lint_file, lint_paths
    from dcmencaps_lint.model import FileReport, Finding, Report, Severity, Summary
    from dcmencaps_lint.registry import Selection

__version__ = "0.1.0"
__all__ = [
    "FileReport",
    "Finding",
    "Options",
    "Report",
    "Selection",
    "Severity",
    "Summary",
    "__version__",
    "lint_file",
    "lint_paths",
]

# Imported on first use (PEP 562), so that `encaps-lint --version`, the command line's
# start-up and `import dcmencaps_lint.model` do not pay for the engine.
_WHERE = {
    "Options": "engine",
    "lint_file": "engine",
    "lint_paths": "engine",
    "FileReport": "model",
    "Finding": "model",
    "Report": "model",
    "Severity": "model",
    "Summary": "model",
    "Selection": "registry",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""encaps-lint: a linter for the encapsulated (compressed) Pixel Data of DICOM files.

>>> from dcmencaps_lint import lint_file
>>> report = lint_file("image.dcm")            # doctest: +SKIP
>>> [f.code for f in report.findings]          # doctest: +SKIP

Rule plugins use the rest of what is exported here: `rule`, `Needs`, `Deep`, the
contexts, `Shape`, `Problem`, `Severity`, `FixAvailability`, `Codec` (see the README).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dcmencaps_lint.context import (
        Context,
        EncapsulatedContext,
        ItemsContext,
        Needs,
        PixelContext,
        Shape,
    )
    from dcmencaps_lint.engine import Linter, Options, lint_file, lint_paths
    from dcmencaps_lint.findings import Finding
    from dcmencaps_lint.model import FileReport, Problem, Report, Severity, Summary
    from dcmencaps_lint.registry import Deep, FixAvailability, Selection, rule
    from dcmencaps_lint.transfer_syntax import Codec

__version__ = "0.1.0"
__all__ = [
    "Codec",
    "Context",
    "Deep",
    "EncapsulatedContext",
    "FileReport",
    "Finding",
    "FixAvailability",
    "ItemsContext",
    "Linter",
    "Needs",
    "Options",
    "PixelContext",
    "Problem",
    "Report",
    "Selection",
    "Severity",
    "Shape",
    "Summary",
    "__version__",
    "lint_file",
    "lint_paths",
    "rule",
]

# Imported on first use (PEP 562), so that `encaps-lint --version`, the command line's
# start-up and `import dcmencaps_lint.model` do not pay for the engine.
_WHERE = {
    "Linter": "engine",
    "Options": "engine",
    "lint_file": "engine",
    "lint_paths": "engine",
    "FileReport": "model",
    "Finding": "findings",
    "Problem": "model",
    "Report": "model",
    "Severity": "model",
    "Summary": "model",
    "Selection": "registry",
    "rule": "registry",
    "Deep": "registry",
    "Context": "context",
    "PixelContext": "context",
    "ItemsContext": "context",
    "EncapsulatedContext": "context",
    "Needs": "context",
    "Shape": "context",
    "FixAvailability": "registry",
    "Codec": "transfer_syntax",
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

"""encaps-lint: a linter for the encapsulated (compressed) Pixel Data of DICOM files.

>>> from dcmencaps_lint import lint_file
>>> report = lint_file("image.dcm")            # doctest: +SKIP
>>> [f.code for f in report.findings]          # doctest: +SKIP
"""

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

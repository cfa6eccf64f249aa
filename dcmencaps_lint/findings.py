"""Finding: one problem a rule found, as every report gives it.

A frozen dataclass, as the Python API promises (SPEC). It has a module of its own so that
a run that finds nothing never imports `dataclasses`: that import (which brings `inspect`,
`ast`, `dis` and `tokenize` with it) and this class's definition cost some 10 ms of
every start-up, a fifth of a run over one clean file. Everything else that a run returns
is a named tuple (model.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcmencaps_lint.fixes import Edit
    from dcmencaps_lint.severity import Severity


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    offset: int | None = None  # absolute byte offset in the file
    length: int | None = None
    frame: int | None = None  # 1-based, as DICOM numbers frames
    item: int | None = None  # 0 = BOT item, 1..n = fragments
    element: str = "(7FE0,0010)"
    reference: str = ""
    # The rule's repair (fixes.py); not part of what a finding says, so it is left out of
    # its comparison, its repr and the reports (the fixer reads it).
    fix: Edit | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, object]:
        """The fields by name, as they are (dataclasses.asdict would also copy `fix`)."""
        return dict(zip(_FIELD_NAMES, _finding_fields(self), strict=True))

    def __reduce__(self) -> tuple[type[Finding], tuple[object, ...]]:
        # Worker processes send every finding to the parent: as the fields in order, the
        # pickle is all C (dataclasses' own state functions are Python loops).
        return Finding, _finding_fields(self)


_FIELD_NAMES = tuple(Finding.__dataclass_fields__)
_finding_fields = attrgetter(*_FIELD_NAMES)

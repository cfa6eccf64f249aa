"""How bad a finding is: its own module, which the results (model.py) and Finding
(findings.py) both name."""

from __future__ import annotations

import enum


class Severity(enum.IntEnum):
    """Ordered so that `--fail-on` is a comparison."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (error, warning, info)") from None

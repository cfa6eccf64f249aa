"""Built-in rules, one module per family (registry.BUILTIN_MODULES; the catalogue is
rules/README.md, generated from them)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from dcmencaps_lint.model import Problem

Check = Callable[[Any], Iterator[Problem]]


def offering(edit: str) -> Callable[[Check], Check]:
    """A check whose every problem offers the same fix: `fixes.<edit>()`, a structure
    edit without arguments. fixes.py is imported only when a problem is found: a lint
    that finds nothing to fix does not pay for its classes."""

    def offering_edit(check: Check) -> Check:
        @functools.wraps(check)
        def checked(ctx: Any) -> Iterator[Problem]:
            for problem in check(ctx):
                from dcmencaps_lint import fixes

                yield problem._replace(fix=getattr(fixes, edit)())

        return checked

    return offering_edit

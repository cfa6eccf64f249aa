"""Builds the compiled core (dcmencaps_lint/_core.c) where a C compiler is found.

Everything else is in pyproject.toml. Without a compiler, or with
ENCAPS_LINT_PUREPYTHON=1 set, the install still succeeds and encaps-lint runs its pure-
Python twin of the core (the same reports; files of many frames take longer).
`encaps-lint --version` says which one runs.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PURE_PYTHON = os.environ.get("ENCAPS_LINT_PUREPYTHON", "") not in ("", "0")


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing: the core is an optimisation."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all (setuptools raises several kinds)
            self._skipped(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # the compiler failed on this machine
            self._skipped(exc)

    @staticmethod
    def _skipped(exc: Exception) -> None:
        print(
            f"encaps-lint: the compiled core was not built ({exc}); the pure-Python path "
            "will run (same reports, slower on files of many frames)",
            file=sys.stderr,
        )


core = Extension(
    "dcmencaps_lint._core",
    sources=["dcmencaps_lint/_core.c"],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
    extra_link_args=["-pthread"],  # the second walker of a long run of items (SPLIT_MIN)
)

setup(
    ext_modules=[] if PURE_PYTHON else [core],
    cmdclass={"build_ext": OptionalBuildExt},
)

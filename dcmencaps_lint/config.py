"""Configuration files: `[tool.encaps-lint]` in pyproject.toml, or encaps-lint.toml.

Discovery. With `--config FILE` that file is read (a file named pyproject.toml is read
from its `[tool.encaps-lint]` table, any other file from its top level). Otherwise the
folders from the current one upwards are searched, and the closest folder that has
either file wins; in one folder a pyproject.toml with a `[tool.encaps-lint]` table comes
before encaps-lint.toml, and a pyproject.toml without that table is skipped.

Keys mirror the command-line options: `select`, `ignore`, `extend-select`,
`extend-ignore` (lists, or comma-separated strings), `fail-on`, `deep`, `decode`, `jobs`,
`timeout` (seconds per file, 0: no limit), `format`, `output`, `statistics`, `baseline`;
plus `per-file-ignores` (a table, glob ->
codes, families or names) and `severity` (a table, code or name -> "error", "warning"
or "info"). Paths (`output`, `baseline`) are relative to the config file's folder.

How the command line combines with the file. A scalar option given on the command line
wins over the file. The selection is the file's `select` (default ALL) plus
`extend-select`, minus `ignore` and `extend-ignore`; `--extend-select`, `--ignore` and
`--extend-ignore` add to it (a selector named by `--extend-select` is no longer ignored
by the file), while `--select` starts it over (the file's four selection keys are then
dropped, as in ruff). `per-file-ignores` and `severity` always apply.

Per-file-ignores path matching (decided here, applied by the engine):
- Paths are compared as POSIX strings ("/" separators), case-sensitively, with
  `fnmatch` rules: `*` matches any characters *including* "/", `?` one character,
  `[...]` a set (so `legacy/*` also matches files in sub-folders of legacy/).
- `**/` also matches no folder at all: `**/icons/*.dcm` matches `icons/a.dcm`.
- A pattern without "/" matches the file's name: `"*.DCM"`, `"DICOMDIR"`.
- A pattern with "/" matches the path as given on the command line (a leading `./`
  dropped) or the file's absolute path under the config file's folder: from the
  repository root or a sub-folder, `legacy/**` means the same files.
Unknown keys, values of the wrong type and unknown codes are errors (exit 2) whose one
line names the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

    from dcmencaps_lint.registry import RuleSet

PYPROJECT = "pyproject.toml"
CONFIG_FILE = "encaps-lint.toml"
TABLE = "encaps-lint"
FAIL_ON = ("error", "warning", "info", "never")
LEVELS = ("error", "warning", "info")

_SELECTORS = ("select", "extend-select", "ignore", "extend-ignore")
_KEYS = (
    *_SELECTORS,
    "fail-on",
    "deep",
    "decode",
    "jobs",
    "timeout",
    "format",
    "output",
    "statistics",
    "baseline",
    "per-file-ignores",
    "severity",
)
# config key -> the CLI parameter it sets when the command line does not
_SCALARS = {
    "fail-on": "fail_on",
    "deep": "deep",
    "decode": "decode",
    "jobs": "jobs",
    "timeout": "timeout",
    "format": "fmt",
    "output": "output",
    "statistics": "statistics",
    "baseline": "baseline",
}


class ConfigError(Exception):
    """A configuration file that cannot be used; the message is one line."""


class Config(NamedTuple):
    """The validated content of one configuration file."""

    path: str  # as shown in messages
    values: Mapping[str, Any] = MappingProxyType({})  # scalar keys, validated
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    extend_ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    severity: tuple[tuple[str, Any], ...] = ()  # (code, Severity)

    def apply(self, params: Mapping[str, Any], given: Collection[str]) -> dict[str, Any]:
        """The CLI parameters with this file's values wherever the command line gave none.

        `params` are click's parameter values by name; `given` names those that came
        from the command line. Adds `per_file_ignores` and `severity`.
        """
        merged = dict(params)
        for key, name in _SCALARS.items():
            if key in self.values and name not in given:
                merged[name] = self.values[key]
        if "select" not in given:  # else --select starts the selection over
            # What --extend-select names outright beats the file's ignore of the same.
            added = {s.strip().upper() for v in params["extend_select"] for s in v.split(",")}
            ignored = tuple(s for s in self.ignore + self.extend_ignore if s.upper() not in added)
            merged["select"] = self.select or ()
            merged["extend_select"] = self.extend_select + tuple(params["extend_select"])
            merged["ignore"] = ignored + tuple(params["ignore"])
        merged["per_file_ignores"] = self.per_file_ignores
        merged["severity"] = self.severity
        return merged


def discover(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file that applies in `start` (default: the current folder)."""
    # os.path, not pathlib: this runs on every run, and pathlib costs start-up time.
    folder = os.path.abspath(start if start is not None else os.getcwd())
    while True:
        for name in (PYPROJECT, CONFIG_FILE):
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate) and (name == CONFIG_FILE or _has_table(candidate)):
                from pathlib import Path

                return Path(candidate)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _has_table(path: str) -> bool:
    import tomllib  # here and below: most runs find no configuration file

    try:
        with open(path, encoding="utf-8") as fh:
            data = tomllib.loads(fh.read())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # not ours to judge: a broken pyproject.toml without our table
    tool = data.get("tool")
    return isinstance(tool, dict) and TABLE in tool


def load(path: str | os.PathLike[str] | None = None) -> Config | None:
    """Read and validate `path`, or the discovered file; None when there is none."""
    if path is None:
        found = discover()
        if found is None:
            return None
        path = found
    import tomllib
    from pathlib import Path

    shown = _shown(Path(path))

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: invalid TOML: {exc}") from None
    if Path(path).name == PYPROJECT:
        tool = data.get("tool")
        if not isinstance(tool, dict) or TABLE not in tool:
            raise ConfigError(f"{shown}: no [tool.{TABLE}] table")
        data = tool[TABLE]
        if not isinstance(data, dict):
            raise ConfigError(f"{shown}: [tool.{TABLE}] must be a table")
        shown = f"{shown} [tool.{TABLE}]"
    return _validate(data, shown, Path(path).absolute().parent)


def _shown(path: Path) -> str:
    """The file as messages name it: relative to the current folder when below it."""
    try:
        return str(path.absolute().relative_to(os.getcwd()))
    except ValueError:
        return str(path)


def selector_list(value: Any, rules: RuleSet) -> tuple[str, ...]:
    """Codes, families or names from a list of strings or a comma string, each known;
    ValueError saying what is wrong (the caller names the key). Also the Orthanc gate's
    "Select" and "Ignore"."""
    from dcmencaps_lint.registry import Selection, SelectionError

    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of codes, families or names (or a comma string)")
    codes = tuple(v.strip() for v in value if v.strip())
    try:
        Selection(codes).validate(rules)
    except SelectionError as exc:
        raise ValueError(str(exc)) from None
    return codes


def _validate(data: Mapping[str, Any], shown: str, folder: Path) -> Config:
    from dcmencaps_lint.formats import RENDERERS
    from dcmencaps_lint.model import Severity
    from dcmencaps_lint.registry import load_rules

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{shown}: {key}: {problem}")

    for key in data:
        if key not in _KEYS:
            import difflib

            close = difflib.get_close_matches(key, _KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{shown}: unknown key {key!r}{hint}")

    rules = load_rules()

    def selectors(key: str, value: Any) -> tuple[str, ...]:
        try:
            return selector_list(value, rules)
        except ValueError as exc:
            raise fail(key, str(exc)) from None

    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("deep", "decode", "statistics"):
            if not isinstance(value, bool):
                raise fail(key, f"expected true or false, not {value!r}")
            values[key] = value
        elif key == "jobs":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise fail(key, f"expected a whole number of at least 1, not {value!r}")
            values[key] = value
        elif key == "timeout":
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise fail(key, f"expected a number of seconds, 0 or more, not {value!r}")
            values[key] = float(value)
        elif key in ("fail-on", "format"):
            choices = FAIL_ON if key == "fail-on" else tuple(RENDERERS)
            if value not in choices:
                raise fail(key, f"expected one of {', '.join(choices)}, not {value!r}")
            values[key] = value
        elif key in ("output", "baseline"):
            if not isinstance(value, str) or not value:
                raise fail(key, f"expected a file path, not {value!r}")
            values[key] = str(folder / value)

    pfi = data.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise fail("per-file-ignores", "expected a table of glob = [codes]")
    per_file: list[tuple[str, tuple[str, ...]]] = []
    for pattern, codes in pfi.items():
        checked = selectors(f"per-file-ignores.{pattern!r}", codes)
        per_file.extend((p, checked) for p in _patterns(pattern, folder))

    levels = data.get("severity", {})
    if not isinstance(levels, dict):
        raise fail("severity", 'expected a table of code = "error" | "warning" | "info"')
    severity = []
    for code, level in levels.items():
        r = rules.get(code)
        if r is None:
            raise fail(f"severity.{code}", f"unknown rule code or name {code!r}")
        if level not in LEVELS:
            raise fail(f"severity.{code}", f"expected one of {', '.join(LEVELS)}, not {level!r}")
        severity.append((r.code, Severity.parse(level)))

    return Config(
        path=shown,
        values=values,
        select=selectors("select", data["select"]) if "select" in data else None,
        extend_select=selectors("extend-select", data.get("extend-select", [])),
        ignore=selectors("ignore", data.get("ignore", [])),
        extend_ignore=selectors("extend-ignore", data.get("extend-ignore", [])),
        per_file_ignores=tuple(per_file),
        severity=tuple(severity),
    )


def _patterns(pattern: str, folder: Path) -> list[str]:
    """The pattern as written and, for one with a "/", anchored at the config's folder."""
    posix = pattern.replace(os.sep, "/")
    if "/" not in posix or posix.startswith("/"):
        return [posix]
    import glob

    anchor = glob.escape(folder.as_posix().rstrip("/"))
    return [posix, f"{anchor}/{posix.removeprefix('./')}"]

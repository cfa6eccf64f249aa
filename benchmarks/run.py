"""Time encaps-lint against pydicom and the DICOM toolkits on generate.py's workloads.

    python benchmarks/run.py [--workdir /tmp/encaps-lint-bench] [--runs 7]
                             [--only wsi-200k] [--tools encaps-lint,dciodvfy] [-o table.md]

encaps-lint-python is encaps-lint with ENCAPS_LINT_PUREPYTHON=1: the compiled core's
pure-Python fallback, so the two columns say what the compiled core gains.

Every measurement is a whole process (start-up included), as a user runs it. The tools
alternate run by run (A B C A B C ...) so that a slow drift of the machine spreads over
all of them; each first runs once unmeasured to warm the page cache. A tool whose run
takes more than --slow seconds is cut to --slow-runs runs. Reported: the median wall
time, the peak RSS (ru_maxrss of the process, from os.wait4 on its pid: a process that
runs others, such as a shell loop, reports its largest child) and the ratio of the
median to encaps-lint's. Prints a Markdown table and a line naming the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import functools
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:  # python benchmarks/run.py puts benchmarks/ on sys.path; the tests import the package
    from benchmarks import generate
except ImportError:
    import generate  # type: ignore[no-redef]

REFERENCE = "encaps-lint"
# Set for encaps-lint-python: forces the pure-Python fallback of the compiled core.
PURE_PYTHON = {"ENCAPS_LINT_PUREPYTHON": "1"}

# Column key -> column title; the legend under the table says what each one runs.
TOOLS = {
    "encaps-lint": "encaps-lint",
    "encaps-lint-j2": "encaps-lint --jobs 2",
    "encaps-lint-python": "encaps-lint, pure Python",
    "pydicom-fast": "pydicom fast path",
    "pydicom-frames": "pydicom frames",
    "pydicom-dcmread": "pydicom dcmread",
    "dciodvfy": "dciodvfy",
    "dcmdump": "dcmdump",
    "dcmdump-m": "dcmdump -q -M",
    "gdcminfo": "gdcminfo",
    # --floors: what part of encaps-lint's time is not its rules (not run by default)
    "python-startup": "Python start-up",
    "encaps-lint-startup": "encaps-lint start-up",
    "encaps-lint-no-rules": "encaps-lint, no check rule",
    "encaps-lint-no-rules-j2": "encaps-lint --jobs 2, no check rule",
}
FLOORS_ONLY = (
    "python-startup",
    "encaps-lint-startup",
    "encaps-lint-no-rules",
    "encaps-lint-no-rules-j2",
)
DEFAULT_TOOLS = tuple(t for t in TOOLS if t not in FLOORS_ONLY)
FLOOR_TOOLS = (
    *FLOORS_ONLY,
    "encaps-lint",
    "encaps-lint-j2",
    "dciodvfy",
    "dcmdump",
    "dcmdump-m",
    "gdcminfo",
)
# Only the engine's own PRS findings: no rule's check runs.
NO_RULES = ("--select", "PRS")
# Costs that do not depend on the workload: shown in ms, never in files/s.
FIXED_COST = {"python-startup", "encaps-lint-startup"}
LEGEND = {
    "encaps-lint": "`encaps-lint PATH -q --jobs 1`",
    "encaps-lint-j2": "`encaps-lint FOLDER -q --jobs 2` (small files only)",
    "encaps-lint-python": "`ENCAPS_LINT_PUREPYTHON=1 encaps-lint PATH -q --jobs 1`: the "
    "pure-Python fallback of the compiled core",
    "pydicom-fast": "`dcmread(f, stop_before_pixels=True)`, then `parse_basic_offsets` and "
    "`parse_fragments` on the open file (item headers only), fragments counted",
    "pydicom-frames": "the same, then `generate_fragmented_frames(f, extended_offsets=EOT)`: "
    "reads every frame",
    "pydicom-dcmread": "`dcmread(path)`: the whole file in memory",
    "dciodvfy": "`dciodvfy FILE` (dicom3tools; one process per file)",
    "dcmdump": "`dcmdump FILE` (DCMTK; `dcmdump +sd FOLDER` for the small files)",
    "dcmdump-m": "`dcmdump -q -M FILE`: the same, quiet, no long value loaded (its pixel "
    "data is never read; `dcmdump -q -M +sd FOLDER` for the small files)",
    "gdcminfo": "`gdcminfo FILE` (GDCM; `gdcminfo FOLDER` for the small files)",
    "python-startup": "`python -c pass`: the interpreter and site, nothing imported",
    "encaps-lint-startup": "`encaps-lint --version`: Python, click and encaps-lint's modules",
    "encaps-lint-no-rules": "`encaps-lint PATH -q --jobs 1 --select PRS`: the data set read, "
    "the items walked, the frames mapped and the report written, but no rule's check run",
    "encaps-lint-no-rules-j2": "the same with `--jobs 2` (small files only)",
}

# Shared by the pydicom scripts: the files to read, and the way to the Pixel Data items.
_PYDICOM_COMMON = r"""
import os, sys
from pydicom import dcmread
from pydicom.encaps import generate_fragmented_frames, parse_basic_offsets, parse_fragments

def paths(target):
    if os.path.isdir(target):
        return sorted(e.path for e in os.scandir(target) if e.name.endswith(".dcm"))
    return [target]

def at_items(f):
    ds = dcmread(f, stop_before_pixels=True)  # leaves f at the (7FE0,0010) tag
    if f.read(12) != b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff":
        sys.exit(f"{f.name}: no encapsulated Pixel Data where it was expected")
    return ds, int(ds.get("NumberOfFrames") or 1)
"""
PYDICOM_FAST = (
    _PYDICOM_COMMON
    + r"""
for path in paths(sys.argv[1]):
    with open(path, "rb") as f:
        ds, frames = at_items(f)
        offsets = parse_basic_offsets(f)
        count, positions = parse_fragments(f)
        if count != frames:  # one fragment per frame in every workload
            sys.exit(f"{path}: {count} fragments for {frames} frames")
"""
)
PYDICOM_FRAMES = (
    _PYDICOM_COMMON
    + r"""
for path in paths(sys.argv[1]):
    with open(path, "rb") as f:
        ds, frames = at_items(f)
        eot = None
        if "ExtendedOffsetTable" in ds:
            eot = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
        found = 0
        for _ in generate_fragmented_frames(f, number_of_frames=frames, extended_offsets=eot):
            found += 1
        if found != frames:
            sys.exit(f"{path}: {found} frames, not {frames}")
"""
)
PYDICOM_DCMREAD = (
    _PYDICOM_COMMON
    + r"""
for path in paths(sys.argv[1]):
    if not dcmread(path).PixelData:
        sys.exit(f"{path}: no Pixel Data")
"""
)

# Memory a tool needs per byte of the file it reads whole (measured: 1.0 and 2.1)
MEMORY_PER_BYTE = {"pydicom-dcmread": 1.5, "gdcminfo": 2.5}


@dataclass(frozen=True)
class Case:
    """One tool on one workload: the command to time, or why it is not run."""

    tool: str
    argv: tuple[str, ...] = ()
    skip: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # (name, value) set on top of this environment


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    max_rss: int  # bytes
    exit_code: int
    error: str = ""  # the last line on stderr when the exit code is not 0


@dataclass
class Result:
    case: Case
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak_rss(self) -> int:
        return max(s.max_rss for s in self.samples)

    @property
    def exit_codes(self) -> list[int]:
        return sorted({s.exit_code for s in self.samples})


# Forks a subshell that waits for a line on the shell's stdin (the gate: fd 3, as an
# asynchronous list's own stdin is /dev/null), then becomes the command (exec, same pid)
# with no input and its output discarded; prints that pid and exits at once.
_LAUNCH = 'exec 3<&0; (read _ <&3; exec "$@" 3<&- </dev/null) >/dev/null & echo $!'
PR_SET_CHILD_SUBREAPER = 36


@functools.cache
def _become_subreaper() -> None:
    """Orphans of the processes this one starts become its children, to wait4 on."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def time_process(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Sample:
    """Run `argv` once (output discarded): wall time, its own peak RSS and exit code.

    `env`: variables set for the command, on top of this process's environment (given to
    the shell, which the command inherits through exec: nothing more is timed).

    The peak RSS is the ru_maxrss that os.wait4 gives for the command's pid: that process
    with the children it waited for, never the other processes this script ran (as
    RUSAGE_CHILDREN would mix them). Linux counts in ru_maxrss the memory of the process
    a command was forked from, so the command is not forked from this (large) Python but
    from a small shell (/bin/sh, about 1 MB): the shell starts a subshell that waits at a
    gate and exits; this process, a child subreaper, inherits the subshell, opens the
    gate, and the clock runs from there until the command (exec'd by the subshell, same
    pid) has exited.
    """
    _become_subreaper()
    gate, opener = os.pipe()
    try:
        with tempfile.TemporaryFile() as stderr:
            shell = subprocess.Popen(
                ["/bin/sh", "-c", _LAUNCH, "sh", *argv],
                stdin=gate,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, **env} if env else None,
            )
            pid_text, _ = shell.communicate()
            started = time.perf_counter()
            os.write(opener, b"\n")
            _, status, usage = os.wait4(int(pid_text), 0)
            wall = time.perf_counter() - started
            exit_code = os.waitstatus_to_exitcode(status)
            error = ""
            if exit_code:
                stderr.seek(max(0, stderr.tell() - 2000))
                lines = stderr.read().decode(errors="replace").strip().splitlines()
                error = lines[-1] if lines else ""
    finally:
        os.close(gate)
        os.close(opener)
    return Sample(wall, usage.ru_maxrss * 1024, exit_code, error)  # ru_maxrss is in KiB


def measure(
    cases: Sequence[Case],
    runs: int = 7,
    warmup: int = 1,
    slow: float = 10.0,
    slow_runs: int = 3,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """Time every case `runs` times, alternating cases run by run, after `warmup` rounds.

    A case with a measured run longer than `slow` seconds gets only `slow_runs` runs.
    Skipped cases come back with no samples.
    """
    results = [Result(case) for case in cases]
    planned = {case.tool: runs for case in cases}
    active = [r for r in results if r.case.skip is None]
    for round_ in range(warmup + runs):
        timings = []
        for result in active:
            tool = result.case.tool
            if round_ >= warmup and len(result.samples) >= planned[tool]:
                continue
            sample = time_process(result.case.argv, dict(result.case.env))
            if round_ >= warmup:  # a warm-up run may be slow only for a cold page cache
                result.samples.append(sample)
                if sample.wall > slow:
                    planned[tool] = min(planned[tool], slow_runs)
            timings.append(f"{tool} {sample.wall:.2f} s")
        if progress and timings:
            kind = "warm-up" if round_ < warmup else f"run {round_ - warmup + 1}/{runs}"
            progress(f"{kind}: " + ", ".join(timings))
    return results


# --- what to run ----------------------------------------------------------------------------


def encaps_lint_command() -> list[str]:
    """The encaps-lint next to the running interpreter, else `python -m dcmencaps_lint`."""
    script = Path(sys.executable).parent / "encaps-lint"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dcmencaps_lint"]


def memory_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes (0 when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cases_for(workload: generate.Workload, path: Path, tools: Sequence[str]) -> list[Case]:
    """The command for each selected tool on `workload` (at `path`)."""
    target = str(path)
    python = sys.executable
    lint = encaps_lint_command()
    size = sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size
    available = memory_available()
    commands: dict[str, list[str]] = {
        "encaps-lint": [*lint, target, "-q", "--jobs", "1"],
        "encaps-lint-python": [*lint, target, "-q", "--jobs", "1"],  # with PURE_PYTHON
        "pydicom-fast": [python, "-c", PYDICOM_FAST, target],
        "pydicom-frames": [python, "-c", PYDICOM_FRAMES, target],
        "pydicom-dcmread": [python, "-c", PYDICOM_DCMREAD, target],
        "python-startup": [python, "-c", "pass"],
        "encaps-lint-startup": [*lint, "--version"],
        "encaps-lint-no-rules": [*lint, target, "-q", "--jobs", "1", *NO_RULES],
    }
    if workload.folder:
        commands["encaps-lint-j2"] = [*lint, target, "-q", "--jobs", "2"]
        commands["encaps-lint-no-rules-j2"] = [*lint, target, "-q", "--jobs", "2", *NO_RULES]
        loop = 'for f in "$1"/*.dcm; do dciodvfy "$f"; done'  # it takes one file
        commands["dciodvfy"] = ["sh", "-c", loop, "sh", target]
        commands["dcmdump"] = ["dcmdump", "+sd", target]
        commands["dcmdump-m"] = ["dcmdump", "-q", "-M", "+sd", target]
        commands["gdcminfo"] = ["gdcminfo", target]
    else:
        commands.update(dciodvfy=["dciodvfy", target], dcmdump=["dcmdump", target])
        commands["dcmdump-m"] = ["dcmdump", "-q", "-M", target]
        commands["gdcminfo"] = ["gdcminfo", target]
    cases = []
    for tool in tools:
        if tool not in commands:
            continue
        argv = commands[tool]
        program = "dciodvfy" if argv[0] == "sh" else argv[0]  # the loop's program
        needs = MEMORY_PER_BYTE.get(tool, 0) * size
        if shutil.which(program) is None:
            cases.append(Case(tool, skip="not installed"))
        elif not workload.folder and available and needs > available:
            cases.append(Case(tool, skip=f"skipped (needs ~{needs / 1e9:.0f} GB of memory)"))
        else:
            env = tuple(PURE_PYTHON.items()) if tool == "encaps-lint-python" else ()
            cases.append(Case(tool, tuple(argv), env=env))
    return cases


# --- the report -----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:,.0f} ms"


def _bytes(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:,.0f} MB"


def _rate(files_per_second: float) -> str:
    if files_per_second >= 100_000:
        return f"{files_per_second / 1000:,.0f}k files/s"
    if files_per_second >= 1000:
        return f"{files_per_second / 1000:.1f}k files/s"
    return f"{files_per_second:,.0f} files/s"


def _ratio(ratio: float) -> str:
    if ratio < 1:
        return f"×{ratio:.2f}"
    return f"×{ratio:.1f}" if ratio < 100 else f"×{ratio:,.0f}"


def cell(workload: generate.Workload, result: Result | None, reference: Result | None) -> str:
    """One table cell: median time (or files/s), peak RSS, ratio to encaps-lint."""
    if result is None:
        return "—"
    if result.case.skip:
        return result.case.skip
    if not result.samples:
        return "not run"
    per_file = workload.folder and result.case.tool not in FIXED_COST
    speed = _rate(workload.files / result.median) if per_file else _ms(result.median)
    text = f"{speed} ({_bytes(result.peak_rss)})"
    if reference is not None and reference.samples and result is not reference:
        text += f" {_ratio(result.median / reference.median)}"
    if any(result.exit_codes):
        text += " †"
    return text


def render(
    measured: Sequence[tuple[generate.Workload, Sequence[Result]]],
    runs: int,
    warmup: int,
    machine_line: str,
) -> str:
    """The Markdown report: the summary table, its legend, the details, the machine."""
    shown = [t for t in TOOLS if any(r.case.tool == t for _, rs in measured for r in rs)]
    lines = [
        "| work | " + " | ".join(TOOLS[t] for t in shown) + " |",
        "|---" * (len(shown) + 1) + "|",
    ]
    for workload, results in measured:
        by_tool = {r.case.tool: r for r in results}
        reference = by_tool.get(REFERENCE)
        cells = [cell(workload, by_tool.get(t), reference) for t in shown]
        lines.append(f"| {workload.label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Median wall time of {runs} runs of each whole process (files/s for the folder),"
        f" after {warmup} warm-up run each, tools alternating run by run; in brackets the"
        " peak RSS; ×N is the tool's median time over encaps-lint's (--jobs 1) on the"
        " same work (above 1: encaps-lint is faster). † : a non-zero exit code (below).",
        "",
    ]
    lines += [f"- {TOOLS[t]}: {LEGEND[t]}" for t in shown]
    lines += [
        "",
        "| work | tool | runs | median | min | max | peak RSS | exit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for workload, results in measured:
        for r in results:
            if not r.samples:
                continue
            walls = [s.wall for s in r.samples]
            codes = ", ".join(map(str, r.exit_codes))
            lines.append(
                f"| {workload.key} | {TOOLS[r.case.tool]} | {len(walls)} | {_ms(r.median)} | "
                f"{_ms(min(walls))} | {_ms(max(walls))} | {_bytes(r.peak_rss)} | {codes} |"
            )
            errors = {s.error for s in r.samples if s.exit_code and s.error}
            notes += [f"- {workload.key}, {TOOLS[r.case.tool]}: {e}" for e in sorted(errors)]
    if notes:
        lines += ["", "Last line on stderr of the runs that exited non-zero:", "", *notes]
    lines += ["", machine_line]
    return "\n".join(lines) + "\n"


def _version(argv: Sequence[str], pick: Callable[[str], str]) -> str | None:
    try:
        output = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return pick(output.stdout + output.stderr)
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def machine() -> str:
    """CPU, cores, memory, OS, Python and the versions of the tools, with the date."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(
            int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        memory = 0
    parts = [
        cpu,
        f"{os.cpu_count()} cores",
        f"{memory / 2**30:.1f} GiB RAM",
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
    ]
    for package in ("encaps-lint", "pydicom"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            parts.append(f"{package} {importlib.metadata.version(package)}")
    versions = [
        _version(["dcmdump", "--version"], lambda o: "DCMTK " + o.split()[2].lstrip("v")),
        _version(["gdcminfo", "--version"], lambda o: "GDCM " + o.split()[2]),
        _version(
            ["dpkg-query", "-W", "-f=${Version}", "dicom3tools"],
            lambda o: "dicom3tools " + o.split("~")[1][:8] if "~" in o else "",
        ),
    ]
    parts += [v for v in versions if v]
    parts.append(datetime.date.today().isoformat())
    return "Machine: " + ", ".join(parts)


def compile_package() -> None:
    """Byte-compile encaps-lint as `pip install` does for every package it installs.

    An editable install under PYTHONDONTWRITEBYTECODE never writes its .pyc files, so
    each run would compile every module first (about 35 ms here), a cost no installed
    tool (pydicom, click) pays.
    """
    import compileall

    import dcmencaps_lint

    compileall.compile_dir(Path(dcmencaps_lint.__file__).parent, quiet=1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=generate.DEFAULT_WORKDIR)
    parser.add_argument("--runs", type=int, default=7, help="measured runs per tool")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs per tool")
    parser.add_argument(
        "--only", action="append", choices=sorted(generate.BY_KEY), help="repeatable"
    )
    parser.add_argument(
        "--tools",
        default=",".join(DEFAULT_TOOLS),
        help=f"comma-separated, of: {','.join(TOOLS)}",
    )
    parser.add_argument(
        "--floors",
        action="store_true",
        help="time what encaps-lint costs without its rules, next to the C tools "
        f"(--tools {','.join(FLOOR_TOOLS)})",
    )
    parser.add_argument(
        "--slow", type=float, default=10.0, help="a tool with a run longer than this (s)..."
    )
    parser.add_argument("--slow-runs", type=int, default=3, help="...gets only this many runs")
    parser.add_argument("-o", "--output", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    chosen = ",".join(FLOOR_TOOLS) if args.floors else args.tools
    tools = [t.strip() for t in chosen.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or args.runs < 1 or args.warmup < 0:
        parser.error(f"unknown tools {unknown}" if unknown else "--runs >= 1, --warmup >= 0")

    compile_package()
    measured = []
    for key in args.only or [w.key for w in generate.WORKLOADS]:
        workload = generate.BY_KEY[key]
        path = workload.path(args.workdir)
        if not path.exists():
            sys.exit(f"{path} is missing: run python benchmarks/generate.py first")

        def progress(text: str, key: str = key) -> None:
            print(f"[{key}] {text}", file=sys.stderr, flush=True)

        cases = cases_for(workload, path, tools)
        results = measure(cases, args.runs, args.warmup, args.slow, args.slow_runs, progress)
        measured.append((workload, results))
    report = render(measured, args.runs, args.warmup, machine())
    print(report, end="")
    if args.output:
        args.output.write_text(report)


if __name__ == "__main__":
    main()

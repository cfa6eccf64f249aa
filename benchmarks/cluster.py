"""encaps-lint on a local Dask cluster of two workers against --jobs 2, on many small files.

    python benchmarks/cluster.py [--files 20000] [--runs 3] [--workdir /tmp/encaps-lint-bench]

The files are generate.py's small files (single-frame JPEG Baseline, 8-13 KB, each
frame's tables, lengths and marker segments its own). A `dask scheduler` and two
`dask worker`s (one thread each, as --jobs 2 has two processes) are started on
loopback; the two commands alternate run by run, the cluster kept between runs (as a
user's would be), after one warm-up run each. Reported: the median wall time of the
whole process and files per second. Every process started is stopped by its pid.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:  # python benchmarks/cluster.py puts benchmarks/ on sys.path
    from benchmarks import generate
except ImportError:
    import generate  # type: ignore[no-redef]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(folder: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(folder / "cluster.log", "wb")  # noqa: SIM115 (open while they run)
    quiet = {"stdout": log, "stderr": subprocess.STDOUT, "cwd": folder}
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = ["worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"]
    processes = [subprocess.Popen([dask, *scheduler], **quiet)]  # type: ignore[call-overload]
    time.sleep(1)
    processes += [subprocess.Popen([dask, *worker], **quiet) for _ in range(2)]  # type: ignore[call-overload]
    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    return address, processes


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/encaps-lint-bench"))
    args = parser.parse_args()
    work = generate.check_workdir(args.workdir)
    folder = work / f"cluster-small-{args.files}"
    generate.write_small_files(folder, args.files, 9_600)
    lint = [sys.executable, "-m", "dcmencaps_lint", "-q"]
    cluster_folder = work / "cluster-run"
    shutil.rmtree(cluster_folder, ignore_errors=True)
    cluster_folder.mkdir()
    address, processes = start_cluster(cluster_folder)
    commands = {
        "--jobs 2": [*lint, "--jobs", "2", str(folder)],
        "--scheduler (2 workers)": [*lint, "--scheduler", address, str(folder)],
    }
    try:
        for command in commands.values():
            timed(command)  # warm-up: the page cache, the workers' imports
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(timed(command))
    finally:
        for process in processes:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(30)
    print(f"{args.files:,} small files, median of {args.runs} runs, {os.cpu_count()} cores")
    print("| command | wall time | files/s |\n|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| encaps-lint {name} | {median:.2f} s | {args.files / median:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""encaps-lint on files served over HTTP by a local nginx: what it fetches, how many
requests, how long, against downloading the file with curl and linting the local copy.

    python benchmarks/remote.py [--runs 5] [--workdir /tmp/encaps-lint-bench] [--only KEY]

The files are generate.py's workloads (made if missing): whole-slide images of unlike
JPEG and JPEG 2000 frames, a 4.3 GiB file of 4 MiB frames, 2,000 small files. nginx
(Debian's) is started on a loopback port with an access log of each request's body
bytes, and stopped by its pid. Per run and tool, alternating: `encaps-lint URL` (the
access log gives its requests and bytes), `curl -o /dev/null URL` (a file workload),
and `encaps-lint PATH` on the local file. Reported: median wall time of the whole
process, peak RSS (GNU time), requests, bytes fetched over the file's size.

Loopback has no latency: on a network, add about one round trip per request (a file's
requests are made one after another), so the request count is the number to watch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:  # python benchmarks/remote.py puts benchmarks/ on sys.path
    from benchmarks import generate
    from benchmarks.cluster import free_port
except ImportError:
    import generate  # type: ignore[no-redef]
    from cluster import free_port  # type: ignore[no-redef]

DEFAULT = ["big-4gib", "wsi-200k", "j2k-100k", "small-files"]
GNU_TIME = "/usr/bin/time"


def start_nginx(root: Path, folder: Path) -> tuple[str, subprocess.Popen[bytes], Path]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    log = folder / "access.log"
    temp = " ".join(f"{k}_temp_path {folder}/{k};" for k in ("client_body", "proxy", "fastcgi"))
    user = "user root;" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        f"daemon off; worker_processes 1; pid {folder}/nginx.pid; {user}\n"
        f"error_log {folder}/error.log;\n"
        "events { worker_connections 256; }\n"
        "http { log_format counted '$request_method $uri $status $body_bytes_sent';\n"
        f"  access_log {log} counted; {temp}\n"
        f"  uwsgi_temp_path {folder}/u; scgi_temp_path {folder}/s;\n"
        "  default_type application/octet-stream;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {root}; autoindex on; }} }}\n"
    )
    process = subprocess.Popen(
        [nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    time.sleep(0.5)
    return f"http://127.0.0.1:{port}", process, log


def measured(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KB) of one run of `command`."""
    with tempfile.NamedTemporaryFile() as report:
        started = time.perf_counter()
        done = subprocess.run(
            [GNU_TIME, "-f", "%M", "-o", report.name, *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-2000:]}")
        return wall, int(Path(report.name).read_text().split()[-1])


def logged(log: Path) -> tuple[int, int]:
    """(requests, body bytes) in the access log since it was last emptied."""
    rows = [line.split() for line in log.read_text().splitlines()]
    return len(rows), sum(int(row[3]) for row in rows)


def cell(times: dict[str, list[tuple[float, int]]], name: str) -> str:
    """Median wall time and the largest peak RSS of a tool's runs."""
    if name not in times:
        return "—"
    wall = statistics.median(t for t, _ in times[name])
    rss = max(m for _, m in times[name]) // 1024
    return f"{wall * 1000:,.0f} ms ({rss} MB)"


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=generate.DEFAULT_WORKDIR)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", action="append", choices=sorted(generate.BY_KEY))
    args = parser.parse_args(argv)
    workdir = generate.check_workdir(args.workdir)
    lint = str(Path(sys.executable).parent / "encaps-lint")
    folder = Path(tempfile.mkdtemp(prefix="encaps-lint-nginx-"))
    url, nginx, log = start_nginx(workdir, folder)
    print(
        "| work | size | encaps-lint over HTTP | requests | fetched | curl (download) "
        "| encaps-lint, local file |"
    )
    print("|---|---|---|---|---|---|---|")
    try:
        for key in args.only or DEFAULT:
            workload = generate.BY_KEY[key]
            generate.generate(workload, workdir)
            path = workload.path(workdir)
            target = f"{url}/{path.name}" + ("/" if path.is_dir() else "")
            tools = {
                "remote": [lint, "--jobs", "1", target],
                "local": [lint, "--jobs", "1", str(path)],
            }
            if not path.is_dir():
                tools["curl"] = ["curl", "-s", "-o", "/dev/null", target]
            times: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
            counted: list[tuple[int, int]] = []
            for run in range(args.runs + 1):  # the first run of each: a warm-up
                for name, command in tools.items():
                    log.write_text("")
                    result = measured(command)
                    if run:
                        times[name].append(result)
                        if name == "remote":
                            counted.append(logged(log))
            size = size_of(path)
            requests, fetched = counted[-1]
            assert all(c == counted[0] for c in counted), counted  # the same every run

            print(
                f"| {workload.label} | {size / 1e6:,.0f} MB | {cell(times, 'remote')} "
                f"| {requests:,} | {fetched / 1e6:,.1f} MB ({100 * fetched / size:.2f}%) "
                f"| {cell(times, 'curl')} | {cell(times, 'local')} |",
                flush=True,
            )
    finally:
        os.kill(nginx.pid, signal.SIGTERM)
        nginx.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Ingest throughput of a real Orthanc with and without the encaps-lint gate.

    python benchmarks/orthanc_ingest.py [--instances 1000] [--runs 3] [--senders 1,4]
                                        [-o table.md]

Needs Debian's `orthanc`, `orthanc-python` and `dcmtk`, and encaps-lint installed with
its test dependencies (`pip install -e ".[test]"`: the instances are built from
pydicom-data's frames by tests/instances.py).

The instances are what a PACS receives, and no two are alike: real JPEG Baseline (the
frames of pydicom-data's color3d_jpeg_baseline.dcm, about 48 KB each), JPEG 2000 and
RLE frames (emri_small_*: about 4 KB), 1 to 4 frames from a different first frame per
instance, each with its own SOP Instance UID; 3 in 16 fail (a wrong BOT entry, no EOI)
and 1 in 16 has a warning (no Lossy Image Compression), as tests/instances.py builds them.

For each configuration, a fresh Orthanc (empty storage, loopback ports) is started, the
instances are sent with `storescu` as a modality sends them (one association per
transfer syntax, proposing the files' own; with --senders N, N storescu processes at
once, each with its share), and the wall time from the first association to the last
answer is measured. Both storescu and Orthanc run with TCP_NODELAY=1 (see NO_DELAY).
Orthanc is stopped by its process id after each run. The configurations, alternating
run by run: no plugin at all; two floors, what any Python plugin doing what the gate does
costs Orthanc without linting anything (a received-instance callback that keeps every
instance; that, plus writing 2 KB of metadata per stored instance); the gate with Action
keep (every instance linted, all stored, each with its report); the gate with Action
repair (the failing ones repaired, or discarded into quarantine). Reported: the median
of --runs runs, in instances per second, and (notes, from the last run) the time spent
in the gate's callbacks and linting per instance, from /encaps-lint/stats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from instances import KINDS, STORESCU_OPTION, instance  # noqa: E402

from dcmencaps_lint.integrations.orthanc import script_path  # noqa: E402

PLUGIN = "/usr/share/orthanc/plugins/libOrthancPython.so"
# 3 in 16 fail (a wrong BOT entry, no EOI), 1 in 16 has a warning (no Lossy Image
# Compression); jpeg-odd is left out (storescu pads odd fragments as it sends them).
MIX = [*["jpeg", "j2k", "rle"] * 4, "jpeg-bot", "j2k-bot", "jpeg-no-eoi", "jpeg-no-lossy-flag"]
# Debian's DCMTK (storescu, and Orthanc's DICOM server) leaves Nagle's algorithm on unless
# TCP_NODELAY=1: every C-STORE then waits on a delayed ACK, some 75 ms per instance here,
# which would hide everything else. Both ends run with it.
NO_DELAY = {**os.environ, "TCP_NODELAY": "1"}
# What any such plugin costs Orthanc, without encaps-lint: a received-instance callback
# that keeps every instance as it is; and that, plus a stored-instance callback that
# writes a 2 KB metadata value per instance, as the gate writes its report.
FLOOR_CALLBACK = """
import orthanc
orthanc.RegisterReceivedInstanceCallback(
    lambda data, origin: (orthanc.ReceivedInstanceAction.KEEP_AS_IS, None))
"""
FLOOR_METADATA = (
    FLOOR_CALLBACK
    + """
def stored(dicom, instance_id):
    orthanc.RestApiPut(f"/instances/{instance_id}/metadata/EncapsLint", "x" * 2000)
orthanc.RegisterOnStoredInstanceCallback(stored)
"""
)
CONFIGURATIONS: dict[str, str | dict[str, object] | None] = {
    "no plugin": None,
    "a callback that keeps all": FLOOR_CALLBACK,
    "the same + 2 KB metadata": FLOOR_METADATA,
    "gate, keep": {"Action": "keep"},
    "gate, repair": {"Action": "repair", "ActionIfUnrepairable": "discard"},
}


def build(folder: Path, count: int) -> dict[str, list[str]]:
    """`count` instances written under folder, by transfer syntax."""
    by_ts: dict[str, list[str]] = {}
    for number in range(count):
        kind = MIX[number % len(MIX)]
        data = instance(kind, 10_000 + number, frames=1 + number % 4, first=number * 7)
        path = folder / f"{number:05d}.dcm"
        path.write_bytes(data)
        by_ts.setdefault(KINDS[kind].ts, []).append(str(path))
    return by_ts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
        return bytes(answer.read())


def run_once(
    binary: str,
    folder: Path,
    plugin: str | dict[str, object] | None,
    by_ts: dict[str, list[str]],
    senders: int,
) -> tuple[float, int, dict[str, object] | None]:
    """Seconds to send everything, instances stored, the gate's stats."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    http, dicom = free_port(), free_port()
    configuration: dict[str, object] = {
        "Name": "bench",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "HttpPort": http,
        "DicomPort": dicom,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
    }
    gate = isinstance(plugin, dict)
    if isinstance(plugin, str):  # one of the floors: a script of its own
        (folder / "floor.py").write_text(plugin)
        configuration.update(Plugins=[PLUGIN], PythonScript=str(folder / "floor.py"))
    elif isinstance(plugin, dict):
        configuration.update(
            Plugins=[PLUGIN],
            PythonScript=script_path(),
            EncapsLint={"QuarantineFolder": str(folder / "quarantine"), **plugin},
        )
    if plugin is not None:
        configuration["UserMetadata"] = {"EncapsLint": 4242}
    (folder / "orthanc.json").write_text(json.dumps(configuration))
    with open(folder / "orthanc.log", "wb") as log:
        server = subprocess.Popen(
            [binary, str(folder / "orthanc.json")], stdout=log, stderr=log, env=NO_DELAY
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(http, "/system")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    problem = f"Orthanc did not start: see {folder / 'orthanc.log'}"
                    raise SystemExit(problem) from None
                time.sleep(0.1)
        commands = []
        for ts, paths in by_ts.items():
            for share in range(senders):
                part = paths[share::senders]
                if part:
                    options = ["-R", STORESCU_OPTION[ts], "-aec", "ORTHANC"]
                    commands.append(["storescu", *options, "127.0.0.1", str(dicom), *part])
        started = time.perf_counter()
        running: list[subprocess.Popen[bytes]] = []
        for command in commands:  # at most `senders` at once
            while len(running) >= senders:
                running.pop(0).wait()
            running.append(subprocess.Popen(command, stderr=subprocess.DEVNULL, env=NO_DELAY))
        for process in running:
            process.wait()
        seconds = time.perf_counter() - started
        stored = json.loads(get(http, "/statistics"))["CountInstances"]
        stats = json.loads(get(http, "/encaps-lint/stats")) if gate else None
        return seconds, int(stored), stats
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--senders", default="1,4", help="storescu processes at once")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    binary = shutil.which("Orthanc", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None or not Path(PLUGIN).exists() or script_path() is None:
        raise SystemExit("needs orthanc, orthanc-python and an installed encaps-lint")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="encaps-lint-ingest-"))
    files = work / "instances"
    shutil.rmtree(files, ignore_errors=True)
    files.mkdir(parents=True)
    by_ts = build(files, args.instances)
    size = sum(os.path.getsize(p) for paths in by_ts.values() for p in paths)
    rows = []
    for senders in [int(s) for s in args.senders.split(",")]:
        times: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
        notes: dict[str, str] = {}
        for _ in range(args.runs):
            for name, plugin in CONFIGURATIONS.items():  # alternating, run by run
                seconds, stored, stats = run_once(binary, work / "orthanc", plugin, by_ts, senders)
                times[name].append(seconds)
                note = f"{stored} stored"
                if stats is not None:
                    count = max(int(stats["received"]), 1)
                    lint = 1000 * float(stats["lint_seconds"]) / count
                    spent = 1000 * float(stats["gate_seconds"]) / count
                    note += f"; gate {spent:.1f} ms an instance, lint {lint:.1f} of it"
                    if stats["repaired"]:
                        note += f"; {stats['repaired']} repaired, {stats['discarded']} discarded"
                notes[name] = note
                print(f"senders {senders} {name}: {seconds:.2f} s, {note}", file=sys.stderr)
        base = statistics.median(times["no plugin"])
        for name in CONFIGURATIONS:
            median = statistics.median(times[name])
            rows.append(
                f"| {senders} | {name} | {args.instances / median:,.0f}/s | {median:.2f} s "
                f"| {median / base:.2f}x | {notes[name]} |"
            )
    table = "\n".join(
        [
            f"{args.instances} instances, {size / 1e6:.0f} MB; median of {args.runs} runs; "
            f"{platform.node() or 'this machine'}, {os.cpu_count()} cores",
            "",
            "| senders | Orthanc with | rate | wall time | vs no plugin | notes |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.output:
        args.output.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

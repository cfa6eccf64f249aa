"""Linting on a real Dask cluster (cluster.py): a `dask scheduler` and `dask worker`
processes (the programs of the `distributed` package) started on loopback ports, the
command run with --scheduler, its reports compared byte for byte with a local run's.
Each process is stopped by its own process id, and dies with the test run however that
ends (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from instances import KINDS, instance
from remote_servers import Nginx
from test_orthanc import die_with_parent, free_port
from test_plugins import install

from dcmencaps_lint import lint_paths

ROOT = Path(__file__).parent.parent
DASK = Path(sys.executable).parent / "dask"
# A rule plugin that takes 5 ms a file, so that a run lasts long enough to kill a worker
# in it; it finds nothing, and the local runs compared with have it too.
SLOW = '''
import time

from dcmencaps_lint import Needs, Severity, rule


@rule("ACM015", "acme-slow-5ms", Severity.INFO, ref="-", summary="Slow", needs=Needs.DATASET)
def acme_slow(ctx):
    """What it checks: nothing; it takes 5 ms."""
    time.sleep(0.005)
    return iter(())
'''


class Cluster:
    def __init__(
        self, folder: Path, workers: int, env: dict[str, str], nanny: bool = False
    ) -> None:
        self.env = {**os.environ, **env}
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.folder = folder
        self.scheduler = self._start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            self.address.rsplit(":", 1)[1],
            "--no-dashboard",
        )
        self.workers = [
            self._start(
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--nanny" if nanny else "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                name=f"worker{n}",
            )
            for n in range(workers)
        ]
        self._wait_for(workers)

    def _start(self, *args: str, name: str | None = None) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name or args[0]}.log", "wb")  # noqa: SIM115
        return subprocess.Popen(
            [str(DASK), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,  # not the checkout: the workers get absolute paths
            env=self.env,
            preexec_fn=die_with_parent,
        )

    def _wait_for(self, workers: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with Client(self.address, timeout=5) as client:
                    client.wait_for_workers(workers, timeout=deadline - time.monotonic())
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the Dask cluster did not start")

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
            process.wait(30)
            with pytest.raises(ProcessLookupError):
                os.kill(process.pid, 0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Some 300 files: the samples, the test data, and instances of every kind."""
    folder = tmp_path_factory.mktemp("instances")
    for n in range(300):
        kind = sorted(KINDS)[n % len(KINDS)]
        (folder / f"{n:04d}-{kind}.dcm").write_bytes(instance(kind, 5000 + n, frames=2 + n % 3))
    return [str(ROOT / "samples"), str(ROOT / "tests" / "data"), str(folder)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    install(folder, "acme_slow5", SLOW, "acme-slow5", "slow")
    return folder


def start_cluster(folder: Path, site: Path) -> Cluster:
    if not DASK.exists():
        pytest.fail(f"{DASK} is missing: pip install -e '.[test]' installs distributed")
    return Cluster(folder, 2, {"PYTHONPATH": str(site)})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, site: Path) -> Iterator[Cluster]:
    """Two workers, shared by the tests that leave them alive."""
    started = start_cluster(tmp_path_factory.mktemp("cluster"), site)
    yield started
    started.stop()


@pytest.fixture
def own_cluster(tmp_path: Path, site: Path) -> Iterator[Cluster]:
    """Two workers for one test (it kills one)."""
    started = start_cluster(tmp_path, site)
    yield started
    started.stop()


def command(site: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dcmencaps_lint", *args]


def run(site: Path, *args: str, **more_env: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(site), **more_env}
    return subprocess.run(command(site, *args), capture_output=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_cluster_reports_what_one_process_reports(
    cluster: Cluster, site: Path, corpus: list[str], fmt: str
) -> None:
    local = run(site, "--jobs", "1", "--format", fmt, *corpus)
    remote = run(site, "--scheduler", cluster.address, "--format", fmt, *corpus)
    assert remote.returncode == local.returncode == 1
    assert remote.stdout == local.stdout
    assert remote.stdout.count(b'"path"') > 300


def test_workers_read_urls_from_where_the_files_live(
    cluster: Cluster, site: Path, corpus: list[str], tmp_path: Path
) -> None:
    """--scheduler with an http:// folder: the command lists it, each worker fetches its
    files' bytes from nginx (range requests), the report is the local run's."""
    server = Nginx(Path(corpus[2]), tmp_path)
    try:
        url = f"{server.url}/"
        local = run(site, "--jobs", "1", "--format", "json", url)
        remote = run(site, "--scheduler", cluster.address, "--format", "json", url)
        requests = server.requests()
    finally:
        server.stop()
    assert remote.returncode == local.returncode == 1
    assert remote.stdout == local.stdout
    assert remote.stdout.count(url.encode()) == 300
    ranges = [r for r in requests if r[0] == "GET" and r[1] != "/"]
    assert len({path for _, path, _, _ in ranges}) == 300
    assert all(status == 206 for _, _, status, _ in ranges)


def test_a_worker_killed_in_the_run_loses_no_file(
    own_cluster: Cluster, site: Path, corpus: list[str]
) -> None:
    cluster = own_cluster
    local = run(site, "--jobs", "1", "--format", "jsonl", *corpus)
    env = {**os.environ, "PYTHONPATH": str(site)}
    args = ["--scheduler", cluster.address, "--format", "jsonl", *corpus]
    process = subprocess.Popen(command(site, *args), stdout=subprocess.PIPE, env=env, cwd=ROOT)
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(10)]  # the run is under way
    victim = cluster.workers[1]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(30)
    lines += process.stdout.readlines()
    assert process.wait(300) == 1
    assert b"".join(lines) == local.stdout


def test_the_python_api_takes_a_client(
    cluster: Cluster, corpus: list[str], monkeypatch: pytest.MonkeyPatch, site: Path
) -> None:
    from distributed import Client

    monkeypatch.syspath_prepend(str(site))
    from dcmencaps_lint.registry import load_rules

    load_rules.cache_clear()
    try:
        with Client(cluster.address) as client:
            remote = lint_paths(corpus, client=client)
        local = lint_paths(corpus)
    finally:
        load_rules.cache_clear()
        sys.modules.pop("acme_slow5", None)
    assert remote == local and len(local.files) > 300


def test_scheduler_refuses_fixing_and_a_missing_scheduler(site: Path) -> None:
    done = run(site, "--scheduler", "tcp://127.0.0.1:9", "--fix", "samples")
    assert done.returncode == 2 and b"--scheduler lints only" in done.stderr
    port = free_port()
    # waiting as long as Dask's configuration says
    wait = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    done = run(site, "--scheduler", f"tcp://127.0.0.1:{port}", "samples", **wait)
    assert done.returncode == 2
    assert re.search(rb"no Dask scheduler answers at tcp://127.0.0.1:\d+", done.stderr)


KILLER = """
import os

from dcmencaps_lint import Needs, Severity, rule


@rule("ACM016", "acme-kills", Severity.INFO, ref="-", summary="Kills", needs=Needs.DATASET)
def acme_kills(ctx):
    \"\"\"What it checks: nothing; on instance ...4242.1.666 it kills its process.\"\"\"
    if (ctx.dataset.sop_instance_uid or "").endswith(".666"):
        os._exit(3)
    return iter(())
"""


class PluginRun(NamedTuple):
    site: Path  # the rule plugin's folder (on PYTHONPATH)
    folder: Path  # the files linted
    remote: subprocess.CompletedProcess[bytes]  # the run on a cluster of its own


def run_with_plugin(
    tmp_path: Path, module: str, source: str, first: int, count: int, *args: str, **more: Any
) -> PluginRun:
    """`count` JPEG instances (UIDs from `first`), a rule plugin, a cluster of two workers
    that have it (`more`: Cluster's env and nanny), and a --scheduler run with `args`."""
    site = tmp_path / "site"
    site.mkdir()
    install(site, module, source, module.replace("_", "-"), module)
    folder = tmp_path / "files"
    folder.mkdir()
    for n in range(count):
        (folder / f"{n:03d}.dcm").write_bytes(instance("jpeg", first + n, frames=2))
    env = {"PYTHONPATH": str(site), **more.pop("env", {})}
    cluster = Cluster(tmp_path, 2, env, **more)
    try:
        remote = run(site, "--scheduler", cluster.address, *args, str(folder))
    finally:
        cluster.stop()
    return PluginRun(site, folder, remote)


def test_a_file_that_kills_its_workers_is_lost_alone(tmp_path: Path) -> None:
    """Workers under nannies (restarted when they die); Dask gives a task up once it was
    on 2 workers that died (allowed-failures 1): the batch, then the file alone."""
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    site, folder, done = run_with_plugin(
        tmp_path, "acme_kills", KILLER, 600, 100, "--format", "jsonl", env=env, nanny=True
    )
    local = run(site, "--jobs", "1", "--ignore", "ACM016", "--format", "jsonl", str(folder))
    files = [json.loads(line) for line in done.stdout.splitlines() if b'"path"' in line]
    assert len(files) == 100
    killer = str(folder / "066.dcm")
    lost = [f for f in files if f["path"] == killer]
    assert [x["code"] for x in lost[0]["findings"]] == ["PRS005"]
    assert "the Dask workers linting it died" in lost[0]["findings"][0]["message"]
    expected = [json.loads(line) for line in local.stdout.splitlines() if b'"path"' in line]
    assert [f for f in files if f["path"] != killer] == [e for e in expected if e["path"] != killer]


ENDLESS = """
import time

from dcmencaps_lint import Needs, Severity, rule


@rule("ACM017", "acme-endless", Severity.INFO, ref="-", summary="Endless", needs=Needs.DATASET)
def acme_endless(ctx):
    \"\"\"What it checks: nothing; on instance ...4242.1.777 it never ends.\"\"\"
    while (ctx.dataset.sop_instance_uid or "").endswith(".777"):
        time.sleep(0.001)
    return iter(())
"""


def test_a_file_past_the_time_limit_on_a_worker_is_prs005(tmp_path: Path) -> None:
    """A worker's task thread has no timer: the watchdog stops the file at --timeout."""
    site, folder, done = run_with_plugin(
        tmp_path, "acme_endless", ENDLESS, 770, 20, "--timeout", "1", "--format", "jsonl"
    )
    local = run(site, "--jobs", "1", "--format", "jsonl", "--timeout", "1", str(folder))
    assert done.stdout == local.stdout  # the same PRS005, where a local run's timer puts it
    files = [json.loads(line) for line in done.stdout.splitlines() if b'"path"' in line]
    stopped = [f for f in files if f["status"] != "passed"]
    assert [f["path"] for f in stopped] == [str(folder / "007.dcm")]
    assert [x["code"] for x in stopped[0]["findings"]] == ["PRS005"]
    assert "longer than 1 s" in stopped[0]["findings"][0]["message"]

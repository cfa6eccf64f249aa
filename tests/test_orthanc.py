"""The gate inside a real Orthanc (Debian's `orthanc` and `orthanc-python`; .ci/run
installs them): Orthanc is started on loopback ports with the configuration the README
shows (its ports, folders and "EncapsLint" settings changed for each test), instances
are sent as a modality and a script send them, with `storescu` (proposing each file's
own transfer syntax) and `POST /instances`, and everything is checked through Orthanc's
REST API and the quarantine folder. Each Orthanc is stopped by its own process id.

Orthanc is required: without it these tests fail.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pydicom
import pytest
from instances import KINDS, STORESCU_OPTION, instance, uid
from test_orthanc_gate import RAISING, same_frames

from dcmencaps_lint import lint_file
from dcmencaps_lint.integrations.orthanc import script_path

ROOT = Path(__file__).parent.parent
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancPython.so")
STARTUP = 60.0  # seconds Orthanc may take to answer
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# What each test sends: every kind over REST, and over DICOM all but jpeg-odd: storescu
# (DCMTK) pads a fragment of odd length as it sends it, so Orthanc receives another
# defect (the BOT entries after it, 1 byte short: BOT004).
OVER_REST = sorted(KINDS)
OVER_DICOM = [kind for kind in OVER_REST if kind != "jpeg-odd"]


@pytest.fixture(scope="module")
def orthanc_binary() -> str:
    found = shutil.which("Orthanc", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    missing = [
        what
        for what, there in (
            ("orthanc", found),
            ("orthanc-python", PLUGIN.exists()),
            ("dcmtk (storescu)", shutil.which("storescu")),
        )
        if not there
    ]
    if missing:
        pytest.fail(
            f"a real Orthanc is needed to test the gate: apt-get install {' '.join(missing)}"
            " (.ci/run does this)",
            pytrace=False,
        )
    assert found is not None
    return found


def readme_configuration() -> dict[str, Any]:
    """The JSON block of the README's "PACS ingest with Orthanc" section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## PACS ingest with Orthanc") :]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None
    return json.loads(block.group(1))


def die_with_parent() -> None:
    """In the child before Orthanc starts: SIGTERM when the test process ends, however it
    ends (killed, interrupted), so that no Orthanc outlives a test run (Linux prctl)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Orthanc:
    """One Orthanc process, started with the README's configuration and `gate` as its
    "EncapsLint" section."""

    def __init__(
        self,
        binary: str,
        folder: Path,
        gate: dict[str, Any],
        env: dict[str, str],
        script: str | None = None,
        drop: str | None = None,
    ) -> None:
        self.folder = folder
        folder.mkdir()
        self.quarantine = folder / "quarantine"
        self.http, self.dicom = free_port(), free_port()
        configuration = readme_configuration()
        script = script or script_path()
        assert script is not None, "encaps-lint is not installed"
        configuration.update(
            StorageDirectory=str(folder / "db"),
            IndexDirectory=str(folder / "db"),
            HttpPort=self.http,
            DicomPort=self.dicom,
            RemoteAccessAllowed=False,  # loopback only
            AuthenticationEnabled=False,
            Plugins=[str(PLUGIN)],
            PythonScript=script,
        )
        configuration["EncapsLint"] = {"QuarantineFolder": str(self.quarantine), **gate}
        if drop is not None:  # a key of the README's configuration left out
            del configuration[drop]
        self.config = folder / "orthanc.json"
        self.config.write_text(json.dumps(configuration, indent=2))
        self.log = folder / "orthanc.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [binary, str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env={**os.environ, **env},
                preexec_fn=die_with_parent,
            )

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"Orthanc exited {self.process.returncode}:\n{self.logged()}")
            with contextlib.suppress(OSError):
                self.get("/system")
                return
            time.sleep(0.1)
        raise AssertionError(f"Orthanc did not answer in {STARTUP} s:\n{self.logged()}")

    def stop(self) -> None:
        """SIGTERM to its own process id, then wait; no process may be left."""
        pid = self.process.pid
        if self.process.poll() is None:
            os.kill(pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.process.wait(10)
                raise AssertionError(f"Orthanc {pid} did not stop on SIGTERM") from None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # reaped: no such process any more

    def logged(self) -> str:
        return self.log.read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http}{path}"

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url(path), timeout=30) as answer:
            return bytes(answer.read())

    def get_json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def post_instance(self, data: bytes) -> str:
        """POST /instances; Orthanc's "Status": Success, AlreadyStored, FilteredOut (a
        discarded instance: Orthanc 1.10 answers 200 with an empty "ID")..."""
        request = urllib.request.Request(self.url("/instances"), data=data, method="POST")
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert answer.status == 200
            return str(json.loads(answer.read())["Status"])

    def storescu(self, files: list[Path]) -> None:
        """Send as a modality does: one association per transfer syntax, each proposing
        the files' own (storescu -R: only the presentation contexts the files need).
        Orthanc answers Success to every C-STORE, a discarded instance's too."""
        by_ts: dict[str, list[str]] = {}
        for path in files:
            ts = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
            by_ts.setdefault(str(ts), []).append(str(path))
        for ts, paths in by_ts.items():
            options = ["-R", STORESCU_OPTION[ts], "-aec", "ORTHANC"]
            done = subprocess.run(
                ["storescu", *options, "127.0.0.1", str(self.dicom), *paths],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr

    def stored(self) -> dict[str, str]:
        """SOP Instance UID -> Orthanc's instance id, of every stored instance."""
        found = {}
        for one in self.get_json("/instances?expand"):
            found[one["MainDicomTags"]["SOPInstanceUID"]] = one["ID"]
        return found

    def metadata(self, instance_id: str) -> dict[str, Any]:
        return json.loads(self.get(f"/instances/{instance_id}/metadata/EncapsLint"))


@pytest.fixture
def start(orthanc_binary: str, tmp_path: Path) -> Iterator[Any]:
    started: list[Orthanc] = []

    def run(
        gate: dict[str, Any],
        env: dict[str, str] | None = None,
        up: bool = True,
        script: str | None = None,
        drop: str | None = None,
    ) -> Orthanc:
        folder = tmp_path / f"orthanc{len(started)}"
        server = Orthanc(orthanc_binary, folder, gate, env or {}, script, drop)
        started.append(server)
        if up:
            server.wait_until_up()
        return server

    yield run
    for server in started:
        server.stop()


def send_all(server: Orthanc, folder: Path) -> dict[str, Sent]:
    """Over DICOM (instance numbers 100+), then over REST (200+)."""
    sent: dict[str, Sent] = {}
    files = []
    folder.mkdir()
    for n, kind in enumerate(OVER_DICOM):
        data = instance(kind, 100 + n)
        path = folder / f"{kind}.dcm"
        path.write_bytes(data)
        files.append(path)
        sent[uid(100 + n)] = Sent(kind, data, dicom=True)
    server.storescu(files)
    for n, kind in enumerate(OVER_REST):
        data = instance(kind, 200 + n)
        sent[uid(200 + n)] = Sent(kind, data, False, server.post_instance(data))
    return sent


def data_set(data: bytes) -> bytes:
    """The bytes after the File Meta Information: what C-STORE carries (the receiver
    writes a File Meta Information of its own: its AE title, its implementation)."""
    assert data[128:132] == b"DICM" and data[132:136] == b"\x02\x00\x00\x00"
    (group_length,) = struct.unpack_from("<I", data, 140)
    return data[144 + group_length :]


class Sent(NamedTuple):
    kind: str
    data: bytes
    dicom: bool  # over DICOM (storescu), else over REST
    status: str | None = None  # Orthanc's answer to POST /instances


def same_instance(stored: bytes, sent: Sent) -> bool:
    """Byte for byte: the whole file when it came over REST, its data set when it came
    over DICOM."""
    if sent.dicom:
        return data_set(stored) == data_set(sent.data)
    return stored == sent.data


def check_passing(server: Orthanc, sent: dict[str, Sent]) -> dict[str, str]:
    """Instances that pass are stored byte for byte, with their report."""
    stored = server.stored()
    for sop, one in sent.items():
        kind = one.kind
        if KINDS[kind].fails:
            continue
        assert sop in stored, (kind, server.logged()[-3000:])
        assert same_instance(server.get(f"/instances/{stored[sop]}/file"), one), kind
        report = server.metadata(stored[sop])
        assert report["gate"] == {
            "action": "stored",
            "failed": False,
            "reason": None,
            "quarantined": None,
        }
        assert report["files"][0]["sop_instance_uid"] == sop
        assert {f["code"] for f in report["files"][0]["findings"]} == KINDS[kind].codes
    return stored


def quarantined(server: Orthanc, sop: str) -> tuple[bytes, dict[str, Any]]:
    return (
        (server.quarantine / f"{sop}.dcm").read_bytes(),
        json.loads((server.quarantine / f"{sop}.json").read_text()),
    )


def test_discard(start: Any, tmp_path: Path) -> None:
    server = start({"Action": "discard"})
    sent = send_all(server, tmp_path / "sent")
    stored = check_passing(server, sent)
    failing = {sop: one.kind for sop, one in sent.items() if KINDS[one.kind].fails}
    assert len(failing) == 7
    for one in sent.values():
        if not one.dicom:
            assert one.status == ("FilteredOut" if KINDS[one.kind].fails else "Success")
    for sop, kind in failing.items():
        assert sop not in stored, kind
        original, report = quarantined(server, sop)
        assert same_instance(original, sent[sop])
        assert report["gate"]["action"] == "discarded"
        assert {f["code"] for f in report["files"][0]["findings"]} == KINDS[kind].codes
        codes = ", ".join(sorted(KINDS[kind].codes))
        assert f"encaps-lint: {sop}: {codes}: failed; discarded (" in server.logged()
    assert len(list(server.quarantine.iterdir())) == 2 * len(failing)
    stats = server.get_json("/encaps-lint/stats")
    assert stats["reported_unjudged"] == 0  # each report was the one judged
    assert (stats["received"], stats["failed"], stats["discarded"]) == (15, 7, 7)
    assert stats["passed"] == stats["stored"] == 8


@pytest.mark.parametrize("unrepairable", ["discard", "keep"])
def test_repair(start: Any, tmp_path: Path, unrepairable: str) -> None:
    server = start({"Action": "repair", "ActionIfUnrepairable": unrepairable})
    sent = send_all(server, tmp_path / "sent")
    stored = check_passing(server, sent)
    for sop, one in sent.items():
        kind, data = one.kind, one.data
        if not KINDS[kind].fails:
            continue
        if not KINDS[kind].repairable and unrepairable == "keep":  # stored as it came
            assert same_instance(server.get(f"/instances/{stored[sop]}/file"), one)
            metadata = server.metadata(stored[sop])
            assert metadata["gate"]["action"] == "stored" and metadata["gate"]["failed"]
            assert metadata["gate"]["reason"] == "no finding has a safe fix"
            assert not (server.quarantine / f"{sop}.dcm").exists()
            continue
        original, report = quarantined(server, sop)
        assert same_instance(original, one)
        assert {f["code"] for f in report["files"][0]["findings"]} == KINDS[kind].codes
        if KINDS[kind].repairable:
            new = server.get(f"/instances/{stored[sop]}/file")
            assert new != data and lint_file(new).findings == ()
            assert same_frames(new, data)
            old_pixels = pydicom.dcmread(io.BytesIO(data)).pixel_array
            assert (pydicom.dcmread(io.BytesIO(new)).pixel_array == old_pixels).all()
            metadata = server.metadata(stored[sop])
            assert metadata["gate"]["action"] == "repaired" and metadata["gate"]["failed"]
            assert metadata["gate"]["quarantined"] == str(server.quarantine / f"{sop}.dcm")
            assert {f["code"] for f in metadata["files"][0]["fixes"]} == KINDS[kind].codes
            assert report["gate"]["action"] == "repaired"
        else:
            assert sop not in stored, kind
            assert report["gate"]["action"] == "discarded"
            assert report["gate"]["reason"] == "no finding has a safe fix"
    stats = server.get_json("/encaps-lint/stats")
    assert stats["reported_unjudged"] == 0
    assert (stats["repaired"], stats["unrepairable"]) == (5, 2)
    assert stats["discarded"] == (2 if unrepairable == "discard" else 0)
    assert stats["stored_flagged"] == (2 if unrepairable == "keep" else 0)


def test_keep(start: Any, tmp_path: Path) -> None:
    server = start({"Action": "keep"})
    sent = send_all(server, tmp_path / "sent")
    stored = check_passing(server, sent)
    assert len(stored) == len(sent)
    for sop, one in sent.items():
        kind = one.kind
        if not KINDS[kind].fails:
            continue
        assert same_instance(server.get(f"/instances/{stored[sop]}/file"), one)
        report = server.metadata(stored[sop])
        assert report["gate"]["action"] == "stored" and report["gate"]["failed"] is True
        assert report["files"][0]["status"] == "failed"
        assert {f["code"] for f in report["files"][0]["findings"]} == KINDS[kind].codes
    assert not any(server.quarantine.iterdir())
    assert server.get_json("/encaps-lint/stats")["reported_unjudged"] == 0


SLOW = '''
import time

from dcmencaps_lint import Needs, Severity, rule


@rule("ACM014", "acme-slow", Severity.INFO, ref="-", summary="Slow", needs=Needs.DATASET)
def acme_slow(ctx):
    """What it checks: nothing; on instance ...4242.1.777 it never ends."""
    while (ctx.dataset.sop_instance_uid or "").endswith(".777"):
        time.sleep(0.001)
    return iter(())
'''


def test_a_rule_that_raises_or_hangs_does_not_take_orthanc_down(start: Any, tmp_path: Path) -> None:
    """Rule plugins installed beside encaps-lint (here found through PYTHONPATH): one
    raises on every instance, one never ends on one instance."""
    from test_plugins import install

    site = tmp_path / "site"
    site.mkdir()
    install(site, "acme_raising", RAISING, "acme-raising", "r")
    install(site, "acme_slow", SLOW, "acme-slow", "s")
    server = start(
        {"Select": ["ALL"], "Ignore": ["ACM013"], "Timeout": 1, "OnInternalError": "keep"},
        env={"PYTHONPATH": str(site)},
    )
    slow = instance("jpeg", 777)
    started = time.monotonic()
    assert server.post_instance(slow) == "Success"
    assert 1 <= time.monotonic() - started < 5
    stored = server.stored()
    report = server.metadata(stored[uid(777)])
    assert report["gate"]["reason"] == "the lint took longer than 1 s"
    assert report["gate"]["failed"] is True and report["files"] == []
    server.stop()

    raising = start({"OnInternalError": "discard"}, env={"PYTHONPATH": str(site)})
    data = instance("jpeg", 666)
    assert raising.post_instance(data) == "FilteredOut"  # discarded
    original, report = quarantined(raising, uid(666))
    assert original == data and report["gate"]["reason"].startswith("PRS005: ")
    assert raising.get_json("/system")["Name"]  # still up
    assert "a bug in a rule" in report["gate"]["reason"]


def failed_start(server: Orthanc) -> str:
    """Orthanc did not start; the one line that says why (no traceback after it)."""
    assert server.process.wait(STARTUP) != 0
    log = server.logged()
    lines = [line for line in log.splitlines() if "encaps-lint: " in line]
    assert len(lines) == 1, log
    assert "Traceback" not in log and 'File "' not in log
    assert "Orthanc has stopped" in log
    return lines[0]


def test_a_wrong_setting_stops_the_start_with_one_line(start: Any) -> None:
    line = failed_start(start({"Action": "delete"}, up=False))
    assert line.endswith(
        'encaps-lint: wrong configuration: "EncapsLint" > "Action": '
        "expected one of keep, discard, repair, not 'delete'"
    )
    line = failed_start(start({"Action": "discard", "QuarantineFolder": None}, up=False))
    assert '"EncapsLint" > "QuarantineFolder": required with "Action": "discard"' in line


def test_orthanc_must_be_told_of_the_report_metadata(start: Any) -> None:
    server = start({"Action": "keep"}, up=False, drop="UserMetadata")
    line = failed_start(server)
    assert '"UserMetadata" > "EncapsLint": required' in line


def test_the_checkout_copy_of_the_script_says_which_to_use(start: Any) -> None:
    """The repository's bin/ copy names no Python (pip writes it on install)."""
    server = start({}, up=False, script=str(ROOT / "bin" / "encaps_lint_orthanc.py"))
    line = failed_start(server)
    assert "is not an installed copy" in line
    assert "python -m dcmencaps_lint.integrations.orthanc" in line

"""The Orthanc gate's decisions, without Orthanc (dcmencaps_lint/integrations/orthanc.py):
the "EncapsLint" settings, what each action does to each kind of instance, the
quarantine (nothing received is lost, nothing is replaced), internal errors and time
limits. tests/test_orthanc.py runs the same gate inside a real Orthanc.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pydicom
import pytest
from instances import KINDS, instance, uid
from pydicom.encaps import generate_frames

from dcmencaps_lint import lint_file
from dcmencaps_lint.integrations import orthanc as gate_module
from dcmencaps_lint.integrations.orthanc import (
    SCRIPT,
    Gate,
    SettingsError,
    read_settings,
    script_path,
)
from dcmencaps_lint.watchdog import Watchdog

SCHEMA = json.loads(
    (Path(gate_module.__file__).parent.parent / "schema" / "report.schema.json").read_text()
)


def gate(tmp_path: Path, **section: Any) -> Gate:
    section.setdefault("QuarantineFolder", str(tmp_path / "quarantine"))
    return Gate(read_settings({"EncapsLint": section}))


def frames_of(data: bytes) -> list[bytes]:
    ds = pydicom.dcmread(io.BytesIO(data))
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1))))


def same_frames(new: bytes, old: bytes) -> bool:
    """The frames of `new` are those of `old`, byte for byte, but for a pad byte (00) a
    repair added to a fragment of odd length."""
    pairs = list(zip(frames_of(new), frames_of(old), strict=True))
    return all(n == o or (len(o) % 2 and n == o + b"\x00") for n, o in pairs)


def report_of(text: str) -> dict[str, Any]:
    data = json.loads(text)
    jsonschema.validate(data, SCHEMA)  # the JSON report's contract, plus "gate"
    return data


# --- settings ----------------------------------------------------------------------------


def test_no_section_means_the_defaults() -> None:
    settings = read_settings({"Name": "MyOrthanc"})
    assert settings.action == "keep" and settings.on_internal_error == "keep"
    assert settings.action_if_unrepairable == "discard"
    assert settings.quarantine is None and settings.timeout == 60.0
    assert settings.options.fail_on is not None and settings.options.fail_on.label == "error"


@pytest.mark.parametrize(
    ("section", "key", "says"),
    [
        ({"Action": "delete"}, "Action", "expected one of keep, discard, repair, not 'delete'"),
        ({"FailOn": "fatal"}, "FailOn", "not 'fatal'"),
        ({"Deep": "yes"}, "Deep", "expected true or false"),
        ({"Timeout": 0}, "Timeout", "above 0"),
        ({"Timeout": "10"}, "Timeout", "a number of seconds"),
        ({"Select": ["BOT", "NOPE1"]}, "Select", "'NOPE1'"),
        ({"Ignore": 7}, "Ignore", "expected a list"),
        ({"OnInternalError": "repair"}, "OnInternalError", "keep, discard"),
        ({"ActionIfUnrepairable": "repair"}, "ActionIfUnrepairable", "keep, discard"),
        ({"Acton": "keep"}, "Acton", "did you mean 'Action'?"),
        ({"Action": "discard"}, "QuarantineFolder", 'required with "Action": "discard"'),
        ({"Action": "repair"}, "QuarantineFolder", 'required with "Action": "repair"'),
        ({"OnInternalError": "discard"}, "QuarantineFolder", "required with"),
        ({"QuarantineFolder": ""}, "QuarantineFolder", "expected a folder path"),
    ],
)
def test_a_wrong_value_names_its_key(section: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        read_settings({"EncapsLint": section})
    message = str(raised.value)
    assert message.startswith(f'"EncapsLint" > "{key}": ') and says in message
    assert "\n" not in message  # one log line


@pytest.mark.parametrize(
    "declared", [None, {}, {"Other": 4242}, {"EncapsLint": "4242"}, {"EncapsLint": 99}]
)
def test_the_report_metadata_must_be_declared(declared: Any) -> None:
    from dcmencaps_lint.integrations.orthanc import check_metadata_declared

    configuration = {} if declared is None else {"UserMetadata": declared}
    with pytest.raises(SettingsError, match=r'^"UserMetadata" > "EncapsLint": required'):
        check_metadata_declared(configuration)
    check_metadata_declared({"UserMetadata": {"Other": 5000, "EncapsLint": 4242}})


def test_the_section_must_be_an_object() -> None:
    with pytest.raises(SettingsError, match=r'^"EncapsLint": expected an object'):
        read_settings({"EncapsLint": ["Action", "keep"]})


def test_a_quarantine_folder_that_cannot_be_made_is_said_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(SettingsError, match='"QuarantineFolder": cannot create'):
        read_settings({"EncapsLint": {"QuarantineFolder": str(tmp_path / "file" / "q")}})


def test_settings_as_the_command_line_takes_them(tmp_path: Path) -> None:
    settings = read_settings(
        {
            "EncapsLint": {
                "FailOn": "warning",
                "Select": "BOT,ITM",
                "Ignore": ["BOT004"],
                "Deep": True,
                "Action": "repair",
                "ActionIfUnrepairable": "keep",
                "QuarantineFolder": str(tmp_path / "q"),
                "OnInternalError": "discard",
                "Timeout": 2.5,
            }
        }
    )
    assert settings.options.selection.select == ("BOT", "ITM")
    assert settings.options.selection.ignore == ("BOT004",)
    assert settings.options.selection.deep and settings.options.fail_on.label == "warning"
    assert (settings.action, settings.action_if_unrepairable) == ("repair", "keep")
    assert settings.on_internal_error == "discard" and settings.timeout == 2.5
    assert settings.quarantine == str(tmp_path / "q") and (tmp_path / "q").is_dir()
    # BOT004 ignored: the instance whose only defect it is passes
    assert Gate(settings).judge(instance("jpeg-bot", 1)).action == "keep"
    assert not Gate(settings).judge(instance("jpeg-bot", 1)).failed


# --- the actions -------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["keep", "discard", "repair"])
@pytest.mark.parametrize("kind", ["jpeg", "j2k", "rle"])
def test_an_instance_that_passes_is_stored_as_received(
    tmp_path: Path, action: str, kind: str
) -> None:
    g = gate(tmp_path, Action=action)
    verdict = g.judge(instance(kind, 7))
    assert (verdict.action, verdict.data, verdict.failed) == ("keep", None, False)
    assert verdict.uid == uid(7) and verdict.says == "no findings: passed"
    report = report_of(verdict.report)
    assert report["gate"] == {
        "action": "stored",
        "failed": False,
        "reason": None,
        "quarantined": None,
    }
    assert report["files"][0]["status"] == "passed"
    assert report["files"][0]["sop_instance_uid"] == uid(7)
    assert not any((tmp_path / "quarantine").iterdir())


@pytest.mark.parametrize("kind", ["jpeg-bot", "jpeg-odd", "jpeg-no-eoi", "j2k-bot"])
def test_keep_stores_a_failing_instance_as_received_flagged(tmp_path: Path, kind: str) -> None:
    verdict = gate(tmp_path, Action="keep").judge(instance(kind, 3))
    assert (verdict.action, verdict.data, verdict.failed) == ("keep", None, True)
    report = report_of(verdict.report)
    assert report["gate"]["action"] == "stored" and report["gate"]["failed"] is True
    assert {f["code"] for f in report["files"][0]["findings"]} == KINDS[kind].codes
    assert report["files"][0]["status"] == "failed"
    assert verdict.says == f"{', '.join(sorted(KINDS[kind].codes))}: failed; stored as received"


@pytest.mark.parametrize("kind", ["jpeg-bot", "jpeg-odd", "jpeg-no-eoi", "j2k-bot"])
def test_discard_quarantines_the_original_and_its_report(tmp_path: Path, kind: str) -> None:
    data = instance(kind, 4)
    verdict = gate(tmp_path, Action="discard").judge(data)
    assert (verdict.action, verdict.failed) == ("discard", True)
    kept = tmp_path / "quarantine" / f"{uid(4)}.dcm"
    assert kept.read_bytes() == data
    beside = report_of((tmp_path / "quarantine" / f"{uid(4)}.json").read_text())
    assert beside == report_of(verdict.report)
    assert beside["gate"] == {
        "action": "discarded",
        "failed": True,
        "reason": None,
        "quarantined": str(kept),
    }
    assert {f["code"] for f in beside["files"][0]["findings"]} == KINDS[kind].codes
    assert str(kept) in verdict.says
    assert sorted(p.name for p in kept.parent.iterdir()) == [kept.name, f"{uid(4)}.json"]


@pytest.mark.parametrize("kind", ["jpeg-bot", "jpeg-odd", "j2k-bot"])
def test_repair_stores_the_repaired_instance_and_quarantines_the_original(
    tmp_path: Path, kind: str
) -> None:
    data = instance(kind, 5)
    verdict = gate(tmp_path, Action="repair").judge(data)
    assert verdict.action == "modify" and verdict.failed and verdict.data is not None
    assert lint_file(verdict.data).status == "passed"
    assert lint_file(verdict.data).findings == ()
    assert same_frames(verdict.data, data)
    kept = tmp_path / "quarantine" / f"{uid(5)}.dcm"
    assert kept.read_bytes() == data
    stored = report_of(verdict.report)  # the repaired instance's, with what was fixed
    assert stored["gate"]["action"] == "repaired" and stored["gate"]["quarantined"] == str(kept)
    assert stored["files"][0]["status"] == "passed"
    assert {f["code"] for f in stored["files"][0]["fixes"]} == KINDS[kind].codes
    original = report_of((tmp_path / "quarantine" / f"{uid(5)}.json").read_text())
    assert {f["code"] for f in original["files"][0]["findings"]} == KINDS[kind].codes
    assert original["gate"]["action"] == "repaired"


def test_repair_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    data = instance("jpeg-odd", 6)
    repaired = gate(tmp_path, Action="repair").judge(data).data
    assert repaired is not None
    old = pydicom.dcmread(io.BytesIO(data)).pixel_array  # its codestreams are whole
    new = pydicom.dcmread(io.BytesIO(repaired)).pixel_array
    assert (old == new).all()


@pytest.mark.parametrize(("fallback", "action"), [("discard", "discard"), ("keep", "keep")])
def test_an_unrepairable_instance_follows_action_if_unrepairable(
    tmp_path: Path, fallback: str, action: str
) -> None:
    data = instance("jpeg-no-eoi", 8)
    g = gate(tmp_path, Action="repair", ActionIfUnrepairable=fallback)
    verdict = g.judge(data)
    assert (verdict.action, verdict.data, verdict.failed) == (action, None, True)
    report = report_of(verdict.report)
    assert report["gate"]["reason"] == "no finding has a safe fix"
    quarantined = (tmp_path / "quarantine" / f"{uid(8)}.dcm").exists()
    assert quarantined == (fallback == "discard")
    assert g.stats.as_dict()["unrepairable"] == 1


def test_a_safe_fix_that_cannot_be_applied_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dcmencaps_lint import fixer

    def refuses(*args: Any) -> Any:
        raise fixer.CannotFix("the layout is refused")

    monkeypatch.setattr(fixer, "layout", refuses)
    verdict = gate(tmp_path, Action="repair").judge(instance("jpeg-bot", 15))
    assert verdict.action == "discard" and verdict.data is None
    reason = report_of(verdict.report)["gate"]["reason"]
    assert reason == "not fixed: the layout is refused"
    assert "unrepairable (not fixed: the layout is refused)" in verdict.says


@pytest.mark.parametrize(("fail_on", "fails"), [("error", False), ("warning", True)])
def test_fail_on_decides_what_fails(tmp_path: Path, fail_on: str, fails: bool) -> None:
    data = instance("jpeg-no-lossy-flag", 14)  # TSX006, a warning
    verdict = gate(tmp_path, FailOn=fail_on, Action="discard").judge(data)
    assert verdict.failed == fails and verdict.action == ("discard" if fails else "keep")
    report = report_of(verdict.report)
    assert [f["code"] for f in report["files"][0]["findings"]] == ["TSX006"]
    assert report["files"][0]["status"] == ("failed" if fails else "passed")


# --- the quarantine ----------------------------------------------------------------------


def test_an_instance_received_again_never_replaces_the_first(tmp_path: Path) -> None:
    g = gate(tmp_path, Action="discard")
    first, second = instance("jpeg-no-eoi", 9), instance("jpeg-bot", 9)  # one UID
    g.judge(first)
    g.judge(second)
    g.judge(first)
    folder = tmp_path / "quarantine"
    assert (folder / f"{uid(9)}.dcm").read_bytes() == first
    assert (folder / f"{uid(9)}~2.dcm").read_bytes() == second
    assert (folder / f"{uid(9)}~3.dcm").read_bytes() == first
    assert len(list(folder.iterdir())) == 6  # each with its report, no temporary left


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # pydicom, writing it
def test_a_file_without_a_usable_uid_is_named_by_its_hash(tmp_path: Path) -> None:
    import hashlib

    from builders import encapsulated, jpeg_frame

    data = encapsulated(
        [jpeg_frame(33)], extra={"SOPInstanceUID": "../../etc/passwd", "PatientID": "Doe^J"}
    ).data
    verdict = gate(tmp_path, Action="discard").judge(data)
    assert verdict.action == "discard"
    name = "sha256-" + hashlib.sha256(data).hexdigest()
    assert (tmp_path / "quarantine" / f"{name}.dcm").read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "quarantine").iterdir()) == [
        f"{name}.dcm",
        f"{name}.json",
    ]


def test_a_quarantine_that_fails_keeps_the_instance(tmp_path: Path) -> None:
    """Nothing received is lost: an instance that cannot be quarantined is stored."""
    g = gate(tmp_path, Action="discard")
    shutil.rmtree(tmp_path / "quarantine")  # the folder went away after start-up
    verdict = g.judge(instance("jpeg-bot", 10))
    assert (verdict.action, verdict.failed) == ("keep", True)
    reason = report_of(verdict.report)["gate"]["reason"]
    assert reason.startswith("not discarded: the quarantine failed")
    assert g.stats.as_dict()["quarantine_failures"] == 1
    repair = gate(tmp_path / "r", Action="repair")
    shutil.rmtree(tmp_path / "r" / "quarantine")
    verdict = repair.judge(instance("jpeg-bot", 11))
    assert (verdict.action, verdict.data) == ("keep", None)  # not repaired either


# --- internal errors and time limits -----------------------------------------------------


@pytest.mark.parametrize("on_error", ["keep", "discard"])
def test_a_lint_that_raises_follows_on_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_error: str
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("out of luck")

    g = gate(tmp_path, OnInternalError=on_error)
    monkeypatch.setattr(g.linter, "lint", broken)
    data = instance("jpeg", 12)
    verdict = g.judge(data)
    assert verdict.action == on_error and verdict.failed
    report = report_of(verdict.report)
    assert report["gate"]["reason"] == "encaps-lint raised MemoryError: out of luck"
    assert report["files"] == []
    quarantined = list((tmp_path / "quarantine").glob("*.dcm"))
    if on_error == "discard":  # no UID was read: named by the bytes' hash
        assert [p.read_bytes() for p in quarantined] == [data]
    else:
        assert quarantined == []
    assert g.stats.as_dict()["internal_errors"] == 1


RAISING = '''
from dcmencaps_lint import Needs, Severity, rule


@rule("ACM013", "acme-raises", Severity.INFO, ref="-", summary="Raises", needs=Needs.DATASET)
def acme_raises(ctx):
    """What it checks: nothing; it raises, as a buggy plugin rule would."""
    raise ZeroDivisionError("a bug in a rule")
'''


def test_a_rule_that_raises_is_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_plugins import install

    from dcmencaps_lint.registry import load_rules

    site = tmp_path / "site"
    site.mkdir()
    install(site, "acme_raising", RAISING, "acme-raising", "raising")
    monkeypatch.syspath_prepend(str(site))
    load_rules.cache_clear()
    try:
        g = gate(tmp_path, OnInternalError="discard")
        verdict = g.judge(instance("jpeg", 13))
    finally:
        load_rules.cache_clear()
        sys.modules.pop("acme_raising", None)
    report = report_of(verdict.report)
    assert verdict.action == "discard" and verdict.failed
    assert report["gate"]["reason"].startswith("PRS005: ")
    assert "ZeroDivisionError" in report["gate"]["reason"]
    assert [f["code"] for f in report["files"][0]["findings"]] == ["PRS005"]
    assert (tmp_path / "quarantine" / f"{uid(13)}.dcm").read_bytes() == instance("jpeg", 13)


def test_a_lint_past_its_time_limit_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = gate(tmp_path, Timeout=0.2, OnInternalError="keep")
    real = g.linter.lint

    def endless(*args: Any, **kwargs: Any) -> Any:
        while True:  # a rule that never ends
            time.sleep(0.001)

    monkeypatch.setattr(g.linter, "lint", endless)
    for n in range(3):
        started = time.monotonic()
        verdict = g.judge(instance("jpeg", 20 + n))
        assert 0.2 <= time.monotonic() - started < 2
        assert verdict.action == "keep" and verdict.failed
        assert report_of(verdict.report)["gate"]["reason"] == "the lint took longer than 0.2 s"
    monkeypatch.setattr(g.linter, "lint", real)
    for n in range(3):  # nothing left pending: the next lints run to their end
        assert not g.judge(instance("jpeg", 30 + n)).failed
    time.sleep(0.3)  # past the deadline the last lint had: the watchdog raises nothing now
    assert g.stats.as_dict()["internal_errors"] == 3
    assert g._watchdog._armed == []


def test_a_lint_that_ends_at_its_deadline_raises_nothing_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watchdog fires as the lint returns: the exception is raised in the lint or
    cleared, never raised in what the thread does next. Time limits about as long as a
    lint, so that both happen (the watchdog let run often: a short switch interval)."""
    data = instance("jpeg", 50)
    linter = gate(tmp_path).linter
    took = []
    for _ in range(30):
        started = time.perf_counter()
        linter.lint(data)
        took.append(time.perf_counter() - started)
    typical = sorted(took)[len(took) // 2]
    monkeypatch.setattr(Watchdog, "POLL", typical / 4)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.00005)
    outcomes = set()
    try:
        for scale in (0.5, 1.0, 1.5, 2.0, 3.0):
            g = gate(tmp_path, Timeout=typical * scale, OnInternalError="keep")
            for _ in range(100):
                verdict = g.judge(data)
                assert verdict.action == "keep"
                outcomes.add(verdict.failed)
                for _ in range(1000):  # where a late exception would surface
                    pass
    finally:
        sys.setswitchinterval(previous)
    assert outcomes == {True, False}


def test_stats_count_what_was_done(tmp_path: Path) -> None:
    g = gate(tmp_path, Action="repair")
    for n, kind in enumerate(["jpeg", "jpeg-bot", "jpeg-no-eoi", "rle"]):
        g.judge(instance(kind, 40 + n))
    counts = g.stats.as_dict()
    assert {k: counts[k] for k in ("received", "passed", "failed", "repaired")} == {
        "received": 4,
        "passed": 2,
        "failed": 2,
        "repaired": 1,
    }
    assert counts["unrepairable"] == counts["discarded"] == 1 and counts["quarantined"] == 2
    assert counts["lint_seconds"] > 0


# --- the plugin script -------------------------------------------------------------------


def test_python_m_prints_the_installed_plugin_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dcmencaps_lint.integrations.orthanc"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,  # the checkout's own copy is passed over
        check=True,
    )
    path = done.stdout.strip()
    assert path == script_path() and os.path.isabs(path) and Path(path).name == SCRIPT
    first = Path(path).read_text().splitlines()[0]
    assert first.startswith("#!") and Path(first[2:].split()[0]).exists()  # pip named a Python


def test_the_plugin_script_reads_both_first_lines_pip_writes(tmp_path: Path) -> None:
    """`#!/path/python`, and for a path with spaces `#!/bin/sh` + `'''exec' "/path"`."""
    source = (Path(__file__).parent.parent / "bin" / SCRIPT).read_text()
    body = source.split("\ntry:\n    _use_installation()")[0].split("\n", 1)[1]
    for head, python in [
        ("#!/opt/venv/bin/python3\n", "/opt/venv/bin/python3"),
        ("#!/bin/sh\n'''exec' \"/opt/my venv/bin/python\" \"$0\" \"$@\"\n' '''\n", None),
        ("#!python\n", "refused"),
    ]:
        script = tmp_path / SCRIPT
        script.write_text(head + body)
        namespace: dict[str, Any] = {"__file__": str(script), "__name__": "probe"}
        exec(compile(head + body, str(script), "exec"), namespace)
        if python == "refused":
            with pytest.raises(RuntimeError, match="not an installed copy"):
                namespace["_installed_for"]()
        else:
            assert namespace["_installed_for"]() == (python or "/opt/my venv/bin/python")


class FakeStored:
    """What Orthanc's stored-instance callback gets (orthanc.DicomInstance), in part."""

    def __init__(self, data: bytes, uid: str) -> None:
        self.data, self.uid, self.asked_json = data, uid, 0

    def GetInstanceSize(self) -> int:  # Orthanc's names
        return len(self.data)

    def GetInstanceData(self) -> bytes:
        return self.data

    def GetInstanceSimplifiedJson(self) -> str:
        self.asked_json += 1
        return json.dumps({"SOPInstanceUID": self.uid, "PatientID": "x"})


def test_a_report_goes_only_to_the_instance_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    pending = gate_module._Pending()
    pending.put("1.2.3", b"judged", "report")
    assert pending.take(FakeStored(b"judged", "1.2.3")) == "report"
    assert pending.take(FakeStored(b"judged", "1.2.3")) is None  # taken once
    pending.put("1.2.3", b"judged", "report")
    assert pending.take(FakeStored(b"other!", "1.2.3")) is None  # same size, other bytes
    pending.put("1.2.3", b"judged", "report")
    pending.drop()  # the next instance of this thread was discarded
    assert pending.take(FakeStored(b"judged", "1.2.3")) is None
    pending.put("1.2.3", b"judged", "report")
    taken: list[str | None] = []
    other = threading.Thread(target=lambda: taken.append(pending.take(FakeStored(b"judged", ""))))
    other.start()
    other.join()
    assert taken == [None]  # another thread's instance
    assert pending.take(FakeStored(b"judged", "1.2.3")) == "report"
    # a large instance: not kept; matched by its size and SOP Instance UID
    monkeypatch.setattr(gate_module._Pending, "SMALL", 4)
    pending.put("1.2.3", b"judged", "report")
    stored = FakeStored(b"JUDGED", "1.2.3")
    assert pending.take(stored) == "report" and stored.asked_json == 1
    pending.put("1.2.3", b"judged", "report")
    assert pending.take(FakeStored(b"judged", "1.2.4")) is None

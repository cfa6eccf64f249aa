"""encaps-lint as the gate of an Orthanc PACS: every instance Orthanc receives, over DICOM
or REST, is linted before it is stored, then stored as it is, stored repaired, or
discarded, by its findings and the `"EncapsLint"` section of Orthanc's configuration.

Orthanc's Python plugin runs the script `encaps_lint_orthanc.py`, installed beside the
`encaps-lint` command (`python -m dcmencaps_lint.integrations.orthanc` prints its path).
The script finds this installation and calls `install()`, which wires the three parts
here to Orthanc:

- `read_settings`: the section, checked; a wrong value is a SettingsError naming the key,
  and the script lets it stop Orthanc's start-up.
- `Gate.judge`: the received-instance callback's answer for one instance: keep it as
  received, store it repaired (MODIFY), or discard it; what is not stored as received is
  first written to the quarantine folder with its report (`Quarantine`), so nothing
  received is lost. Nothing in it needs Orthanc (tests/test_orthanc_gate.py).
- the stored-instance callback puts each stored instance's report in its metadata
  `EncapsLint`; GET /encaps-lint/stats answers the counts since start (`Stats`).

The report is the JSON report (formats/json.py, schema_version 1) of the one instance,
with an added object `"gate"`: what was done and why.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from dcmencaps_lint.command import DEFAULT_TIMEOUT  # seconds, as the command line's per file
from dcmencaps_lint.config import FAIL_ON, selector_list
from dcmencaps_lint.engine import Linter, Options, iter_lint_paths
from dcmencaps_lint.formats.json import report_dict
from dcmencaps_lint.model import FileReport, Report, Severity, Summary
from dcmencaps_lint.registry import Selection, load_rules
from dcmencaps_lint.rules.prs import INTERNAL_ERROR
from dcmencaps_lint.watchdog import TimedOut, Watchdog
from dcmencaps_lint.writer import fsync_folder

SECTION = "EncapsLint"  # of Orthanc's configuration
METADATA = "EncapsLint"  # the instance metadata that holds the report
SCRIPT = "encaps_lint_orthanc.py"  # what Orthanc's "PythonScript" names
ACTIONS = ("keep", "discard", "repair")
FALLBACKS = ("keep", "discard")  # for ActionIfUnrepairable and OnInternalError
_KEYS = (
    "FailOn",
    "Select",
    "Ignore",
    "Deep",
    "Action",
    "ActionIfUnrepairable",
    "QuarantineFolder",
    "OnInternalError",
    "Timeout",
)
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


class SettingsError(ValueError):
    """A wrong value in the "EncapsLint" section; the message names the key."""


class Settings(NamedTuple):
    """The "EncapsLint" section, checked."""

    options: Options = Options()
    action: str = "keep"
    action_if_unrepairable: str = "discard"
    quarantine: str | None = None  # folder
    on_internal_error: str = "keep"
    timeout: float = DEFAULT_TIMEOUT


def read_settings(configuration: Mapping[str, Any]) -> Settings:
    """The "EncapsLint" section of Orthanc's whole configuration (absent: the defaults).
    The quarantine folder is created here, so that one that cannot be is said at start."""
    section = configuration.get(SECTION, {})

    def fail(key: str, problem: str) -> SettingsError:
        return SettingsError(f'"{SECTION}" > "{key}": {problem}')

    if not isinstance(section, dict):
        raise SettingsError(f'"{SECTION}": expected an object of settings, not {section!r}')
    for key in section:
        if key not in _KEYS:
            close = difflib.get_close_matches(key, _KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise fail(key, f"unknown setting{hint}; known: {', '.join(_KEYS)}")

    def choice(key: str, choices: tuple[str, ...], default: str) -> str:
        value = section.get(key, default)
        if value not in choices:
            raise fail(key, f"expected one of {', '.join(choices)}, not {value!r}")
        return str(value)

    rules = load_rules()

    def selectors(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        try:  # as in encaps-lint's configuration file
            return selector_list(section.get(key, list(default)), rules)
        except ValueError as exc:
            raise fail(key, str(exc)) from None

    deep = section.get("Deep", False)
    if not isinstance(deep, bool):
        raise fail("Deep", f"expected true or false, not {deep!r}")
    timeout = section.get("Timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise fail("Timeout", f"expected a number of seconds above 0, not {timeout!r}")
    fail_on = choice("FailOn", FAIL_ON, "error")
    settings = Settings(
        options=Options(
            Selection(selectors("Select", ("ALL",)), selectors("Ignore", ()), deep),
            fail_on=None if fail_on == "never" else Severity.parse(fail_on),
        ),
        action=choice("Action", ACTIONS, "keep"),
        action_if_unrepairable=choice("ActionIfUnrepairable", FALLBACKS, "discard"),
        on_internal_error=choice("OnInternalError", FALLBACKS, "keep"),
        timeout=float(timeout),
    )
    folder = section.get("QuarantineFolder")
    if folder is not None and (not isinstance(folder, str) or not folder):
        raise fail("QuarantineFolder", f"expected a folder path, not {folder!r}")
    if folder is None:
        # what is discarded or repaired is quarantined first, so a folder must be named
        needs = [
            f'"{key}": "{value}"'
            for key, value in (
                ("Action", settings.action),
                ("OnInternalError", settings.on_internal_error),
            )
            if value in ("discard", "repair")
        ]
        if needs:
            raise fail(
                "QuarantineFolder",
                f"required with {' and '.join(needs)}: the originals of the instances "
                "not stored as received are kept there",
            )
        return settings
    folder = os.path.abspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise fail("QuarantineFolder", f"cannot create {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise fail("QuarantineFolder", f"{folder} is not writable by Orthanc")
    return settings._replace(quarantine=folder)


def check_metadata_declared(configuration: Mapping[str, Any]) -> None:
    """Orthanc stores a metadata only under a name its "UserMetadata" declares."""
    declared = configuration.get("UserMetadata")
    number = declared.get(METADATA) if isinstance(declared, dict) else None
    if isinstance(number, bool) or not isinstance(number, int) or not 1024 <= number <= 65535:
        raise SettingsError(
            f'"UserMetadata" > "{METADATA}": required, a number from 1024 to 65535 '
            f'(e.g. "UserMetadata": {{"{METADATA}": 4242}}), so that each instance\'s '
            "report can be stored with it"
        )


class Verdict(NamedTuple):
    """The answer for one received instance."""

    action: str  # keep (as received) | modify (store `data`) | discard
    data: bytes | None  # the repaired instance, to store instead (modify)
    report: str  # the JSON report: the stored instance's metadata, or the quarantined one's
    uid: str | None  # the SOP Instance UID, when the file has one
    failed: bool  # the instance as received failed the gate (or could not be judged)
    says: str  # the codes found and what was done, for Orthanc's log


class _Outcome(NamedTuple):
    """What linting (and repairing) found, before anything is decided or written."""

    report: FileReport | None  # None: no report (the lint did not finish)
    error: str | None = None  # why the instance could not be judged
    repaired: tuple[bytes, FileReport] | None = None
    unrepaired: str | None = None  # why the repair was not taken


class Stats:
    """Counts since start, for GET /encaps-lint/stats."""

    NAMES = (
        "received",
        "passed",
        "failed",
        "stored",
        "stored_flagged",
        "repaired",
        "discarded",
        "unrepairable",
        "internal_errors",
        "quarantined",
        "quarantine_failures",
        "reported_unjudged",  # stored without being judged: linted after, no action
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.NAMES, 0)
        self._lint = 0.0  # seconds linting (and repairing), waited for by Orthanc
        self._gate = 0.0  # seconds in the gate's callbacks: what it costs Orthanc in all
        self._started = time.time()

    def add(self, *names: str) -> None:
        with self._lock:
            for name in names:
                self._counts[name] += 1

    def spent(self, *, lint: float = 0.0, gate: float = 0.0) -> None:
        with self._lock:
            self._lint += lint
            self._gate += gate

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self._counts,
                "lint_seconds": round(self._lint, 3),
                "gate_seconds": round(self._gate, 3),
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._started)),
            }


class Quarantine:
    """The folder where the original bytes of every instance not stored as received are
    written, each with its JSON report beside it: `<SOP Instance UID>.dcm` and `.json`
    (a file without a usable UID: `sha256-<hash of its bytes>`; never patient data).
    An instance received again gets `~2`, `~3`... after its name: nothing is replaced.

    Each file is written to a hidden temporary file in the folder, fsynced, read back and
    compared, then linked to its name (a link, unlike a rename, never replaces a file)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def keep(self, data: bytes, uid: str | None, report: Callable[[str], str]) -> str:
        """Write the instance, then its report (`report(path of the instance)`); the path
        of the instance. OSError if it could not be written whole."""
        stem = uid if uid else "sha256-" + hashlib.sha256(data).hexdigest()
        for attempt in range(1, 10_000):
            name = stem if attempt == 1 else f"{stem}~{attempt}"
            path = os.path.join(self.folder, name + ".dcm")
            if os.path.lexists(path) or os.path.lexists(path[:-4] + ".json"):
                continue
            try:
                self._write_new(path, data)
            except FileExistsError:
                continue  # another thread took the name first
            self._write_new(path[:-4] + ".json", report(path).encode())
            return path
        raise OSError(f"no free name for {stem} in {self.folder}")

    def _write_new(self, path: str, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(prefix=".", suffix=".encaps-lint", dir=self.folder)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                os.lseek(fd, 0, os.SEEK_SET)
                if _read_all(fd, len(data) + 1) != data:
                    raise OSError(f"{temporary} does not read back as written")
            finally:
                os.close(fd)
            os.link(temporary, path)  # FileExistsError when the name is taken
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        fsync_folder(self.folder)


def _read_all(fd: int, limit: int) -> bytes:
    chunks = []
    while limit > 0:
        chunk = os.read(fd, min(limit, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        limit -= len(chunk)
    return b"".join(chunks)


class Gate:
    """Judges received instances by the settings; Orthanc waits at most `timeout`
    seconds for one."""

    def __init__(self, settings: Settings, stats: Stats | None = None) -> None:
        self.settings = settings
        self.stats = stats or Stats()
        self.quarantine = Quarantine(settings.quarantine) if settings.quarantine else None
        self.linter = Linter(settings.options)  # the rules chosen once, not per instance
        self._watchdog = Watchdog()

    def judge(self, data: bytes) -> Verdict:
        started = time.monotonic()
        outcome = self._examined(data)
        self.stats.add("received")
        self.stats.spent(lint=time.monotonic() - started)
        verdict = self._decided(data, outcome)
        found = outcome.report.findings if outcome.report is not None else ()
        codes = ", ".join(sorted({f.code for f in found})) or "no findings"
        return verdict._replace(says=f"{codes}: {verdict.says}")

    def report_of(self, data: bytes) -> str:
        """The report of an instance stored without being judged (no action taken)."""
        outcome = self._examined(data)
        failed = outcome.report is None or outcome.report.status not in ("passed", "skipped")
        return _report_json(outcome.report, "stored", outcome.error, failed, None)

    def _examined(self, data: bytes) -> _Outcome:
        """Lint (and repair) in this thread, stopped by the watchdog after `timeout`
        seconds. (In a thread of its own, handing the instance over and back costs more
        than linting it: 0.5 ms an instance in Orthanc's Python, measured.)"""
        try:
            armed = self._watchdog.arm(self.settings.timeout)
            try:
                return self._examine(data)
            finally:
                self._watchdog.disarm(armed)
        except TimedOut:
            return _Outcome(None, f"the lint took longer than {self.settings.timeout:g} s")
        except Exception as exc:  # anything: said, never raised into Orthanc
            return _Outcome(None, f"encaps-lint raised {type(exc).__name__}: {exc}")

    def _examine(self, data: bytes) -> _Outcome:
        options = self.settings.options
        report = self.linter.lint(data, path="instance")
        report = report._replace(path=_stem(report.sop_instance_uid, data) + ".dcm")
        raised = [f.message for f in report.findings if f.code == INTERNAL_ERROR.code]
        if raised:
            return _Outcome(report, f"{INTERNAL_ERROR.code}: {raised[0]}")
        if report.status in ("passed", "skipped") or self.settings.action != "repair":
            return _Outcome(report)
        with tempfile.TemporaryDirectory(prefix="encaps-lint-repair-") as folder:
            path = os.path.join(folder, report.path)
            with open(path, "xb") as file:
                file.write(data)
            fixed = next(iter(iter_lint_paths([path], options=options._replace(fix=True))))
            fixed = fixed._replace(path=report.path)
            if not fixed.fixes:  # its findings say why a fix offered was not applied
                reasons = sorted({_not_fixed(f.message) for f in fixed.findings} - {""})
                why = "; ".join(reasons) or "no finding has a safe fix"
                return _Outcome(report, unrepaired=why)
            if fixed.status not in ("passed", "skipped"):
                left = ", ".join(sorted({f.code for f in fixed.findings}))
                return _Outcome(report, unrepaired=f"the repaired instance still fails: {left}")
            with open(path, "rb") as file:
                return _Outcome(report, repaired=(file.read(), fixed))

    def _decided(self, data: bytes, outcome: _Outcome) -> Verdict:
        report, settings = outcome.report, self.settings
        uid = report.sop_instance_uid if report is not None else None
        if outcome.error is not None:
            self.stats.add("internal_errors")
            what = f"not judged ({outcome.error})"
            return self._apply(data, settings.on_internal_error, outcome, what, uid)
        assert report is not None
        if report.status in ("passed", "skipped"):
            self.stats.add("passed", "stored")
            text = _report_json(report, "stored", None, False, None)
            return Verdict("keep", None, text, uid, False, "passed")
        self.stats.add("failed")
        if settings.action == "repair":
            if outcome.repaired is not None:
                return self._repair(data, outcome, outcome.repaired, uid)
            self.stats.add("unrepairable")
            what = f"unrepairable ({outcome.unrepaired})"
            return self._apply(data, settings.action_if_unrepairable, outcome, what, uid)
        return self._apply(data, settings.action, outcome, "failed", uid)

    def _apply(
        self, data: bytes, action: str, outcome: _Outcome, what: str, uid: str | None
    ) -> Verdict:
        """keep (stored as received, flagged) or discard (quarantined first)."""
        why = outcome.error or outcome.unrepaired
        if action == "discard":
            kept = self._quarantined(
                data, uid, lambda path: _report_json(outcome.report, "discarded", why, True, path)
            )
            if isinstance(kept, str):
                self.stats.add("discarded")
                text = _report_json(outcome.report, "discarded", why, True, kept)
                return Verdict("discard", None, text, uid, True, f"{what}; discarded ({kept})")
            why = f"{why}; " if why else ""
            why += f"not discarded: the quarantine failed ({kept})"
        self.stats.add("stored_flagged")
        text = _report_json(outcome.report, "stored", why, True, None)
        return Verdict("keep", None, text, uid, True, f"{what}; stored as received")

    def _repair(
        self, data: bytes, outcome: _Outcome, repaired: tuple[bytes, FileReport], uid: str | None
    ) -> Verdict:
        new, fixed = repaired
        codes = ", ".join(sorted({f.code for f in fixed.fixes}))
        kept = self._quarantined(
            data,
            uid,
            lambda path: _report_json(outcome.report, "repaired", f"fixed {codes}", True, path),
        )
        if not isinstance(kept, str):  # the original is not safe: store it as it came
            self.stats.add("stored_flagged")
            why = f"not repaired: the quarantine failed ({kept})"
            text = _report_json(outcome.report, "stored", why, True, None)
            return Verdict("keep", None, text, uid, True, f"failed; stored as received ({why})")
        self.stats.add("repaired")
        text = _report_json(fixed, "repaired", f"fixed {codes}; original in {kept}", True, kept)
        return Verdict("modify", new, text, uid, True, f"repaired {codes}; original in {kept}")

    def _quarantined(
        self, data: bytes, uid: str | None, report: Callable[[str], str]
    ) -> str | OSError:
        """The quarantined file's path, or why it could not be written."""
        assert self.quarantine is not None  # read_settings requires the folder
        try:
            path = self.quarantine.keep(data, _usable(uid), report)
        except OSError as exc:
            self.stats.add("quarantine_failures")
            return exc
        self.stats.add("quarantined")
        return path


def _usable(uid: str | None) -> str | None:
    """A SOP Instance UID fit to name a file (digits and dots, 64 at most), else None."""
    if uid and len(uid) <= 64 and _UID.fullmatch(uid):
        return uid
    return None


def _stem(uid: str | None, data: bytes) -> str:
    return _usable(uid) or "sha256-" + hashlib.sha256(data).hexdigest()


def _not_fixed(message: str) -> str:
    """The engine's "(not fixed: why)" at the end of a finding's message, or ""."""
    start = message.rfind("(not fixed: ")
    return message[start + 1 : -1] if start >= 0 and message.endswith(")") else ""


def _report_json(
    report: FileReport | None, action: str, why: str | None, failed: bool, original: str | None
) -> str:
    """The JSON report of one instance, with the gate's `"gate"` object."""
    files = (report,) if report is not None else ()
    data = report_dict(Report(files, Summary.of(files)))
    data["gate"] = {
        "action": action,  # stored | repaired | discarded
        "failed": failed,  # the instance as received failed (or could not be judged)
        "reason": why,
        "quarantined": original,  # the path of the original's copy, if one was written
    }
    return json.dumps(data)


# --- Orthanc -----------------------------------------------------------------------------


def install() -> None:
    """Register the gate's callbacks with Orthanc (called by the plugin script)."""
    import orthanc  # Orthanc's Python plugin: exists only inside Orthanc

    try:
        configuration = json.loads(orthanc.GetConfiguration())
        settings = read_settings(configuration)
        check_metadata_declared(configuration)
    except SettingsError as exc:
        orthanc.LogError(f"encaps-lint: wrong configuration: {exc}")
        sys.tracebacklimit = 0  # Orthanc stops: the line above says it all
        raise RuntimeError("encaps-lint cannot start: see the line above") from None
    gate = Gate(settings)
    pending = _Pending()

    def received(data: bytes, origin: Any) -> tuple[Any, bytes | None]:
        started = time.monotonic()
        try:
            return answer(data)
        finally:
            gate.stats.spent(gate=time.monotonic() - started)

    def answer(data: bytes) -> tuple[Any, bytes | None]:
        data = bytes(data)
        try:
            verdict = gate.judge(data)
        except Exception as exc:  # never into Orthanc: the instance is kept as it came
            orthanc.LogError(f"encaps-lint: the gate raised {type(exc).__name__}: {exc}")
            pending.drop()
            return orthanc.ReceivedInstanceAction.KEEP_AS_IS, None
        if verdict.failed:
            who = verdict.uid or "an instance without SOP Instance UID"
            orthanc.LogWarning(f"encaps-lint: {who}: {verdict.says}")
        if verdict.action == "discard":
            pending.drop()
            return orthanc.ReceivedInstanceAction.DISCARD, None
        if verdict.action == "modify" and verdict.data is not None:
            pending.put(verdict.uid, verdict.data, verdict.report)
            return orthanc.ReceivedInstanceAction.MODIFY, verdict.data
        pending.put(verdict.uid, data, verdict.report)
        return orthanc.ReceivedInstanceAction.KEEP_AS_IS, None

    def stored(dicom: Any, instance_id: str) -> None:
        started = time.monotonic()
        try:
            put_report(dicom, instance_id)
        finally:
            gate.stats.spent(gate=time.monotonic() - started)

    def put_report(dicom: Any, instance_id: str) -> None:
        try:
            report = pending.take(dicom)
            if report is None:  # stored without passing the gate: reported, no action
                gate.stats.add("reported_unjudged")
                report = gate.report_of(bytes(dicom.GetInstanceData()))
            orthanc.RestApiPut(f"/instances/{instance_id}/metadata/{METADATA}", report)
        except Exception as exc:
            orthanc.LogError(
                f"encaps-lint: no {METADATA} metadata for instance {instance_id}: "
                f"{type(exc).__name__}: {exc}"
            )

    def stats(output: Any, uri: str, **request: Any) -> None:
        if request.get("method") != "GET":
            output.SendMethodNotAllowed("GET")
            return
        output.AnswerBuffer(json.dumps(gate.stats.as_dict(), indent=2), "application/json")

    orthanc.RegisterReceivedInstanceCallback(received)
    orthanc.RegisterOnStoredInstanceCallback(stored)
    orthanc.RegisterRestCallback("/encaps-lint/stats", stats)
    orthanc.LogWarning(
        f"encaps-lint: gate on: fail on {_fail_on(settings)}, action {settings.action}, "
        f"quarantine {settings.quarantine or 'none'}"
    )


class _Pending:
    """The report of the instance each Orthanc thread judged last, until it is stored:
    Orthanc calls the stored-instance callback in the thread that ran the received-
    instance callback, once the instance is stored. Taken only if the stored instance is
    the one judged: the same bytes (an instance up to SMALL bytes), or the same size and
    SOP Instance UID (a larger one: its bytes are not copied out of Orthanc again). The
    UID alone would ask Orthanc for the instance's whole JSON, 0.4 ms (measured)."""

    SMALL = 4 << 20

    def __init__(self) -> None:
        self._by_thread: dict[int, tuple[str | None, int, bytes | None, str]] = {}

    def put(self, uid: str | None, data: bytes, report: str) -> None:
        kept = data if len(data) <= self.SMALL else None
        self._by_thread[threading.get_ident()] = (uid, len(data), kept, report)

    def drop(self) -> None:
        self._by_thread.pop(threading.get_ident(), None)

    def take(self, dicom: Any) -> str | None:
        """The report of the instance `dicom` (Orthanc's DicomInstance), if it was judged."""
        entry = self._by_thread.pop(threading.get_ident(), None)
        if entry is None:
            return None
        uid, size, data, report = entry
        if dicom.GetInstanceSize() != size:
            return None
        if data is not None:
            return report if dicom.GetInstanceData() == data else None
        stored = json.loads(dicom.GetInstanceSimplifiedJson()).get("SOPInstanceUID")
        return report if stored == uid else None


def _fail_on(settings: Settings) -> str:
    level = settings.options.fail_on
    return "never" if level is None else level.label


def script_path() -> str | None:
    """The plugin script pip installed (a file of the distribution's RECORD whose first
    line pip rewrote to name a Python), or None. A source checkout's own copy (its
    egg-info is found from the checkout) still says `#!python`, and is passed over."""
    from importlib.metadata import distributions

    for dist in distributions(name="encaps-lint"):
        for file in dist.files or []:
            if file.name != SCRIPT:
                continue
            path = os.path.realpath(str(file.locate()))
            with contextlib.suppress(OSError), open(path, "rb") as script:
                if script.readline().strip() not in (b"", b"#!python"):
                    return path
    return None


def main() -> int:
    path = script_path()
    if path is None:
        print(f"{SCRIPT} is not installed: install encaps-lint with pip", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

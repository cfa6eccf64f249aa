#!python
"""The script Orthanc's Python plugin runs: encaps-lint as the gate of Orthanc's ingest.

pip installs this file beside the `encaps-lint` command and writes, on its first line,
the Python it installed encaps-lint for; `python -m dcmencaps_lint.integrations.orthanc`
prints where it is, for Orthanc's "PythonScript". Orthanc runs its own Python (Debian's,
embedded in the plugin), which does not see that installation: so this script asks the
installation's Python for its site-packages folders and adds them, ahead of the system's
dist-packages and with their .pth files (an editable install works too), then hands
over to dcmencaps_lint.integrations.orthanc.install(). No PYTHONPATH is needed. Both
Pythons must be the same version (3.11 for Debian 12's orthanc-python), as the compiled
core and the dependencies are built for one.
"""

import json
import re
import site
import subprocess
import sys

# What the installation's Python says about itself.
_ASK = (
    "import json, site, sys; "
    "user = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []; "
    "print(json.dumps({'version': list(sys.version_info[:2]), "
    "'site': site.getsitepackages() + user}))"
)


def _installed_for() -> str:
    """The Python on this file's first line, as pip wrote it: `#!/path/to/python`, or
    for a path with spaces or a long one, a /bin/sh line and `'''exec' "/path" ...`."""
    with open(__file__, encoding="utf-8") as script:
        first, second = script.readline(), script.readline()
    if first.strip() == "#!/bin/sh":
        found = re.match(r"""'{3}exec' "([^"]+)" """, second)
    else:
        found = re.match(r"#!(\S+)", first)
    if found is None or found.group(1) == "python":
        raise RuntimeError(
            f"{__file__} is not an installed copy (its first line names no Python): point "
            "PythonScript at the path `python -m dcmencaps_lint.integrations.orthanc` prints"
        )
    return found.group(1)


def _use_installation() -> None:
    python = _installed_for()
    answer = subprocess.run([python, "-c", _ASK], capture_output=True, text=True, timeout=120)
    if answer.returncode != 0:
        raise RuntimeError(f"{python} did not answer: {' '.join(answer.stderr.split())}")
    said = json.loads(answer.stdout)
    if tuple(said["version"]) != sys.version_info[:2]:
        mine = "{}.{}".format(*sys.version_info[:2])
        raise RuntimeError(
            f"encaps-lint is installed for Python {'.'.join(map(str, said['version']))} "
            f"({python}) but Orthanc's plugin runs Python {mine}: install it with a "
            f"Python {mine}"
        )
    before = list(sys.path)
    for folder in said["site"]:
        if folder not in before:
            site.addsitedir(folder)  # and its .pth files
    added = [p for p in sys.path if p not in before]
    # ahead of the system's site folders, so that the installation's pydicom is the one
    system = [i for i, p in enumerate(before) if p.endswith(("site-packages", "dist-packages"))]
    at = system[0] if system else len(before)
    sys.path[:] = before[:at] + added + before[at:]


try:
    _use_installation()
except Exception as exc:  # one line in Orthanc's log, and Orthanc does not start
    import orthanc

    orthanc.LogError(f"encaps-lint: {exc}")
    sys.tracebacklimit = 0
    raise RuntimeError("encaps-lint cannot start: see the line above") from None

from dcmencaps_lint.integrations.orthanc import install  # noqa: E402

install()

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# Hypothesis profiles: "encaps" (the default: 200 examples per property, so CI stays fast)
# and "long" (20,000), picked with HYPOTHESIS_PROFILE=long; any other registered profile
# (Hypothesis's own "ci", "dev", "debug") works too. Both build on the profile Hypothesis
# chose (its "ci" one under CI: derandomized), and bound each example's time.
import os
from datetime import timedelta

from hypothesis import settings

_parent = settings.get_profile(settings.get_current_profile_name())
settings.register_profile("encaps", parent=_parent, max_examples=200, deadline=timedelta(seconds=2))
settings.register_profile(
    "long", parent=_parent, max_examples=20_000, deadline=timedelta(seconds=2)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "encaps"))

# ENCAPS_LINT_RECORD=FILE: every report of this run is recorded (tests/record_reports.py).
if os.environ.get("ENCAPS_LINT_RECORD"):
    import record_reports

    record_reports.install(os.environ["ENCAPS_LINT_RECORD"])


import pytest  # noqa: E402

from dcmencaps_lint import core  # noqa: E402


@pytest.fixture(params=["compiled", "python"])
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test runs twice: on the compiled core (core.py; the same as "python" in a run
    with ENCAPS_LINT_PUREPYTHON=1) and on the pure-Python twin."""
    if request.param == "python":
        monkeypatch.setattr(core, "_core", None)
    return str(request.param)

"""Hypothesis profiles: ``ci`` (the default) is bounded and derandomized, so CI runs the
same examples every time; ``make fuzz`` selects ``fuzz``, which runs many more, new ones
each run, and keeps what it found in Hypothesis' example database."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,  # a render's time varies with the machine's load; speed is benched
    # capsys is read (and so emptied) by every example.
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
}
settings.register_profile("ci", max_examples=120, derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz", max_examples=4000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

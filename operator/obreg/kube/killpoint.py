"""Named points of a reconcile where the fault-injection tests kill obreg with SIGKILL.

A crash can land between any two writes of a reconcile; the tests must reach each such
moment every time, not by timing against the API server. With ``OBREG_TEST_KILL_AT``
naming a point, the process kills itself the first time it passes there: as an OOM kill
or a lost node ends it, with no clean-up of any kind. Unset (always, outside the tests
of tests/faults), a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import sys

ENVIRONMENT = "OBREG_TEST_KILL_AT"
# Each point is named after what has just happened when it is reached.
POINTS = frozenset(
    {
        "config-map-applied",  # the ConfigMap is written, the Secret not yet
        "secret-applied",  # both objects are written, the workload not yet rolled
        "workload-applied",  # the workload carries the new digest; no event, no status
        "credentials-created",  # generated client credentials exist, no file carries them
        "status-written",  # a status landed; what follows it (its event, memory) did not
        "key-manager-converged",  # the KM holds the app; status does not say so yet
    }
)


def reached(point: str) -> None:
    """Die here when the tests asked for it."""
    assert point in POINTS, point
    if os.environ.get(ENVIRONMENT) == point:
        # One line the test can wait for; stderr is unbuffered and this is the last act.
        sys.stderr.write(f"obreg: killed at {point} ({ENVIRONMENT})\n")
        os.kill(os.getpid(), signal.SIGKILL)

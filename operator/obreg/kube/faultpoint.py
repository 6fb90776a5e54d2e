"""Named points of a reconcile where the fault-injection tests kill or pause obreg.

A crash or a deletion can land between any two writes of a reconcile; the tests must
reach each such moment every time, not by timing against the API server. With
``OBREG_TEST_KILL_AT`` naming a point, the process kills itself with SIGKILL the first
time it passes there: as an OOM kill or a lost node ends it, with no clean-up of any
kind. With ``OBREG_TEST_PAUSE_AT`` naming one, the reconcile waits there
``PAUSE_SECONDS`` each time (the rest of the operator goes on), so a test can delete
what it is writing to. Unset (always, outside tests/faults), a point costs two
dictionary lookups.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

KILL = "OBREG_TEST_KILL_AT"
PAUSE = "OBREG_TEST_PAUSE_AT"
PAUSE_SECONDS = 3.0
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


async def reached(point: str) -> None:
    """Die or wait here when the tests asked for it."""
    assert point in POINTS, point
    if os.environ.get(KILL) == point:
        # One line the test can check; stderr is unbuffered and this is the last act.
        sys.stderr.write(f"obreg: killed at {point} ({KILL})\n")
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE) == point:
        sys.stderr.write(f"obreg: paused at {point} ({PAUSE})\n")
        await asyncio.sleep(PAUSE_SECONDS)

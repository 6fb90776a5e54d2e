"""Two instances (a Deployment of two replicas) electing their leader over a Lease: the
acting one is killed in the middle of a reconcile (SIGKILL), or stopped (SIGTERM), and
the standby, which watched everything meanwhile, takes over.

After a SIGKILL the Lease stays the dead one's until it runs out (15 s after its last
renew, every 2 s); after a SIGTERM the stopping one releases it, and the standby takes it
at its next try (every 2 s). The takeover is timed from the instances' own log stamps."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from controlplane.launcher import ControlPlane
from obreg.kube import faultpoint
from tests.e2e.harness import Operator, Scenario
from tests.faults.conftest import RESYNC
from tests.faults.recovery import ONCE, TWICE, Watch, add_ca, converged
from tests.kubetools import poll

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

LEADS = "leader election: became the leader"
STANDS_BY = "standing by"
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", re.MULTILINE)


def stamp_of(text: str, needle: str | None = None) -> float:
    """The log stamp (epoch seconds) of the first line holding ``needle``, or of the
    last stamped line when None."""
    lines = [line for line in text.splitlines() if STAMP.match(line)]
    if needle is not None:
        lines = [line for line in lines if needle in line][:1]
    assert lines, f"no log line with {needle!r}"
    found = STAMP.match(lines[-1])
    assert found is not None
    return datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def pair(
    instances: Callable[..., Operator], acting_env: dict[str, str] | None = None
) -> tuple[Operator, Operator]:
    """The acting instance (leading first), then the standby (standing by)."""
    acting = instances({"--identity": "obreg@replica-a"}, env=acting_env, verbose=True)
    poll(lambda: LEADS in acting.since_start(), 60, "the first instance to lead")
    standby = instances({"--identity": "obreg@replica-b"})
    poll(lambda: STANDS_BY in standby.since_start(), 60, "the second instance to stand by")
    return acting, standby


def test_the_acting_instance_killed_mid_reconcile(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    watch = Watch(scenario, cluster, RESYNC)
    point = "workload-applied"
    acting, standby = pair(instances, {faultpoint.KILL: point})
    scenario.apply()
    poll(lambda: not acting.alive(), 90, f"the acting instance to be killed at {point}")
    assert f"killed at {point}" in acting.text()
    # Its last log line came just before the kill: the takeover is timed from there (an
    # upper bound of it).
    killed_at = stamp_of(acting.text())
    acting.process = None
    killed = watch.mark()
    poll(lambda: LEADS in standby.since_start(), 30, "the standby to take the Lease")
    took = stamp_of(standby.since_start(), LEADS) - killed_at
    assert took < 15, f"the standby took the Lease {took:.1f} s after the kill"
    watch.recovered(
        tmp_path,
        ONCE,
        f"the acting one of two instances SIGKILLed at {point}",
        f"the standby took the Lease {took:.1f} s after the kill (it ran out), finished "
        "the reconcile",
        killed,
    )


def test_the_acting_instance_stopped_with_sigterm(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    acting, standby = pair(instances)
    watch = converged(scenario, cluster, RESYNC)
    signalled = time.time()
    acting.stop()  # SIGTERM, and waits for the exit
    stopped = watch.mark()
    assert "leader election: released the Lease" in acting.text()
    poll(lambda: LEADS in standby.since_start(), 30, "the standby to take the Lease")
    took = stamp_of(standby.since_start(), LEADS) - signalled
    assert took < 3, f"the standby took the Lease {took:.1f} s after SIGTERM"
    add_ca(scenario, "aftersigterm")
    watch.recovered(
        tmp_path,
        TWICE,
        "the acting one of two instances stopped (SIGTERM); a CA added",
        f"it released the Lease; the standby took it {took:.1f} s after the signal and "
        "rolled once",
        stopped,
    )

"""Two instances (a Deployment of two replicas): the acting one is killed in the middle
of a reconcile, and the other, paused until then by kopf's peering, takes over.

The dead instance's peering entry stays until its lease (kopf's 60 s) runs out; the
other acts only then, so this fault's recovery time is that lease."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from controlplane.launcher import ControlPlane
from obreg.kube import faultpoint
from tests.e2e.harness import Operator, Scenario
from tests.faults.conftest import RESYNC
from tests.faults.recovery import ONCE, Watch
from tests.kubetools import poll

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def test_the_acting_instance_killed_mid_reconcile(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    watch = Watch(scenario, cluster, RESYNC)
    point = "workload-applied"
    acting = instances(
        {"--identity": "obreg@replica-a", "--priority": "200"}, env={faultpoint.KILL: point}
    )
    standby = instances({"--identity": "obreg@replica-b", "--priority": "100"})
    poll(lambda: "Pausing operations" in standby.text(), 60, "the standby to pause")
    scenario.apply()
    poll(lambda: not acting.alive(), 90, f"the acting instance to be killed at {point}")
    assert f"killed at {point}" in acting.text()
    acting.process = None
    killed = watch.mark()
    watch.recovered(
        tmp_path,
        ONCE,
        f"the acting one of two instances SIGKILLed at {point}",
        "the standby resumed when the dead peer's lease ran out, finished the reconcile",
        killed,
    )
    assert "Resuming operations" in standby.text()

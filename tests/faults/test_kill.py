"""obreg killed with SIGKILL at each point of a reconcile (reached through the test-only
hook of obreg/kube/faultpoint.py, not by timing), then started again under its pod's
identity: the change lands once, and nothing made before the kill is made again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from obreg.kube import faultpoint
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import Operator, Scenario
from tests.faults.conftest import RESYNC
from tests.faults.recovery import ONCE, TWICE, Watch, add_ca, converged
from tests.kubetools import poll

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def died(instance: Operator, point: str) -> None:
    """The instance killed itself at ``point`` (and only by that)."""
    process = instance.process
    assert process is not None
    poll(lambda: process.poll() is not None, 90, f"obreg to be killed at {point}")
    assert process.returncode == -9, instance.text()[-3000:]
    assert f"killed at {point}" in instance.text()
    instance.process = None


# Points a first reconcile passes (files made, credentials generated, the KM's app made).
@pytest.mark.parametrize("point", ["credentials-created", "key-manager-converged"])
def test_killed_during_the_first_reconcile(
    point: str,
    scenario: Scenario,
    cluster: ControlPlane,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    watch = Watch(scenario, cluster, RESYNC)
    doomed = instances(env={faultpoint.KILL: point})
    scenario.apply()
    died(doomed, point)
    credentials = watch.scenario.get("secret", "obreg-apim-store-client")["metadata"]["uid"]
    restarted = watch.mark()
    instances()
    watch.keep_credentials()
    assert watch.credentials is not None and watch.credentials[0] == credentials
    watch.recovered(
        tmp_path,
        ONCE,
        f"SIGKILL at {point} (first reconcile)",
        "restarted under its identity, kept the credentials made before the kill",
        restarted,
    )


# Points a change passes: files written, the workload rolled, status written.
@pytest.mark.parametrize(
    "point", ["config-map-applied", "secret-applied", "workload-applied", "status-written"]
)
def test_killed_while_a_change_lands(
    point: str,
    scenario: Scenario,
    cluster: ControlPlane,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    first = instances()
    watch = converged(scenario, cluster, RESYNC)
    first.stop()
    doomed = instances(env={faultpoint.KILL: point})
    add_ca(scenario, "afterkill")
    died(doomed, point)
    restarted = watch.mark()
    instances()
    watch.recovered(
        tmp_path,
        TWICE,
        f"SIGKILL at {point} (a CA added)",
        "restarted under its identity, finished the change, rolled once",
        restarted,
    )

"""What obreg writes to, or reads from, deleted in the middle of a reconcile (reached
through the test-only pause of obreg/kube/faultpoint.py: the reconcile waits after its
ConfigMap apply while the test deletes), and obreg's CRDs deleted and re-created."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from obreg.kube import faultpoint
from testbed.controlplane.launcher import ControlPlane, free_port
from tests.e2e.harness import Operator, Scenario, consistently
from tests.faults.conftest import RESYNC
from tests.faults.recovery import REPORT, TWICE, Row, Watch, add_ca, converged
from tests.kubetools import Kubectl, poll

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

POINT = "config-map-applied"
WAITING = "waiting for obreg's CRDs"


def mid_change(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], label: str
) -> tuple[Operator, Watch]:
    """The scenario converged under an instance that pauses after each ConfigMap apply,
    then a change, and both workloads' reconciles of it paused there: what the test
    deletes now, it deletes in the middle of a reconcile."""
    instance = instances(env={faultpoint.PAUSE: POINT})
    watch = converged(scenario, cluster, RESYNC)
    before = instance.text().count(f"paused at {POINT}")
    add_ca(scenario, label)
    poll(
        lambda: instance.text().count(f"paused at {POINT}") >= before + 2,
        30,
        "both workloads' reconciles to pause after their ConfigMap",
    )
    return instance, watch


def probes(ready: int, live: int) -> tuple[int, int]:
    """The HTTP status of obreg's readiness and liveness endpoints."""
    return (
        probe(f"http://127.0.0.1:{ready}/readyz"),
        probe(f"http://127.0.0.1:{live}/healthz"),
    )


def probe(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


def ready_reason(scenario: Scenario, kind: str, name: str) -> str:
    return str(scenario.condition(kind, name).get("message", ""))


def test_a_workload_deleted_mid_reconcile(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    _, watch = mid_change(scenario, cluster, instances, "deletedworkload")
    scenario.kubectl("delete", "deployment", "wso2-apim", "-n", scenario.namespace)
    poll(
        lambda: "WaitingForWorkload" in json.dumps(scenario.get("obta", "ob-directory-cas")),
        60,
        "the anchor to wait for its deleted workload",
    )
    # obreg's apply carries the workload's uid as a precondition: it never re-creates
    # a workload someone deleted.
    gone = scenario.kubectl("get", "deployment", "wso2-apim", "-n", scenario.namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    back = watch.mark()
    scenario.apply()  # the workload comes back (a GitOps tool re-creates it)
    watch.recovered(
        tmp_path,
        # The new wso2-apim has only the ReplicaSet of the current files; the old one's
        # went with it.
        {"wso2-km": 2, "wso2-apim": 1},
        "workload deleted mid-reconcile, then re-created",
        "WaitingForWorkload, never re-created it; files at once when it came back",
        back,
    )


def test_a_referenced_secret_deleted_mid_reconcile(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    _, watch = mid_change(scenario, cluster, instances, "deletedsecret")
    scenario.kubectl("delete", "secret", "ob-directory-client", "-n", scenario.namespace)
    poll(
        lambda: "ob-directory-client" in ready_reason(scenario, "obidp", "ob-directory"),
        60,
        "the identity provider to say its Secret is missing",
    )
    assert scenario.condition("obidp", "ob-directory")["status"] == "False"
    back = watch.mark()
    scenario.apply()  # the Secret comes back, the same
    watch.recovered(
        tmp_path,
        TWICE,
        "referenced Secret deleted mid-reconcile, then re-created",
        "Failed naming the Secret, kept the last good files, no rollout for it",
        back,
    )


def test_the_namespace_deleted_mid_reconcile(
    scenario: Scenario,
    cluster: ControlPlane,
    kubectl: Kubectl,
    instances: Callable[..., Operator],
) -> None:
    instance, watch = mid_change(scenario, cluster, instances, "deletednamespace")
    deleted = watch.mark()
    kubectl("delete", "namespace", scenario.namespace, "--wait=false")
    poll(
        lambda: kubectl("get", "namespace", scenario.namespace, check=False).returncode != 0,
        120,
        "the namespace to be gone",
    )
    gone = watch.mark()
    consistently(
        lambda: not watch.writes(gone.offset),
        2 * RESYNC + 2,
        "no write to the deleted namespace",
    )
    assert instance.alive()
    assert "Traceback" not in instance.text()
    REPORT.append(
        Row(
            "namespace deleted mid-reconcile",
            "its writes there refused, retried until the resources were gone, then none",
            round(gone.at - deleted.at, 1),
            round(gone.at - deleted.at, 1),
            len(watch.writes(deleted.offset)),
            {"wso2-km": 0, "wso2-apim": 0},
        )
    )


def test_the_crds_deleted_and_re_created(
    scenario: Scenario,
    cluster: ControlPlane,
    kubectl: Kubectl,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    """Deleting a CRD deletes every resource of its kind, and the generated credentials
    go with their OBServiceProvider (owner reference, so that deleting one leaves no
    secret behind): re-created, it gets new ones, and the KM still holds the app of the
    old ones under the same name. obreg does not take that app over (it cannot tell it is
    its own); it says so, and goes on once a person removed it. The KM check interval is
    short here so that the test need not wait an hour for it. Meanwhile obreg waits for
    the CRDs, the running process (kopf stops on its watches' 404) and a new one alike."""
    ready, live = free_port(), free_port()
    instance = instances(
        flags={
            "--readiness-port": str(ready),
            "--liveness": f"http://127.0.0.1:{live}/healthz",
            "--key-manager-resync-seconds": "8",
        },
    )
    watch = converged(scenario, cluster, RESYNC)
    assert probes(ready, live) == (200, 200)
    old_client = watch.client()[0]
    kinds = ("obtrustanchors", "obidentityproviders", "observiceproviders")
    kubectl("delete", "crd", *[f"{kind}.obreg.dev" for kind in kinds])
    try:
        # Every resource went with its CRD: the workloads return to their stock files.
        poll(lambda: watch.rollouts() == TWICE, 60, "one rollout back to the stock files")
        # kopf's watches answered 404 and stopped it; obreg waits for the CRDs in-process.
        poll(lambda: WAITING in instance.since_start(), 60, "obreg to wait for its CRDs")
        instance.assert_alive()
        # Alive (not restarted by a kubelet) but not ready while it waits.
        assert probes(ready, live) == (503, 200)
        # So does an obreg started while they are absent (GitOps may apply it first).
        instance.stop()
        instance.start()
        poll(lambda: WAITING in instance.since_start(), 60, "a new obreg to wait for its CRDs")
        instance.assert_alive()
        assert probes(ready, live) == (503, 200)
        back = watch.mark()
    finally:
        # Back whatever happened above: every later test of the session needs them.
        kubectl("apply", "--server-side", "-f", str(Path(__file__).parents[2] / "crds"))
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    scenario.apply()
    poll(
        lambda: (
            "exists already with another client id"
            in json.dumps(scenario.condition("obsp", "apim-store", "KeyManagerDatabase"))
        ),
        90,
        "the service provider to say the KM has an app of its name",
    )
    with scenario.km.lock:
        del scenario.km.db.apps[old_client]  # the person's step, in the KM console
    watch.credentials = None  # new ones: the old went with their owner
    watch.recovered(
        tmp_path,
        {"wso2-km": 3, "wso2-apim": 3},
        "CRDs deleted (every resource with them), re-created and re-applied",
        "stock files, then new credentials; refused the old app of the name until removed",
        back,
    )
    assert instance.alive()

"""The control plane failing under obreg: the API server stopped, etcd stopped, and etcd
compacted and defragmented so that watches expire (410 Gone) while changes happen."""

from __future__ import annotations

import base64
import datetime
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testbed.controlplane.launcher import FAKE_NODE, ControlPlane
from tests.e2e.harness import RESYNC_LINE, Operator, Scenario, consistently
from tests.faults.conftest import RESYNC
from tests.faults.recovery import (
    TWICE,
    Mark,
    Watch,
    add_ca,
    converged,
    live_digests,
    offline_digests,
)
from tests.kubetools import Kubectl, poll
from tests.pki import issue

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

OUTAGE = 60.0  # seconds the API server stays away


def plane_settled(scenario: Scenario, kubectl: Kubectl) -> float:
    """The plane's own recovery, waited out before the change under test (returns how
    long it took): the fake node's lease renewed from now on (else the node controller
    may still mark the node, and every pod on it, NotReady) and the scenario's workloads
    available again. Without this the change raced the workloads' pods going NotReady
    and back, which the Key Manager's steps rightly wait for."""

    def renewed() -> bool:
        lease = json.loads(
            kubectl("get", "lease", FAKE_NODE, "-n", "kube-node-lease", "-o", "json").stdout
        )
        stamp = datetime.datetime.fromisoformat(lease["spec"]["renewTime"])
        return stamp > since

    def available() -> bool:
        for name in ("wso2-km", "wso2-apim"):
            status = scenario.get("deployment", name).get("status", {})
            if status.get("availableReplicas") != status.get("replicas"):
                return False
        node = json.loads(kubectl("get", "node", FAKE_NODE, "-o", "json").stdout)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return bool(ready["status"] == "True")

    since = datetime.datetime.now(datetime.UTC)
    started = time.monotonic()
    poll(renewed, 120, "the fake node's lease to be renewed after the outage")
    poll(available, 120, "the node and the workloads to be available again")
    return time.monotonic() - started


def landed(scenario: Scenario, tmp_path: Path) -> None:
    """Wait until the last change is in every workload's files."""
    expected = offline_digests(scenario, tmp_path)
    poll(
        lambda: live_digests(scenario) == expected,
        60,
        lambda: f"the change to land: {expected}, live {live_digests(scenario)}",
    )


def outage(
    scenario: Scenario,
    plane: ControlPlane,
    kubectl: Kubectl,
    instances: Callable[..., Operator],
    component: str,
    seconds: float,
    label: str,
) -> tuple[Operator, Watch, float, Mark]:
    """Converge, stop ``component`` for ``seconds`` (obreg must stay up), start it, wait
    for the plane to settle, then make the change under test; returns the instance, the
    watch, how long the plane took to settle and the mark the recovery counts from."""
    instance = instances()
    watch = converged(scenario, plane, RESYNC)
    plane.stop_component(component)
    consistently(instance.alive, seconds, f"obreg stays up while {component} is away")
    plane.start_component(component)
    settled = plane_settled(scenario, kubectl)
    back = watch.mark()
    add_ca(scenario, label)
    return instance, watch, settled, back


def test_api_server_stopped_for_a_minute(
    scenario: Scenario,
    plane: ControlPlane,
    kubectl: Kubectl,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    instance, watch, settled, back = outage(
        scenario, plane, kubectl, instances, "kube-apiserver", OUTAGE, "afteroutage"
    )
    watch.recovered(
        tmp_path,
        TWICE,
        f"kube-apiserver stopped for {OUTAGE:.0f} s; a CA added once the plane settled "
        f"({settled:.0f} s)",
        "kept running, watches resumed, the change landed once",
        back,
    )
    # The periodic resync outlived the outage, and this instance still leads: its Lease
    # renewals failed meanwhile, so it stopped leading, then took the Lease back.
    assert "leader election: lost the Lease" in instance.text()
    resyncs_run(instance)


def resyncs_run(instance: Operator) -> None:
    """The periodic resync is alive and acting: each pass the leader makes says so."""
    before = instance.text().count(RESYNC_LINE)
    poll(
        lambda: instance.text().count(RESYNC_LINE) >= before + 2,
        4 * RESYNC,
        "two more passes of the resync",
    )


def test_etcd_stopped_and_started(
    scenario: Scenario,
    plane: ControlPlane,
    kubectl: Kubectl,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    _, watch, settled, back = outage(scenario, plane, kubectl, instances, "etcd", 20, "afteretcd")
    watch.recovered(
        tmp_path,
        TWICE,
        f"etcd stopped for 20 s; a CA added once the plane settled ({settled:.0f} s)",
        "kept running, the change landed once",
        back,
    )


@pytest.fixture
def plane(cluster: ControlPlane, scenario: Scenario) -> Iterator[ControlPlane]:
    """The plane, whole again after the test even when it failed mid-outage (torn down
    before the scenario, whose clean-up needs the API server)."""
    yield cluster
    cluster.start_stopped()


def _etcd(cluster: ControlPlane, call: str, body: dict[str, object]) -> dict[str, object]:
    """etcd's v3 JSON gateway (no etcdctl needed)."""
    request = urllib.request.Request(
        f"{cluster.etcd_url}/v3/{call}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        found: dict[str, object] = json.loads(answer.read())
        return found


def compact(cluster: ControlPlane) -> None:
    """Compact etcd's history up to now and defragment it."""
    head = _etcd(cluster, "kv/range", {"key": base64.b64encode(b"/").decode()})["header"]
    assert isinstance(head, dict)
    try:
        _etcd(cluster, "kv/compaction", {"revision": head["revision"], "physical": True})
    except urllib.error.HTTPError as err:
        if b"compacted" not in err.read():  # nothing written since the last compaction
            raise
    _etcd(cluster, "maintenance/defragment", {})


def test_watches_expire_while_changes_happen(
    scenario: Scenario,
    plane: ControlPlane,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    """Every change is followed by a compaction; the API server is then restarted, so its
    watch cache starts anew and every watch resumes from a compacted revision: 410 Gone,
    and kopf lists again. Changes made meanwhile must all land, each rolled once."""
    instance = instances(verbose=True)
    watch = converged(scenario, plane, RESYNC)
    changes = 3
    for n in range(changes):
        add_ca(scenario, f"compacted{n}")
        landed(scenario, tmp_path / str(n))
        compact(plane)
    plane.stop_component("kube-apiserver")
    compact(plane)
    plane.start_component("kube-apiserver")
    back = watch.mark()
    add_ca(scenario, "afterexpiry")
    poll(
        lambda: ": its resourceVersion is gone (410): listing again" in instance.text(),
        60,
        "obreg to see a watch expire (410 Gone) and list again",
    )
    watch.recovered(
        tmp_path / "final",
        {"wso2-km": 2 + changes, "wso2-apim": 2 + changes},
        f"etcd compacted after each of {changes} changes; watches expired (410 Gone)",
        "listed again, every change landed once",
        back,
    )


def test_an_anchor_deleted_while_obreg_is_cut_off_past_the_watch_window(
    scenario: Scenario,
    plane: ControlPlane,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    """A second anchor's CA lands; obreg is frozen (SIGSTOP), the anchor deleted, etcd
    compacted and the API server restarted, so every watch of obreg's resumes from a
    compacted revision (410 Gone) and lists again. The new list lacks the anchor: its CA
    must leave every truststore, one rollout each, as if obreg had seen the deletion.
    (With kopf's indexes the anchor stayed, and its CA trusted, until a restart.)"""
    instance = instances()
    watch = converged(scenario, plane, RESYNC)
    removed = {
        "apiVersion": "obreg.dev/v1alpha1",
        "kind": "OBTrustAnchor",
        "metadata": {"name": "removed-cas", "namespace": scenario.namespace},
        "spec": {
            "targets": [{"name": "wso2-km"}, {"name": "wso2-apim"}],
            "certificates": [{"alias": "removedca", "inline": issue("Removed CA").pem.decode()}],
        },
    }
    scenario.docs.append(removed)
    scenario.apply()
    landed(scenario, tmp_path / "added")
    poll(lambda: watch.rollouts() == TWICE, 60, "the removed CA's rollouts")
    revisions = scenario.revisions()
    assert instance.process is not None
    pid = instance.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        scenario.docs.remove(removed)
        scenario.kubectl("delete", "obta", "removed-cas", "-n", scenario.namespace)
        compact(plane)
        plane.stop_component("kube-apiserver")
        compact(plane)
        plane.start_component("kube-apiserver")
    finally:
        os.kill(pid, signal.SIGCONT)
    back = watch.mark()
    poll(
        lambda: "obtrustanchors *: its resourceVersion is gone (410)" in instance.text(),
        90,
        "obreg's watch of anchors to expire (410 Gone) and list again",
    )
    # Without the anchor the files are the first ones again: their digest (and
    # ReplicaSet) is the first rollout's, so two distinct digests, and one rollout more
    # each by the Deployments' own count.
    watch.recovered(
        tmp_path / "final",
        TWICE,
        "an OBTrustAnchor deleted while obreg was cut off (SIGSTOP) past the watch window "
        "(etcd compacted, API server restarted)",
        "listed again (410 Gone), forgot the anchor the list lacked, its CA left both "
        "truststores",
        back,
    )
    assert scenario.revisions() == {w: n + 1 for w, n in revisions.items()}

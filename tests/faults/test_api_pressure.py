"""The API server pushing back: API Priority and Fairness giving obreg's ServiceAccount
a single seat (requests beyond it are refused with 429), and other field managers
editing obreg's objects and the workloads while a change lands."""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from testbed import audit_log, install_obreg
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import OBREG, Operator, Scenario
from tests.faults.conftest import RESYNC
from tests.faults.recovery import REPORT, TWICE, Watch, add_ca, converged
from tests.kubetools import Kubectl, poll

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

# The plane's own settings, restored after the test.
STOCK = {"--enable-priority-and-fairness": "false"}
# 15 seats for the whole server: a priority level of one share gets one of them.
TIGHT = {
    "--enable-priority-and-fairness": "true",
    "--max-requests-inflight": "10",
    "--max-mutating-requests-inflight": "5",
}


@pytest.fixture
def throttled(cluster: ControlPlane, kubectl: Kubectl, scenario: Scenario) -> Iterator[None]:
    """The API server restarted with APF on and 15 seats; obreg's ServiceAccount in a
    priority level of one seat that refuses what does not fit."""
    cluster.stop_component("kube-apiserver")
    cluster.start_component("kube-apiserver", TIGHT)
    level = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "obreg-tiny"},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 1,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    schema = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": "obreg-tiny"},
        "spec": {
            "priorityLevelConfiguration": {"name": "obreg-tiny"},
            "matchingPrecedence": 500,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "serviceAccount": {
                                "namespace": install_obreg.NAMESPACE,
                                "name": install_obreg.SERVICE_ACCOUNT,
                            },
                        }
                    ],
                    "resourceRules": [
                        {
                            "verbs": ["*"],
                            "apiGroups": ["*"],
                            "resources": ["*"],
                            "namespaces": ["*"],
                            "clusterScope": True,
                        }
                    ],
                }
            ],
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([level, schema]))
    try:
        yield
    finally:
        kubectl("delete", "flowschema,prioritylevelconfiguration", "obreg-tiny", check=False)
        cluster.stop_component("kube-apiserver")
        cluster.start_component("kube-apiserver", STOCK)


def test_throttled_to_one_seat(
    scenario: Scenario,
    cluster: ControlPlane,
    throttled: None,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    watch = Watch(scenario, cluster, RESYNC)
    start = watch.mark()
    instances()
    scenario.apply()
    scenario.wait_ready(timeout=120)
    watch.keep_credentials()
    add_ca(scenario, "throttled")
    row = watch.recovered(
        tmp_path,
        TWICE,
        "API Priority and Fairness: obreg's ServiceAccount given one seat, 429 beyond",
        "writes refused (429) retried with backoff; converged",
        start,
    )
    refused = collections.Counter(
        "writes" if r.verb in audit_log.WRITE_VERBS else "reads"
        for r in audit_log.requests(cluster.audit_log, start.offset)
        if r.user == OBREG and r.code == 429
    )
    # A reconcile applies a workload's ConfigMap, Secret and workload while its status and
    # events are written: one seat refuses some of them for sure (reads or writes).
    assert refused["reads"] + refused["writes"], "the one seat did refuse some of obreg's requests"
    REPORT[-1] = dataclasses.replace(
        row,
        what_obreg_did=(
            f"{refused['reads']} reads and {refused['writes']} writes refused (429), "
            "retried with backoff; converged"
        ),
    )


def test_other_field_managers_edit_while_a_change_lands(
    scenario: Scenario,
    cluster: ControlPlane,
    kubectl: Kubectl,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    """kubectl rollout restart, an annotation and a label on obreg's objects, a hand
    edit of their data, all looping while a CA change lands."""
    instances()
    watch = converged(scenario, cluster, RESYNC)
    ns = scenario.namespace
    done = threading.Event()
    edits: collections.Counter[str] = collections.Counter()

    def edit() -> None:
        n = 0
        while not done.is_set():
            n += 1
            for what, args in (
                ("rollout restart", ("rollout", "restart", "deployment/wso2-km")),
                ("annotate", ("annotate", "configmap", "obreg-wso2-apim", f"x={n}", "--overwrite")),
                ("label", ("label", "secret", "obreg-wso2-km", f"y={n}", "--overwrite")),
                (
                    "edit data",
                    (
                        "patch",
                        "configmap",
                        "obreg-wso2-km",
                        "--type=merge",
                        "-p",
                        '{"binaryData": null, "data": {"hand-edit": "x"}}',
                    ),
                ),
            ):
                result = kubectl(*args, "-n", ns, check=False)
                edits[f"{what} {'ok' if result.returncode == 0 else 'refused'}"] += 1

    editor = threading.Thread(target=edit, daemon=True)
    editor.start()
    try:
        add_ca(scenario, "contested")
        poll(lambda: sum(edits.values()) >= 20, 60, "the other managers' edits")
    finally:
        done.set()
        editor.join()
    over = watch.mark()
    conflicts = [w for w in watch.writes() if w.code == 409]
    watch.recovered(
        tmp_path,
        TWICE,
        "other field managers editing obreg's objects and workloads (rollout restart too)",
        f"reverted the edits to its fields; {len(conflicts)} conflicts (409) on its writes",
        over,
    )
    assert not conflicts, "server-side apply with force and merge patches never conflict"

"""After convergence the operator is silent: two resync intervals without one write
request, counted by the kube-apiserver itself (apiserver_request_total)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import apiserver_metrics
from tests.e2e.harness import Operator, Scenario, consistently
from tests.kubetools import Kubectl, poll

pytestmark = pytest.mark.cluster

RESYNC = 2.0


def requests(kubectl: Kubectl) -> apiserver_metrics.Counts:
    return apiserver_metrics.requests(kubectl("get", "--raw", "/metrics").stdout)


def event_list(kubectl: Kubectl) -> list[str]:
    """Every event as namespace/reason/object/count, to name what was posted."""
    return kubectl(
        "get", "events", "-A", "-o",
        "jsonpath={range .items[*]}{.metadata.namespace}/{.reason}/"
        "{.involvedObject.name}/{.count}{'\\n'}{end}",
    ).stdout.split()  # fmt: skip


def test_no_write_requests_when_nothing_changes(
    kubectl: Kubectl,
    scenario: Scenario,
    operator: Operator,
    start_operator: Callable[..., Operator],
) -> None:
    operator.stop()
    quick = start_operator("--resync-seconds", str(RESYNC), "--priority", "100")
    try:
        at_start = apiserver_metrics.obreg_writes(requests(kubectl))
        scenario.apply()
        scenario.wait_ready()
        poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "the rollouts")
        # Earlier tests' namespaces are still being deleted; their writes are not ours.
        poll(
            lambda: "Terminating" not in kubectl("get", "namespaces").stdout,
            120,
            "earlier namespaces to be gone",
        )
        poll(
            lambda: all(
                c.get("status") == "True"
                for c in (
                    scenario.condition(k, n)
                    for k, n in (
                        ("obta", "ob-directory-cas"),
                        ("obidp", "ob-directory"),
                        ("obsp", "apim-store"),
                    )
                )
            ),
            30,
            "Ready",
        )
        # The controllers' own events (an old ReplicaSet scaled down) count as event
        # writes too: let the rollouts finish first.
        for workload in ("wso2-km", "wso2-apim"):
            kubectl(
                "rollout", "status", f"deployment/{workload}", "-n", scenario.namespace,
                "--timeout=120s",
            )  # fmt: skip
        # kopf posts events from a queue: the last one of the convergence (the KM's
        # items made) may still be on its way when Ready is seen.
        poll(
            lambda: (
                "KeyManagerUpdated"
                in kubectl(
                    "get", "events", "-n", scenario.namespace, "-o", "jsonpath={.items[*].reason}"
                ).stdout
            ),
            30,
            "the KeyManagerUpdated event",
        )
        before = requests(kubectl)
        events_before = set(event_list(kubectl))
        assert (
            apiserver_metrics.obreg_writes(before) > at_start
        )  # the counter does see obreg's writes

        def quiet() -> bool:
            now = requests(kubectl)
            if apiserver_metrics.obreg_writes(now) == apiserver_metrics.obreg_writes(before):
                return True
            writes = {
                k: v
                for k, v in apiserver_metrics.delta(now, before).items()
                if k[0] in apiserver_metrics.WRITES
            }
            posted = sorted(set(event_list(kubectl)) - events_before)
            raise AssertionError(f"write requests while idle: {writes}; new events: {posted}")

        consistently(quiet, 2 * RESYNC + 2, "no write request in two resync intervals")
        after = requests(kubectl)
        # The resync really ran in the window: it reads the peering object each time.
        peering_reads = after.get(("GET", "clusterkopfpeerings", ""), 0) - before.get(
            ("GET", "clusterkopfpeerings", ""), 0
        )
        assert peering_reads >= 2
    finally:
        quick.stop()
        operator.start()

"""After convergence the operator is silent: two resync intervals without one write
request, counted by the kube-apiserver itself (apiserver_request_total)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.e2e.harness import Operator, Scenario, consistently
from tests.kubetools import Kubectl, poll

pytestmark = pytest.mark.cluster

RESYNC = 2.0
WRITES = {"POST", "PUT", "PATCH", "APPLY"}
# Everything obreg can write (its RBAC), but kopf's peering keepalives, counted apart.
OBREG_RESOURCES = {
    "configmaps",
    "secrets",
    "deployments",
    "statefulsets",
    "events",
    "obtrustanchors",
    "obidentityproviders",
    "observiceproviders",
}
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def requests(kubectl: Kubectl) -> dict[tuple[str, str, str], float]:
    """(verb, resource, subresource) -> count, summed over codes."""
    counts: dict[tuple[str, str, str], float] = {}
    for match in _SAMPLE.finditer(kubectl("get", "--raw", "/metrics").stdout):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = (labels["verb"], labels["resource"], labels["subresource"])
        counts[key] = counts.get(key, 0) + float(match["value"])
    return counts


def obreg_writes(counts: dict[tuple[str, str, str], float]) -> float:
    return sum(
        n
        for (verb, resource, sub), n in counts.items()
        if verb in WRITES
        and resource in OBREG_RESOURCES
        # The Deployment controller writes workload status; obreg never does.
        and not (resource in ("deployments", "statefulsets") and sub == "status")
    )


def test_no_write_requests_when_nothing_changes(
    kubectl: Kubectl,
    scenario: Scenario,
    operator: Operator,
    start_operator: Callable[..., Operator],
) -> None:
    operator.stop()
    quick = start_operator("--resync-seconds", str(RESYNC), "--priority", "100")
    try:
        at_start = obreg_writes(requests(kubectl))
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
        before = requests(kubectl)
        assert obreg_writes(before) > at_start  # the counter does see obreg's writes
        consistently(
            lambda: obreg_writes(requests(kubectl)) == obreg_writes(before),
            2 * RESYNC + 2,
            "no write request in two resync intervals",
        )
        after = requests(kubectl)
        # The resync really ran in the window: it reads the peering object each time.
        peering_reads = after.get(("GET", "clusterkopfpeerings", ""), 0) - before.get(
            ("GET", "clusterkopfpeerings", ""), 0
        )
        assert peering_reads >= 2
    finally:
        quick.stop()
        operator.start()

"""Request counts from the kube-apiserver's own metrics (apiserver_request_total), and
which of them are writes obreg could have made. Used by the quiet-period test and the
benchmarks, so "zero writes" means the same in both."""

from __future__ import annotations

import re

WRITES = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}
# Everything obreg may write (the chart's RBAC), except its Lease renewals.
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

Counts = dict[tuple[str, str, str], float]  # (verb, resource, subresource) -> requests


def requests(metrics_text: str) -> Counts:
    counts: Counts = {}
    for match in _SAMPLE.finditer(metrics_text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = (labels["verb"], labels["resource"], labels["subresource"])
        counts[key] = counts.get(key, 0) + float(match["value"])
    return counts


def obreg_writes(counts: Counts) -> float:
    """Writes to what obreg may write; workload status is the controllers', not obreg's."""
    return sum(
        n
        for (verb, resource, sub), n in counts.items()
        if verb in WRITES
        and resource in OBREG_RESOURCES
        and not (resource in ("deployments", "statefulsets") and sub == "status")
    )


def delta(after: Counts, before: Counts) -> Counts:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}

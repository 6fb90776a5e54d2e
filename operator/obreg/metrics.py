"""Prometheus metrics: what a platform team alerts on.

``obreg_certificate_not_after_timestamp_seconds`` carries every trusted anchor
certificate's expiry, so an alert like ``... - time() < 30 * 86400`` fires weeks before an
OB issuing CA expires. Labels name resources and aliases, never secret values.

The chart's PrometheusRule alerts on the per-resource series, whose number is bounded by
the resources, not by their content: an anchor may hold up to
budgets.CERTIFICATES_PER_SOURCE certificates (a series each above), but has one earliest
expiry; a resource has at most four conditions. Only the leader computes statuses and
renders, so an instance that loses the Lease drops its per-resource series
(``forget_resources``): a stale one would keep an alert firing after the new leader
resolved it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from .api.kinds import TRUST_ANCHOR
from .api.trust_anchor import CertificateSummary

RECONCILES = Counter("obreg_reconciles_total", "Workload reconciles, by outcome.", ["result"])
ERRORS = Counter(
    "obreg_reconcile_errors_total", "Workload reconciles that raised (API errors and bugs)."
)
DURATION = Histogram(
    "obreg_reconcile_duration_seconds",
    "Time to reconcile one workload.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROLLOUTS = Counter(
    "obreg_rollouts_total",
    "Rollouts obreg triggered, by workload.",
    ["namespace", "kind", "workload"],
)
KM_CALLS = Counter(
    "obreg_key_manager_calls_total",
    "Admin service calls sent to Key Managers, by operation (reads and writes).",
    ["operation"],
)
KM_SYNCS = Counter(
    "obreg_key_manager_syncs_total",
    "Key Manager database passes, by result: synced, unavailable, garbled, unauthorized, "
    "fault, protocol, unsupported.",
    ["result"],
)
NOT_AFTER = Gauge(
    "obreg_certificate_not_after_timestamp_seconds",
    f"Expiry of each certificate an {TRUST_ANCHOR.kind} trusts (Unix time).",
    ["namespace", "anchor", "alias", "sha256"],
)

EARLIEST_NOT_AFTER = Gauge(
    "obreg_trust_anchor_earliest_not_after_timestamp_seconds",
    f"The earliest expiry among the certificates an {TRUST_ANCHOR.kind} puts into the "
    "truststores it renders (Unix time).",
    ["namespace", "anchor"],
)
CONDITION = Gauge(
    "obreg_resource_condition",
    "1 for each status condition an obreg resource has now (Ready, Reconciling, Stalled, "
    "KeyManagerDatabase), with its status and reason; reported by the leader.",
    ["namespace", "kind", "name", "type", "status", "reason"],
)

_series: dict[tuple[str, str], set[tuple[str, str, str, str]]] = {}
_conditions: dict[tuple[str, str, str], set[tuple[str, str, str, str, str, str]]] = {}


def certificates(namespace: str, anchor: str, summaries: Iterable[CertificateSummary]) -> None:
    """Replace an anchor's certificate series (an empty list removes them)."""
    wanted = {}
    for summary in summaries:
        labels = (namespace, anchor, summary.alias, summary.sha256)
        wanted[labels] = datetime.datetime.fromisoformat(
            summary.not_after.replace("Z", "+00:00")
        ).timestamp()
    for labels in _series.get((namespace, anchor), set()) - set(wanted):
        NOT_AFTER.remove(*labels)
    for labels, value in wanted.items():
        NOT_AFTER.labels(*labels).set(value)
    if wanted:
        EARLIEST_NOT_AFTER.labels(namespace, anchor).set(min(wanted.values()))
    elif _series.get((namespace, anchor)):
        EARLIEST_NOT_AFTER.remove(namespace, anchor)
    _series[(namespace, anchor)] = set(wanted)


def conditions(namespace: str, kind: str, name: str, listed: Iterable[Mapping[str, Any]]) -> None:
    """Replace a resource's condition series with the conditions of the status it has
    now (an empty list removes them)."""
    wanted = {
        (namespace, kind, name, str(c["type"]), str(c["status"]), str(c.get("reason", "")))
        for c in listed
    }
    for labels in _conditions.get((namespace, kind, name), set()) - wanted:
        CONDITION.remove(*labels)
    for labels in wanted:
        CONDITION.labels(*labels).set(1)
    if wanted:
        _conditions[(namespace, kind, name)] = wanted
    else:
        _conditions.pop((namespace, kind, name), None)


def forget_resources() -> None:
    """Drop every per-resource series (this instance stopped leading)."""
    for namespace, anchor in list(_series):
        certificates(namespace, anchor, ())
    _series.clear()
    for namespace, kind, name in list(_conditions):
        conditions(namespace, kind, name, ())


def serve(port: int) -> None:
    start_http_server(port)

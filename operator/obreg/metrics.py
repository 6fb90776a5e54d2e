"""Prometheus metrics: what a platform team alerts on.

``obreg_certificate_not_after_timestamp_seconds`` carries every trusted anchor
certificate's expiry, so an alert like ``... - time() < 30 * 86400`` fires weeks before an
OB issuing CA expires. Labels name resources and aliases, never secret values.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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
    "Expiry of each certificate an OBTrustAnchor trusts (Unix time).",
    ["namespace", "anchor", "alias", "sha256"],
)

_series: dict[tuple[str, str], set[tuple[str, str, str, str]]] = {}


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
    _series[(namespace, anchor)] = set(wanted)


def serve(port: int) -> None:
    start_http_server(port)

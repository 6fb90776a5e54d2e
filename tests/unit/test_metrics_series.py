"""The per-resource series the chart's alerts read (obreg/metrics.py): each resource's
conditions as its status has them, each anchor's earliest certificate expiry, both
replaced as they change and dropped when the resource goes or obreg stops leading."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from obreg import metrics
from obreg.api.common import TargetResult
from obreg.api.service_provider import KeyManagerResult
from obreg.api.trust_anchor import CertificateSummary
from obreg.rules import status

NOW = datetime.datetime(2026, 12, 6, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def no_series() -> Iterator[None]:
    metrics.forget_resources()
    yield
    metrics.forget_resources()


def target(state: str) -> TargetResult:
    return TargetResult.model_validate({"kind": "Deployment", "name": "km", "state": state})


def condition_series(name: str) -> dict[tuple[str, str, str], float]:
    """(type, status, reason) -> value of resource ``name``'s condition series."""
    found = {}
    for family in metrics.CONDITION.collect():
        for sample in family.samples:
            if sample.labels["name"] == name:
                key = (sample.labels["type"], sample.labels["status"], sample.labels["reason"])
                found[key] = sample.value
    return found


def summary(alias: str, not_after: str) -> CertificateSummary:
    return CertificateSummary(
        alias=alias, subject="CN=x", issuer="CN=x", not_after=not_after, sha256=alias * 8
    )


def test_a_failed_target_is_stalled_and_a_fix_replaces_the_series() -> None:
    failed = status.build(1, [target("Failed")], [], None, NOW)
    metrics.conditions("bank", "OBTrustAnchor", "cas", failed["conditions"])
    assert condition_series("cas") == {
        ("Ready", "False", "Failed"): 1.0,
        ("Reconciling", "False", "Idle"): 1.0,
        ("Stalled", "True", "Failed"): 1.0,
    }
    fixed = status.build(2, [target("Applied")], [], failed, NOW)
    metrics.conditions("bank", "OBTrustAnchor", "cas", fixed["conditions"])
    assert condition_series("cas") == {
        ("Ready", "True", "Applied"): 1.0,
        ("Reconciling", "False", "Idle"): 1.0,
        ("Stalled", "False", "Idle"): 1.0,
    }
    metrics.conditions("bank", "OBTrustAnchor", "cas", ())  # deleted
    assert condition_series("cas") == {}


def test_a_key_manager_that_does_not_answer_is_its_own_condition() -> None:
    km = KeyManagerResult(state="Unavailable", message="connection refused")
    built = status.build(1, [target("Applied")], [], None, NOW, key_manager=km)
    metrics.conditions("bank", "OBServiceProvider", "tpp", built["conditions"])
    series = condition_series("tpp")
    assert series[("KeyManagerDatabase", "False", "Unavailable")] == 1.0
    assert series[("Reconciling", "True", "KeyManagerUnavailable")] == 1.0


def test_the_earliest_expiry_of_an_anchor_follows_its_certificates() -> None:
    def earliest() -> float | None:
        return REGISTRY.get_sample_value(
            "obreg_trust_anchor_earliest_not_after_timestamp_seconds",
            {"namespace": "bank", "anchor": "cas"},
        )

    metrics.certificates(
        "bank",
        "cas",
        [summary("root", "2030-01-01T00:00:00Z"), summary("issuing", "2027-03-01T00:00:00Z")],
    )
    assert earliest() == datetime.datetime(2027, 3, 1, tzinfo=datetime.UTC).timestamp()
    metrics.certificates("bank", "cas", [summary("root", "2030-01-01T00:00:00Z")])
    assert earliest() == datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC).timestamp()
    metrics.certificates("bank", "cas", ())
    assert earliest() is None
    metrics.certificates("bank", "cas", ())  # nothing left to remove: no error


def test_an_instance_that_stops_leading_reports_no_resource() -> None:
    metrics.certificates("bank", "cas", [summary("root", "2030-01-01T00:00:00Z")])
    built = status.build(1, [target("Applied")], [], None, NOW)
    metrics.conditions("bank", "OBTrustAnchor", "cas", built["conditions"])
    metrics.forget_resources()
    assert condition_series("cas") == {}
    left = [
        s
        for f in REGISTRY.collect()
        if f.name.startswith("obreg_")
        for s in f.samples
        if s.labels.get("anchor") == "cas" or s.labels.get("name") == "cas"
    ]
    assert left == []

"""The whole status object a resource gets (obreg/rules/status.py), key by key, in each
kind of outcome: what kubectl, Argo CD's and Flux's health checks read is exactly this."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest

from obreg.api.common import TargetResult
from obreg.api.service_provider import KeyManagerResult
from obreg.api.trust_anchor import CertificateSummary
from obreg.errors import MESSAGE_MAX, bounded
from obreg.rules import status

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
STAMP = "2026-11-28T10:00:00Z"  # in UTC, whatever zone the clock gave


def target(state: str, name: str = "km", message: str = "", digest: str = "") -> TargetResult:
    return TargetResult.model_validate(
        {"kind": "Deployment", "name": name, "state": state, "message": message, "digest": digest}
    )


def condition(type_: str, value: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message,
        "observedGeneration": 3,
        "lastTransitionTime": STAMP,
    }


def idle(type_: str) -> dict[str, Any]:
    return condition(type_, "False", "Idle")


# A certificate's summary as status shows it (camelCase, as the CRD names it).
CERT_FIELDS = {
    "alias": "tpproot",
    "subject": "CN=Root",
    "issuer": "CN=Root",
    "notAfter": "2030-01-01T00:00:00Z",
    "sha256": "ab" * 32,
    "warnings": [],
}
CERT = CertificateSummary.model_validate(CERT_FIELDS)


def test_applied_with_certificates_and_warnings() -> None:
    results = [target("Applied", "km", digest="d1"), target("Applied", "apim", digest="d2")]
    built = status.build(3, results, [], None, NOW, [CERT], ["w1\x07"])
    message = "files applied to Deployment/km, Deployment/apim"
    assert built == {
        "observedGeneration": 3,
        "conditions": [
            condition("Ready", "True", "Applied", message),
            idle("Reconciling"),
            idle("Stalled"),
        ],
        "targets": [
            {"kind": "Deployment", "name": "km", "state": "Applied", "message": "", "digest": "d1"},
            {
                "kind": "Deployment",
                "name": "apim",
                "state": "Applied",
                "message": "",
                "digest": "d2",
            },
        ],
        "keyManagerDatabase": None,
        "workloads": "Deployment/km, Deployment/apim",
        "warnings": ["w1\\u0007"],  # printable: a control character shown escaped
        "certificates": [CERT_FIELDS],
    }


@pytest.mark.parametrize(
    ("results", "problems", "reason", "message", "stalled"),
    [
        ([target("Applied")], ["spec.a: bad", "spec.b: worse"], "Invalid",
         "spec.a: bad; spec.b: worse", True),
        ([target("Failed", "km", "x"), target("Blocked", "apim", "y"), target("Failed", "c", "z")],
         [], "Failed", "Deployment/km: x; Deployment/c: z", True),
        ([target("Applied", "km"), target("Blocked", "apim", "y"), target("Blocked", "c", "z")],
         [], "Blocked", "Deployment/apim: y; Deployment/c: z", True),
        ([target("WaitingForWorkload", "km"), target("Applied", "apim"),
          target("WaitingForWorkload", "c")],
         [], "WaitingForWorkload", "Deployment/km, Deployment/c not found", False),
    ],
)  # fmt: skip
def test_the_first_problem_decides_reason_and_message(
    results: list[TargetResult], problems: list[str], reason: str, message: str, stalled: bool
) -> None:
    built = status.build(3, results, problems, None, NOW)
    assert built["conditions"] == [
        condition("Ready", "False", reason, message),
        condition("Reconciling", "True", reason, message) if not stalled else idle("Reconciling"),
        condition("Stalled", "True", reason, message) if stalled else idle("Stalled"),
    ]
    assert built["workloads"] == ", ".join(f"{r.kind}/{r.name}" for r in results)
    assert "certificates" not in built


@pytest.mark.parametrize(
    ("state", "ready", "reason", "km_status", "reconciling", "stalled"),
    [
        ("Synced", "True", "Applied", "True", False, False),
        ("Pending", "False", "KeyManagerPending", "Unknown", True, False),
        ("Unavailable", "False", "KeyManagerUnavailable", "False", True, False),
        ("Failed", "False", "KeyManagerFailed", "False", False, True),
    ],
)
def test_the_key_manager_outcome_in_every_state(
    state: str, ready: str, reason: str, km_status: str, reconciling: bool, stalled: bool
) -> None:
    km = KeyManagerResult.model_validate({"state": state, "message": "app in place"})
    built = status.build(3, [target("Applied")], [], None, NOW, key_manager=km)
    message = (
        "files applied to Deployment/km; Key Manager database: app in place"
        if state == "Synced"
        else "Key Manager database: app in place"
    )
    assert built["conditions"] == [
        condition("Ready", ready, reason, message),
        condition("Reconciling", "True", reason, message) if reconciling else idle("Reconciling"),
        condition("Stalled", "True", reason, message) if stalled else idle("Stalled"),
        condition("KeyManagerDatabase", km_status, state, "app in place"),
    ]
    assert built["keyManagerDatabase"] == {"state": state, "message": "app in place"}


def test_a_message_of_exactly_the_limit_is_kept_whole_and_one_more_is_cut() -> None:
    assert bounded("x" * MESSAGE_MAX) == "x" * MESSAGE_MAX
    cut = bounded("x" * (MESSAGE_MAX + 1))
    assert len(cut) == MESSAGE_MAX and cut.endswith(" ... (truncated)")


def test_long_or_odd_messages_are_bounded_everywhere_they_appear() -> None:
    long = "x" * 5000
    km = KeyManagerResult.model_validate({"state": "Failed", "message": long})
    warning = long + "\x1b[31m"  # a warning may quote input as it came
    built = status.build(3, [target("Failed", "km", long)], [], None, NOW, [], [warning], km)
    texts = [
        *(c["message"] for c in built["conditions"] if c["message"]),  # not the idle ones
        built["targets"][0]["message"],
        built["keyManagerDatabase"]["message"],
        built["warnings"][0],
    ]
    assert len(texts) == 6
    for text in texts:
        assert len(text) <= 1024 and "\x1b" not in text
        assert text.endswith("(truncated)")


def test_a_condition_keeps_its_transition_time_while_its_status_stays() -> None:
    first = status.build(3, [target("Applied")], [], None, NOW)
    later = NOW + datetime.timedelta(hours=1)
    again = status.build(4, [target("WaitingForWorkload")], [], first, later)
    times = {c["type"]: c["lastTransitionTime"] for c in again["conditions"]}
    changed = "2026-11-28T11:00:00Z"
    # Ready and Reconciling changed status; Stalled stayed False.
    assert times == {"Ready": changed, "Reconciling": changed, "Stalled": STAMP}
    assert {c["observedGeneration"] for c in again["conditions"]} == {4}


def test_times_are_utc_whatever_the_machines_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        built = status.build(3, [target("Applied")], [], None, NOW)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert {c["lastTransitionTime"] for c in built["conditions"]} == {STAMP}

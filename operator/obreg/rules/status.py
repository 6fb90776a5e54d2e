"""Status in kstatus form, from per-target results: pure, so the rules are unit-tested.

Ready is True when every target is Applied and, for a service provider that asks obreg
to make the Key Manager's database items, those are in place. Stalled is True when the
resource itself is invalid, a sibling blocks a target, or the KM refused obreg (nothing
changes without someone fixing input or credentials). Reconciling is True while a target
waits for its workload or obreg waits for, or retries, the KM. Each condition keeps its
lastTransitionTime while its status stays the same, so an unchanged result writes an
identical status, which the caller then skips.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from ..api.common import TargetResult
from ..api.service_provider import KeyManagerResult
from ..api.trust_anchor import CertificateSummary
from ..errors import bounded

KEY_MANAGER_CONDITION = "KeyManagerDatabase"
_KM_REASONS = {
    "Pending": "KeyManagerPending",
    "Unavailable": "KeyManagerUnavailable",
    "Failed": "KeyManagerFailed",
}


def _condition(
    type_: str,
    status: bool | str,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Mapping[str, Any]],
    now: str,
) -> dict[str, Any]:
    value = status if isinstance(status, str) else ("True" if status else "False")
    before = previous.get(type_)
    since = before["lastTransitionTime"] if before and before.get("status") == value else now
    return {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": since,
    }


def build(
    generation: int,
    results: Sequence[TargetResult],
    problems: Sequence[str],
    previous: Mapping[str, Any] | None,
    now: datetime.datetime,
    certificates: Sequence[CertificateSummary] = (),
    warnings: Sequence[str] = (),
    key_manager: KeyManagerResult | None = None,
) -> dict[str, Any]:
    """The whole status object. ``problems`` are the resource's own validation errors;
    ``key_manager`` is the KM database outcome of a service provider that asks for it."""
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {c["type"]: c for c in (previous or {}).get("conditions", [])}
    states = {r.state for r in results}
    if problems:
        reason, message = "Invalid", "; ".join(problems)
    elif "Failed" in states:
        reason = "Failed"
        message = "; ".join(
            f"{r.kind}/{r.name}: {r.message}" for r in results if r.state == "Failed"
        )
    elif "Blocked" in states:
        reason = "Blocked"
        message = "; ".join(
            f"{r.kind}/{r.name}: {r.message}" for r in results if r.state == "Blocked"
        )
    elif "WaitingForWorkload" in states:
        reason = "WaitingForWorkload"
        message = (
            ", ".join(f"{r.kind}/{r.name}" for r in results if r.state == "WaitingForWorkload")
            + " not found"
        )
    else:
        reason = "Applied"
        message = "files applied to " + ", ".join(f"{r.kind}/{r.name}" for r in results)
        if key_manager is not None:
            message += f"; Key Manager database: {key_manager.message}"
            if key_manager.state != "Synced":
                reason = _KM_REASONS[key_manager.state]
                message = f"Key Manager database: {key_manager.message}"
    # Messages quote input (names, a certificate subject, the KM's fault text): printable
    # and bounded like an event's, however long or odd that input is.
    message = bounded(message)
    ready = reason == "Applied"
    stalled = reason in ("Invalid", "Blocked", "Failed", "KeyManagerFailed")
    reconciling = reason in ("WaitingForWorkload", "KeyManagerPending", "KeyManagerUnavailable")
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": [
            _condition("Ready", ready, reason, message, generation, before, stamp),
            _condition(
                "Reconciling",
                reconciling,
                reason if reconciling else "Idle",
                message if reconciling else "",
                generation,
                before,
                stamp,
            ),
            _condition(
                "Stalled",
                stalled,
                reason if stalled else "Idle",
                message if stalled else "",
                generation,
                before,
                stamp,
            ),
        ],
        "targets": [
            {**r.model_dump(by_alias=True), "message": bounded(r.message)} for r in results
        ],
        "keyManagerDatabase": (
            {
                **key_manager.model_dump(by_alias=True, exclude_none=True),
                "message": bounded(key_manager.message),
            }
            if key_manager is not None
            else None
        ),
        "workloads": ", ".join(f"{r.kind}/{r.name}" for r in results),
        "warnings": [bounded(w) for w in warnings],
    }
    if key_manager is not None:
        km_status = {"Synced": "True", "Pending": "Unknown"}.get(key_manager.state, "False")
        status["conditions"].append(
            _condition(
                KEY_MANAGER_CONDITION,
                km_status,
                key_manager.state,
                bounded(key_manager.message),
                generation,
                before,
                stamp,
            )
        )
    if certificates:
        status["certificates"] = [c.model_dump(by_alias=True) for c in certificates]
    return status


def same(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether writing ``desired`` would change nothing of what obreg owns."""
    if not current:
        return False
    return all(current.get(key) == value for key, value in desired.items())

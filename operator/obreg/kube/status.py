"""Status in kstatus form, from per-target results: pure, so the rules are unit-tested.

Ready is True when every target is Applied. Stalled is True when the resource itself is
invalid or a sibling blocks a target (nothing changes without someone fixing input).
Reconciling is True while a target waits for its workload. Each condition keeps its
lastTransitionTime while its status stays the same, so an unchanged result writes an
identical status, which the caller then skips.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from ..api.common import TargetResult
from ..api.trust_anchor import CertificateSummary


def _condition(
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Mapping[str, Any]],
    now: str,
) -> dict[str, Any]:
    value = "True" if status else "False"
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
) -> dict[str, Any]:
    """The whole status object. ``problems`` are the resource's own validation errors."""
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
    ready = reason == "Applied"
    stalled = reason in ("Invalid", "Blocked", "Failed")
    reconciling = reason == "WaitingForWorkload"
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
        "targets": [r.model_dump(by_alias=True) for r in results],
        "workloads": ", ".join(f"{r.kind}/{r.name}" for r in results),
        "warnings": list(warnings),
    }
    if certificates:
        status["certificates"] = [c.model_dump(by_alias=True) for c in certificates]
    return status


def same(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether writing ``desired`` would change nothing of what obreg owns."""
    if not current:
        return False
    return all(current.get(key) == value for key, value in desired.items())

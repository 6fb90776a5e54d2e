"""Leader election over a coordination.k8s.io/v1 Lease, as controller-runtime operators
do it (client-go's rules): what a Lease's spec says, and what an instance writes into it.

The holder renews ``renewTime`` every retry period; it stops acting once a renew deadline
has passed since its last successful renew, and another instance may take the Lease once
``renewTime + leaseDurationSeconds`` has passed (so the deadline must be shorter than the
duration: the margin between them covers clock skew between instances, since the expiry
is judged by the reader's clock on the holder's stamp). An empty holder (a release on
SIGTERM) may be taken at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """controller-runtime's defaults: 15 s lease, 10 s renew deadline, 2 s retry."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs retry period < renew deadline < lease duration, "
                f"got {self.retry_period} / {self.renew_deadline} / {self.lease_duration}"
            )


def stamp(when: datetime.datetime) -> str:
    """A MicroTime, as the API server writes and reads it."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    found = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=datetime.UTC)


def holder(spec: Mapping[str, Any] | None) -> str:
    return str((spec or {}).get("holderIdentity") or "")


def expires(spec: Mapping[str, Any] | None) -> datetime.datetime | None:
    """When the holder's claim runs out; None when nobody holds it."""
    found = spec or {}
    renewed = _parse(found.get("renewTime"))
    if not holder(found) or renewed is None:
        return None
    return renewed + datetime.timedelta(seconds=float(found.get("leaseDurationSeconds") or 0))


def may_take(spec: Mapping[str, Any] | None, identity: str, now: datetime.datetime) -> bool:
    """Whether ``identity`` may write itself into the Lease now: it holds it already,
    nobody does, or the holder's claim ran out."""
    if holder(spec) in ("", identity):
        return True
    until = expires(spec)
    return until is None or until <= now


def claim(
    spec: Mapping[str, Any] | None, identity: str, timing: Timing, now: datetime.datetime
) -> dict[str, Any]:
    """The spec that takes or renews the Lease for ``identity``."""
    old = dict(spec or {})
    taking = holder(old) != identity
    transitions = int(old.get("leaseTransitions") or 0)
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": max(1, round(timing.lease_duration)),
        "acquireTime": stamp(now) if taking or not old.get("acquireTime") else old["acquireTime"],
        "renewTime": stamp(now),
        "leaseTransitions": transitions + 1 if taking and holder(old) else transitions,
    }


def released(spec: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """The spec a holder leaves on a graceful stop: nobody holds it, so a standby takes it
    at its next try instead of waiting for the claim to run out (client-go's
    ReleaseOnCancel)."""
    return {
        **dict(spec),
        "holderIdentity": None,
        "leaseDurationSeconds": 1,
        "acquireTime": stamp(now),
        "renewTime": stamp(now),
    }

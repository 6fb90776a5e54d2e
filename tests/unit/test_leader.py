"""Leader election's rules (rules/leader.py), as client-go applies them to a Lease."""

from __future__ import annotations

import datetime

import pytest

from obreg.rules import leader

NOW = datetime.datetime(2026, 12, 6, 4, 0, tzinfo=datetime.UTC)
TIMING = leader.Timing()


def held_by(who: str, renewed_ago: float, duration: int = 15) -> dict[str, object]:
    return {
        "holderIdentity": who,
        "leaseDurationSeconds": duration,
        "acquireTime": leader.stamp(NOW - datetime.timedelta(seconds=100)),
        "renewTime": leader.stamp(NOW - datetime.timedelta(seconds=renewed_ago)),
        "leaseTransitions": 3,
    }


def test_a_live_claim_is_respected_until_it_runs_out() -> None:
    assert not leader.may_take(held_by("other", 14.9), "me", NOW)
    assert leader.may_take(held_by("other", 15.0), "me", NOW)
    assert leader.may_take(held_by("me", 1), "me", NOW)  # a restart under its identity
    assert leader.may_take(None, "me", NOW)  # no Lease yet
    assert leader.expires(held_by("other", 5)) == NOW + datetime.timedelta(seconds=10)


def test_a_released_lease_is_taken_at_once_and_counts_a_transition() -> None:
    released = leader.released(held_by("other", 1), NOW)
    assert leader.holder(released) == "" and leader.expires(released) is None
    assert leader.may_take(released, "me", NOW)
    taken = leader.claim(released, "me", TIMING, NOW)
    # Nobody held it: client-go counts a transition only from one holder to another.
    assert taken["leaseTransitions"] == 3
    taken = leader.claim(held_by("other", 20), "me", TIMING, NOW)
    assert taken["holderIdentity"] == "me" and taken["leaseTransitions"] == 4
    assert taken["acquireTime"] == taken["renewTime"] == leader.stamp(NOW)
    assert taken["leaseDurationSeconds"] == 15


def test_a_renew_keeps_the_acquire_time() -> None:
    renewed = leader.claim(held_by("me", 2), "me", TIMING, NOW)
    assert renewed["acquireTime"] == held_by("me", 2)["acquireTime"]
    assert renewed["renewTime"] == leader.stamp(NOW) and renewed["leaseTransitions"] == 3
    assert leader.expires(renewed) == NOW + datetime.timedelta(seconds=15)


@pytest.mark.parametrize(
    ("duration", "deadline", "retry"), [(15, 15, 2), (15, 10, 10), (15, 10, 0)]
)
def test_timing_that_could_let_two_lead_is_refused(
    duration: float, deadline: float, retry: float
) -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        leader.Timing(duration, deadline, retry)

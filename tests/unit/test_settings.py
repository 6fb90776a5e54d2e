"""The operator's settings as ``obreg run`` passes them through the environment."""

from __future__ import annotations

import pytest

from obreg.settings import Settings


def test_leader_election_timing_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """controller-runtime's defaults unless given; a retry period not shorter than the
    deadline, or a deadline not shorter than the lease, is refused (tests/unit/test_leader.py)."""
    defaults = Settings.from_environment()
    assert (defaults.lease_duration, defaults.renew_deadline, defaults.retry_period) == (
        15.0,
        10.0,
        2.0,
    )
    assert not defaults.standalone
    monkeypatch.setenv("OBREG_LEASE_DURATION", "30")
    monkeypatch.setenv("OBREG_RENEW_DEADLINE", "20")
    monkeypatch.setenv("OBREG_RETRY_PERIOD", "4")
    monkeypatch.setenv("OBREG_STANDALONE", "true")
    given = Settings.from_environment()
    assert (given.lease_duration, given.renew_deadline, given.retry_period) == (30, 20, 4)
    assert given.standalone


def test_namespaced_mode_and_intervals_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OBREG_NAMESPACES", "bank-a,,bank-b")
    monkeypatch.setenv("OBREG_RESYNC_SECONDS", "30")
    monkeypatch.setenv("OBREG_KM_RESYNC_SECONDS", "600")
    settings = Settings.from_environment()
    assert settings.namespaces == ("bank-a", "bank-b")
    assert (settings.resync_seconds, settings.km_resync_seconds) == (30.0, 600.0)
    monkeypatch.delenv("OBREG_NAMESPACES")
    assert Settings.from_environment().namespaces == ()  # cluster-wide

"""The operator's settings as ``obreg run`` passes them through the environment."""

from __future__ import annotations

import pytest

from obreg.settings import Settings


def test_instances_without_a_priority_pick_different_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """README: by default each instance picks a random priority. Peers of equal priority
    all pause (kopf's rule), so a fixed default would leave replicas with no leader."""
    monkeypatch.delenv("OBREG_PRIORITY", raising=False)
    picked = {Settings.from_environment().priority for _ in range(50)}
    assert len(picked) > 45
    assert all(1 <= p <= 1_000_000 for p in picked)
    monkeypatch.setenv("OBREG_PRIORITY", "7")
    assert Settings.from_environment().priority == 7


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

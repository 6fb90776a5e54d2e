"""The operator's settings as ``obreg run`` parses them from its flags, once, into the
typed object its handlers receive (no round trip through the environment)."""

from __future__ import annotations

import argparse

import pytest

from obreg import cli
from obreg.settings import Settings


def settings_of(monkeypatch: pytest.MonkeyPatch, *flags: str) -> Settings:
    """What ``obreg run FLAGS`` hands the operator (its serving loop stubbed)."""
    seen: list[Settings] = []

    async def serve(config: Settings, _: argparse.Namespace) -> None:
        seen.append(config)

    monkeypatch.setattr(cli, "_serve", serve)
    assert cli.main(["run", *flags]) == 0
    [config] = seen
    return config


def test_defaults_are_controller_runtimes_and_cluster_wide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """controller-runtime's leader election defaults unless given; a retry period not
    shorter than the deadline, or a deadline not shorter than the lease, is refused
    (tests/unit/test_leader.py)."""
    defaults = settings_of(monkeypatch)
    assert (defaults.lease_duration, defaults.renew_deadline, defaults.retry_period) == (
        15.0,
        10.0,
        2.0,
    )
    assert not defaults.standalone and defaults.namespaces == ()
    assert defaults == Settings(identity=defaults.identity)


def test_every_flag_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    given = settings_of(
        monkeypatch,
        *("--namespace", "bank-a", "-n", "bank-b"),
        *("--settle-seconds", "0.5", "--resync-seconds", "30"),
        *("--key-manager-resync-seconds", "600", "--standalone"),
        *("--lease-duration", "30", "--renew-deadline", "20", "--retry-period", "4"),
        *("--peering-name", "obreg-blue", "--identity", "obreg@pod-0"),
        *("--metrics-port", "9100", "--readiness-port", "9101"),
        *("--digest-key-secret", "vault/obreg-key"),
    )
    assert given == Settings(
        settle_seconds=0.5,
        resync_seconds=30.0,
        km_resync_seconds=600.0,
        identity="obreg@pod-0",
        namespaces=("bank-a", "bank-b"),
        metrics_port=9100,
        readiness_port=9101,
        peering_name="obreg-blue",
        standalone=True,
        lease_duration=30.0,
        renew_deadline=20.0,
        retry_period=4.0,
        digest_key_secret="vault/obreg-key",
    )


def test_the_environment_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' old variables change nothing: only the flags (and the chart, which
    passes flags) set them."""
    monkeypatch.setenv("OBREG_LEASE_DURATION", "99")
    monkeypatch.setenv("OBREG_NAMESPACES", "elsewhere")
    read = settings_of(monkeypatch)
    assert read.lease_duration == 15.0 and read.namespaces == ()

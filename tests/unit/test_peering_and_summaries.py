"""Two small rules read on every event: whether this instance leads its kopf peers
(obreg/rules/peering.py, kopf's own rule), and what obreg keeps of a Secret or ConfigMap
(obreg/rules/holdings.py's summary)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest

from obreg.rules import peering
from obreg.rules.holdings import Held, summary

NOW = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=datetime.UTC)


def peer(
    seconds_ago: float, priority: int | None = 5, lifetime: int | None = None
) -> dict[str, Any]:
    info: dict[str, Any] = {"lastseen": (NOW - datetime.timedelta(seconds=seconds_ago)).isoformat()}
    if priority is not None:
        info["priority"] = priority
    if lifetime is not None:
        info["lifetime"] = lifetime
    return info


@pytest.mark.parametrize(
    ("others", "leads"),
    [
        ({}, True),
        ({"low": peer(1, priority=4)}, True),
        ({"same": peer(1, priority=5)}, False),  # equal priority: both pause, as kopf does
        ({"high": peer(1, priority=6)}, False),
        ({"high": peer(59, priority=6)}, False),  # within kopf's default lifetime of 60 s
        ({"high": peer(60, priority=6)}, True),  # its lease ran out exactly now
        ({"high": peer(100, priority=6, lifetime=120)}, False),  # a lifetime of its own
        ({"high": peer(1, priority=None)}, True),  # no priority: kopf's default 0
        ({"odd": "not a mapping", "none": {"priority": 9}}, True),  # never seen
        ({"low": peer(1, priority=1), "high": peer(1, priority=9)}, False),
    ],
)
def test_an_instance_leads_unless_a_live_peer_has_a_priority_at_least_its_own(
    others: dict[str, Any], leads: bool
) -> None:
    status = {"me": peer(1, priority=5), **others}
    assert peering.leads(status, "me", 5, NOW) is leads


def test_a_peer_seen_without_a_time_zone_is_taken_as_utc() -> None:
    """kopf writes lastseen without an offset; read as local time on a machine that is
    not on UTC, a dead peer would look alive (or the reverse)."""
    naive = (NOW - datetime.timedelta(seconds=30)).replace(tzinfo=None).isoformat()
    status = {"high": {"lastseen": naive, "priority": 9, "lifetime": 60}}
    assert not peering.leads(status, "me", 5, NOW)
    assert peering.leads(status, "me", 5, NOW + datetime.timedelta(seconds=31))


def test_a_secret_is_kept_decoded_with_its_string_data_over_its_data() -> None:
    secret = {
        "metadata": {
            "labels": {"a": "b"},
            "annotations": {"obreg.dev/x": "1", "kubectl.kubernetes.io/last-applied": "{...}"},
            "ownerReferences": [{"uid": "u-1"}, {"uid": "u-2"}],
            "resourceVersion": "42",
        },
        "data": {"k": base64.b64encode(b"\x00bytes").decode(), "both": "b2xk"},
        "stringData": {"both": "new", "n": 7},
    }
    assert summary("Secret", secret) == Held(
        data={"k": b"\x00bytes", "both": b"new", "n": b"7"},
        labels={"a": "b"},
        annotations={"obreg.dev/x": "1"},
        owners=("u-1", "u-2"),
        resource_version="42",
    )


def test_a_config_map_is_kept_with_its_binary_data_decoded() -> None:
    config_map = {
        "metadata": {},
        "data": {"text": "plain"},
        "binaryData": {"bin": base64.b64encode(b"\xff").decode()},
        "stringData": {"ignored": "a ConfigMap has none"},
    }
    assert summary("ConfigMap", config_map) == Held(
        data={"text": b"plain", "bin": b"\xff"}, labels={}, annotations={}, owners=()
    )

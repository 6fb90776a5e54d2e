"""The Key Manager (the double) failing under obreg: slower than the timeout, flapping,
answering garbage, serving a new TLS certificate, restarting onto an empty database.
While it lasts the service provider's status says so; afterwards the KM holds the one
app with the credentials site.json carries, made without anyone acting."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed import kmdouble
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import Operator, Scenario
from tests.faults.conftest import RESYNC
from tests.faults.recovery import ONCE, TWICE, add_ca, converged
from tests.kubetools import poll

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def shown(scenario: Scenario, reason: str, text: str) -> None:
    """The service provider's KeyManagerDatabase condition says what is wrong."""
    seen: list[dict[str, str]] = []

    def says() -> bool:
        seen[:] = [scenario.condition("obsp", "apim-store", "KeyManagerDatabase")]
        return seen[0].get("reason") == reason and text in seen[0].get("message", "")

    poll(says, 90, lambda: f"KeyManagerDatabase {reason} saying {text!r} (last: {seen})")


def restart_km_pod(scenario: Scenario) -> None:
    """What a KM restart looks like to obreg: its pod replaced."""
    scenario.kubectl("delete", "pod", "-n", scenario.namespace, "-l", "app=wso2-km")


def test_slower_than_the_timeout(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    scenario.find("OBServiceProvider")["spec"]["keyManagerAdmin"]["timeoutSeconds"] = 1
    instances()
    watch = converged(scenario, cluster, RESYNC)
    scenario.km.delay = 2.5
    add_ca(scenario, "slowkm")
    shown(scenario, "Unavailable", "no answer within 1 s")
    scenario.km.delay = 0
    over = watch.mark()
    watch.recovered(
        tmp_path,
        TWICE,
        "KM slower than timeoutSeconds",
        "Unavailable while slow, retried with backoff",
        over,
    )


def test_flapping(
    scenario: Scenario,
    cluster: ControlPlane,
    instances: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    """Down 8 s, up 2 s, over and over: longer down than the client's own retries
    (3.5 s), so some passes fail and some calls of a pass land."""
    instances()
    watch = converged(scenario, cluster, RESYNC)
    done = threading.Event()

    def flap() -> None:
        while True:
            scenario.km.stop()
            if done.wait(8):
                break
            scenario.km.start()
            if done.wait(2):
                return
        scenario.km.start()

    flapper = threading.Thread(target=flap, daemon=True)
    flapper.start()
    try:
        add_ca(scenario, "flapping")
        shown(scenario, "Unavailable", "cannot reach")
    finally:
        done.set()
        flapper.join()
    over = watch.mark()
    watch.recovered(
        tmp_path,
        TWICE,
        "KM flapping (down 8 s, up 2 s)",
        "Unavailable while down, retried with backoff",
        over,
    )


def test_garbage_answers(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    instances()
    watch = converged(scenario, cluster, RESYNC)
    scenario.km.garbage = True
    add_ca(scenario, "garbage")
    shown(scenario, "Unavailable", "not a Key Manager answer")
    scenario.km.garbage = False
    over = watch.mark()
    watch.recovered(
        tmp_path,
        TWICE,
        "KM answering an HTML page with HTTP 200",
        "Unavailable while garbled, retried with backoff",
        over,
    )


def test_a_new_tls_certificate(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    instances()
    watch = converged(scenario, cluster, RESYNC)
    scenario.km.stop()
    new_ca = scenario.km.renew_certificate()
    scenario.km.start()
    restart_km_pod(scenario)
    shown(scenario, "Failed", "certificate is not trusted")
    scenario.find("ConfigMap", "km-tls-ca")["data"]["ca.crt"] = new_ca.decode()
    scenario.apply()
    over = watch.mark()
    watch.recovered(
        tmp_path,
        ONCE,
        "KM serving a certificate of a new CA",
        "Failed (untrusted) until the CA ConfigMap changed, then at once",
        over,
    )


def test_restarted_onto_an_empty_database(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    instances()
    watch = converged(scenario, cluster, RESYNC)
    scenario.km.stop()
    scenario.km.db = kmdouble.Database()  # an embedded H2 database after a restart
    scenario.km.start()  # same port, same certificate
    restart_km_pod(scenario)
    over = watch.mark()
    watch.recovered(
        tmp_path,
        ONCE,
        "KM restarted onto an empty database",
        "made the app, claim and scope again with the same credentials",
        over,
    )
    assert "tpp_associated" in scenario.km.db.scopes["openid"]

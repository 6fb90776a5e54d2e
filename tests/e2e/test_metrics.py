"""The operator's Prometheus endpoint: rollouts, reconciles, Key Manager calls and every
trusted certificate's expiry (what an expiring-CA alert is built on)."""

from __future__ import annotations

import copy
import re
import urllib.request
from collections.abc import Callable

import pytest
from cryptography import x509

from testbed.controlplane.launcher import free_port
from tests.e2e.harness import Operator, Scenario
from tests.kubetools import poll

pytestmark = pytest.mark.cluster


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def sample(text: str, name: str, **labels: str) -> float | None:
    for match in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[2])
    return None


def plain(text: str, name: str) -> float:
    """A metric without labels."""
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, f"{name} not served"
    return float(found[1])


def test_metrics(
    scenario: Scenario, operator: Operator, start_operator: Callable[..., Operator]
) -> None:
    port = free_port()
    operator.stop()
    measured = start_operator("--metrics-port", str(port))
    try:
        scenario.apply()
        scenario.wait_ready()
        ns = scenario.namespace
        poll(
            lambda: (
                sample(scrape(port), "obreg_rollouts_total", namespace=ns, workload="wso2-km")
                == 1.0
            ),
            30,
            "the KM rollout to be counted",
        )
        text = scrape(port)
        assert sample(text, "obreg_rollouts_total", namespace=ns, workload="wso2-apim") == 1.0
        assert (sample(text, "obreg_reconciles_total", result="Applied") or 0) >= 2
        assert "obreg_reconcile_duration_seconds_bucket" in text
        # One fresh operator, one KM: the app was registered exactly once.
        registered = sample(
            text, "obreg_key_manager_calls_total", operation="registerOAuthApplicationData"
        )
        assert registered == 1.0 == scenario.km.writes().count("registerOAuthApplicationData")
        assert (sample(text, "obreg_key_manager_syncs_total", result="synced") or 0) >= 1
        root_pem = scenario.find("ConfigMap", "ob-directory-cas")["data"]["root-ca.pem"]
        root = x509.load_pem_x509_certificate(root_pem.encode())
        expiry = sample(
            text,
            "obreg_certificate_not_after_timestamp_seconds",
            namespace=ns,
            anchor="ob-directory-cas",
            alias="tpproot",
        )
        assert expiry == root.not_valid_after_utc.timestamp()
        # What the chart's alerts read: the anchor's earliest expiry (no later than its
        # root's) and each resource's conditions as its status has them.
        earliest = sample(
            text,
            "obreg_trust_anchor_earliest_not_after_timestamp_seconds",
            namespace=ns,
            anchor="ob-directory-cas",
        )
        assert earliest is not None and earliest <= expiry
        for kind in ("OBTrustAnchor", "OBIdentityProvider", "OBServiceProvider"):
            ready = {"namespace": ns, "kind": kind, "type": "Ready"}
            assert sample(text, "obreg_resource_condition", **ready, status="True") == 1.0
            assert sample(text, "obreg_resource_condition", **ready, status="False") is None
            stalled = {"namespace": ns, "kind": kind, "type": "Stalled", "status": "True"}
            assert sample(text, "obreg_resource_condition", **stalled) is None

        # A write the API server refuses (a quota of no new ConfigMaps) fails the
        # reconcile: counted as an error and retried until the refusal is gone.
        errors = plain(scrape(port), "obreg_reconcile_errors_total")
        scenario.kubectl("create", "quota", "no-configmaps", "--hard=configmaps=0", "-n", ns)
        late = copy.deepcopy(scenario.find("Deployment", "wso2-apim"))
        late["metadata"]["name"] = "late"
        anchor = scenario.find("OBTrustAnchor")
        anchor["spec"]["targets"].append({"name": "late"})
        scenario.apply([*scenario.docs, late])
        poll(
            lambda: plain(scrape(port), "obreg_reconcile_errors_total") > errors,
            30,
            "the refused write to be counted",
        )
        scenario.kubectl("delete", "quota", "no-configmaps", "-n", ns)
        poll(
            lambda: (
                scenario.kubectl(
                    "get", "configmap", "obreg-late", "-n", ns, "--ignore-not-found", "-o", "name"
                ).stdout.strip()
                == "configmap/obreg-late"
            ),
            90,
            "the retry's files",
        )
    finally:
        measured.stop()
        operator.start()

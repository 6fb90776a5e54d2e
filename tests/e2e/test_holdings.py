"""obreg holds the data of what its resources read, not of every Secret and ConfigMap:
an object that exists before any resource reads it is fetched when one starts to, its
changes still reach the workload, and an object no resource reads is never fetched."""

from __future__ import annotations

import base64
import os

import pytest

from testbed import audit_log
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import OBREG, Scenario
from tests.kubetools import poll
from tests.pki import issue

pytestmark = pytest.mark.cluster


def test_only_what_a_resource_reads_is_fetched_and_its_changes_reach_the_workload(
    cluster: ControlPlane, scenario: Scenario
) -> None:
    ns = scenario.namespace
    offset = audit_log.end(cluster.audit_log)

    def cas(pem: bytes) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "later-cas", "namespace": ns},
            "data": {"ca.pem": pem.decode()},
        }

    release = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "unrelated-release", "namespace": ns},
        "data": {"release": base64.b64encode(os.urandom(64 * 1024)).decode()},
    }
    # Both exist before any resource of the namespace does.
    scenario.apply([release, cas(issue("held CA 1").pem)])
    anchor = {
        "apiVersion": "obreg.dev/v1alpha1",
        "kind": "OBTrustAnchor",
        "metadata": {"name": "later", "namespace": ns},
        "spec": {
            "targets": [{"name": "wso2-km"}],
            "certificates": [{"configMapKeyRef": {"name": "later-cas", "key": "ca.pem"}}],
        },
    }
    scenario.apply([scenario.find("Deployment", "wso2-km"), anchor])
    poll(
        lambda: scenario.condition("obta", "later").get("status") == "True",
        30,
        "the anchor reading an existing ConfigMap to be Ready",
    )
    files = scenario.data("configmap", "obreg-wso2-km")
    scenario.apply([cas(issue("held CA 2").pem)])
    poll(
        lambda: scenario.data("configmap", "obreg-wso2-km") != files,
        30,
        "the changed CA to reach the workload's files",
    )
    fetched = {
        (r.resource, r.name)
        for r in audit_log.requests(cluster.audit_log, offset)
        if r.user == OBREG and r.verb == "get" and r.namespace == ns
    }
    assert ("configmaps", "later-cas") in fetched
    assert ("secrets", "unrelated-release") not in fetched

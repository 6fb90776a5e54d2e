"""``obreg diff`` against the live plane: nothing after Ready, a CA change as the
truststore listing's diff with the workloads that roll, a Secret change as "changed"
only (never its content)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import Scenario
from tests.kubetools import poll
from tests.pki import issue

pytestmark = pytest.mark.cluster

STORE = "repository/resources/security/client-truststore.jks"
IDP_FILE = "repository/conf/identity/identity-providers/OBDirectory.xml"


def diff(scenario: Scenario, docs: list[dict[str, Any]], tmp_path: Path) -> tuple[int, str]:
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    done = subprocess.run(
        [sys.executable, "-m", "obreg.cli", "diff", "-f", str(manifest)],
        env={**os.environ, "KUBECONFIG": str(scenario.kubectl.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "internal error" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def test_diff_against_the_live_cluster(scenario: Scenario, tmp_path: Path) -> None:
    scenario.apply()
    scenario.wait_ready()
    poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "the first rollouts")
    generated = scenario.get("secret", "obreg-apim-store-client")
    generated.pop("status", None)
    generated["metadata"] = {
        "name": generated["metadata"]["name"],
        "namespace": scenario.namespace,
        "labels": generated["metadata"]["labels"],  # obreg's input label among them
    }
    docs = [*scenario.docs, generated]

    code, out = diff(scenario, docs, tmp_path)
    assert code == 0, out
    ns = scenario.namespace
    assert f"{ns}/Deployment/wso2-km: no difference, would not roll" in out
    assert f"{ns}/Deployment/wso2-apim: no difference, would not roll" in out
    assert "Key Manager, OBServiceProvider apim-store: live Synced" in out

    changed_ca = copy.deepcopy(docs)
    cas = next(
        d
        for d in changed_ca
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ob-directory-cas"
    )
    cas["data"]["issuing-ca.pem"] = issue("A New Issuing CA").pem.decode()
    code, out = diff(scenario, changed_ca, tmp_path)
    assert code == 1, out
    for workload in ("wso2-km", "wso2-apim"):
        assert f"{ns}/Deployment/{workload}: 1 file(s) would change, would roll" in out
    assert f"  changed {STORE} (certificates):" in out
    assert "+  subject: CN=A New Issuing CA" in out
    assert "-  subject: CN=obreg Sample Issuing CA" in out or "-  subject: " in out

    changed_secret = copy.deepcopy(docs)
    client = next(d for d in changed_secret if d["metadata"]["name"] == "ob-directory-client")
    client["stringData"]["client-secret"] = "a-new-directory-secret-value"
    code, out = diff(scenario, changed_secret, tmp_path)
    assert code == 1, out
    assert f"{ns}/Deployment/wso2-km: 1 file(s) would change, would roll" in out
    assert f"  changed {IDP_FILE} (from a Secret: content not shown)" in out
    assert f"{ns}/Deployment/wso2-apim: no difference, would not roll" in out
    assert "a-new-directory-secret-value" not in out
    assert "sample-directory-client-secret-not-real" not in out

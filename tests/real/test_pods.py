"""What kwok's fake pods cannot show: obreg's image runs as the chart's pod under the
chart's securityContext and probes, talks to the API server through the kubernetes
Service, brings samples/ to Ready; and a WSO2 stand-in reads obreg's files inside a pod
as the product will (a JVM opens the truststore with its password, the XML and JSON
parse), is Ready only then, and sees a changed CA after exactly one rollout."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from testbed import kmdouble
from tests.e2e.harness import Scenario
from tests.kubetools import Kubectl, poll
from tests.pki import issue, keytool_fingerprint
from tests.real.conftest import (
    SYSTEM,
    RealCluster,
    await_pods_ready,
    await_rollout,
    pods,
    standin,
)

TRUSTSTORE = "repository/resources/security/client-truststore.jks"


def test_operator_runs_as_the_charts_hardened_pod(
    cluster: RealCluster, kubectl: Kubectl, installed_chart: str
) -> None:
    selector = f"app.kubernetes.io/instance={installed_chart}"
    await_pods_ready(kubectl, SYSTEM, selector)
    (pod,) = pods(kubectl, SYSTEM, selector)
    name = pod["metadata"]["name"]
    assert pod["spec"]["nodeName"] == cluster.node_name
    # The kernel's view of the process: the chart's UID, no capabilities, no new privileges.
    status = kubectl("exec", "-n", SYSTEM, name, "--", "cat", "/proc/1/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[:2] == ["65532", "65532"]
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"  # a filter: RuntimeDefault
    refused = kubectl("exec", "-n", SYSTEM, name, "--", "touch", "/venv/x", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    assert restarts == 0


@pytest.fixture
def real_scenario(
    cluster: RealCluster, kubectl: Kubectl, installed_chart: str, images_loaded: dict[str, str]
) -> Iterator[Scenario]:
    """samples/ in a namespace of their own, the KM double listening where pods reach it
    (the node's address), the workloads replaced by the stand-in."""
    km, km_ca = kmdouble.new(password="km-admin-real", address=cluster.host_address)
    namespace = "real-samples"
    kubectl("create", "namespace", namespace)
    scenario = Scenario(kubectl, namespace, km, km_ca)
    scenario.docs = [
        standin(d, images_loaded["standin"], cluster.node_name) if d["kind"] == "Deployment" else d
        for d in scenario.docs
    ]
    yield scenario
    km.stop()
    kubectl("delete", "namespace", namespace, "--wait=false")


def _standin_log(kubectl: Kubectl, namespace: str, app: str) -> tuple[str, str]:
    (pod,) = pods(kubectl, namespace, f"app={app}")
    name = str(pod["metadata"]["name"])
    return name, kubectl("logs", "-n", namespace, name).stdout


def _truststore_line(log: str) -> str:
    return next(line for line in log.splitlines() if TRUSTSTORE in line)


def test_samples_ready_and_the_standin_reads_the_files_in_a_pod(
    kubectl: Kubectl, real_scenario: Scenario
) -> None:
    scenario = real_scenario
    scenario.apply()
    scenario.wait_ready(timeout=120)
    cas = scenario.find("ConfigMap", "ob-directory-cas")["data"]
    for app in ("wso2-km", "wso2-apim"):
        await_rollout(kubectl, scenario.namespace, app)
        name, log = _standin_log(kubectl, scenario.namespace, app)
        assert "standin: ready" in log, log
        assert "FAILED" not in log, log
        # The JVM listed both CAs under the runbook's aliases, with their fingerprints.
        listed = _truststore_line(log)
        for alias, key in (("tpproot", "root-ca.pem"), ("tppissuer", "issuing-ca.pem")):
            fingerprint = keytool_fingerprint(_sha256(cas[key]))
            assert f"{alias}={fingerprint}" in listed, listed
    _no_secret_in_the_operators_log(kubectl, scenario.namespace)
    _, apim_log = _standin_log(kubectl, scenario.namespace, "wso2-apim")
    assert "site.json: keys" in apim_log and "oidcConfiguration" in apim_log, apim_log
    _, km_log = _standin_log(kubectl, scenario.namespace, "wso2-km")
    assert "identity.xml: root" in km_log, km_log

    # A CA change rolls each workload once; the new pod's JVM sees the new certificate.
    before = scenario.rollouts()
    old = {app: _standin_log(kubectl, scenario.namespace, app)[0] for app in before}
    new_root = issue("Rotated OB root CA")
    scenario.merge_patch(
        "configmap", "ob-directory-cas", {"data": {"root-ca.pem": new_root.pem.decode()}}
    )
    expected = {app: count + 1 for app, count in before.items()}
    poll(lambda: scenario.rollouts() == expected, 60, f"one rollout each: {expected}")
    for app in before:
        await_rollout(kubectl, scenario.namespace, app)
        name, log = _standin_log(kubectl, scenario.namespace, app)
        assert name != old[app]  # the old pod is gone, not merely joined by a new one
        assert f"tpproot={keytool_fingerprint(new_root.sha256)}" in _truststore_line(log), log
    assert scenario.rollouts() == expected


def _no_secret_in_the_operators_log(kubectl: Kubectl, namespace: str) -> None:
    """No value of any Secret of the scenario (the directory's client secret, the KM
    admin's password, the credentials obreg generated) is in the operator pod's log,
    written at debug level."""
    (pod,) = pods(kubectl, SYSTEM, "app.kubernetes.io/name=obreg")
    log = kubectl("logs", "-n", SYSTEM, str(pod["metadata"]["name"])).stdout
    assert '"severity": "debug"' in log or "[DEBUG" in log  # the level the test needs
    secrets = json.loads(kubectl("get", "secrets", "-n", namespace, "-o", "json").stdout)
    values = {
        (secret["metadata"]["name"], key): base64.b64decode(value).decode(errors="replace")
        for secret in secrets["items"]
        for key, value in (secret.get("data") or {}).items()
    }
    assert ("ob-directory-client", "client-secret") in values and len(values) > 3
    leaked = [where for where, value in values.items() if len(value) >= 8 and value in log]
    assert not leaked, f"Secret values in the operator's log: {leaked}"


def _sha256(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()

"""The Helm chart on the local control plane: lint, server-side validation, install and
uninstall, and the ServiceAccount's privileges (nothing beyond what obreg uses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from testbed.controlplane.launcher import ControlPlane
from tests.kubetools import Kubectl, helm, poll

pytestmark = pytest.mark.cluster

CHART = Path(__file__).resolve().parents[2] / "charts" / "obreg"
KWOK = [
    "--set",
    "tolerations[0].key=kwok.x-k8s.io/node",
    "--set",
    "tolerations[0].operator=Exists",
    "--set",
    "tolerations[0].effect=NoSchedule",
]


def test_lint(cluster: ControlPlane) -> None:
    helm(cluster, "lint", "--strict", str(CHART))
    helm(
        cluster,
        "lint",
        "--strict",
        str(CHART),
        "--set",
        "clusterWide=false",
        "--set",
        "watchNamespaces={bank-a,bank-b}",
    )
    refused = helm(
        cluster, "lint", "--strict", str(CHART), "--set", "clusterWide=false", check=False
    )
    assert refused.returncode != 0  # the values schema wants namespaces then
    assert "watchNamespaces" in refused.stdout + refused.stderr


@pytest.mark.parametrize(
    "mode",
    [
        [],
        [
            "--set",
            "clusterWide=false",
            "--set",
            "watchNamespaces={default,kube-public}",
            "--set",
            "serviceMonitor.enabled=false",
        ],
    ],
    ids=["cluster-wide", "namespaced"],
)
def test_rendered_chart_is_valid_for_the_api_server(
    cluster: ControlPlane, kubectl: Kubectl, installed: Path, mode: list[str]
) -> None:
    rendered = helm(
        cluster,
        "template",
        "dry",
        str(CHART),
        "--namespace",
        "default",
        "--kube-version",
        "1.34.4",
        *mode,
    ).stdout
    kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", input=rendered)


def test_install_and_uninstall(cluster: ControlPlane, kubectl: Kubectl, installed: Path) -> None:
    helm(
        cluster,
        "install",
        "charttest",
        str(CHART),
        "--namespace",
        "chart-test",
        "--create-namespace",
        "--wait",
        "--timeout",
        "120s",
        # The session installed the CRDs without Helm (crds/); a release owns them only
        # when it made them or a user adopted them (docs: Upgrade).
        "--set",
        "crds.enabled=false",
        *KWOK,
    )
    deployment = json.loads(
        kubectl("get", "deployment", "charttest-obreg", "-n", "chart-test", "-o", "json").stdout
    )
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]["securityContext"]
    assert container == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # Every object is named by the chart's fullname: <release>-obreg.
    assert kubectl("get", "clusterrole", "charttest-obreg", "-o", "name").stdout.strip()
    assert pod["serviceAccountName"] == "charttest-obreg"
    helm(cluster, "uninstall", "charttest", "--namespace", "chart-test", "--wait")
    selector = "app.kubernetes.io/instance=charttest"
    poll(
        lambda: (
            not kubectl(
                "get", "deploy,svc,sa", "-n", "chart-test", "-l", selector, "-o", "name"
            ).stdout.strip()
        ),
        60,
        "namespaced objects to go",
    )
    assert not kubectl(
        "get", "clusterrole,clusterrolebinding", "-l", selector, "-o", "name"
    ).stdout.strip()
    kubectl("delete", "namespace", "chart-test", "--wait=false")


# What obreg does, exactly: a (resource, verbs) row of `kubectl auth can-i --list`.
OBREG_USES = {
    "obtrustanchors.obreg.dev": "get list watch",
    "obidentityproviders.obreg.dev": "get list watch",
    "observiceproviders.obreg.dev": "get list watch",
    "obtrustanchors.obreg.dev/status": "patch",
    "obidentityproviders.obreg.dev/status": "patch",
    "observiceproviders.obreg.dev/status": "patch",
    "secrets": "get list watch create patch",
    "configmaps": "get list watch create patch",
    "deployments.apps": "get list watch patch",
    "statefulsets.apps": "get list watch patch",
    "events": "create",
}
# Granted to every authenticated identity by Kubernetes itself.
KUBERNETES_DEFAULTS = {
    "selfsubjectreviews.authentication.k8s.io",
    "selfsubjectaccessreviews.authorization.k8s.io",
    "selfsubjectrulesreviews.authorization.k8s.io",
}


def test_service_account_can_do_nothing_beyond_what_obreg_uses(
    kubectl: Kubectl, installed: Path
) -> None:
    out = kubectl(
        "auth",
        "can-i",
        "--list",
        "-n",
        "some-bank",
        "--as=system:serviceaccount:obreg-system:obreg",
    ).stdout
    rows = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if not parts or parts[0].startswith("[") or "[" not in line:
            continue  # non-resource URLs (discovery, health), granted to everyone
        resource = parts[0]
        verbs = line[line.rindex("[") + 1 : line.rindex("]")].split()
        rows[resource] = " ".join(verbs)
    assert {r: v for r, v in rows.items() if r not in KUBERNETES_DEFAULTS} == OBREG_USES


def test_the_service_monitor_scrapes_the_operators_metrics_port(cluster: ControlPlane) -> None:
    """docs/operating.md: with serviceMonitor.enabled the chart adds a ServiceMonitor. Prometheus
    scrapes only along a chain of names: ServiceMonitor selector -> Service labels,
    endpoint port -> Service port name, Service selector -> pod labels, targetPort ->
    container port name. Each link is checked in the rendered chart."""
    rendered = helm(
        cluster, "template", "rel", str(CHART), "--namespace", "obreg-system",
        "--kube-version", "1.34.4",
        "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.interval=15s",
    ).stdout  # fmt: skip
    docs = {d["kind"]: d for d in yaml.safe_load_all(rendered) if d}
    monitor, service, deployment = docs["ServiceMonitor"], docs["Service"], docs["Deployment"]
    labels = service["metadata"]["labels"]
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # honorLabels: a series' own namespace label (the resource's) is kept, not renamed.
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "interval": "15s", "honorLabels": True}
    ]
    (port,) = service["spec"]["ports"]
    assert port["name"] == "metrics"
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    container_ports = {
        p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])
    }
    assert port["targetPort"] in container_ports
    assert f"--metrics-port={container_ports['metrics']}" in pod["spec"]["containers"][0]["args"]
    disabled = helm(cluster, "template", "rel", str(CHART), "--kube-version", "1.34.4").stdout
    assert "ServiceMonitor" not in disabled


def test_the_proxy_value_sets_the_variables_the_km_client_reads(cluster: ControlPlane) -> None:
    """values.yaml: proxy.httpsProxy and proxy.noProxy become HTTPS_PROXY and NO_PROXY
    (km/proxy.py reads them); left empty, neither is set; the schema refuses a URL with
    blanks and any other key."""
    rendered = helm(
        cluster, "template", "rel", str(CHART), "--kube-version", "1.34.4",
        "--set", "proxy.httpsProxy=http://proxy.corp:3128",
        "--set-string", "proxy.noProxy=.svc\\,10.0.0.0/8\\,km.bank.example:9446",
    ).stdout  # fmt: skip
    docs = {d["kind"]: d for d in yaml.safe_load_all(rendered) if d}
    env = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["HTTPS_PROXY"] == "http://proxy.corp:3128"
    assert values["NO_PROXY"] == ".svc,10.0.0.0/8,km.bank.example:9446"
    plain = helm(cluster, "template", "rel", str(CHART), "--kube-version", "1.34.4").stdout
    assert "PROXY" not in plain
    for bad in ("proxy.httpsProxy=http://proxy corp:3128", "proxy.httpProxy=http://p:3128"):
        refused = helm(
            cluster, "template", "rel", str(CHART), "--kube-version", "1.34.4", "--set", bad,
            check=False,
        )  # fmt: skip
        assert refused.returncode != 0 and "proxy" in refused.stderr, bad

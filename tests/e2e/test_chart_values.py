"""The chart's values that banks expect of a vendor chart (cert-manager's and
trust-manager's conventions): each changes the rendered manifests as values.yaml and
charts/obreg/README.md say, a typo is refused by the schema, the chart renders as a
subchart of an umbrella chart, and what it renders passes the API server's own
validation (``kubectl apply --dry-run=server``). Rendering needs no cluster; the plane
gives helm and the server-side check."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg import cli
from testbed.controlplane.launcher import ControlPlane
from tests.kubetools import Kubectl, helm

pytestmark = pytest.mark.cluster

CHART = Path(__file__).resolve().parents[2] / "charts" / "obreg"
STANDARD = {
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
}
Doc = dict[str, Any]
OBREG_CRDS = ("obtrustanchors.obreg.dev", "obidentityproviders.obreg.dev",
              "observiceproviders.obreg.dev")  # fmt: skip


def _values_file(tmp_path: Path, values: dict[str, Any]) -> list[str]:
    path = tmp_path / f"values-{len(list(tmp_path.glob('values-*')))}.yaml"
    path.write_text(yaml.safe_dump(values))
    return ["-f", str(path)]


def _render(
    cluster: ControlPlane,
    tmp_path: Path,
    values: dict[str, Any] | None = None,
    release: str = "rel",
    namespace: str = "obreg-system",
    chart: Path = CHART,
) -> list[Doc]:
    args = _values_file(tmp_path, values) if values else []
    out = helm(
        cluster,
        "template",
        release,
        str(chart),
        "--namespace",
        namespace,
        "--kube-version",
        "1.34.4",
        *args,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _refused(cluster: ControlPlane, tmp_path: Path, values: dict[str, Any]) -> str:
    result = helm(
        cluster,
        "template",
        "rel",
        str(CHART),
        "--kube-version",
        "1.34.4",
        *_values_file(tmp_path, values),
        check=False,
    )
    assert result.returncode != 0, f"accepted: {values}"
    return str(result.stderr)


def _one(docs: list[Doc], kind: str) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def _pod(docs: list[Doc]) -> Doc:
    pod: Doc = _one(docs, "Deployment")["spec"]["template"]
    return pod


def _container(docs: list[Doc]) -> Doc:
    container: Doc = _pod(docs)["spec"]["containers"][0]
    return container


# Everything at once: what a bank's values file may hold (the ServiceMonitor aside: the
# plane has no Prometheus Operator CRDs).
EVERYTHING: dict[str, Any] = {
    "nameOverride": "registrar",
    "commonLabels": {"bank.example/cost-centre": "cc-123", "team": "payments"},
    "image": {"registry": "mirror.bank.example", "tag": "0.1.0"},
    "serviceAccount": {"annotations": {"bank.example/owner": "platform"}},
    "replicas": 2,
    "podDisruptionBudget": {"minAvailable": 1},
    "networkPolicy": {
        "enabled": True,
        "ingress": {"from": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
        "egress": {
            "apiServer": {"ports": [6443], "to": [{"ipBlock": {"cidr": "10.0.0.10/32"}}]},
            "dns": {
                "to": [
                    {
                        "namespaceSelector": {},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ]
            },
            "keyManager": {
                "ports": [9443, 443],
                "to": [{"namespaceSelector": {"matchLabels": {"name": "wso2"}}}],
            },
        },
        "extraEgress": [{"ports": [{"protocol": "TCP", "port": 8443}]}],
    },
    "extraVolumes": [{"name": "corp-ca", "configMap": {"name": "corp-ca-bundle"}}],
    "extraVolumeMounts": [{"name": "corp-ca", "mountPath": "/etc/ssl/corp", "readOnly": True}],
    "extraEnv": [{"name": "SSL_CERT_FILE", "value": "/etc/ssl/corp/ca-bundle.crt"}],
    "resources": {
        "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "32Mi"},
        "limits": {"cpu": 1, "memory": "512Mi", "ephemeral-storage": "1Gi"},
    },
}


@pytest.mark.parametrize(
    "values",
    [
        EVERYTHING,
        {**EVERYTHING, "clusterWide": False, "watchNamespaces": ["default", "kube-public"]},
        {"fullnameOverride": "corp-obreg", "serviceAccount": {"create": False, "name": "default"}},
    ],
    ids=["everything", "everything-namespaced", "own-service-account"],
)
def test_rendered_values_pass_the_api_servers_validation(
    cluster: ControlPlane, kubectl: Kubectl, installed: Path, tmp_path: Path, values: Doc
) -> None:
    docs = _render(cluster, tmp_path, values, namespace="default")
    kinds = {d["kind"] for d in docs}
    if values is EVERYTHING:
        assert {"NetworkPolicy", "PodDisruptionBudget", "ServiceAccount"} <= kinds
    text = "---\n".join(yaml.safe_dump(d) for d in docs)
    kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", input=text)


def _umbrella(tmp_path: Path) -> Path:
    """An umbrella chart with obreg in its charts/ folder (what `helm dependency update`
    of a file:// dependency puts there)."""
    umbrella = tmp_path / "bank-platform"
    (umbrella / "charts").mkdir(parents=True)
    (umbrella / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "bank-platform",
                "version": "1.0.0",
                "dependencies": [
                    {"name": "obreg", "version": "0.1.0", "repository": f"file://{CHART}"}
                ],
            }
        )
    )
    shutil.copytree(CHART, umbrella / "charts" / "obreg")
    return umbrella


@pytest.mark.parametrize(
    "values",
    [
        None,
        {"global": {"imageRegistry": "mirror.bank.example", "labels": {"a": "b"}, "n": 1}},
        {
            "global": {"imagePullSecrets": [{"name": "x"}]},
            "obreg": {
                "nameOverride": "registrar",
                "clusterWide": False,
                "watchNamespaces": ["default"],
            },
        },
    ],
    ids=["no-globals", "globals", "globals-and-subchart-values"],
)
def test_the_chart_renders_inside_an_umbrella_chart(
    cluster: ControlPlane, kubectl: Kubectl, installed: Path, tmp_path: Path, values: Doc | None
) -> None:
    """Helm gives every subchart a `global` value, set or not; the schema accepts it."""
    umbrella = _umbrella(tmp_path)
    docs = _render(
        cluster, tmp_path, values, release="platform", namespace="default", chart=umbrella
    )
    deployment = _one(docs, "Deployment")
    name = "platform-registrar" if values and "obreg" in values else "platform-obreg"
    assert deployment["metadata"]["name"] == name
    helm(
        cluster,
        "lint",
        "--strict",
        str(umbrella),
        *(_values_file(tmp_path, values) if values else []),
    )
    text = "---\n".join(yaml.safe_dump(d) for d in docs)
    kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", input=text)


@pytest.mark.parametrize(
    ("release", "values", "fullname", "label"),
    [
        ("obreg", {}, "obreg", "obreg"),
        ("rel", {}, "rel-obreg", "obreg"),
        ("rel", {"nameOverride": "registrar"}, "rel-registrar", "registrar"),
        ("rel", {"fullnameOverride": "corp-obreg"}, "corp-obreg", "obreg"),
    ],
)
def test_every_object_is_named_by_the_fullname(
    cluster: ControlPlane, tmp_path: Path, release: str, values: Doc, fullname: str, label: str
) -> None:
    docs = _render(
        cluster,
        tmp_path,
        {
            **values,
            "replicas": 2,
            "networkPolicy": {"enabled": True},
            "serviceMonitor": {"enabled": True},
        },
        release=release,
    )
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {
        ("ServiceAccount", fullname),
        ("ClusterRole", fullname),
        ("ClusterRoleBinding", fullname),
        ("Role", f"{fullname}-digest-key"),
        ("RoleBinding", f"{fullname}-digest-key"),
        ("Role", f"{fullname}-leader-election"),
        ("RoleBinding", f"{fullname}-leader-election"),
        ("Service", f"{fullname}-metrics"),
        ("ServiceMonitor", fullname),
        ("Deployment", fullname),
        ("PodDisruptionBudget", fullname),
        ("NetworkPolicy", fullname),
        *(("CustomResourceDefinition", crd) for crd in OBREG_CRDS),  # named by the API
    } == names
    assert f"--peering-name={fullname}" in _container(docs)["args"]
    assert _pod(docs)["spec"]["serviceAccountName"] == fullname
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == label
    # The digest key's Secret keeps the name obreg looks for, whatever the release.
    role = next(d for d in docs if d["kind"] == "Role")
    assert role["rules"][0]["resourceNames"] == ["obreg-digest-key"]
    # The Lease the instances elect their leader with is the one --peering-name names.
    lease = next(d for d in docs if d["metadata"]["name"] == f"{fullname}-leader-election")
    assert lease["rules"][0]["resourceNames"] == [fullname]
    assert lease["rules"][0]["verbs"] == ["get", "update"]


def test_namespaced_objects_are_named_by_the_fullname(
    cluster: ControlPlane, tmp_path: Path
) -> None:
    docs = _render(
        cluster,
        tmp_path,
        {"clusterWide": False, "watchNamespaces": ["bank-a"], "fullnameOverride": "corp-obreg"},
    )
    in_bank = {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if d["metadata"].get("namespace") == "bank-a"
    }
    assert in_bank == {
        ("Role", "corp-obreg"),
        ("RoleBinding", "corp-obreg"),
    }
    binding = next(
        d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == "bank-a"
    )
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "corp-obreg", "namespace": "obreg-system"}
    ]


def test_a_long_release_name_keeps_names_within_kubernetes_limits(
    cluster: ControlPlane, tmp_path: Path
) -> None:
    docs = _render(cluster, tmp_path, release="a" * 53)
    for doc in docs:
        assert len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]


def test_two_releases_in_one_namespace_share_no_object(
    cluster: ControlPlane, tmp_path: Path
) -> None:
    def objects(release: str, crds: bool) -> set[tuple[str, str, str]]:
        docs = _render(
            cluster,
            tmp_path,
            {"clusterWide": False, "watchNamespaces": ["bank-a"], "crds": {"enabled": crds}},
            release=release,
        )
        return {
            (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs
        }

    # The CRDs are the cluster's, one release's (cert-manager's rule): the other's off.
    first, second = objects("blue", True), objects("green", False)
    assert not first & second
    assert ("ServiceAccount", "obreg-system", "blue-obreg") in first
    assert ("ServiceAccount", "obreg-system", "green-obreg") in second


def test_service_account_values(cluster: ControlPlane, tmp_path: Path) -> None:
    annotated = _render(
        cluster,
        tmp_path,
        {
            "serviceAccount": {
                "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/obreg"}
            }
        },
    )
    account = _one(annotated, "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/obreg"
    }
    named = _render(cluster, tmp_path, {"serviceAccount": {"name": "registrar"}})
    assert _one(named, "ServiceAccount")["metadata"]["name"] == "registrar"
    assert _pod(named)["spec"]["serviceAccountName"] == "registrar"
    own = _render(cluster, tmp_path, {"serviceAccount": {"create": False, "name": "bank-sa"}})
    assert not [d for d in own if d["kind"] == "ServiceAccount"]
    assert _pod(own)["spec"]["serviceAccountName"] == "bank-sa"
    for binding in (d for d in own if d["kind"].endswith("RoleBinding")):
        assert [s["name"] for s in binding["subjects"]] == ["bank-sa"]
    assert "name" in _refused(cluster, tmp_path, {"serviceAccount": {"create": False}})


def test_standard_and_common_labels_are_on_every_object(
    cluster: ControlPlane, tmp_path: Path
) -> None:
    common = {"bank.example/cost-centre": "cc-123", "app.kubernetes.io/name": "not-this"}
    docs = _render(
        cluster,
        tmp_path,
        {
            "commonLabels": common,
            "podLabels": {"team": "payments"},
            "replicas": 2,
            "networkPolicy": {"enabled": True},
            "serviceMonitor": {"enabled": True},
        },
    )
    assert len(docs) == 12 + len(OBREG_CRDS)
    for doc in [*docs, _pod(docs)]:
        labels = doc["metadata"]["labels"]
        assert labels.keys() >= STANDARD, doc["metadata"]
        assert labels["bank.example/cost-centre"] == "cc-123"
        assert labels["app.kubernetes.io/name"] == "obreg"  # the chart's own win
        assert labels["app.kubernetes.io/instance"] == "rel"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "obreg-0.1.0"
    assert _pod(docs)["metadata"]["labels"]["team"] == "payments"
    # Selectors stay the two stable labels: commonLabels may change on an upgrade.
    selector = {"app.kubernetes.io/name": "obreg", "app.kubernetes.io/instance": "rel"}
    assert _one(docs, "Deployment")["spec"]["selector"]["matchLabels"] == selector
    assert _one(docs, "Service")["spec"]["selector"] == selector
    assert _one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    assert _one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"] == selector
    assert _one(docs, "ServiceMonitor")["spec"]["selector"]["matchLabels"] == selector
    tagged = _render(cluster, tmp_path, {"image": {"tag": "1.2.3"}})
    assert _one(tagged, "Deployment")["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.3"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({}, "ghcr.io/obreg/obreg:0.1.0"),
        ({"registry": "mirror.bank.example"}, "mirror.bank.example/ghcr.io/obreg/obreg:0.1.0"),
        (
            {
                "registry": "mirror.bank.example:5000/ghcr/",
                "repository": "obreg/obreg",
                "tag": "1.0",
            },
            "mirror.bank.example:5000/ghcr/obreg/obreg:1.0",
        ),
        (
            {"registry": "mirror.bank.example", "digest": "sha256:" + "a" * 64, "tag": "ignored"},
            "mirror.bank.example/ghcr.io/obreg/obreg@sha256:" + "a" * 64,
        ),
    ],
)
def test_image_registry_prefixes_the_repository(
    cluster: ControlPlane, tmp_path: Path, image: Doc, expected: str
) -> None:
    docs = _render(cluster, tmp_path, {"image": image} if image else None)
    assert _container(docs)["image"] == expected


def test_extra_volumes_and_mounts(cluster: ControlPlane, tmp_path: Path) -> None:
    docs = _render(
        cluster,
        tmp_path,
        {
            "extraVolumes": [{"name": "corp-ca", "configMap": {"name": "corp-ca-bundle"}}],
            "extraVolumeMounts": [
                {"name": "corp-ca", "mountPath": "/etc/ssl/corp", "readOnly": True}
            ],
        },
    )
    assert _pod(docs)["spec"]["volumes"] == [
        {"name": "tmp", "emptyDir": {}},
        {"name": "corp-ca", "configMap": {"name": "corp-ca-bundle"}},
    ]
    assert _container(docs)["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "corp-ca", "mountPath": "/etc/ssl/corp", "readOnly": True},
    ]
    assert "mountPath" in _refused(cluster, tmp_path, {"extraVolumeMounts": [{"name": "x"}]})


def test_service_monitor_labels(cluster: ControlPlane, tmp_path: Path) -> None:
    docs = _render(
        cluster,
        tmp_path,
        {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}}},
    )
    labels = _one(docs, "ServiceMonitor")["metadata"]["labels"]
    assert labels["release"] == "kube-prometheus"
    assert labels.keys() >= STANDARD
    assert "release" not in _one(docs, "Service")["metadata"]["labels"]


def _ports(rule: Doc) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for p in rule["ports"]}


def test_network_policy(cluster: ControlPlane, tmp_path: Path) -> None:
    assert not [d for d in _render(cluster, tmp_path) if d["kind"] == "NetworkPolicy"]
    policy = _one(_render(cluster, tmp_path, {"networkPolicy": {"enabled": True}}), "NetworkPolicy")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert _ports(ingress) == {("TCP", 9090), ("TCP", 8080), ("TCP", 8081)}
    assert "from" not in ingress
    api, dns, km = spec["egress"]
    assert _ports(api) == {("TCP", 443), ("TCP", 6443)}
    assert _ports(dns) == {("UDP", 53), ("TCP", 53)}
    assert _ports(km) == {("TCP", 9443)}
    assert not any("to" in rule for rule in spec["egress"])

    peers = {
        name: [{"ipBlock": {"cidr": f"10.0.{i}.0/24"}}]
        for i, name in enumerate(["a", "d", "k", "i"])
    }
    custom = _one(
        _render(
            cluster,
            tmp_path,
            {
                "metrics": {"port": 9100},
                "readinessProbe": {"port": 8082},
                "networkPolicy": {
                    "enabled": True,
                    "ingress": {"from": peers["i"]},
                    "egress": {
                        "apiServer": {"ports": [6443], "to": peers["a"]},
                        "dns": {"ports": [53, 5353], "to": peers["d"]},
                        "keyManager": {"ports": [9443, 8243], "to": peers["k"]},
                    },
                    "extraEgress": [{"ports": [{"protocol": "TCP", "port": 3128}]}],
                },
            },
        ),
        "NetworkPolicy",
    )["spec"]
    (ingress,) = custom["ingress"]
    assert _ports(ingress) == {("TCP", 9100), ("TCP", 8080), ("TCP", 8082)}
    assert ingress["from"] == peers["i"]
    api, dns, km, extra = custom["egress"]
    assert (_ports(api), api["to"]) == ({("TCP", 6443)}, peers["a"])
    assert _ports(dns) == {("UDP", 53), ("TCP", 53), ("UDP", 5353), ("TCP", 5353)}
    assert dns["to"] == peers["d"]
    assert (_ports(km), km["to"]) == ({("TCP", 9443), ("TCP", 8243)}, peers["k"])
    assert extra == {"ports": [{"protocol": "TCP", "port": 3128}]}
    refused = _refused(
        cluster, tmp_path, {"networkPolicy": {"egress": {"keyManager": {"ports": []}}}}
    )
    assert "ports" in refused


@pytest.mark.parametrize(
    ("values", "spec"),
    [
        ({"replicas": 1}, None),
        ({"replicas": 2}, {"maxUnavailable": 1}),
        (
            {"replicas": 3, "podDisruptionBudget": {"maxUnavailable": "50%"}},
            {"maxUnavailable": "50%"},
        ),
        ({"replicas": 3, "podDisruptionBudget": {"minAvailable": 2}}, {"minAvailable": 2}),
        ({"replicas": 3, "podDisruptionBudget": {"minAvailable": "50%"}}, {"minAvailable": "50%"}),
        ({"replicas": 3, "podDisruptionBudget": {"enabled": False}}, None),
    ],
)
def test_pod_disruption_budget(
    cluster: ControlPlane, tmp_path: Path, values: Doc, spec: Doc | None
) -> None:
    budgets = [d for d in _render(cluster, tmp_path, values) if d["kind"] == "PodDisruptionBudget"]
    if spec is None:
        assert budgets == []
        return
    (budget,) = budgets
    assert {k: v for k, v in budget["spec"].items() if k != "selector"} == spec


@pytest.mark.parametrize(
    "values",
    [
        {"resources": {"limit": {"cpu": "1"}}},
        {"resources": {"requests": {"cpus": "1"}}},
        {"resources": {"requests": {"memory": "lots"}}},
        {"resources": {"limits": {"nvidia.com/gpu": 1}}},
        {"podDisruptionBudget": {"maxUnavailable": "half"}},
        {"image": {"registry": "https://mirror.bank.example"}},
        {"nameOverride": "Not_A_Name"},
        {"commonLabels": {"tier": 1}},
        {"networkPolicy": {"enable": True}},
        {"serviceMonitor": {"interval": "often"}},
        {"crds": {"keeep": True}},
        {"crds": {"enabled": "yes"}},
    ],
    ids=[
        "limit",
        "cpus",
        "memory-word",
        "gpu",
        "pdb-word",
        "registry-scheme",
        "name",
        "label-number",
        "np-typo",
        "interval",
        "crds-typo",
        "crds-word",
    ],
)
def test_the_schema_refuses_a_typo(cluster: ControlPlane, tmp_path: Path, values: Doc) -> None:
    _refused(cluster, tmp_path, values)


def test_resources_default_and_set(cluster: ControlPlane, tmp_path: Path) -> None:
    assert _container(_render(cluster, tmp_path))["resources"] == {
        "requests": {"cpu": "50m", "memory": "96Mi", "ephemeral-storage": "64Mi"},
        "limits": {"memory": "256Mi", "ephemeral-storage": "256Mi"},
    }
    mine = {
        "requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": 2, "memory": "2Gi", "ephemeral-storage": "2Gi"},
    }
    assert _container(_render(cluster, tmp_path, {"resources": mine}))["resources"] == mine


def test_notes_name_what_was_installed(cluster: ControlPlane, tmp_path: Path) -> None:
    out = helm(
        cluster,
        "install",
        "rel",
        str(CHART),
        "--namespace",
        "obreg-system",
        "--dry-run=client",
        "--set",
        "clusterWide=false",
        "--set",
        "watchNamespaces={bank-a,bank-b}",
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "crds.enabled=false",  # the session's CRDs, installed without Helm, are no release's
    ).stdout
    notes = out[out.index("NOTES:") :]
    assert "deployment/rel-obreg" in notes
    assert "bank-a, bank-b" in notes
    assert "ServiceAccount: rel-obreg" in notes
    assert "NetworkPolicy rel-obreg" in notes
    assert "Image: ghcr.io/obreg/obreg:0.1.0" in notes


def test_the_crds_are_what_obreg_crds_prints_labelled_and_kept(
    cluster: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One definition: the chart's template (hack/chart_crds.py) is `obreg crds` with the
    chart's labels and, by default, helm.sh/resource-policy: keep, which makes helm
    uninstall leave the CRDs (deleting a CRD deletes every resource of its kind)."""
    assert cli.main(["crds"]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    rendered = [d for d in _render(cluster, tmp_path) if d["kind"] == "CustomResourceDefinition"]
    for definition in rendered:
        metadata = definition["metadata"]
        assert metadata.pop("annotations") == {"helm.sh/resource-policy": "keep"}
        assert metadata.pop("labels").keys() >= STANDARD
    assert rendered == printed
    assert [d["metadata"]["name"] for d in printed] == list(OBREG_CRDS)


def test_crds_keep_and_enabled(cluster: ControlPlane, tmp_path: Path) -> None:
    def crds(values: Doc) -> list[Doc]:
        docs = _render(cluster, tmp_path, values)
        return [d for d in docs if d["kind"] == "CustomResourceDefinition"]

    unkept = crds({"crds": {"keep": False}})
    assert [d["metadata"]["name"] for d in unkept] == list(OBREG_CRDS)
    assert all("annotations" not in d["metadata"] for d in unkept)
    assert crds({"crds": {"enabled": False}}) == []
    # Off, the rest still renders: the RBAC names the kinds the CRDs installed otherwise.
    docs = _render(cluster, tmp_path, {"crds": {"enabled": False}})
    assert "obtrustanchors" in _one(docs, "ClusterRole")["rules"][0]["resources"]


def test_obreg_crds_namespace_prints_the_roles_the_chart_makes_in_its_namespace(
    cluster: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An install without Helm: `obreg crds --namespace` adds what replicas coordinate
    with (the Lease's Role, the digest key's), as the chart renders them, labels aside."""
    args = ["--namespace", "bank-ops", "--service-account", "registrar", "--lease", "corp-obreg"]
    assert cli.main(["crds", *args]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in printed[:3]] == ["CustomResourceDefinition"] * 3
    docs = _render(
        cluster,
        tmp_path,
        {"fullnameOverride": "corp-obreg", "serviceAccount": {"name": "registrar"}},
        namespace="bank-ops",
    )
    rendered = [d for d in docs if d["kind"] in ("Role", "RoleBinding")]
    for doc in rendered:
        del doc["metadata"]["labels"]
    assert {d["metadata"]["name"] for d in rendered} == {
        "corp-obreg-digest-key",
        "corp-obreg-leader-election",
    }

    def key(doc: Doc) -> tuple[str, str]:
        return doc["kind"], doc["metadata"]["name"]

    assert sorted(printed[3:], key=key) == sorted(rendered, key=key)

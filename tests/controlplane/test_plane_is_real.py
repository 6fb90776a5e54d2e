"""The local control plane is a real Kubernetes: each test exercises behaviour only the real
components have (version stamping, CEL admission, controllers, GC, RBAC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.controlplane import build
from testbed.controlplane.launcher import FAKE_NODE, FAKE_NODE_TAINT, ControlPlane
from tests.kubetools import Kubectl, poll

pytestmark = pytest.mark.cluster

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.selftest.obreg.dev}
spec:
  group: selftest.obreg.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.replicas <= self.maxReplicas"
              message: "replicas must not exceed maxReplicas"
            properties:
              replicas: {type: integer}
              maxReplicas: {type: integer}
"""


def deployment(name: str, namespace: str, replicas: int = 3) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "nodeSelector": {"type": "kwok"},
                        "tolerations": [{**FAKE_NODE_TAINT, "operator": "Equal"}],
                        "containers": [{"name": "main", "image": "example.invalid/app:1"}],
                    },
                },
            },
        }
    )


def names(kubectl: Kubectl, kind: str, namespace: str, selector: str) -> list[str]:
    out = kubectl("get", kind, "-n", namespace, "-l", selector, "-o", "name").stdout
    return out.split()


def test_server_reports_the_stamped_version_selected(kubectl: Kubectl) -> None:
    """The minor $OBREG_K8S_VERSION selects (the newest when unset), as built and stamped."""
    major, minor = build.selected_version().split(".")
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith(f"v{major}.{minor}.")
    assert version["serverVersion"]["minor"] == minor
    assert version["clientVersion"]["minor"] == minor  # the plane's own kubectl


def test_readyz(kubectl: Kubectl) -> None:
    assert kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_fake_node_renews_its_lease(kubectl: Kubectl) -> None:
    """Without a renewed node Lease the node controller, after its grace period, marks
    every pod NotReady for good (found when a Key Manager's pods lost readiness ~60 s in)."""

    def renewed() -> str:
        result = kubectl(
            "get", "lease", FAKE_NODE, "-n", "kube-node-lease",
            "-o", "jsonpath={.spec.renewTime}", check=False,
        )  # fmt: skip
        return result.stdout if result.returncode == 0 else ""

    poll(lambda: bool(renewed()), 60, "the fake node's Lease")
    first = renewed()
    poll(lambda: renewed() not in ("", first), 60, "the Lease renewed")


def test_crd_cel_rule_refuses_bad_object(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-f", "-", input=WIDGET_CRD)
    kubectl(
        "wait", "--for=condition=Established", "crd/widgets.selftest.obreg.dev", "--timeout=60s"
    )
    good = {
        "apiVersion": "selftest.obreg.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "good", "namespace": namespace},
        "spec": {"replicas": 1, "maxReplicas": 2},
    }
    kubectl("create", "-f", "-", input=json.dumps(good))
    bad = {
        **good,
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": {"replicas": 3, "maxReplicas": 2},
    }
    refused = kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
    assert refused.returncode != 0
    assert "replicas must not exceed maxReplicas" in refused.stderr
    assert kubectl("get", "widget", "bad", "-n", namespace, check=False).returncode != 0


def test_deployment_rolls_out_twice_and_is_garbage_collected(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl("apply", "-f", "-", input=deployment("web", namespace))
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")
    pods = json.loads(
        kubectl("get", "pods", "-n", namespace, "-l", "app=web", "-o", "json").stdout
    )["items"]
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Running" for p in pods)

    kubectl(
        "patch",
        "deployment/web",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"template":{"metadata":{"annotations":{"obreg.dev/rev":"2"}}}}}',
    )
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")
    assert len(names(kubectl, "replicasets", namespace, "app=web")) == 2

    kubectl("delete", "deployment/web", "-n", namespace, "--wait=false")
    poll(
        lambda: (
            not names(kubectl, "replicasets", namespace, "app=web")
            and not names(kubectl, "pods", namespace, "app=web")
        ),
        120,
        "the Deployment's ReplicaSets and Pods to be garbage-collected",
    )


def test_service_account_gets_exactly_its_role(
    cluster: ControlPlane, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    kubectl("create", "serviceaccount", "reader", "-n", namespace)
    kubectl(
        "create",
        "role",
        "read-configmaps",
        "-n",
        namespace,
        "--verb=get,list",
        "--resource=configmaps",
    )
    kubectl(
        "create",
        "rolebinding",
        "reader",
        "-n",
        namespace,
        "--role=read-configmaps",
        f"--serviceaccount={namespace}:reader",
    )
    kubectl("create", "configmap", "c", "-n", namespace, "--from-literal=k=v")
    token = kubectl("create", "token", "reader", "-n", namespace).stdout.strip()
    as_reader = kubectl.as_token(cluster, token, tmp_path / "reader.kubeconfig")

    whoami = json.loads(as_reader("auth", "whoami", "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:reader"
    assert (
        as_reader("get", "configmap", "c", "-n", namespace, "-o", "name").stdout.strip()
        == "configmap/c"
    )

    for forbidden in (
        ("delete", "configmap", "c", "-n", namespace),
        ("get", "secrets", "-n", namespace),
        ("get", "configmaps", "-n", "default"),
        ("create", "configmap", "d", "-n", namespace),
    ):
        result = as_reader(*forbidden, check=False)
        assert result.returncode != 0, forbidden
        assert "forbidden" in result.stderr.lower(), result.stderr

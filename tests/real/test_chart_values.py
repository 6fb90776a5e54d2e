"""The chart's values that users of cert-manager's and trust-manager's charts expect,
each installed on the real node and seen in effect in the running pod, not only
rendered: a second release in a namespace of its own, namespaced (so it never acts on
what the session's release owns)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kubetools import Kubectl, helm, poll
from tests.real.conftest import (
    CHART,
    OBREG_IMAGE,
    RealCluster,
    await_pods_ready,
    image_values,
    pods,
)


@pytest.fixture
def release(
    cluster: RealCluster, kubectl: Kubectl, installed_chart: str
) -> Iterator[tuple[str, str]]:
    """A release name and its namespace (the watched one is ``<namespace>-watched``). The
    CRDs are the session's release's (installed_chart): CRDs are cluster-wide, so a
    second release installing them would be refused (owned by another release), and one
    uninstalled would leave them annotated as its own, refusing every later install."""
    name = f"values-{uuid.uuid4().hex[:6]}"
    namespace, watched = name, f"{name}-watched"
    for ns in (namespace, watched):
        kubectl("create", "namespace", ns)
    yield name, namespace
    helm(cluster, "uninstall", name, "--namespace", namespace, "--wait", check=False)
    for ns in (namespace, watched):
        kubectl("delete", "namespace", ns, "--wait=false")


def _install(cluster: RealCluster, release: tuple[str, str], *values: str) -> None:
    name, namespace = release
    helm(cluster, "install", name, str(CHART), "--namespace", namespace,
         "--set", "clusterWide=false", "--set", f"watchNamespaces={{{namespace}-watched}}",
         "--set", "crds.enabled=false",
         *values, "--wait", "--timeout=180s")  # fmt: skip


def _status(kubectl: Kubectl, namespace: str, pod: str) -> dict[str, str]:
    text = kubectl("exec", "-n", namespace, pod, "--", "cat", "/proc/1/status").stdout
    return {k: v.strip() for k, v in (line.split(":\t", 1) for line in text.splitlines())}


def test_the_values_users_expect_take_effect_in_the_pod(
    cluster: RealCluster, kubectl: Kubectl, release: tuple[str, str], images_loaded: dict[str, str]
) -> None:
    name, namespace = release
    kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": "obreg-values-test"}, "value": 1000}))  # fmt: skip
    kubectl("create", "secret", "docker-registry", "regcred", "-n", namespace,
            "--docker-server=registry.example", "--docker-username=u",
            "--docker-password=p")  # fmt: skip
    digest = cluster.image_digest(OBREG_IMAGE)
    repository = OBREG_IMAGE.rsplit(":", 1)[0]
    _install(
        cluster, release,
        "--set", f"image.repository={repository}", "--set", "image.tag=not-this-tag",
        "--set", f"image.digest={digest}", "--set", "image.pullPolicy=Never",
        "--set", "replicas=2",
        "--set", "imagePullSecrets[0].name=regcred",
        "--set", "podAnnotations.example\\.com/owner=platform",
        "--set", "podLabels.team=payments",
        "--set", "priorityClassName=obreg-values-test",
        "--set", "topologySpreadConstraints[0].maxSkew=1",
        "--set", "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
        "--set", "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
        "--set", "topologySpreadConstraints[0].labelSelector.matchLabels.team=payments",
        "--set", "extraArgs[0]=--resync-seconds=120",
        "--set", "extraEnv[0].name=OBREG_EXAMPLE", "--set", "extraEnv[0].value=from-values",
        "--set", "logLevel=debug", "--set", "logFormat=json",
    )  # fmt: skip
    selector = f"app.kubernetes.io/instance={name}"
    await_pods_ready(kubectl, namespace, selector, count=2)  # readiness probe: /readyz
    found = pods(kubectl, namespace, selector)
    for pod in found:
        spec, meta = pod["spec"], pod["metadata"]
        assert spec["containers"][0]["image"] == f"{repository}@{digest}"
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        assert meta["annotations"]["example.com/owner"] == "platform"
        assert meta["labels"]["team"] == "payments"
        assert spec["priority"] == 1000
        assert spec["topologySpreadConstraints"][0]["maxSkew"] == 1
    pod_name = str(found[0]["metadata"]["name"])
    environ = kubectl("exec", "-n", namespace, pod_name, "--", "cat", "/proc/1/environ").stdout
    assert "OBREG_EXAMPLE=from-values" in environ.split("\0")
    cmdline = kubectl("exec", "-n", namespace, pod_name, "--", "cat", "/proc/1/cmdline").stdout
    assert cmdline.split("\0")[-2] == "--resync-seconds=120"  # after the chart's: it wins
    # One JSON object per line, at debug level: what a log pipeline parses.
    lines = [
        line for line in kubectl("logs", "-n", namespace, pod_name).stdout.splitlines() if line
    ]
    records = [json.loads(line) for line in lines]
    assert {r["severity"] for r in records} >= {"debug", "info"}

    # Two replicas: a budget that keeps one through a node drain.
    def budget() -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            kubectl("get", "pdb", f"{name}-obreg", "-n", namespace, "-o", "json").stdout
        )
        return found

    assert budget()["spec"]["maxUnavailable"] == 1
    # The disruption controller counts the pods after they are Ready: poll its status.
    poll(
        lambda: budget().get("status", {}).get("disruptionsAllowed") == 1,
        60,
        lambda: f"the budget to allow one disruption of two pods: {budget().get('status')}",
    )


@pytest.mark.parametrize("uid", [None, 1000680000], ids=["image-user", "assigned-uid"])
def test_the_pod_runs_where_the_platform_assigns_the_uid(
    cluster: RealCluster, kubectl: Kubectl, release: tuple[str, str],
    images_loaded: dict[str, str], uid: int | None,
) -> None:  # fmt: skip
    """OpenShift's restricted-v2: no runAsUser in the chart (the image's own user), or an
    arbitrary one from the namespace's range with group 0; either way it starts, reads
    its own files and is Ready."""
    name, namespace = release
    values = ["--set", "podSecurityContext.runAsUser=null",
              "--set", "podSecurityContext.runAsGroup=null"]  # fmt: skip
    if uid is not None:
        values = ["--set", f"podSecurityContext.runAsUser={uid}",
                  "--set", "podSecurityContext.runAsGroup=0"]  # fmt: skip
    _install(cluster, release, *image_values(images_loaded["obreg"]), *values)
    selector = f"app.kubernetes.io/instance={name}"
    await_pods_ready(kubectl, namespace, selector)
    (pod,) = pods(kubectl, namespace, selector)
    status = _status(kubectl, namespace, str(pod["metadata"]["name"]))
    expected = str(uid) if uid is not None else "65532"  # the Dockerfile's USER
    assert status["Uid"].split()[:2] == [expected, expected]
    assert status["Gid"].split()[0] == "0"

"""The real-node tier (``make e2e-real``): the plane with a kubelet node that runs real
containers (testbed/controlplane/node.py), obreg's image built from the project's own
Dockerfile and installed with its chart as users install it, and a WSO2 stand-in that
reads obreg's files inside a pod the way the products do.

It runs in a session of its own (``OBREG_NODE=real``), because the node changes the
plane; in any other session its tests are skipped, naming the target that runs them.
``OBREG_NODE=kind`` (``make e2e-kind``) runs the same tests on a kind cluster, on a
Docker engine and a node image of the tier's own (testbed/kind), the images built with
buildah all the same and loaded with ``kind load image-archive``."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.controlplane import build, hoststate, images, kind, node
from testbed.controlplane.launcher import ControlPlane
from tests.kubetools import Kubectl, helm, poll

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "obreg"
REAL = os.environ.get("OBREG_NODE") in ("real", "kind")
# What these tests ask of a cluster: a kubeconfig, binaries (kubectl, helm), load_image,
# image_digest, node_name and host_address.
RealCluster = ControlPlane | kind.KindCluster
OBREG_IMAGE = "localhost/obreg:e2e"
STANDIN_IMAGE = "localhost/obreg/wso2-standin:e2e"
RELEASE, SYSTEM = "obreg", "obreg-system"
PRODUCT = "/home/wso2carbon/product"
VERSION = "0.2.0"  # what make release builds here


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if not REAL and here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason="the real-node tier: make e2e-real"))
        if here in item.path.parents:
            item.add_marker(pytest.mark.real)
    # The README's kind path installs the release ``installed_chart`` holds for the whole
    # session (obreg, in obreg-system) and removes it again: it runs before any test that
    # sets that fixture up.
    first = [item for item in items if item.path.name == "test_kind_readme.py"]
    items[:] = first + [item for item in items if item not in first]


@pytest.fixture(scope="session", autouse=True)
def host_left_as_found() -> Iterator[None]:
    """The host's firewall rules, forwarding settings, packages, addresses and routes
    (testbed/controlplane/hoststate.py) are after the tier what they were before it, or the
    tier fails naming each difference. Autouse fixtures are set up first in their scope,
    so this one is torn down last: after ``cluster``'s, which stops the node and runs its
    teardown. The packages' opt-in install (make real-node-deps) runs before pytest.
    What a killed earlier run left is removed first, as the node's start removes it, so
    that its removal is not taken for a change. Not for kind (make e2e-kind): its pytest
    runs inside the Docker engine's network namespace, whose rules are the engine's, and
    python -m testbed.kind checks the host around the whole tier, engine included."""
    if os.environ.get("OBREG_NODE") != "real":
        yield
        return
    node.check_host()
    node.teardown(None)
    before = hoststate.snapshot()
    yield
    hoststate.assert_unchanged(before, hoststate.snapshot())


@pytest.fixture(scope="session")
def images_loaded(cluster: RealCluster) -> dict[str, str]:
    """obreg's image (the project's Dockerfile) and the stand-in's, built with buildah and
    loaded into the node's containerd; by role, their references."""
    archives = build.cache_root() / "images" / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    wanted = {
        "obreg": (OBREG_IMAGE, ROOT),
        "standin": (STANDIN_IMAGE, ROOT / "tests" / "real" / "standin"),
    }
    for role, (image, context) in wanted.items():
        archive = archives / f"{role}.tar"
        images.archive(images.build_dockerfile(image, context), archive)
        cluster.load_image(archive)
    return {role: image for role, (image, _) in wanted.items()}


def image_values(image: str) -> list[str]:
    repository, tag = image.rsplit(":", 1)
    return ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
            "--set", "image.pullPolicy=Never"]  # fmt: skip


@pytest.fixture(scope="session")
def installed_chart(
    cluster: RealCluster, kubectl: Kubectl, images_loaded: dict[str, str]
) -> Iterator[str]:
    """``helm install`` of charts/obreg with the image built here, as a user runs it
    (their own values aside); waits for the pod to be Ready. Yields the release."""
    # At debug level, so that test_pods can show no secret reaches even that log.
    helm(cluster, "install", RELEASE, str(CHART), "--namespace", SYSTEM, "--create-namespace",
         *image_values(images_loaded["obreg"]), "--set", "logLevel=debug",
         "--wait", "--timeout=180s")  # fmt: skip
    yield RELEASE
    helm(cluster, "uninstall", RELEASE, "--namespace", SYSTEM, "--wait", check=False)


def pods(kubectl: Kubectl, namespace: str, selector: str) -> list[dict[str, Any]]:
    listed = json.loads(
        kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    )
    items: list[dict[str, Any]] = listed["items"]
    return items


def ready(pod: dict[str, Any]) -> bool:
    status = pod["status"]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


def await_rollout(kubectl: Kubectl, namespace: str, deployment: str) -> None:
    """The Deployment's current template rolled out, then its one pod alone: a pod
    counted before the controller made the new ReplicaSet's would be the old one."""
    kubectl("rollout", "status", f"deployment/{deployment}", "-n", namespace, "--timeout=180s")
    await_pods_ready(kubectl, namespace, f"app={deployment}")


def await_pods_ready(kubectl: Kubectl, namespace: str, selector: str, count: int = 1) -> None:
    """``count`` pods of the selector, all Ready and none terminating; on a timeout the
    failure shows their phases and containers' states."""

    def settled() -> bool:
        found = pods(kubectl, namespace, selector)
        return len(found) == count and all(
            ready(p) and not p["metadata"].get("deletionTimestamp") for p in found
        )

    def seen() -> str:
        return json.dumps(
            [
                (p["metadata"]["name"], p["status"].get("phase"),
                 p["status"].get("containerStatuses"))
                for p in pods(kubectl, namespace, selector)
            ],
            indent=1,
        )[:3000]  # fmt: skip

    poll(settled, 180, lambda: f"{count} Ready pod(s) of {selector} in {namespace}: {seen()}")


@pytest.fixture(scope="session")
def built() -> dict[str, str]:
    """What the release was made of: HEAD when the session started."""
    return {"commit": head()}


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory, built: dict[str, str]) -> Path:
    """``make release VERSION=0.2.0`` into a temporary DIST, once per session: checked by
    test_release, installed and upgraded to by test_upgrade."""
    target = tmp_path_factory.mktemp("dist")
    subprocess.run(
        ["make", "--no-print-directory", "release", f"VERSION={VERSION}", f"DIST={target}"],
        cwd=ROOT, check=True,
    )  # fmt: skip
    return target


def head() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def standin(
    workload: dict[str, Any], image: str, node_name: str, product: str = PRODUCT
) -> dict[str, Any]:
    """A sample workload turned into the stand-in: same name and labels (so obreg targets
    it and injects its files), the stand-in's image, ready only once its checks passed,
    hardened as a bank would run WSO2. ``product`` is where its product home is, as it
    differs between WSO2's images."""
    workload = copy.deepcopy(workload)
    spec = workload["spec"]["template"]["spec"]
    spec.pop("tolerations", None)
    spec["nodeSelector"] = {"kubernetes.io/hostname": node_name}
    spec["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    spec["terminationGracePeriodSeconds"] = 5
    spec["volumes"] = [{"name": "product", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
    (container,) = spec["containers"]
    container.update(
        image=image,
        imagePullPolicy="Never",
        env=[{"name": "PRODUCT_HOME", "value": product}],
        readinessProbe={
            "exec": {"command": ["test", "-f", f"{product}/.standin-ready"]},
            "periodSeconds": 1,
        },
        securityContext={
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        volumeMounts=[
            {"name": "product", "mountPath": product},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    )
    return workload

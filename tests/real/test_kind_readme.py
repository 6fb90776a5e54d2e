"""The README's kind path ("On kind, to try it"), as a user with Docker, kind and Helm runs
it, word for word (``make e2e-kind`` only). Its first command made this session's cluster
(testbed/controlplane/kind.py); this test runs the rest in the clone, then checks that
what they installed is obreg from the image they built, Ready and reconciling, and
removes it again: the tier's other tests install obreg their own ways."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testbed.controlplane.kind import KindCluster
from testbed.kind import engine, readme
from tests.kubetools import Kubectl, helm, poll
from tests.real.conftest import SYSTEM, RealCluster, await_pods_ready, pods

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DEMO = "obreg-demo"  # the samples' namespace
IMAGE = "obreg:dev"  # what the README's docker build tags
CRDS = ("obtrustanchors.obreg.dev", "obidentityproviders.obreg.dev",
        "observiceproviders.obreg.dev")  # fmt: skip

pytestmark = pytest.mark.skipif(
    os.environ.get("OBREG_NODE") != "kind", reason="the README's kind path: make e2e-kind"
)


def _anchor(kubectl: Kubectl) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        kubectl("get", "obtrustanchor", "ob-directory-cas", "-n", DEMO, "-o", "json").stdout
    )
    return found


def _remove(cluster: RealCluster, kubectl: Kubectl) -> None:
    """What the README's commands and this test made, in the order that lets obreg see
    its resources go (their namespace first, while obreg runs); the image too, with the
    build stage it leaves untagged, so the engine's data does not grow run by run."""
    kubectl("delete", "namespace", DEMO, "--ignore-not-found", "--timeout=180s", check=False)
    helm(cluster, "uninstall", "obreg", "--namespace", SYSTEM, "--wait", check=False)
    kubectl("delete", "crd", *CRDS, "--ignore-not-found", "--timeout=180s", check=False)
    kubectl("delete", "namespace", SYSTEM, "--ignore-not-found", "--timeout=180s", check=False)
    engine.docker("rmi", IMAGE, check=False)
    engine.docker("image", "prune", "--force", check=False)


def test_the_readmes_kind_path_installs_obreg_from_the_image_it_builds(
    cluster: RealCluster, kubectl: Kubectl
) -> None:
    assert isinstance(cluster, KindCluster)
    try:
        for command in readme.commands()[1:]:
            done = subprocess.run(
                ["bash", "-euc", command], cwd=ROOT, env=cluster.env(),
                capture_output=True, text=True, timeout=900, check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"

        selector = "app.kubernetes.io/instance=obreg"
        await_pods_ready(kubectl, SYSTEM, selector)
        (pod,) = pods(kubectl, SYSTEM, selector)
        (container,) = pod["spec"]["containers"]
        assert container["image"] == IMAGE
        # The image the node runs is the one the README's docker build made: its config
        # digest (Docker's image ID) is the node's image's.
        built = engine.docker("image", "inspect", "--format", "{{.Id}}", IMAGE).strip()
        (status,) = pod["status"]["containerStatuses"]
        assert built in _config_digests(cluster, status["imageID"].rsplit("@", 1)[-1]), status

        # It reconciles: the samples' trust anchor, whose workloads do not exist here,
        # waits for them, as the README's troubleshooting table says.
        for sample in ("00-namespace.yaml", "ob-directory-cas.yaml", "trust-anchor.yaml"):
            kubectl("apply", "-f", str(SAMPLES / sample))

        def waiting() -> bool:
            targets = _anchor(kubectl).get("status", {}).get("targets") or []
            return len(targets) == 2 and all(t["state"] == "WaitingForWorkload" for t in targets)

        poll(waiting, 120, lambda: f"the anchor waiting for its workloads: {_anchor(kubectl)}")
    finally:
        _remove(cluster, kubectl)


def _config_digests(cluster: KindCluster, digest: str) -> set[str]:
    """The config digests a digest in the node's containerd leads to: an index's, each of
    its manifests'; a manifest's, the config it names; a config's, its own. (A pod's
    image ID is any of the three, by how the image came to the node.)"""
    document = json.loads(engine.docker(
        "exec", cluster.node_name, "ctr", "--namespace=k8s.io", "content", "get", digest
    ))  # fmt: skip
    if "manifests" in document:
        return {found for entry in document["manifests"]
                for found in _config_digests(cluster, entry["digest"])}  # fmt: skip
    if "layers" in document:
        return {str(document["config"]["digest"])}
    return {digest}

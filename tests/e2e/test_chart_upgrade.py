"""Upgrading the chart from 0.1.0 (commit 4b9c65d, CRDs in its crds/ folder, which Helm
never owns) to this one (CRDs as templates), the way docs/upgrading.md says: Helm refuses
until the CRDs are handed to the release, takes them over with the documented block,
upgrades them, keeps them on a rollback to 0.1.0 and on uninstall, and every OB
resource stays throughout. On the local plane, kwok's nodes: what rolls in real pods is
the real tier's."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from testbed.controlplane.launcher import ControlPlane
from tests.e2e.test_chart import CHART, KWOK
from tests.kubetools import Kubectl, helm

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = "4b9c65d"  # 0.1.0 (CHANGELOG.md)
CRDS = ("obtrustanchors.obreg.dev", "obidentityproviders.obreg.dev", "observiceproviders.obreg.dev")
KOPF_CRDS = ("clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev")
RELEASE, NAMESPACE = "upgraded", "upgrade-test"
HELM_OWNERSHIP = {
    "labels": ("app.kubernetes.io/managed-by",),
    "annotations": ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace"),
}


def adoption_block() -> str:
    """The shell block docs/upgrading.md tells users to run before the upgrade."""
    text = (ROOT / "docs" / "upgrading.md").read_text()
    found = re.search(r"<!-- adopt-crds[^>]*-->\n```sh\n(.*?)```", text, re.DOTALL)
    assert found, "docs/upgrading.md: the adopt-crds block is gone"
    return found.group(1)


@pytest.fixture
def previous_chart(tmp_path: Path) -> Path:
    """0.1.0's chart, from the history of this clone."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", PREVIOUS, "charts/obreg"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "charts" / "obreg"


@pytest.fixture
def crds_put_back(kubectl: Kubectl) -> Iterator[None]:
    """The session's CRDs were installed without Helm (crds/): after the test they are
    nobody's again, and kopf's CRDs, if 0.1.0's install added them, are gone."""
    had_kopf = _exists(kubectl, "crd", *KOPF_CRDS)
    yield
    for crd in CRDS:
        kubectl("label", "crd", crd, "app.kubernetes.io/managed-by-", "helm.sh/chart-")
        kubectl(
            "annotate", "crd", crd, "meta.helm.sh/release-name-",
            "meta.helm.sh/release-namespace-", "helm.sh/resource-policy-",
        )  # fmt: skip
    if not had_kopf:
        kubectl("delete", "crd", *KOPF_CRDS, "--ignore-not-found")
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")


def _exists(kubectl: Kubectl, kind: str, *names: str, namespace: str = "default") -> bool:
    found = kubectl(
        "get", kind, *names, "-n", namespace, "-o", "name", "--ignore-not-found"
    ).stdout.split()  # fmt: skip
    return len(found) == len(names)


def _crd_metadata(kubectl: Kubectl) -> dict[str, dict[str, dict[str, str]]]:
    listed = json.loads(kubectl("get", "crd", *CRDS, "-o", "json").stdout)["items"]
    return {
        item["metadata"]["name"]: {
            "labels": item["metadata"].get("labels") or {},
            "annotations": item["metadata"].get("annotations") or {},
        }
        for item in listed
    }


def _install(cluster: ControlPlane, verb: str, chart: Path, check: bool = True) -> str:
    result = helm(
        cluster, verb, RELEASE, str(chart), "--namespace", NAMESPACE, "--wait",
        "--timeout", "120s", *KWOK, check=check,
    )  # fmt: skip
    return result.stderr if result.returncode else ""


def test_upgrade_from_0_1_0_adopts_upgrades_and_keeps_the_crds(
    cluster: ControlPlane,
    kubectl: Kubectl,
    installed: Path,
    previous_chart: Path,
    crds_put_back: None,
) -> None:
    floor = yaml.safe_load((previous_chart / "Chart.yaml").read_text())["kubeVersion"]
    minimum = tuple(int(part) for part in re.findall(r"\d+", floor)[:2])
    server = json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]
    if (int(server["major"]), int(server["minor"].rstrip("+"))) < minimum:
        pytest.skip(f"0.1.0's chart requires Kubernetes {floor}: nobody upgrades from it here")
    kubectl("create", "namespace", NAMESPACE)
    helm(cluster, "install", RELEASE, str(previous_chart), "--namespace", NAMESPACE,
         "--wait", "--timeout", "120s", *KWOK)  # fmt: skip
    anchor = yaml.safe_load((ROOT / "samples" / "trust-anchor.yaml").read_text())
    anchor["metadata"]["namespace"] = NAMESPACE
    kubectl("apply", "-f", "-", input=yaml.safe_dump(anchor))
    assert _exists(kubectl, "clusterkopfpeering", f"{RELEASE}-obreg")

    # Helm will not take over objects it did not make: the upgrade says so, changes nothing.
    refused = _install(cluster, "upgrade", CHART, check=False)
    assert "invalid ownership metadata" in refused
    assert all(
        "meta.helm.sh/release-name" not in found["annotations"]
        for found in _crd_metadata(kubectl).values()
    )

    # The documented block, as a user runs it, for this release.
    block = adoption_block().replace(
        "RELEASE=obreg NAMESPACE=obreg-system", f"RELEASE={RELEASE} NAMESPACE={NAMESPACE}"
    )
    assert f"RELEASE={RELEASE}" in block
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PATH": f"{cluster.binaries['kubectl'].parent}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, check=True)

    assert _install(cluster, "upgrade", CHART) == ""
    chart_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    for name, found in _crd_metadata(kubectl).items():
        assert found["labels"]["helm.sh/chart"] == f"obreg-{chart_version}", name
        assert found["annotations"]["helm.sh/resource-policy"] == "keep", name
        assert found["annotations"]["meta.helm.sh/release-name"] == RELEASE, name
    assert not _exists(kubectl, "clusterkopfpeering", f"{RELEASE}-obreg")  # gone with 0.1.0
    assert _exists(kubectl, "obtrustanchor", "ob-directory-cas", namespace=NAMESPACE)

    # Back to 0.1.0, whose templates hold no CRD: kept (deleting them deletes resources).
    helm(cluster, "rollback", RELEASE, "1", "--namespace", NAMESPACE, "--wait")
    assert _exists(kubectl, "crd", *CRDS)
    assert _exists(kubectl, "obtrustanchor", "ob-directory-cas", namespace=NAMESPACE)

    # Forward again, then gone: the CRDs and the resources stay.
    assert _install(cluster, "upgrade", CHART) == ""
    helm(cluster, "uninstall", RELEASE, "--namespace", NAMESPACE, "--wait")
    assert _exists(kubectl, "crd", *CRDS)
    assert _exists(kubectl, "obtrustanchor", "ob-directory-cas", namespace=NAMESPACE)
    assert not _exists(kubectl, "deployment", f"{RELEASE}-obreg", namespace=NAMESPACE)


def test_the_adoption_block_names_every_crd_and_only_ownership() -> None:
    """The block hands over each CRD the chart renders, and touches nothing but the
    ownership marks Helm checks (so it changes no definition)."""
    block = adoption_block()
    for crd in CRDS:
        assert crd in block
    keys = set(re.findall(r"([a-z.]+(?:/[a-z-]+)?)=", block)) - {"RELEASE", "NAMESPACE"}
    assert keys == {*HELM_OWNERSHIP["labels"], *HELM_OWNERSHIP["annotations"]}

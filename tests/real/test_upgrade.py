"""A release installed and upgraded on the real node as a bank would: from ``dist/``
(the OCI archive imported into the node's containerd, the packaged chart installed), and
from the previous release, 0.1.0 (commit 4b9c65d, its image built the way its own real
tier built it, its chart with the CRDs in crds/), upgraded to ``dist/``'s chart after
the CRDs were handed to the release with docs/upgrading.md's own commands; then rolled
back and uninstalled. The samples' stand-in workloads are watched throughout: nothing
rolls unless CHANGELOG.md says the rendered files changed, and nothing of theirs goes."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from release import changelog
from testbed import kmdouble
from testbed.controlplane import build, images
from tests.e2e.harness import Scenario, consistently
from tests.kubetools import Kubectl, helm, poll
from tests.real.conftest import (
    RELEASE,
    ROOT,
    SYSTEM,
    VERSION,
    RealCluster,
    await_pods_ready,
    image_values,
    pods,
    standin,
)

PREVIOUS = "4b9c65d"  # 0.1.0, the last release, whose chart installed the CRDs from crds/
PREVIOUS_IMAGE = f"localhost/obreg:{PREVIOUS}"
CRDS = ("obtrustanchors.obreg.dev", "obidentityproviders.obreg.dev", "observiceproviders.obreg.dev")
KINDS = ("obtrustanchor", "obidentityprovider", "observiceprovider")
WORKLOADS = ("wso2-km", "wso2-apim")
OPERATOR = "app.kubernetes.io/name=obreg"


@pytest.fixture(scope="module")
def clean_slate(cluster: RealCluster, kubectl: Kubectl) -> None:
    """No obreg release and no obreg CRDs on the plane, as on a cluster that never had
    obreg: the session's own release (installed_chart) is gone and its CRDs with it."""
    helm(cluster, "uninstall", RELEASE, "--namespace", SYSTEM, "--wait", check=False)
    kubectl("delete", "crd", *CRDS, "--ignore-not-found", "--wait=true")


@pytest.fixture(scope="module")
def previous(cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.1.0's source (``git archive``), its image built with buildah from its own
    Dockerfile, as its real tier built it, and loaded into the node; the archive is
    cached by commit, so only the first run on a machine builds it. Returns the source."""
    source = tmp_path_factory.mktemp("previous")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tempfile.TemporaryFile() as tar_file:
        tar_file.write(archive)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            tar.extractall(source, filter="data")
    cached = build.cache_root() / "images" / "archives" / f"obreg-{PREVIOUS}.tar"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")  # a run stopped mid-write caches nothing
        images.archive(images.build_dockerfile(PREVIOUS_IMAGE, source), partial)
        images.buildah("rmi", PREVIOUS_IMAGE)
        partial.rename(cached)
    cluster.load_image(cached)
    return source


@contextmanager
def _scenario(
    cluster: RealCluster, kubectl: Kubectl, standin_image: str, namespace: str
) -> Iterator[Scenario]:
    """samples/ in ``namespace``, the KM double on the node's address, the workloads the
    stand-in (as test_pods' real_scenario)."""
    km, km_ca = kmdouble.new(password="km-admin-upgrade", address=cluster.host_address)
    kubectl("create", "namespace", namespace)
    scenario = Scenario(kubectl, namespace, km, km_ca)
    scenario.docs = [
        standin(d, standin_image, cluster.node_name) if d["kind"] == "Deployment" else d
        for d in scenario.docs
    ]
    try:
        yield scenario
    finally:
        km.stop()
        kubectl("delete", "namespace", namespace, "--wait=false")


def _operator_pod(kubectl: Kubectl) -> dict[str, Any]:
    await_pods_ready(kubectl, SYSTEM, OPERATOR)
    (pod,) = pods(kubectl, SYSTEM, OPERATOR)
    return pod


def _workloads(scenario: Scenario) -> dict[str, tuple[str, list[str]]]:
    """Per workload, its pod template (as JSON) and its pods' UIDs: what a rollout changes."""
    return {
        app: (
            json.dumps(scenario.get("deployment", app)["spec"]["template"], sort_keys=True),
            sorted(p["metadata"]["uid"] for p in pods(scenario.kubectl, scenario.namespace,
                                                      f"app={app}")),
        )
        for app in WORKLOADS
    }  # fmt: skip


def _resources(scenario: Scenario) -> set[tuple[str, str]]:
    found = set()
    for kind in KINDS:
        listed = json.loads(
            scenario.kubectl("get", kind, "-n", scenario.namespace, "-o", "json").stdout
        )
        found |= {(kind, item["metadata"]["uid"]) for item in listed["items"]}
    return found


def _crds(kubectl: Kubectl) -> dict[str, dict[str, Any]]:
    return {crd: json.loads(kubectl("get", "crd", crd, "-o", "json").stdout) for crd in CRDS}


def _rendered_files_change() -> bool:
    """CHANGELOG.md's Unreleased verdict: whether this version's files differ from 0.1.0's."""
    text = (ROOT / "CHANGELOG.md").read_text()
    unreleased = changelog.sections(text)[changelog.UNRELEASED]
    return changelog.rendered(unreleased, changelog.UNRELEASED) == "changed"


def _adopt_crds_block() -> str:
    """The commands docs/upgrading.md gives for handing 0.1.x's CRDs to the release."""
    text = (ROOT / "docs" / "upgrading.md").read_text()
    section = re.split(r"^## To .*, from 0\.1\.x$", text, flags=re.MULTILINE)[1]
    section = section.split("\n## ", 1)[0]
    (block,) = re.findall(r"<!-- adopt-crds[^>]*-->\n```sh\n(.*?)```", section, re.DOTALL)
    return block


def _workloads_keep_their_files(scenario: Scenario) -> None:
    """Each workload still runs its pod, Ready, and the ConfigMap and Secret obreg wrote
    for it are there and mounted (its projected volume's sources)."""
    for app in WORKLOADS:
        await_pods_ready(scenario.kubectl, scenario.namespace, f"app={app}")
        volumes = scenario.get("deployment", app)["spec"]["template"]["spec"]["volumes"]
        sources = [
            (kind, source[kind]["name"])
            for volume in volumes
            for source in (volume.get("projected") or {}).get("sources") or []
            for kind in ("configMap", "secret")
            if kind in source
        ]
        assert ("configMap", f"obreg-{app}") in sources, volumes
        for kind, name in sources:
            scenario.get(kind.lower(), name)  # fails the test if it is gone


def test_install_from_dist(
    cluster: RealCluster,
    kubectl: Kubectl,
    dist: Path,
    images_loaded: dict[str, str],
    clean_slate: None,
) -> None:
    """The archive imported into containerd (``ctr images import``, tagged by digest as
    the README says), the packaged chart installed as it is: the pod runs the pinned
    digest and brings the samples to Ready."""
    cluster.load_image(dist / f"obreg-image-{VERSION}.oci.tar")
    digest = (dist / f"obreg-image-{VERSION}.digest").read_text().strip()
    helm(cluster, "install", RELEASE, str(dist / f"obreg-{VERSION}.tgz"), "--namespace", SYSTEM,
         "--create-namespace", "--wait", "--timeout=180s")  # fmt: skip
    try:
        pod = _operator_pod(kubectl)
        assert pod["spec"]["containers"][0]["image"] == f"ghcr.io/obreg/obreg@{digest}"
        with _scenario(cluster, kubectl, images_loaded["standin"], "dist-samples") as scenario:
            scenario.apply()
            scenario.wait_ready(timeout=120)
            for app in WORKLOADS:
                await_pods_ready(kubectl, scenario.namespace, f"app={app}")
    finally:
        helm(cluster, "uninstall", RELEASE, "--namespace", SYSTEM, "--wait", check=False)
        kubectl("delete", "crd", *CRDS, "--ignore-not-found", "--wait=true")


def test_upgrade_from_the_previous_release_rollback_and_uninstall(
    cluster: RealCluster,
    kubectl: Kubectl,
    dist: Path,
    images_loaded: dict[str, str],
    previous: Path,
    clean_slate: None,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    helm(cluster, "install", RELEASE, str(previous / "charts" / "obreg"), "--namespace", SYSTEM,
         "--create-namespace", *image_values(PREVIOUS_IMAGE), "--wait",
         "--timeout=180s")  # fmt: skip
    with _scenario(cluster, kubectl, images_loaded["standin"], "upgrade-samples") as scenario:
        scenario.apply()
        scenario.wait_ready(timeout=120)
        for app in WORKLOADS:
            await_pods_ready(kubectl, scenario.namespace, f"app={app}")
        resources, workloads, crds = _resources(scenario), _workloads(scenario), _crds(kubectl)
        rollouts, operator = scenario.rollouts(), _operator_pod(kubectl)
        assert all("meta.helm.sh/release-name" not in (c["metadata"].get("annotations") or {})
                   for c in crds.values())  # fmt: skip

        # Without the CRDs handed over, Helm refuses to take them; with the docs' commands,
        # the upgrade goes through.
        # --reset-values: the release's chart as it is; 0.1.0's values here were only the
        # test's image (a bank's would be its registry: README's --reset-then-reuse-values).
        refused = helm(cluster, "upgrade", RELEASE, str(dist / f"obreg-{VERSION}.tgz"),
                       "--namespace", SYSTEM, "--reset-values", check=False)  # fmt: skip
        assert refused.returncode != 0 and "invalid ownership metadata" in refused.stderr
        subprocess.run(["sh", "-ec", _adopt_crds_block()], check=True,
                       env={"PATH": f"{Path(kubectl.binary).parent}:/usr/bin:/bin",
                            "KUBECONFIG": str(kubectl.kubeconfig),
                            # kubectl's discovery cache: without HOME it lands in the
                            # working directory, the checkout
                            "HOME": str(tmp_path)})  # fmt: skip
        helm(cluster, "upgrade", RELEASE, str(dist / f"obreg-{VERSION}.tgz"), "--namespace",
             SYSTEM, "--reset-values", "--wait", "--timeout=180s")  # fmt: skip

        # obreg itself rolled to the release's image, pinned by digest.
        digest = (dist / f"obreg-image-{VERSION}.digest").read_text().strip()
        poll(lambda: _operator_pod(kubectl)["metadata"]["uid"] != operator["metadata"]["uid"],
             120, "obreg's pod replaced")  # fmt: skip
        upgraded = _operator_pod(kubectl)
        assert upgraded["spec"]["containers"][0]["image"] == f"ghcr.io/obreg/obreg@{digest}"
        # The CRDs are the release's now, updated from its templates and kept.
        for name, crd in _crds(kubectl).items():
            meta = crd["metadata"]
            assert meta["labels"]["helm.sh/chart"] == f"obreg-{VERSION}", name
            assert meta["annotations"]["helm.sh/resource-policy"] == "keep", name
            assert meta["resourceVersion"] != crds[name]["metadata"]["resourceVersion"], name
        assert _resources(scenario) == resources
        scenario.wait_ready(timeout=60)
        # The new obreg has seen every resource (Ready again above) and rolls nothing
        # unless the CHANGELOG says the rendered files changed.
        if _rendered_files_change():
            expected = {app: count + 1 for app, count in rollouts.items()}
            poll(lambda: scenario.rollouts() == expected, 120, f"one rollout each: {expected}")
        else:
            consistently(lambda: _workloads(scenario) == workloads, 15,
                         "no WSO2 workload rolls on the upgrade")  # fmt: skip
            assert scenario.rollouts() == rollouts

        # Back to 0.1.0: the CRDs (kept) and the resources stay, the samples Ready.
        helm(cluster, "rollback", RELEASE, "1", "--namespace", SYSTEM, "--wait",
             "--timeout=180s")  # fmt: skip
        poll(lambda: _operator_pod(kubectl)["spec"]["containers"][0]["image"] == PREVIOUS_IMAGE,
             120, "obreg's pod back on 0.1.0's image")  # fmt: skip
        assert set(_crds(kubectl)) == set(CRDS)
        assert _resources(scenario) == resources
        scenario.wait_ready(timeout=60)
        _workloads_keep_their_files(scenario)

        # Uninstalled: the workloads run on with their files; CRDs and resources stay.
        running = _workloads(scenario)
        helm(cluster, "uninstall", RELEASE, "--namespace", SYSTEM, "--wait")
        poll(lambda: not pods(kubectl, SYSTEM, OPERATOR), 120, "obreg's pod gone")
        assert set(_crds(kubectl)) == set(CRDS)
        assert _resources(scenario) == resources
        _workloads_keep_their_files(scenario)
        assert _workloads(scenario) == running
    print(f"upgrade, rollback and uninstall took {time.monotonic() - started:.0f} s")

"""Adoption on the real node: a Key Manager and API Manager configured by hand, the
runbook's way and without obreg, taken over with ``obreg import`` as docs/importing.md
tells a bank to, and running the same files afterwards.

The stand-in's product homes hold hand-configured files, written from the project's own
stock-shaped fixtures with real keytool imports (tests/unit/test_import_handmade.build),
and the KM double holds the store's app registered by hand
(tests/km/test_import_adoption.configure_by_hand). No obreg resource exists yet. Then the
docs' commands, run as written: the homes copied out of the pods with ``kubectl cp``,
``obreg import --key-manager`` on them, the workloads labelled and the output applied.
Asserted: Ready; every managed file copied out of the pods afterwards is the file before
(byte for byte, or the same document where the import's contract says so) and is obreg's
mounted one; each workload rolled exactly once (the switch to obreg's mounted files) and
not again after; the KM double's app, claim and scope unchanged, with no write."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.rules.workload import DEFAULT_MOUNT_ROOT, INJECT_LABEL, VOLUME
from testbed import kmdouble
from tests.e2e.harness import Scenario, consistently
from tests.km.test_import_adoption import ADMIN_PASSWORD, configure_by_hand, import_from
from tests.kubetools import Kubectl, poll
from tests.real.conftest import ROOT, RealCluster, await_rollout, pods, standin
from tests.unit.test_import_handmade import IDP, STOREPASS, Homes, assert_same_files, build

NAMESPACE = "wso2-prod"  # the docs' namespace: their commands run here as written
# Product homes as WSO2's Open Banking 1.4.0 images lay them out (the docs' commands name
# them); the stand-in is told where its home is.
HOMES = {
    "wso2-km": "/home/wso2carbon/wso2-obkm-1.4.0",
    "wso2-apim": "/home/wso2carbon/wso2-obam-1.4.0",
}
REVISION = "deployment.kubernetes.io/revision"
# How long "no rollout after" is watched once everything is Ready: fifteen of the chart's
# settle times, as test_upgrade watches for a rollout that must not come.
SETTLE_WINDOW = 15.0


def _docs_block(name: str) -> str:
    """The shell block of docs/importing.md marked ``<!-- name ... -->``."""
    text = (ROOT / "docs" / "importing.md").read_text()
    (block,) = re.findall(rf"<!-- {name}[^>]*-->\n```sh\n(.*?)```", text, re.DOTALL)
    return block


def _run_docs_block(name: str, kubectl: Kubectl, cwd: Path) -> None:
    """Run a docs block as a user's shell would, in ``cwd``, with kubectl on the PATH."""
    cwd.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["sh", "-ec", _docs_block(name)],
        cwd=cwd,
        check=True,
        timeout=300,
        env={
            "PATH": f"{Path(kubectl.binary).parent}:/usr/bin:/bin",
            "KUBECONFIG": str(kubectl.kubeconfig),
            # kubectl's discovery cache: without HOME it lands in the working directory
            "HOME": str(cwd.parent),
        },
    )


def _handmade(workload: dict[str, Any], home: Path, image: str, node: str) -> list[dict[str, Any]]:
    """The bank's Deployment before obreg: the stand-in, not labelled for obreg, whose
    product home holds ``home``'s files (an init container copies them there from a
    Secret of the bank's, as a hand-configured home is the image's plus the edits), and
    that Secret."""
    name = workload["metadata"]["name"]
    product = HOMES[name]
    deployment = standin(workload, image, node, product)
    deployment["metadata"]["namespace"] = NAMESPACE
    del deployment["metadata"]["labels"][INJECT_LABEL]
    files = sorted(p for p in home.rglob("*") if p.is_file())
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-handmade", "namespace": NAMESPACE},
        "data": {f"f{i}": base64.b64encode(p.read_bytes()).decode() for i, p in enumerate(files)},
    }
    spec = deployment["spec"]["template"]["spec"]
    items = [{"key": f"f{i}", "path": str(p.relative_to(home))} for i, p in enumerate(files)]
    spec["volumes"].append(
        {
            "name": "handmade",
            # Readable by wso2carbon (802), as kubelet makes the files root's; and the
            # copies, which keep the mode, writable by it, as a hand-edited home is (the
            # start's copy of the config volume overwrites them).
            "secret": {"secretName": secret["metadata"]["name"], "items": items,
                       "defaultMode": 0o644},
        }
    )  # fmt: skip
    (container,) = spec["containers"]
    spec["initContainers"] = [
        {
            "name": "handmade",
            "image": container["image"],
            "imagePullPolicy": "Never",
            "command": ["cp", "-R", "-L", "/handmade/repository", f"{product}/"],
            "securityContext": copy.deepcopy(container["securityContext"]),
            "volumeMounts": [
                {"name": "product", "mountPath": product},
                {"name": "handmade", "mountPath": "/handmade", "readOnly": True},
            ],
        }
    ]
    return [secret, deployment]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _revisions(scenario: Scenario) -> dict[str, tuple[str, int]]:
    """Per workload, its Deployment's revision and how many ReplicaSets it has had."""
    replica_sets = json.loads(
        scenario.kubectl("get", "rs", "-n", NAMESPACE, "-o", "json").stdout
    )["items"]
    return {
        app: (
            scenario.get("deployment", app)["metadata"]["annotations"][REVISION],
            sum(rs["metadata"]["labels"].get("app") == app for rs in replica_sets),
        )
        for app in HOMES
    }


def _show_pods(kubectl: Kubectl) -> None:
    """On a failure, what the namespace's pods were doing, for the report."""
    print(kubectl("describe", "pods", "-n", NAMESPACE, check=False).stdout[-6000:])
    for pod in pods(kubectl, NAMESPACE, "app"):
        name = pod["metadata"]["name"]
        logs = kubectl("logs", "-n", NAMESPACE, name, "--all-containers", check=False)
        print(name, logs.stdout[-3000:], logs.stderr[-1000:])


@pytest.fixture
def km(cluster: RealCluster) -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    """The KM double where pods reach it, holding the app, claim and scope made by hand."""
    double, ca = kmdouble.new(password=ADMIN_PASSWORD, address=cluster.host_address)
    configure_by_hand(double)
    yield double, ca
    double.stop()


def test_a_hand_configured_deployment_is_adopted_with_the_same_files(
    cluster: RealCluster,
    kubectl: Kubectl,
    installed_chart: str,
    images_loaded: dict[str, str],
    km: tuple[kmdouble.KmDouble, bytes],
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    double, ca = km
    (tmp_path / "made").mkdir()
    made = build(tmp_path / "made", STOREPASS)
    kubectl("create", "namespace", NAMESPACE)
    try:
        scenario = Scenario(kubectl, NAMESPACE, double, ca)
        workloads = [
            doc
            for app, home in (("wso2-km", made.km), ("wso2-apim", made.apim))
            for doc in _handmade(scenario.find("Deployment", app), home,
                                 images_loaded["standin"], cluster.node_name)
        ]  # fmt: skip
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all(workloads))
        for app in HOMES:
            await_rollout(kubectl, NAMESPACE, app)
        assert scenario.rollouts() == {"wso2-km": 0, "wso2-apim": 0}

        # The docs' copy: the pods hold the hand-configured files, every one.
        _run_docs_block("copy-homes", kubectl, tmp_path / "before")
        before = Homes(tmp_path / "before" / "km", tmp_path / "before" / "apim",
                       made.stock, made.password)  # fmt: skip
        assert _tree(before.km) == _tree(made.km)
        assert _tree(before.apim) == _tree(made.apim)
        known = copy.deepcopy((double.db.apps, double.db.claims, double.db.scopes))

        adopted = tmp_path / "adopt" / "adopted"
        adopted.parent.mkdir()
        code, stderr = import_from(km, before, adopted, namespace=NAMESPACE)
        assert (code, stderr.count("unrepresentable")) == (0, 0), stderr
        assert double.writes() == [], "the import only reads"
        double.calls.clear()
        assert _revisions(scenario) == {app: ("1", 1) for app in HOMES}

        _run_docs_block("adopt", kubectl, adopted.parent)
        scenario.wait_ready(timeout=180)
        expected = {"wso2-km": 1, "wso2-apim": 1}
        poll(lambda: scenario.rollouts() == expected, 120, f"one rollout each: {expected}")
        for app in HOMES:
            await_rollout(kubectl, NAMESPACE, app)
        adopted_revisions = {app: ("2", 2) for app in HOMES}
        assert _revisions(scenario) == adopted_revisions

        # The same files, now obreg's: copied out again the docs' way, and the pod's
        # provider file is the one mounted at obreg's root (obreg's own layout).
        _run_docs_block("copy-homes", kubectl, tmp_path / "after")
        after = tmp_path / "after"
        assert_same_files(before, after / "km", after / "apim")
        assert set(_tree(after / "km")) == set(_tree(before.km))
        assert set(_tree(after / "apim")) == set(_tree(before.apim))
        (pod,) = pods(kubectl, NAMESPACE, "app=wso2-km")
        mounts = {m["name"]: m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
        assert mounts[VOLUME] == DEFAULT_MOUNT_ROOT
        mounted = kubectl("exec", "-n", NAMESPACE, pod["metadata"]["name"], "--",
                          "cat", f"{DEFAULT_MOUNT_ROOT}/{IDP}").stdout  # fmt: skip
        assert (after / "km" / IDP).read_text() == mounted
        assert mounted != (before.km / IDP).read_text()  # not the hand-made bytes
        for app in HOMES:
            (pod,) = pods(kubectl, NAMESPACE, f"app={app}")
            log = kubectl("logs", "-n", NAMESPACE, pod["metadata"]["name"]).stdout
            assert "standin: ready" in log and "FAILED" not in log, log

        # None after: no new rollout nor revision while obreg settles.
        consistently(
            lambda: scenario.rollouts() == expected
            and _revisions(scenario) == adopted_revisions,
            SETTLE_WINDOW,
            "no second rollout after the adoption",
        )

        # The KM's app, claim and scope as they were: obreg's pass read them (it was
        # Ready), and wrote nothing.
        assert double.calls and double.writes() == [], f"reads only: {double.calls}"
        assert (double.db.apps, double.db.claims, double.db.scopes) == known
    except BaseException:
        _show_pods(kubectl)
        raise
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--wait=false")
    print(f"adoption on the real node took {time.monotonic() - started:.0f} s")

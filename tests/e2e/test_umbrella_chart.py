"""obreg as a subchart, the way a bank's platform chart (or an Argo CD app with chart
dependencies) uses it: an umbrella chart whose Chart.yaml depends on obreg through a
file:// repository, resolved by ``helm dependency update``, rendered and then installed
on the local plane, with and without ``global`` values (which Helm hands every subchart
whether set or not)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.controlplane.launcher import ControlPlane
from tests.kubetools import Kubectl, helm, poll

pytestmark = pytest.mark.cluster

CHART = Path(__file__).resolve().parents[2] / "charts" / "obreg"
KWOK = {
    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]
}
GLOBALS = {"global": {"imageRegistry": "mirror.bank.example", "labels": {"team": "ob"}, "n": 1}}


def umbrella(cluster: ControlPlane, tmp_path: Path) -> Path:
    """bank-platform 1.0.0, depending on this checkout's obreg at its own version."""
    chart = tmp_path / "bank-platform"
    chart.mkdir()
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "bank-platform",
                "version": "1.0.0",
                "dependencies": [
                    {"name": "obreg", "version": version, "repository": f"file://{CHART}"}
                ],
            }
        )
    )
    helm(cluster, "dependency", "update", "--skip-refresh", str(chart))
    (packaged,) = (chart / "charts").glob("obreg-*.tgz")
    assert packaged.name == f"obreg-{version}.tgz"
    return chart


def values_file(tmp_path: Path, name: str, values: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.mark.parametrize("globals_", [{}, GLOBALS], ids=["no-globals", "globals"])
def test_an_umbrella_chart_renders_and_installs_obreg(
    cluster: ControlPlane,
    kubectl: Kubectl,
    installed: Path,
    tmp_path: Path,
    globals_: dict[str, Any],
) -> None:
    chart = umbrella(cluster, tmp_path)
    release = "platform-g" if globals_ else "platform"
    namespace = f"umbrella-{release}"
    # The session installed the CRDs already (as a bank's platform team would once), so
    # this release does not render them.
    values = values_file(
        tmp_path, "values", {**globals_, "obreg": {**KWOK, "crds": {"enabled": False}}}
    )
    rendered = helm(
        cluster, "template", release, str(chart), "--namespace", namespace,
        "--kube-version", "1.34.4", "-f", values,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["metadata"]["name"] == f"{release}-obreg"
    kubectl("create", "namespace", namespace)
    kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", input=rendered)

    helm(
        cluster, "install", release, str(chart), "--namespace", namespace,
        "-f", values, "--wait", "--timeout", "120s",
    )  # fmt: skip
    try:
        running = json.loads(
            kubectl("get", "deployment", f"{release}-obreg", "-n", namespace, "-o", "json").stdout
        )
        assert running["status"]["readyReplicas"] == 1
        labels = running["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == release
        assert labels["helm.sh/chart"].startswith("obreg-")
        listed = json.loads(helm(cluster, "list", "-n", namespace, "-o", "json").stdout)
        assert [(r["name"], r["chart"], r["status"]) for r in listed] == [
            (release, "bank-platform-1.0.0", "deployed")
        ]
    finally:
        helm(cluster, "uninstall", release, "--namespace", namespace, "--wait")
    selector = f"app.kubernetes.io/instance={release}"
    poll(
        lambda: (
            not kubectl(
                "get", "deploy,svc,sa", "-n", namespace, "-l", selector, "-o", "name"
            ).stdout.strip()
        ),
        60,
        "the subchart's objects to go",
    )
    kubectl("delete", "namespace", namespace, "--wait=false")

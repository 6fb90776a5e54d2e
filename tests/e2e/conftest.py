"""The operator on the local control plane, acting as the chart's ServiceAccount with the
chart's RBAC (rendered by helm from charts/obreg, so the tests and the chart share one
source of truth about privileges)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controlplane.launcher import ControlPlane
from tests.e2e.harness import Operator, Scenario
from tests.kubetools import Kubectl, token_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "obreg-system"


@pytest.fixture(scope="session")
def installed(
    cluster: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """CRDs, the ServiceAccount and RBAC from the chart; returns the SA's kubeconfig."""
    for crds in (ROOT / "charts" / "obreg" / "crds").glob("*.yaml"):
        kubectl("apply", "--server-side", "-f", str(crds))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    kubectl("create", "namespace", OPERATOR_NAMESPACE)
    rendered = subprocess.run(
        [
            str(cluster.binaries["helm"]),
            "template",
            "obreg",
            str(ROOT / "charts" / "obreg"),
            "--namespace",
            OPERATOR_NAMESPACE,
            "--kube-version",
            "1.34.4",
            "--show-only",
            "templates/serviceaccount.yaml",
            "--show-only",
            "templates/rbac.yaml",
            "--show-only",
            "templates/peering.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kubectl("apply", "-f", "-", input=rendered)
    token = kubectl(
        "create", "token", "obreg", "-n", OPERATOR_NAMESPACE, "--duration=6h"
    ).stdout.strip()
    return token_kubeconfig(
        cluster, token, tmp_path_factory.mktemp("operator") / "operator.kubeconfig"
    )


@pytest.fixture(scope="session")
def start_operator(
    installed: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Operator]]:
    started: list[Operator] = []

    def start(*extra: str, env: dict[str, str] | None = None) -> Operator:
        log = tmp_path_factory.mktemp("operator-log") / "operator.log"
        operator = Operator(installed, log, extra, env).start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()


@pytest.fixture(scope="session")
def operator(start_operator: Callable[..., Operator]) -> Operator:
    """One operator for the suite; a test that stops it must start it again."""
    return start_operator()


@pytest.fixture
def scenario(kubectl: Kubectl, operator: Operator) -> Iterator[Scenario]:
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    operator.assert_alive()
    kubectl("create", "namespace", namespace)
    yield Scenario(kubectl, namespace)
    operator.assert_alive()
    kubectl("delete", "namespace", namespace, "--wait=false")

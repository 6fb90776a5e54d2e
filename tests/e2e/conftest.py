"""The operator on the local control plane, acting as the chart's ServiceAccount with the
chart's RBAC (rendered by helm from charts/obreg, so the tests and the chart share one
source of truth about privileges)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import install_obreg
import kmdouble
from controlplane.launcher import ControlPlane
from tests.e2e.harness import Operator, Scenario
from tests.kubetools import Kubectl

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "obreg-system"


@pytest.fixture(scope="session")
def installed(
    cluster: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """CRDs, the ServiceAccount, RBAC and peering object from the chart; returns the
    ServiceAccount's kubeconfig."""

    def run(*args: str, stdin: str | None = None) -> str:
        return kubectl(*args, input=stdin).stdout

    install_obreg.install(run, cluster.binaries["helm"])
    return install_obreg.service_account_kubeconfig(
        run, cluster.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.kubeconfig"
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
    km, km_ca = kmdouble.new(password=f"km-admin-{uuid.uuid4().hex[:8]}")
    yield Scenario(kubectl, namespace, km, km_ca)
    km.stop()
    operator.assert_alive()
    kubectl("delete", "namespace", namespace, "--wait=false")

"""Shared fixtures. ``cluster`` starts one real control plane for the whole session;
the operator fixtures run ``obreg run`` on it as the chart's ServiceAccount with the
chart's RBAC (rendered by helm from charts/obreg, so the tests and the chart share one
source of truth about privileges), for tests/e2e and tests/faults alike.

Hypothesis profiles: ``ci`` (the default) is bounded and derandomized, so CI runs the
same examples every time; ``make fuzz`` selects ``fuzz``, which runs many more, new ones
each run, and keeps what it found in Hypothesis' example database."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from testbed import install_obreg
from testbed.controlplane.kind import KindCluster
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import REACTIONS, Operator, Scenario, scenario_in_new_namespace, window
from tests.kubetools import Kubectl

_COMMON = {
    "deadline": None,  # a render's time varies with the machine's load; speed is benched
    # capsys is read (and so emptied) by every example.
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
}
settings.register_profile("ci", max_examples=120, derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz", max_examples=4000, **_COMMON)
# make mutate runs each property once per mutant it reaches: fewer, fixed examples (a
# mutant only a rarer example would kill counts as a survivor, so the score is a floor).
settings.register_profile("mutate", max_examples=25, derandomize=True, database=None, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def cluster() -> Iterator[ControlPlane | KindCluster]:
    # SIGTERM (CI's timeout, a killed job) would end Python without running finalisers;
    # turning it into KeyboardInterrupt lets pytest tear the plane down.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    # OBREG_NODE=real (make e2e-real): a real kubelet node beside the fake one; kind
    # (make e2e-kind, on an engine of its own): a kind cluster for tests/real instead.
    node = os.environ.get("OBREG_NODE") or "kwok"
    plane = KindCluster() if node == "kind" else ControlPlane(tie_to_parent=True, node=node)
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def kubectl(cluster: ControlPlane) -> Kubectl:
    return Kubectl(cluster.kubeconfig, cluster.binaries["kubectl"])


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace per test, so tests never see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="session")
def installed(
    cluster: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The CRDs (crds/), the chart's ServiceAccount and RBAC; returns the
    ServiceAccount's kubeconfig."""

    def run(*args: str, stdin: str | None = None) -> str:
        return kubectl(*args, input=stdin).stdout

    install_obreg.install(run, cluster.binaries["helm"])
    return install_obreg.service_account_kubeconfig(
        run, cluster.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.kubeconfig"
    )


# Every operator the session started, so a failing test's report carries their logs.
_STARTED: list[Operator] = []
_LOG_TAIL = 40


@pytest.fixture(scope="session")
def start_operator(
    installed: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Operator]]:
    def start(*extra: str, env: dict[str, str] | None = None) -> Operator:
        log = tmp_path_factory.mktemp("operator-log") / "operator.log"
        operator = Operator(installed, log, extra, env).start()
        _STARTED.append(operator)
        return operator

    yield start
    for operator in _STARTED:
        operator.stop()


_LOG_SIZES = pytest.StashKey[dict[Path, int]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    item.stash[_LOG_SIZES] = {o.log: o.log.stat().st_size for o in _STARTED if o.log.exists()}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report ends with the tail of what each operator wrote during it
    (a poll that timed out says what never happened; the log says why)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if call.when != "call" or not report.failed:
        return
    sizes = item.stash.get(_LOG_SIZES, {})
    for operator in _STARTED:
        if not operator.log.exists():
            continue
        with operator.log.open("rb") as source:
            source.seek(sizes.get(operator.log, 0))
            lines = source.read().decode(errors="replace").splitlines()
        if lines:
            report.sections.append(
                (f"operator log {operator.log.parent.name}", "\n".join(lines[-_LOG_TAIL:]))
            )


@pytest.fixture(scope="session")
def operator(start_operator: Callable[..., Operator]) -> Operator:
    """One operator for the suite; a test that stops it must start it again."""
    return start_operator()


@pytest.fixture
def scenario(kubectl: Kubectl, operator: Operator) -> Iterator[Scenario]:
    with scenario_in_new_namespace(kubectl, operator, "e2e") as found:
        yield found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the absence windows were derived from (tests/e2e/harness.py)."""
    if REACTIONS:
        terminalreporter.write_line(
            f"reactions of the plane to a change: {len(REACTIONS)} seen, slowest "
            f"{max(REACTIONS):.1f} s; absence windows {window():.1f} s"
        )

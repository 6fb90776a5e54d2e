"""Fixtures of the fault tier: obreg instances the tests may kill, and the Reliability
table printed at the end of the session from what each scenario measured."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.e2e.harness import Operator, Scenario
from tests.faults.recovery import REPORT

# Short, so that a loop the resync would drive shows within the quiet window.
RESYNC = 4.0
# One pod's identity across restarts of its container (the chart passes the pod name).
IDENTITY = "obreg@obreg-faults-0"


@pytest.fixture
def scenario(scenario: Scenario) -> Scenario:
    """The suite's scenario, whose changes here are made while the plane or obreg is
    broken on purpose: their reaction times do not set the absence windows."""
    scenario.records_reactions = False
    return scenario


@pytest.fixture
def instances(
    operator: Operator, start_operator: Callable[..., Operator]
) -> Iterator[Callable[..., Operator]]:
    """Start obreg instances of this test (the suite's own is stopped meanwhile): by
    default one pod's identity at priority 100 with a short resync."""
    operator.stop()
    started: list[Operator] = []

    def start(
        flags: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        verbose: bool = False,
    ) -> Operator:
        given = {"--resync-seconds": str(RESYNC), "--identity": IDENTITY}
        given.update(flags or {})
        argv = [part for item in given.items() for part in item]
        found = start_operator(*argv, *(["--verbose"] if verbose else []), env=env)
        started.append(found)
        return found

    yield start
    for instance in started:
        instance.stop()
    operator.start()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORT:
        return
    terminalreporter.section("Reliability (tests/faults)")
    terminalreporter.write_line(
        "| fault | what obreg did | files s | Ready s | writes | rollouts km/apim |"
    )
    terminalreporter.write_line("|---|---|---|---|---|---|")
    for row in REPORT:
        terminalreporter.write_line(
            f"| {row.fault} | {row.what_obreg_did} | {row.landed_seconds} | "
            f"{row.ready_seconds} | {row.writes} | "
            f"{row.rollouts['wso2-km']}/{row.rollouts['wso2-apim']} |"
        )

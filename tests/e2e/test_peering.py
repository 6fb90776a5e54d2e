"""Two obreg instances at once: kopf peering lets only the higher priority act, with no
double rollouts; when it goes, the other takes over."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.harness import Operator, Scenario, consistently, window
from tests.kubetools import poll
from tests.pki import issue

pytestmark = pytest.mark.cluster


def test_only_the_leader_acts(
    scenario: Scenario, operator: Operator, start_operator: Callable[..., Operator]
) -> None:
    operator.stop()
    follower = start_operator("--priority", "10")
    leader = start_operator("--priority", "20")
    try:
        poll(
            lambda: "Pausing operations in favour of" in follower.text(),
            60,
            "the lower priority instance to pause",
        )
        scenario.apply()
        scenario.wait_ready()
        expected = {"wso2-km": 1, "wso2-apim": 1}
        poll(lambda: scenario.rollouts() == expected, 60, "one rollout per workload")
        consistently(lambda: scenario.rollouts() == expected, window(), "no double rollout")
        assert "rolled Deployment" in leader.text()
        assert "rolled Deployment" not in follower.text()

        leader.stop()  # the follower resumes once the leader's peering entry is gone
        poll(lambda: "Resuming operations" in follower.text(), 120, "the follower to resume")
        anchor = scenario.find("OBTrustAnchor")
        anchor["spec"]["certificates"].append(
            {"alias": "newca", "inline": issue("New CA").pem.decode()}
        )
        scenario.apply()
        expected = {"wso2-km": 2, "wso2-apim": 2}
        poll(lambda: scenario.rollouts() == expected, 60, "the follower to roll")
        consistently(lambda: scenario.rollouts() == expected, window(), "no double rollout")
        assert "rolled Deployment" in follower.text()
    finally:
        follower.stop()
        leader.stop()
        operator.start()


def test_a_killed_instance_restarted_under_its_identity_does_not_wait_for_its_ghost(
    scenario: Scenario, operator: Operator, start_operator: Callable[..., Operator]
) -> None:
    """The chart gives each pod one identity across container restarts. SIGKILL leaves
    the dead process's peering entry for its whole lease (60 s); a restarted process with
    the same identity takes it over, even with a lower priority, instead of pausing."""
    operator.stop()
    pod = ("--identity", "obreg@obreg-7d9f-abcde")
    first = start_operator(*pod, "--priority", "900")
    second = None
    try:
        scenario.apply()
        scenario.wait_ready()
        poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "first rollouts")
        first.kill()
        second = start_operator(*pod, "--priority", "1")
        anchor = scenario.find("OBTrustAnchor")
        anchor["spec"]["certificates"].append(
            {"alias": "newca", "inline": issue("After The Kill CA").pem.decode()}
        )
        scenario.apply()
        expected = {"wso2-km": 2, "wso2-apim": 2}
        # Well inside the dead entry's 60 s lease: it never waited for it.
        poll(lambda: scenario.rollouts() == expected, 25, "the restarted instance to roll")
        assert "Pausing operations" not in second.text()
    finally:
        first.stop()
        if second is not None:
            second.stop()
        operator.start()

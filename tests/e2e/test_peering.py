"""Two obreg instances at once: the one holding the Lease acts, the other stands by, with
no double rollouts; when the leader goes, the other takes over."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from testbed import install_obreg
from tests.e2e.harness import Operator, Scenario, consistently, window
from tests.kubetools import Kubectl, poll
from tests.pki import issue

pytestmark = pytest.mark.cluster


def holder(kubectl: Kubectl) -> str:
    """The Lease's holder, as ``kubectl get lease`` shows it."""
    return kubectl(
        "get",
        "lease",
        "obreg",
        "-n",
        install_obreg.NAMESPACE,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ).stdout


def test_only_the_leader_acts(
    scenario: Scenario,
    operator: Operator,
    start_operator: Callable[..., Operator],
    kubectl: Kubectl,
) -> None:
    operator.stop()
    leader = start_operator("--identity", "obreg@first")
    poll(lambda: "became the leader" in leader.text(), 60, "the first instance to lead")
    follower = start_operator("--identity", "obreg@second")
    try:
        poll(
            lambda: "obreg@first leads; standing by" in follower.text(),
            60,
            "the second instance to stand by",
        )
        assert holder(kubectl) == "obreg@first"
        scenario.apply()
        scenario.wait_ready()
        expected = {"wso2-km": 1, "wso2-apim": 1}
        poll(lambda: scenario.rollouts() == expected, 60, "one rollout per workload")
        consistently(lambda: scenario.rollouts() == expected, window(), "no double rollout")
        assert "rolled Deployment" in leader.text()
        assert "rolled Deployment" not in follower.text()

        leader.stop()  # SIGTERM releases the Lease: the follower takes it at its next try
        poll(lambda: "became the leader" in follower.text(), 10, "the follower to lead")
        assert holder(kubectl) == "obreg@second"
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
    the Lease held by the dead process until it runs out (15 s); a restarted process with
    the same identity takes it back at once instead of waiting."""
    operator.stop()
    pod = ("--identity", "obreg@obreg-7d9f-abcde")
    first = start_operator(*pod)
    second = None
    try:
        scenario.apply()
        scenario.wait_ready()
        poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "first rollouts")
        first.kill()
        second = start_operator(*pod)
        anchor = scenario.find("OBTrustAnchor")
        anchor["spec"]["certificates"].append(
            {"alias": "newca", "inline": issue("After The Kill CA").pem.decode()}
        )
        scenario.apply()
        expected = {"wso2-km": 2, "wso2-apim": 2}
        # Well inside the dead one's 15 s claim: it never waited for it.
        poll(lambda: scenario.rollouts() == expected, 12, "the restarted instance to roll")
        assert "standing by" not in second.text()
    finally:
        first.stop()
        if second is not None:
            second.stop()
        operator.start()

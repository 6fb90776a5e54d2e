"""Namespaced mode (``--namespace``, the chart's ``clusterWide: false``): obreg acts in
the namespaces it serves and nowhere else, with every watch (its resources, workloads,
Secrets and ConfigMaps) scoped to them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from testbed import kmdouble
from tests.e2e.harness import Operator, Scenario, consistently, window
from tests.kubetools import Kubectl, poll

pytestmark = pytest.mark.cluster


@pytest.fixture
def other(kubectl: Kubectl) -> Iterator[Scenario]:
    """The same scenario in a namespace the instance does not serve."""
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", namespace)
    km, km_ca = kmdouble.new(password=f"km-admin-{uuid.uuid4().hex[:8]}")
    yield Scenario(kubectl, namespace, km, km_ca)
    km.stop()
    kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def test_a_namespaced_instance_acts_only_where_it_serves(
    scenario: Scenario,
    other: Scenario,
    operator: Operator,
    start_operator: Callable[..., Operator],
) -> None:
    operator.stop()
    scoped = start_operator("--namespace", scenario.namespace, "--standalone")
    try:
        scenario.apply()
        other.apply()
        scenario.wait_ready(timeout=90)
        assert scenario.data("configmap", "obreg-wso2-km")
        assert scenario.km.db.apps, "the Key Manager steps ran in the served namespace"

        def untouched() -> bool:
            return not any(other.ready_conditions().values()) and not other.km.calls

        consistently(untouched, window(), "no status, files or KM calls in the other namespace")
        missing = other.kubectl(
            "get", "configmap", "obreg-wso2-km", "-n", other.namespace, "--ignore-not-found"
        ).stdout
        assert missing == ""
        # The served namespace's workload watch: a deleted Key Manager is seen.
        scenario.kubectl("delete", "deployment", "wso2-km", "-n", scenario.namespace)
        poll(
            lambda: (
                scenario.condition("obidp", "ob-directory").get("reason") == "WaitingForWorkload"
            ),
            30,
            "the IdP to wait for its workload",
        )
        scoped.assert_alive()
    finally:
        scoped.stop()
        operator.start()

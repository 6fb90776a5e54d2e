"""Each bad input of the renderer's table, applied to a running scenario: the resource at
fault ends Stalled with the renderer's message, and the workloads keep their last good
files. (Cases the API server refuses at apply time are covered against the schema.)"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testbed import kmdouble
from tests.bad_inputs import CASES, MANIFEST_ONLY_CASES, SCHEMA_CASES, Docs
from tests.e2e.harness import Operator, Scenario
from tests.kubetools import Kubectl, poll

pytestmark = pytest.mark.cluster

RENDER_CASES = [c for c in CASES if c[0] not in SCHEMA_CASES | MANIFEST_ONLY_CASES]


def _identity(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


@pytest.fixture(scope="module")
def converged(kubectl: Kubectl, operator: Operator) -> Iterator[Scenario]:
    kubectl("create", "namespace", "e2e-bad-inputs")
    km, km_ca = kmdouble.new()
    scenario = Scenario(kubectl, "e2e-bad-inputs", km, km_ca)
    scenario.apply()
    scenario.wait_ready()
    yield scenario
    km.stop()
    kubectl("delete", "namespace", "e2e-bad-inputs", "--wait=false")


def outputs(scenario: Scenario) -> dict[str, dict[str, str]]:
    return {
        f"{kind}/obreg-{w}": scenario.data(kind, f"obreg-{w}")
        for kind in ("configmap", "secret")
        for w in ("wso2-km", "wso2-apim")
    }


def stalled_messages(scenario: Scenario) -> list[str]:
    messages = []
    for kind in ("obta", "obidp", "obsp"):
        for name in scenario.kubectl(
            "get", kind, "-n", scenario.namespace, "-o", "jsonpath={.items[*].metadata.name}"
        ).stdout.split():
            stalled = scenario.condition(kind, name, "Stalled")
            if stalled.get("status") == "True":
                messages.append(stalled["message"])
    return messages


@pytest.mark.parametrize(
    ("mutate", "path", "message"), [c[1:] for c in RENDER_CASES], ids=[c[0] for c in RENDER_CASES]
)
def test_stalls_with_the_message_and_keeps_the_last_good_files(
    converged: Scenario, mutate: Callable[[Docs], None], path: str, message: str
) -> None:
    scenario = converged
    message = message.replace("obreg-demo/", f"{scenario.namespace}/")
    good_files = outputs(scenario)
    docs: Docs = copy.deepcopy(scenario.docs)
    mutate(docs)
    for doc in docs:
        doc["metadata"]["namespace"] = scenario.namespace
    kept = {_identity(d) for d in docs}
    removed = [d for d in scenario.docs if _identity(d) not in kept]
    added = [d for d in docs if _identity(d) not in {_identity(g) for g in scenario.docs}]
    try:
        scenario.apply(docs)
        for doc in removed:
            scenario.kubectl(
                "delete", doc["kind"].lower(), doc["metadata"]["name"], "-n", scenario.namespace
            )
        poll(
            lambda: any(message in m and path in m for m in stalled_messages(scenario)),
            30,
            f"a resource to stall with {message!r} at {path}",
        )
        assert outputs(scenario) == good_files
    finally:
        for doc in added:
            scenario.kubectl(
                "delete",
                doc["kind"].lower(),
                doc["metadata"]["name"],
                "-n",
                scenario.namespace,
                "--ignore-not-found",
            )
        scenario.apply()
        scenario.wait_ready()
    assert outputs(scenario) == good_files

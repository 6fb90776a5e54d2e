"""Argo CD's verdicts on obreg's resources from gopher-lua, the Lua 5.1 Argo CD embeds
(testbed/gitops/lua-health loads the script as Argo CD does: no string library, the
object as ``obj``), over status objects the operator really wrote in each state of each
kind; they must equal the Python-side interpreter's (tests/e2e/test_gitops_health.py).
And the Application's ``ignoreDifferences`` against the managed fields the API server
recorded: everything obreg's field manager owns on an object from Git is covered."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from testbed.gitops.build import lua_health
from tests.bad_inputs import CASES, Docs
from tests.e2e.harness import Scenario
from tests.e2e.test_gitops_health import GITOPS
from tests.e2e.test_gitops_health import health as python_health
from tests.kubetools import poll

pytestmark = pytest.mark.cluster

KINDS = ("OBTrustAnchor", "OBIdentityProvider", "OBServiceProvider")
# One bad input per kind (tests/bad_inputs.py) that an apply can make (no deletion), so
# each kind is seen Stalled by its own fault.
FAULTS = {
    "OBTrustAnchor": "text with no PEM",
    "OBIdentityProvider": "missing Secret key",
    "OBServiceProvider": "unknown identity provider",
}


def gopher_health(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    done = subprocess.run(
        [str(lua_health()), str(GITOPS / "health.lua")],
        input=json.dumps(objects), capture_output=True, text=True, check=True,
    )  # fmt: skip
    verdicts: list[dict[str, str]] = json.loads(done.stdout)
    return verdicts


def _resources(scenario: Scenario) -> list[dict[str, Any]]:
    listed = scenario.kubectl("get", "obta,obidp,obsp", "-n", scenario.namespace, "-o", "json")
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    conditions = obj.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == type_), {})


def _reason(obj: dict[str, Any]) -> str:
    return str(_condition(obj, "Ready").get("reason", ""))


def _mutation(name: str) -> Callable[[Docs], None]:
    mutate: Callable[[Docs], None] = next(c[1] for c in CASES if c[0] == name)
    return mutate


def _record_statuses(scenario: Scenario) -> list[dict[str, Any]]:
    """Each kind's object as obreg left it waiting for its workloads, Ready, and Stalled
    by a fault of its own."""
    recorded = []
    scenario.apply([d for d in scenario.docs if d["kind"] not in ("Deployment", "StatefulSet")])
    poll(
        lambda: {_reason(o) for o in _resources(scenario)} == {"WaitingForWorkload"},
        60,
        "every resource to wait for its workloads",
    )
    recorded += _resources(scenario)
    scenario.apply()
    scenario.wait_ready()
    recorded += _resources(scenario)
    for kind, case in FAULTS.items():
        docs = copy.deepcopy(scenario.docs)
        _mutation(case)(docs)
        scenario.apply(docs)

        def stalled(kind: str = kind) -> bool:
            return any(
                o["kind"] == kind and _condition(o, "Stalled").get("status") == "True"
                for o in _resources(scenario)
            )

        poll(stalled, 60, f"the {kind} to stall ({case})")
        recorded += _resources(scenario)
        scenario.apply()
        scenario.wait_ready()
    return recorded


def _expected(obj: dict[str, Any]) -> str:
    """What the README says Argo CD shows, read from the conditions themselves."""
    if _condition(obj, "Stalled").get("status") == "True":
        return "Degraded"
    if _condition(obj, "Ready").get("status") == "True":
        return "Healthy"
    return "Progressing"


def test_gopher_lua_verdicts_on_real_statuses(scenario: Scenario) -> None:
    recorded = _record_statuses(scenario)
    ready = [o for o in recorded if _reason(o) == "Applied"]
    lagging = copy.deepcopy(ready)
    for obj in lagging:
        obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    fresh = copy.deepcopy(ready)
    for obj in fresh:
        del obj["status"]
    objects = recorded + lagging + fresh

    seen = {(o["kind"], _reason(o)) for o in recorded}
    for kind in KINDS:
        assert {(kind, "Applied"), (kind, "WaitingForWorkload")} <= seen
    assert all(_stalled(recorded, kind) for kind in KINDS)

    verdicts = gopher_health(objects)
    for obj, verdict in zip(objects, verdicts, strict=True):
        name = f"{obj['kind']} {obj['metadata']['name']} ({_reason(obj) or 'no status'})"
        assert "error" not in verdict, f"{name}: {verdict['error']}"
        assert (verdict["status"], verdict["message"]) == python_health(obj), name
    for obj, verdict in zip(recorded, verdicts, strict=False):
        assert verdict["status"] == _expected(obj), obj["kind"]
        if verdict["status"] == "Degraded":
            assert verdict["message"] == _condition(obj, "Stalled")["message"]
    assert {v["status"] for v in verdicts[len(recorded) :]} == {"Progressing"}
    generation = lagging[0]["metadata"]["generation"]
    assert verdicts[len(recorded)]["message"] == (
        f"Waiting for obreg to observe generation {generation}"
    )  # gopher-lua prints an integral number as an integer, as Lua 5.4 does


def _stalled(recorded: list[dict[str, Any]], kind: str) -> bool:
    return any(
        o["kind"] == kind and _condition(o, "Stalled").get("status") == "True" for o in recorded
    )


def _managed(scenario: Scenario, kind: str, name: str) -> list[dict[str, Any]]:
    shown = scenario.kubectl(
        "get", kind, name, "-n", scenario.namespace, "-o", "json", "--show-managed-fields"
    )
    entries: list[dict[str, Any]] = json.loads(shown.stdout)["metadata"].get("managedFields", [])
    return entries


def test_ignore_differences_cover_what_obreg_writes_on_objects_from_git(
    scenario: Scenario,
) -> None:
    """Argo CD diffs what is in Git, without status. Of those objects, obreg's field
    manager may own fields only where the Application ignores it."""
    scenario.apply()
    scenario.wait_ready()
    poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "the first rollouts")
    application = yaml.safe_load((GITOPS / "application.yaml").read_text())["spec"]
    ignored = {
        (d.get("group", ""), d["kind"])
        for d in application["ignoreDifferences"]
        if "obreg" in d.get("managedFieldsManagers", [])
    }
    owned: dict[tuple[str, str, str], set[str]] = {}
    for doc in scenario.docs:
        group = doc["apiVersion"].rpartition("/")[0]
        for entry in _managed(scenario, doc["kind"], doc["metadata"]["name"]):
            if entry["manager"] != "obreg" or entry.get("subresource") == "status":
                continue
            fields = owned.setdefault((group, doc["kind"], doc["metadata"]["name"]), set())
            fields.add(json.dumps(entry["fieldsV1"], sort_keys=True))
    assert owned, "obreg owns nothing on the workloads from Git: the test sees nothing"
    assert {(g, k) for g, k, _ in owned} <= ignored, owned
    km = next(f for (g, k, n), f in owned.items() if n == "wso2-km")
    assert any("obreg.dev/digest" in f for f in km)

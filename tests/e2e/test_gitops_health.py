"""The Argo CD health check, run by a real Lua interpreter on status objects the operator
really produced: Healthy when Ready, Progressing while waiting, Degraded when Stalled."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import lupa
import pytest
import yaml

from tests.e2e.harness import Scenario, consistently, window
from tests.kubetools import poll

pytestmark = pytest.mark.cluster

GITOPS = Path(__file__).resolve().parents[2] / "gitops" / "argocd"
HEALTH = (GITOPS / "health.lua").read_text()


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """What Argo CD would show: the script runs with the object as the global ``obj``."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH)
    return str(result["status"]), str(result["message"])


def test_argocd_cm_embeds_the_same_script() -> None:
    data = yaml.safe_load((GITOPS / "argocd-cm.yaml").read_text())["data"]
    assert sorted(data) == [
        f"resource.customizations.health.obreg.dev_{kind}"
        for kind in ("OBIdentityProvider", "OBServiceProvider", "OBTrustAnchor")
    ]
    assert set(data.values()) == {HEALTH}


def test_health_of_real_status_objects(scenario: Scenario) -> None:
    scenario.apply([d for d in scenario.docs if d["kind"] != "Deployment"])
    poll(
        lambda: scenario.condition("obidp", "ob-directory").get("reason") == "WaitingForWorkload",
        30,
        "the IdP to wait for its workload",
    )
    status, message = health(scenario.get("obidp", "ob-directory"))
    assert (status, message) == ("Progressing", "Deployment/wso2-km not found")

    scenario.apply()
    scenario.wait_ready()
    ready = scenario.get("obta", "ob-directory-cas")
    status, message = health(ready)
    assert status == "Healthy"
    assert message.startswith("files applied to ")
    lagging = copy.deepcopy(ready)
    lagging["metadata"]["generation"] = ready["status"]["observedGeneration"] + 1
    assert health(lagging)[0] == "Progressing"
    fresh = copy.deepcopy(ready)
    del fresh["status"]
    assert health(fresh)[0] == "Progressing"

    docs = copy.deepcopy(scenario.docs)
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "ob-directory-cas":
            doc["data"]["root-ca.pem"] = "not a certificate"
    scenario.apply(docs)
    poll(
        lambda: scenario.condition("obta", "ob-directory-cas", "Stalled").get("status") == "True",
        30,
        "the anchor to stall",
    )
    status, message = health(scenario.get("obta", "ob-directory-cas"))
    assert status == "Degraded"
    assert "no PEM certificate found" in message


def _with_managed_fields(scenario: Scenario, kind: str, name: str) -> dict[str, Any]:
    shown = scenario.kubectl(
        "get", kind, name, "-n", scenario.namespace, "-o", "json", "--show-managed-fields"
    )
    found: dict[str, Any] = json.loads(shown.stdout)
    return found


def _digest_managers(workload: dict[str, Any]) -> set[str]:
    return {
        entry["manager"]
        for entry in workload["metadata"].get("managedFields") or []
        if "f:obreg.dev/digest" in json.dumps(entry.get("fieldsV1") or {})
    }


def test_gitops_tools_leave_what_obreg_owns_on_the_workloads(scenario: Scenario) -> None:
    """docs/gitops.md: Argo CD ignores what the field manager ``obreg`` owns (the Application's
    ignoreDifferences names it, for both workload kinds); Flux applies the workloads from
    git with server-side apply under its own manager, which keeps obreg's annotation and
    causes no rollout."""
    application = yaml.safe_load((GITOPS / "application.yaml").read_text())["spec"]
    ignored = {d["kind"]: d["managedFieldsManagers"] for d in application["ignoreDifferences"]}
    assert ignored == {"Deployment": ["obreg"], "StatefulSet": ["obreg"]}
    flux = yaml.safe_load((GITOPS.parent / "flux" / "kustomization.yaml").read_text())
    assert {(c["kind"], c["name"]) for c in flux["spec"]["healthChecks"]} == {
        (d["kind"], d["metadata"]["name"]) for d in scenario.docs if d["kind"].startswith("OB")
    }

    scenario.apply()
    scenario.wait_ready()
    poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "the first rollouts")
    km = _with_managed_fields(scenario, "deployment", "wso2-km")
    assert _digest_managers(km) == {"obreg"}
    digest = km["spec"]["template"]["metadata"]["annotations"]["obreg.dev/digest"]

    workloads = [d for d in scenario.docs if d["kind"] == "Deployment"]
    scenario.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=kustomize-controller",
        "-f", "-", input=yaml.safe_dump_all(workloads),
    )  # fmt: skip
    after = _with_managed_fields(scenario, "deployment", "wso2-km")
    assert after["spec"]["template"]["metadata"]["annotations"]["obreg.dev/digest"] == digest
    assert _digest_managers(after) == {"obreg"}
    consistently(
        lambda: scenario.rollouts() == {"wso2-km": 1, "wso2-apim": 1}, window(), "no rollout"
    )

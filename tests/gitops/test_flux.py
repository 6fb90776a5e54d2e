"""Flux's own source-controller and kustomize-controller (hack/gitopsbed) deploying the
samples from a Git repository served locally (a base and an overlay, the Secrets
included), with the Kustomization of gitops/flux/kustomization.yaml: what a Flux user
sees of obreg's resources, and that Flux and obreg leave each other's writes alone."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import audit_log
from controlplane.launcher import ControlPlane
from gitopsbed import flux
from gitopsbed.build import KUSTOMIZE
from gitopsbed.gitserver import GitServer, Repository
from obreg.kube.api import FIELD_MANAGER
from tests.e2e.harness import OBREG, Scenario
from tests.kubetools import poll

pytestmark = pytest.mark.cluster

FLUX = Path(__file__).resolve().parents[2] / "gitops" / "flux" / "kustomization.yaml"
OB_RESOURCES = ("obtrustanchors", "obidentityproviders", "observiceproviders")
# What a Kustomization is given to turn a change Ready (fetch, apply, obreg's reconcile,
# health checks).
DEPLOY = 120
# The field managers of Flux's applies and of obreg's writes.
FLUX_MANAGER = "kustomize-controller"
OBREG_MANAGER = FIELD_MANAGER


def files(docs: list[dict[str, Any]], namespace: str) -> dict[str, str]:
    """The repository: the documents as a base, an overlay setting the namespace."""
    base = [copy.deepcopy(d) for d in docs]
    for doc in base:
        doc["metadata"].pop("namespace", None)
    return {
        "base/resources.yaml": yaml.safe_dump_all(base),
        "base/kustomization.yaml": yaml.safe_dump({"resources": ["resources.yaml"]}),
        "overlay/kustomization.yaml": yaml.safe_dump(
            {"namespace": namespace, "resources": ["../base"]}
        ),
    }


@dataclass
class Deployed:
    """The scenario deployed by Flux: the repository, its first revision, the
    Kustomization's status."""

    scenario: Scenario
    repository: Repository
    revision: str = ""

    @property
    def name(self) -> str:
        return self.scenario.namespace

    def push(self, docs: list[dict[str, Any]], message: str) -> str:
        return self.repository.commit(files(docs, self.scenario.namespace), message)

    def status(self) -> dict[str, Any]:
        shown = self.scenario.kubectl(
            "get", "kustomization", self.name, "-n", flux.NAMESPACE, "-o", "json"
        )
        found: dict[str, Any] = json.loads(shown.stdout).get("status", {})
        return found

    def wait_ready(self, revision: str) -> dict[str, Any]:
        """The Kustomization's Ready condition once it is True for ``revision``."""
        seen: dict[str, Any] = {}

        def reached() -> bool:
            seen.update(self.status())
            ready = _condition(seen, "Ready")
            return str(seen.get("lastAppliedRevision", "")).endswith(revision) and (
                ready.get("status") == "True"
            )

        poll(reached, DEPLOY, lambda: f"Ready at {revision}; last status {seen}")
        return _condition(seen, "Ready")


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


@pytest.fixture(scope="module")
def deployed(
    flux_controllers: Path, git_server: GitServer, flux_scenario: Scenario
) -> Iterator[Deployed]:
    scenario = flux_scenario
    repository = Repository(git_server, scenario.namespace, flux_controllers / scenario.namespace)
    result = Deployed(scenario, repository)
    result.revision = result.push(scenario.docs, "the samples")
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": result.name, "namespace": flux.NAMESPACE},
        "spec": {"url": repository.url, "interval": "5s", "ref": {"branch": "main"}},
    }
    kustomization = yaml.safe_load(FLUX.read_text())
    kustomization["metadata"] = {"name": result.name, "namespace": flux.NAMESPACE}
    kustomization["spec"].update(
        path="./overlay",
        sourceRef={"kind": "GitRepository", "name": result.name},
        targetNamespace=scenario.namespace,
        interval="30s",
        retryInterval="5s",
        timeout="90s",
    )
    for check in kustomization["spec"]["healthChecks"]:
        check["namespace"] = scenario.namespace
    scenario.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([source, kustomization]))
    yield result
    scenario.kubectl("delete", "kustomization,gitrepository", result.name, "-n", flux.NAMESPACE)


def _ready_since(obj: dict[str, Any]) -> str:
    return str(_condition(obj.get("status", {}), "Ready")["lastTransitionTime"])


def _resources(scenario: Scenario) -> list[dict[str, Any]]:
    listed = scenario.kubectl("get", ",".join(OB_RESOURCES), "-n", scenario.namespace, "-o", "json")
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


def test_kustomization_is_ready_only_once_obreg_resources_are(deployed: Deployed) -> None:
    ready = deployed.wait_ready(deployed.revision)
    scenario = deployed.scenario
    resources = _resources(scenario)
    assert {r["kind"] for r in resources} == {
        "OBTrustAnchor", "OBIdentityProvider", "OBServiceProvider"
    }  # fmt: skip
    for resource in resources:
        status = resource["status"]
        assert _condition(status, "Ready")["status"] == "True", resource["metadata"]["name"]
        # kstatus reads a Ready condition as current only for the generation observed.
        assert status["observedGeneration"] == resource["metadata"]["generation"]
    # RFC 3339 stamps of one clock compare as text: Flux turned Ready no earlier than the
    # last of obreg's resources did (its health checks waited for obreg's status).
    assert ready["lastTransitionTime"] >= max(_ready_since(r) for r in resources)
    poll(lambda: scenario.rollouts() == {"wso2-km": 1, "wso2-apim": 1}, 60, "one rollout each")


def _managers(obj: dict[str, Any], subresource: str = "") -> dict[str, set[str]]:
    """Each field manager's top-level fields of ``obj``'s managedFields (a subresource's
    entries only, when given)."""
    found: dict[str, set[str]] = {}
    for entry in obj["metadata"].get("managedFields", []):
        if entry.get("subresource", "") == subresource:
            found.setdefault(entry["manager"], set()).update(entry.get("fieldsV1", {}))
    return found


def _with_managers(scenario: Scenario, kind: str, name: str) -> dict[str, Any]:
    """The object with its managedFields, which kubectl leaves out unless asked."""
    shown = scenario.kubectl(
        "get", kind, name, "-n", scenario.namespace, "-o", "json", "--show-managed-fields"
    )
    found: dict[str, Any] = json.loads(shown.stdout)
    return found


def test_a_commit_is_applied_and_reconciled_without_a_drift_fight(
    deployed: Deployed, cluster: ControlPlane
) -> None:
    scenario = deployed.scenario
    deployed.wait_ready(deployed.revision)
    poll(lambda: scenario.rollouts() == {"wso2-km": 1, "wso2-apim": 1}, 60, "one rollout each")
    before = scenario.get("obidentityprovider", "ob-directory")
    offset = audit_log.end(cluster.audit_log)

    docs = copy.deepcopy(scenario.docs)
    changed = next(d for d in docs if d["kind"] == "OBIdentityProvider")
    changed["spec"]["userInfoEndpoint"] = "https://auth.directory.example/idp/userinfo2"
    revision = deployed.push(docs, "a new userinfo endpoint")
    ready = deployed.wait_ready(revision)

    after = scenario.get("obidentityprovider", "ob-directory")
    assert after["spec"]["userInfoEndpoint"].endswith("/userinfo2")
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    # Flux's Ready for the new revision means obreg's status caught up with the new
    # generation, not the old Ready read again.
    poll(
        lambda: scenario.get("obidentityprovider", "ob-directory")["status"].get(
            "observedGeneration"
        )
        == after["metadata"]["generation"],
        DEPLOY,
        "obreg observed the new generation",
    )
    assert ready["status"] == "True"
    poll(lambda: scenario.rollouts()["wso2-km"] == 2, DEPLOY, "the KM rolled once more")

    # Another full apply by Flux of the same revision (an interval's worth), then the
    # state is still obreg's: no second rollout, status intact.
    writes_before = audit_log.end(cluster.audit_log)
    scenario.kubectl(
        "annotate", "--overwrite", "kustomization", deployed.name, "-n", flux.NAMESPACE,
        f"reconcile.fluxcd.io/requestedAt={revision}-again",
    )  # fmt: skip
    poll(
        lambda: deployed.status().get("lastHandledReconcileAt") == f"{revision}-again"
        and _condition(deployed.status(), "Ready").get("status") == "True",
        DEPLOY,
        "Flux applied the same revision again",
    )
    assert scenario.rollouts() == {"wso2-km": 2, "wso2-apim": 1}
    assert all(c["status"] == "True" for c in scenario.ready_conditions().values())

    writes = [w for w in audit_log.writes(cluster.audit_log, offset) if not w.dry_run]
    kustomize = flux.user(KUSTOMIZE)
    ours = {r["metadata"]["name"] for r in _resources(scenario)} | {"wso2-km", "wso2-apim"}
    flux_writes = [w for w in writes if w.user == kustomize and w.namespace == scenario.namespace]
    obreg_writes = [w for w in writes if w.user == OBREG and w.namespace == scenario.namespace]
    # Flux never writes obreg's status, and obreg never writes what came from Git (the
    # resources' spec): each keeps to its own.
    assert not [w for w in flux_writes if w.subresource == "status"], flux_writes
    assert not [
        w for w in obreg_writes if w.resource in OB_RESOURCES and w.subresource != "status"
    ], obreg_writes
    # The reapply of an unchanged revision touched none of obreg's objects or workloads:
    # Flux's dry-run found no drift in what obreg wrote (the digest annotation, mounts).
    again = [
        w
        for w in audit_log.writes(cluster.audit_log, writes_before)
        if w.user == kustomize and w.namespace == scenario.namespace and w.name in ours
        and not w.dry_run
    ]
    assert not again, again

    # Field ownership as the API server records it: Flux's manager owns the spec, obreg's
    # the status; on the Deployment obreg's manager owns the pod template's digest.
    owned = _with_managers(scenario, "obidentityprovider", "ob-directory")
    managers = _managers(owned)
    status_managers = _managers(owned, "status")
    assert "f:spec" in managers.get(FLUX_MANAGER, set()), managers
    assert [m for m, fields in managers.items() if "f:spec" in fields] == [FLUX_MANAGER]
    assert [m for m, fields in status_managers.items() if "f:status" in fields] == [
        OBREG_MANAGER
    ], status_managers
    km = _with_managers(scenario, "deployment", "wso2-km")
    digest_owners = [
        entry["manager"]
        for entry in km["metadata"]["managedFields"]
        if "f:obreg.dev/digest" in json.dumps(entry.get("fieldsV1", {}))
    ]
    assert digest_owners == [OBREG_MANAGER], km["metadata"]["managedFields"]

"""Flux's own source-controller and kustomize-controller (testbed/gitops) deploying the
samples from a Git repository served locally (a base and an overlay, the Secrets
included), with the Kustomization of gitops/flux/kustomization.yaml: what a Flux user
sees of obreg's resources, and that Flux and obreg leave each other's writes alone, also
over an idle window (OBREG_GITOPS_IDLE_SECONDS, 300 s by default)."""

from __future__ import annotations

import copy
import json
import os
import time
from typing import Any

import pytest

from obreg.kube.api import FIELD_MANAGER
from testbed import audit_log
from testbed.controlplane.launcher import ControlPlane
from testbed.gitops import flux
from testbed.gitops.build import KUSTOMIZE
from tests.e2e.harness import OBREG, Scenario
from tests.gitops.fluxrepo import (
    DEPLOY,
    INTERVAL,
    OB_RESOURCES,
    WORKLOADS,
    Deployed,
    condition,
    resources,
)
from tests.kubetools import poll

pytestmark = pytest.mark.cluster

# The field managers of Flux's applies and of obreg's writes.
FLUX_MANAGER = "kustomize-controller"
OBREG_MANAGER = FIELD_MANAGER
# How long Flux and obreg are watched side by side with nothing changing in Git: the five
# minutes of the issue by default (make e2e-gitops), shorter for a local run with the
# variable set (no less than IDLE_MIN: Flux must compare at least once).
IDLE_ENV = "OBREG_GITOPS_IDLE_SECONDS"
IDLE = float(os.environ.get(IDLE_ENV, "300"))
IDLE_MIN = INTERVAL + 10
# What kustomize-controller writes of its own while idle: its objects' status, events
# about them.
FLUX_OWN = {"kustomizations", "gitrepositories", "events"}


def _ready_since(obj: dict[str, Any]) -> str:
    return str(condition(obj.get("status", {}), "Ready")["lastTransitionTime"])


def test_kustomization_is_ready_only_once_obreg_resources_are(deployed: Deployed) -> None:
    ready = deployed.wait_ready(deployed.revision)
    scenario = deployed.scenario
    found = resources(scenario)
    assert {r["kind"] for r in found} == {
        "OBTrustAnchor", "OBIdentityProvider", "OBServiceProvider"
    }  # fmt: skip
    for resource in found:
        status = resource["status"]
        assert condition(status, "Ready")["status"] == "True", resource["metadata"]["name"]
        # kstatus reads a Ready condition as current only for the generation observed.
        assert status["observedGeneration"] == resource["metadata"]["generation"]
    # RFC 3339 stamps of one clock compare as text: Flux turned Ready no earlier than the
    # last of obreg's resources did (its health checks waited for obreg's status).
    assert ready["lastTransitionTime"] >= max(_ready_since(r) for r in found)
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
        and condition(deployed.status(), "Ready").get("status") == "True",
        DEPLOY,
        "Flux applied the same revision again",
    )
    assert scenario.rollouts() == {"wso2-km": 2, "wso2-apim": 1}
    assert all(c["status"] == "True" for c in scenario.ready_conditions().values())

    writes = [w for w in audit_log.writes(cluster.audit_log, offset) if not w.dry_run]
    kustomize = flux.user(KUSTOMIZE)
    ours = {r["metadata"]["name"] for r in resources(scenario)} | {"wso2-km", "wso2-apim"}
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


def _digests(deployed: Deployed) -> dict[str, set[str]]:
    """Per workload, the digests its ConfigMap, Secret and pod template carry."""
    scenario = deployed.scenario
    found: dict[str, set[str]] = {}
    for workload in WORKLOADS:
        config = scenario.get("configmap", f"obreg-{workload}")["metadata"]
        secret = scenario.get("secret", f"obreg-{workload}")["metadata"]
        template = scenario.get("deployment", workload)["spec"]["template"]["metadata"]
        found[workload] = {
            str((m.get("annotations") or {}).get("obreg.dev/digest"))
            for m in (config, secret, template)
        }
    return found


def _settled(deployed: Deployed) -> bool:
    """Nothing left to do for either: the Kustomization Ready at the last revision and
    not reconciling, every resource Ready for its generation, each workload's objects
    and pod template on one digest."""
    status = deployed.status()
    if condition(status, "Ready").get("status") != "True":
        return False
    if condition(status, "Reconciling").get("status") == "True":
        return False
    if not str(status.get("lastAppliedRevision", "")).endswith(deployed.head):
        return False
    for resource in resources(deployed.scenario):
        current = resource.get("status", {}).get("observedGeneration")
        if current != resource["metadata"]["generation"]:
            return False
        if condition(resource.get("status", {}), "Ready").get("status") != "True":
            return False
    return all(len(d) == 1 and "None" not in d for d in _digests(deployed).values())


def test_no_write_loop_between_flux_and_obreg_while_idle(
    deployed: Deployed, cluster: ControlPlane
) -> None:
    """Nothing changes in Git for IDLE seconds: Flux keeps applying the revision every
    interval (dry runs, its drift check) and obreg keeps its watches and periodic resync.
    A fight is a real write (not a dry run) by either to anything in the scenario's
    namespace: obreg's resources (spec or status), their input ConfigMaps and Secrets,
    obreg's output objects, the workloads. Flux's writes of its own objects' status (the
    Kustomization, the GitRepository, in flux-system) and obreg's Lease renewals (in its
    own namespace) are each one's own bookkeeping, not a write to the other's."""
    if IDLE < IDLE_MIN:
        pytest.fail(
            f"{IDLE_ENV}={IDLE:.0f}: at least {IDLE_MIN} s (one Kustomization interval of "
            f"{INTERVAL} s and a margin), or Flux compares nothing"
        )
    scenario = deployed.scenario
    poll(
        lambda: _settled(deployed),
        DEPLOY,
        lambda: f"Flux and obreg settled: {deployed.status()}; digests {_digests(deployed)}",
    )
    offset = audit_log.end(cluster.audit_log)
    kustomize = flux.user(KUSTOMIZE)

    def fights() -> list[audit_log.Request]:
        return [
            w for w in audit_log.writes(cluster.audit_log, offset)
            if w.user in (kustomize, OBREG) and w.namespace == scenario.namespace
            and not w.dry_run
        ]  # fmt: skip

    # A fixed measurement window, not a wait for something: the absence of writes is
    # what is measured, for IDLE seconds. It ends at the first fight, which fails at once.
    deadline = time.monotonic() + IDLE
    while time.monotonic() < deadline:
        found = fights()
        left = deadline - time.monotonic()
        assert not found, f"a write while idle ({left:.0f} s before the window's end): {found}"
        time.sleep(2)
    found = fights()
    assert not found, f"a write while idle: {found}"

    # The window proves something only if Flux compared Git with the cluster in it: its
    # dry-run applies of obreg's resources, one per interval.
    compared = [
        w for w in audit_log.writes(cluster.audit_log, offset)
        if w.user == kustomize and w.dry_run and w.resource == "obtrustanchors"
        and w.namespace == scenario.namespace
    ]  # fmt: skip
    expected = max(1, int(IDLE // (2 * INTERVAL)))
    assert len(compared) >= expected, (
        f"Flux dry-ran the anchor {len(compared)} times in {IDLE:.0f} s, expected at "
        f"least {expected} (every {INTERVAL} s): the window saw no comparison"
    )
    own = [w for w in audit_log.writes(cluster.audit_log, offset)
           if w.user == kustomize and w.namespace == flux.NAMESPACE]  # fmt: skip
    assert all(w.resource in FLUX_OWN for w in own), own

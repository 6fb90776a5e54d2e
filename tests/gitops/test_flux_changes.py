"""Changes as a Flux user makes them, in Git, on the samples Flux deployed: a broken
certificate fails the Kustomization and points at obreg's refusal, a good commit
recovers with one rollout per workload, and a resource removed from Git (``prune: true``)
is deleted by Flux and its CA leaves the truststores obreg wrote. The tests run in this
order on one deployment: each starts from the state the one before left."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from testbed import audit_log
from testbed.controlplane.launcher import ControlPlane
from testbed.gitops import flux
from testbed.gitops.build import KUSTOMIZE
from tests.bad_inputs import CASES, Docs
from tests.e2e.harness import consistently, window
from tests.gitops.fluxrepo import (
    DEPLOY,
    WORKLOADS,
    Deployed,
    condition,
    truststore_aliases,
)
from tests.kubetools import poll
from tests.pki import issue

pytestmark = pytest.mark.cluster

# A bad certificate in the anchor's own spec (tests/bad_inputs.py): the change bumps the
# anchor's generation, so Flux's health check waits for obreg's verdict on it rather than
# reading the previous Ready (a bad PEM in the referenced ConfigMap leaves the generation
# as it was: Flux may call that revision Ready before obreg has read the ConfigMap).
BROKEN = "inline that is not PEM"
ANCHOR = "ob-directory-cas"
# The second anchor the good commit adds and the pruning commit removes.
EXTRA = "extra-cas"
EXTRA_ALIAS = "extraca"
# A failing health check ends at the first terminal state (every resource Current or
# Failed) or at the Kustomization's timeout (90 s): beyond DEPLOY's bound for a success.
FAILURE = DEPLOY + 60
# The mark (Deployed.marks) of the rollout counts the broken commit started from.
BEFORE_BROKEN = "before the broken commit"
# A resource in Flux's health-check failure (fluxcd/pkg/ssa's wording): kind, namespace,
# name.
FAILED = re.compile(r"(OB\w+)/([a-z0-9.-]+)/([a-z0-9.-]+) status: 'Failed'")


def _case(name: str) -> tuple[Callable[[Docs], None], str, str]:
    """A bad-input case's mutation, field path and obreg's message."""
    mutate, path, message = next((c[1], c[2], c[3]) for c in CASES if c[0] == name)
    return mutate, path, message


def _extra_anchor(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "obreg.dev/v1alpha1",
        "kind": "OBTrustAnchor",
        "metadata": {"name": EXTRA, "namespace": namespace},
        "spec": {
            "targets": [{"name": w} for w in WORKLOADS],
            "certificates": [{"alias": EXTRA_ALIAS, "inline": issue("Extra CA").pem.decode()}],
        },
    }


def _no_more_rollouts(deployed: Deployed, expected: dict[str, int], what: str) -> None:
    """The workloads' rollout counts reached ``expected``, then stay there over the
    plane's absence window (harness.window()): exactly that many, not at least."""
    scenario = deployed.scenario
    poll(
        lambda: scenario.revisions() == expected,
        DEPLOY,
        lambda: f"{what}: rollouts {expected}, seen {scenario.revisions()}",
    )
    consistently(
        lambda: scenario.revisions() == expected,
        window(),
        f"{what}: a rollout more than {expected}",
    )


def test_a_broken_certificate_fails_the_kustomization_naming_obregs_refusal(
    deployed: Deployed,
) -> None:
    scenario = deployed.scenario
    deployed.wait_ready(deployed.revision)
    # One rollout each by obreg for the first commit (its ReplicaSets with a digest; the
    # Deployment's own count may include the template before obreg's digest), then the
    # Deployments' counts as the baseline of the exact counts below.
    poll(
        lambda: scenario.rollouts() == dict.fromkeys(WORKLOADS, 1),
        DEPLOY,
        lambda: f"one rollout each for the first commit, seen {scenario.rollouts()}",
    )
    first = scenario.revisions()
    _no_more_rollouts(deployed, first, "the first commit")

    mutate, path, message = _case(BROKEN)
    docs = copy.deepcopy(scenario.docs)
    mutate(docs)
    broken = deployed.push(docs, "a certificate that is not PEM")

    seen: dict[str, Any] = {}
    # What Flux says: which resource failed, by kind, namespace and name. With fail-fast
    # it may first name only a sibling the anchor blocks; it names the anchor once its
    # check reads all three.
    named = f"OBTrustAnchor/{scenario.namespace}/{ANCHOR} status: 'Failed'"

    def failed() -> bool:
        seen.clear()
        seen.update(deployed.status())
        ready = condition(seen, "Ready")
        return str(seen.get("lastAttemptedRevision", "")).endswith(broken) and (
            ready.get("status") == "False"
            and ready.get("reason") == "HealthCheckFailed"
            and named in str(ready.get("message"))
        )

    poll(
        failed,
        FAILURE,
        lambda: f"Ready False (HealthCheckFailed) at {broken} naming {named}; last {seen}",
    )
    flux_message = str(condition(seen, "Ready")["message"])
    # What each resource Flux names says: the anchor, obreg's own refusal (the field and
    # the reason) in the conditions Flux's health check read (Stalled, and Ready False
    # with its message); a sibling it blocks (same workloads), that the anchor is invalid.
    failures = FAILED.findall(flux_message)
    assert ("OBTrustAnchor", ANCHOR) in [(kind, name) for kind, _, name in failures], failures
    for kind, namespace, name in failures:
        status = scenario.get(kind.lower(), name)["status"]
        ready = condition(status, "Ready")
        assert condition(status, "Stalled").get("status") == "True", (kind, status)
        if kind == "OBTrustAnchor":
            expected = [path, message]
        else:
            expected = [f"OBTrustAnchor {namespace}/{ANCHOR} is invalid"]
        for text in expected:
            assert text in ready.get("message", ""), f"{text!r} not in {kind} {name}'s {ready}"
    anchor = scenario.get("obtrustanchor", ANCHOR)
    assert anchor["status"]["observedGeneration"] == anchor["metadata"]["generation"]
    # Flux 2.9 does not copy a resource's message into its own (fluxcd/pkg/ssa's wait
    # reports each failed resource's status only): a Flux user reads obreg's refusal on
    # the resource the Kustomization names. docs/gitops.md says so; if this fails, Flux
    # now carries it, and that page should say so instead.
    assert message not in flux_message, flux_message
    # Nothing of the broken commit reached a workload: obreg kept the last good files.
    assert scenario.revisions() == first
    deployed.marks[BEFORE_BROKEN] = first


def test_a_good_commit_recovers_with_one_rollout_per_workload(deployed: Deployed) -> None:
    scenario = deployed.scenario
    before = scenario.revisions()
    # None for the broken commit, also later than the broken test looked.
    assert before == deployed.marks.get(BEFORE_BROKEN, before), (before, deployed.marks)
    docs = [*copy.deepcopy(scenario.docs), _extra_anchor(scenario.namespace)]
    good = deployed.push(docs, "the anchor's certificates again, and another CA")
    deployed.wait_ready(good)

    for name in (ANCHOR, EXTRA):
        anchor = scenario.get("obtrustanchor", name)
        assert condition(anchor["status"], "Ready").get("status") == "True", anchor["status"]
        assert condition(anchor["status"], "Stalled").get("status") != "True", anchor["status"]
    # One rollout each for the good commit.
    _no_more_rollouts(deployed, {w: n + 1 for w, n in before.items()}, "the good commit")
    for workload in WORKLOADS:
        aliases = truststore_aliases(scenario, workload)
        assert {"tpproot", "tppissuer", EXTRA_ALIAS} <= aliases, (workload, aliases)


def _inventory(deployed: Deployed) -> list[str]:
    entries = deployed.status().get("inventory", {}).get("entries", [])
    return [str(e["id"]) for e in entries]


def test_a_resource_pruned_from_git_leaves_the_truststores(
    deployed: Deployed, cluster: ControlPlane
) -> None:
    scenario = deployed.scenario
    assert any(f"_{EXTRA}_" in e for e in _inventory(deployed)), _inventory(deployed)
    before = scenario.revisions()
    offset = audit_log.end(cluster.audit_log)
    pruned = deployed.push(scenario.docs, "the other CA removed")
    deployed.wait_ready(pruned)

    left: list[str] = []

    def deleted() -> bool:
        shown = scenario.kubectl("get", "obtrustanchor", EXTRA, "-n", scenario.namespace,
                                 "-o", "json", check=False)  # fmt: skip
        left[:] = [shown.stdout]
        return shown.returncode != 0

    poll(deleted, DEPLOY, lambda: f"Flux to delete the pruned anchor; still there: {left}")
    assert not any(f"_{EXTRA}_" in e for e in _inventory(deployed)), _inventory(deployed)
    deletes = [
        w for w in audit_log.writes(cluster.audit_log, offset)
        if w.verb == "delete" and w.resource == "obtrustanchors" and w.name == EXTRA
        and not w.dry_run and w.code < 300
    ]  # fmt: skip
    assert [w.user for w in deletes] == [flux.user(KUSTOMIZE)], deletes

    # obreg takes the deleted anchor's CA out of every truststore it was in, one rollout
    # each, and keeps the rest (the objects are rewritten, not emptied: the other
    # resources of each workload remain).
    _no_more_rollouts(deployed, {w: n + 1 for w, n in before.items()}, "the pruning")
    for workload in WORKLOADS:
        aliases = truststore_aliases(scenario, workload)
        assert EXTRA_ALIAS not in aliases, (workload, aliases)
        assert {"tpproot", "tppissuer"} <= aliases, (workload, aliases)
    ready = scenario.ready_conditions()
    assert len(ready) == 3 and all(c.get("status") == "True" for c in ready.values()), ready

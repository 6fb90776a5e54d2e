"""A scenario deployed by Flux from a Git repository of ours: the repository's layout (a
base of the documents and an overlay setting the namespace), the Kustomization of
gitops/flux/kustomization.yaml pointed at it, and reads of what Flux reports."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jks
import yaml

from testbed.gitops import flux
from testbed.gitops.gitserver import GitServer, Repository
from tests.e2e.harness import Scenario
from tests.kubetools import poll

FLUX = Path(__file__).resolve().parents[2] / "gitops" / "flux" / "kustomization.yaml"
OB_RESOURCES = ("obtrustanchors", "obidentityproviders", "observiceproviders")
# What a Kustomization is given to turn a change Ready (fetch, apply, obreg's reconcile,
# health checks).
DEPLOY = 120
# How often the Kustomization applies its revision again (the drift check, dry runs of
# every object) when nothing changed in Git; a deployment's own is longer (10m).
INTERVAL = 30


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


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


@dataclass
class Deployed:
    """The scenario deployed by Flux: the repository, its first and last revisions, the
    Kustomization's status."""

    scenario: Scenario
    repository: Repository
    revision: str = ""
    # The last revision pushed.
    head: str = ""
    # Rollout counts at named points, for a later test of the same deployment.
    marks: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.namespace

    def push(self, docs: list[dict[str, Any]], message: str) -> str:
        self.head = self.repository.commit(files(docs, self.scenario.namespace), message)
        return self.head

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
            seen.clear()
            seen.update(self.status())
            ready = condition(seen, "Ready")
            return str(seen.get("lastAppliedRevision", "")).endswith(revision) and (
                ready.get("status") == "True"
            )

        poll(reached, DEPLOY, lambda: f"Ready at {revision}; last status {seen}")
        return condition(seen, "Ready")


@contextmanager
def deploy(scenario: Scenario, git_server: GitServer, work: Path) -> Iterator[Deployed]:
    """The scenario's documents committed to a repository of their own and a GitRepository
    and Kustomization (gitops/flux's, pointed at it) applied; both deleted on leaving."""
    repository = Repository(git_server, scenario.namespace, work / scenario.namespace)
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
        interval=f"{INTERVAL}s",
        retryInterval="5s",
        timeout="90s",
    )
    for check in kustomization["spec"]["healthChecks"]:
        check["namespace"] = scenario.namespace
    scenario.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([source, kustomization]))
    yield result
    scenario.kubectl("delete", "kustomization,gitrepository", result.name, "-n", flux.NAMESPACE)


def resources(scenario: Scenario) -> list[dict[str, Any]]:
    """obreg's resources in the scenario's namespace."""
    listed = scenario.kubectl("get", ",".join(OB_RESOURCES), "-n", scenario.namespace, "-o", "json")
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


WORKLOADS = ("wso2-km", "wso2-apim")
# Where obreg writes the truststore in each workload's objects ("/" is "__" in a key), and
# its password (the samples' anchor names none: WSO2's default).
TRUSTSTORE_KEY = "repository__resources__security__client-truststore.jks"
TRUSTSTORE_PASSWORD = "wso2carbon"


def truststore_aliases(scenario: Scenario, workload: str) -> set[str]:
    """The aliases of the truststore obreg wrote for ``workload`` (in its ConfigMap, or
    its Secret when an input came from a Secret)."""
    for kind, where in (("configmap", "binaryData"), ("secret", "data")):
        stored = scenario.get(kind, f"obreg-{workload}").get(where) or {}
        if TRUSTSTORE_KEY in stored:
            store = base64.b64decode(stored[TRUSTSTORE_KEY])
            return set(jks.KeyStore.loads(store, TRUSTSTORE_PASSWORD).entries)
    raise AssertionError(f"no {TRUSTSTORE_KEY} in obreg-{workload}'s ConfigMap or Secret")

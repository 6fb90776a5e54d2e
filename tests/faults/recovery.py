"""What every fault scenario checks once the fault is over, and the row it reports.

After recovery: every resource Ready, each workload's ConfigMap, pod template and every
status naming the digest that ``obreg render`` computes offline from the inputs as they
are now (so the last change landed, and nothing older won); each workload rolled once per
distinct input it was given; the generated client credentials are the ones made first,
and the Key Manager's app and site.json carry them; and obreg then writes nothing in the
namespace for two resync intervals (a loop driven by events shows within one settle
time, one driven by the resync within one interval).
"""

from __future__ import annotations

import base64
import collections
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json5
import yaml

from obreg.cli import main as obreg_main
from testbed import audit_log
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import Scenario, consistently, obreg_writes
from tests.kubetools import poll
from tests.pki import issue

WORKLOADS = ("wso2-km", "wso2-apim")
DIGEST = "obreg.dev/digest"
ONCE = {"wso2-km": 1, "wso2-apim": 1}
TWICE = {"wso2-km": 2, "wso2-apim": 2}
GENERATED = "obreg-apim-store-client"
RESOURCES = (
    ("obta", "ob-directory-cas"),
    ("obidp", "ob-directory"),
    ("obsp", "apim-store"),
)


@dataclass(frozen=True)
class Row:
    """One line of the Reliability table."""

    fault: str
    what_obreg_did: str
    landed_seconds: float  # until every workload's files were the latest input's
    ready_seconds: float  # until every resource was Ready with them (after rollouts)
    writes: int
    rollouts: dict[str, int]


REPORT: list[Row] = []  # printed at the end of the session (tests/faults/conftest.py)


@dataclass(frozen=True)
class Mark:
    """When a fault ended: the clock and where the audit log stood."""

    at: float
    offset: int


@dataclass
class Watch:
    """A scenario under a fault: where the audit log stood and what the credentials were
    before it, to compare with after."""

    scenario: Scenario
    cluster: ControlPlane
    resync: float
    started: float = field(default_factory=time.monotonic)
    offset: int = 0
    credentials: tuple[str, dict[str, str]] | None = None

    def __post_init__(self) -> None:
        self.offset = audit_log.end(self.cluster.audit_log)

    def keep_credentials(self) -> None:
        """Remember the generated credentials (uid and data): they must never change."""
        poll(lambda: self._credentials() is not None, 60, f"Secret {GENERATED}")
        self.credentials = self._credentials()

    def _credentials(self) -> tuple[str, dict[str, str]] | None:
        found = self.scenario.kubectl(
            "get",
            "secret",
            GENERATED,
            "-n",
            self.scenario.namespace,
            "-o",
            "json",
            check=False,
        )
        if found.returncode != 0:
            return None
        secret = json.loads(found.stdout)
        return secret["metadata"]["uid"], secret["data"]

    def writes(self, offset: int | None = None) -> list[audit_log.Request]:
        """obreg's writes in the scenario's namespace since ``offset`` (default: since the
        watch began)."""
        ns = self.scenario.namespace
        since = self.offset if offset is None else offset
        return [w for w in obreg_writes(self.cluster, since) if w.namespace == ns]

    def mark(self) -> Mark:
        """Call when the fault ends (the process restarted, the server back)."""
        return Mark(time.monotonic(), audit_log.end(self.cluster.audit_log))

    def recovered(
        self, tmp_path: Path, rollouts: dict[str, int], fault: str, what: str, since: Mark
    ) -> Row:
        """Assert recovery (see the module's docstring); ``since`` is when the fault ended,
        from which the recovery time and the writes are counted. Reports and returns the
        table row."""
        scenario = self.scenario
        rendered = offline_objects(scenario, tmp_path)
        expected = {
            w: objects[0]["metadata"]["annotations"][DIGEST] for w, objects in rendered.items()
        }
        poll(lambda: live_digests(scenario) == expected, 180, f"the digests {expected}")
        landed = time.monotonic() - since.at
        files = [obj for objects in rendered.values() for obj in objects]

        def same_files() -> bool:  # the files themselves, so no one's edit stayed
            return all(
                data(scenario.get(obj["kind"].lower(), obj["metadata"]["name"])) == data(obj)
                for obj in files
            )

        poll(same_files, 60, "the live files to be the rendered ones")
        poll(lambda: statuses(scenario) == expected, 120, f"every status to show {expected}")
        scenario.wait_ready(timeout=60)
        recovery = time.monotonic() - since.at
        poll(
            lambda: self.rollouts() == rollouts,
            60,
            lambda: f"rollouts {rollouts}, seen {self.rollouts()}",
        )
        if self.credentials is not None:
            assert self._credentials() == self.credentials, "generated credentials changed"
        client = self.client()
        assert site_json_clients(scenario) == {client}, "site.json carries the credentials"
        poll(lambda: client[0] in scenario.km.db.apps, 60, "the KM app of the client id")
        assert list(scenario.km.db.apps) == [client[0]], "one app, the client's own"
        app = scenario.km.db.apps[client[0]]
        assert app["oauthConsumerSecret"] == scenario.km.stored_secret(client[1])
        made = self.writes(since.offset)
        writes = len(made)
        print(
            f"{fault}: obreg's writes since the fault ended:",
            collections.Counter(
                f"{w.verb} {w.resource}{'/' + w.subresource if w.subresource else ''} {w.code}"
                for w in made
            ),
        )
        quiet = audit_log.end(self.cluster.audit_log)
        ns = scenario.namespace

        before = {(k, n): scenario.get(k, n).get("status") for k, n in RESOURCES}

        def silent() -> bool:
            extra = [w for w in obreg_writes(self.cluster, quiet) if w.namespace == ns]
            if extra:  # say what changed, so the failure tells which rule wrote
                now = {(k, n): scenario.get(k, n).get("status") for k, n in RESOURCES}
                changed = {key: (before[key], now[key]) for key in now if now[key] != before[key]}
                raise AssertionError(
                    f"obreg kept writing after recovery: {extra}; statuses before and "
                    f"after: {json.dumps({str(k): v for k, v in changed.items()}, indent=1)}"
                )
            return True

        consistently(silent, 2 * self.resync + 2, "no write in two resync intervals")
        assert self.rollouts() == rollouts, "no rollout while quiet"
        row = Row(fault, what, round(landed, 1), round(recovery, 1), writes, rollouts)
        REPORT.append(row)
        return row

    def rollouts(self) -> dict[str, int]:
        """Per workload, the distinct digests its ReplicaSets' templates carried: each one
        a rollout obreg caused (a hand restart of the same files adds a ReplicaSet, not a
        digest)."""
        replica_sets = json.loads(
            self.scenario.kubectl("get", "rs", "-n", self.scenario.namespace, "-o", "json").stdout
        )["items"]
        digests: dict[str, set[str]] = {w: set() for w in WORKLOADS}
        for rs in replica_sets:
            annotations = rs["spec"]["template"]["metadata"].get("annotations") or {}
            app = rs["metadata"]["labels"].get("app")
            if app in digests and "obreg.dev/digest" in annotations:
                digests[app].add(annotations["obreg.dev/digest"])
        return {w: len(d) for w, d in digests.items()}

    def client(self) -> tuple[str, str]:
        """The generated client id and secret."""
        data = self.scenario.get("secret", GENERATED)["data"]
        return tuple(  # type: ignore[return-value]
            base64.b64decode(data[key]).decode() for key in ("client-id", "client-secret")
        )


def converged(scenario: Scenario, cluster: ControlPlane, resync: float) -> Watch:
    """The scenario applied and Ready under obreg (started by the caller), rolled once,
    its credentials kept: the start of every fault."""
    watch = Watch(scenario, cluster, resync)
    scenario.apply()
    scenario.wait_ready(timeout=90)
    watch.keep_credentials()
    poll(lambda: watch.rollouts() == ONCE, 60, "the first rollouts")
    return watch


def add_ca(scenario: Scenario, label: str) -> None:
    """The change under test: a CA added to the anchor, new files for both workloads
    (and, once the KM rolled, a check of its database)."""
    anchor = scenario.find("OBTrustAnchor")
    anchor["spec"]["certificates"].append({"alias": label, "inline": issue(label).pem.decode()})
    scenario.apply()


def offline_digests(scenario: Scenario, tmp_path: Path) -> dict[str, str]:
    """Each workload's digest as ``obreg render`` makes it from the scenario's manifests
    and the generated credentials Secret."""
    return {
        w: objects[0]["metadata"]["annotations"][DIGEST]
        for w, objects in offline_objects(scenario, tmp_path).items()
    }


def offline_objects(scenario: Scenario, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Each workload's ConfigMap and Secret as ``obreg render`` makes them from the
    scenario's manifests and the generated credentials Secret."""
    generated = scenario.get("secret", GENERATED)
    generated.pop("status", None)
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        generated["metadata"].pop(key, None)
    tmp_path.mkdir(parents=True, exist_ok=True)
    manifests = tmp_path / "in.yaml"
    manifests.write_text(yaml.safe_dump_all([*scenario.docs, generated]))
    # The operator's digest key, so the digests are the ones the operator writes.
    key = tmp_path / "digest.key"
    key.write_bytes(scenario.digest_key())
    out = tmp_path / "out"
    render = ["render", "-f", str(manifests), "-o", str(out), "--digest-key-file", str(key)]
    assert obreg_main(render) == 0
    return {
        workload: list(
            yaml.safe_load_all(
                (out / scenario.namespace / workload / "obreg-objects.yaml").read_text()
            )
        )
        for workload in WORKLOADS
    }


def data(obj: dict[str, Any]) -> dict[str, str]:
    return {**obj.get("data", {}), **obj.get("binaryData", {})}


def live_digests(scenario: Scenario) -> dict[str, str]:
    """Each workload's digest where all three must agree (ConfigMap, Secret, pod
    template); a disagreement or a missing object is no digest at all."""

    def digest(kind: str, name: str, where: str) -> str:
        found = scenario.kubectl(
            "get", kind, name, "-n", scenario.namespace, "-o", f"jsonpath={where}", check=False
        )
        return found.stdout if found.returncode == 0 else "absent"

    annotation = "{.metadata.annotations.obreg\\.dev/digest}"
    found = {}
    for workload in WORKLOADS:
        seen = {
            digest("configmap", f"obreg-{workload}", annotation),
            digest("secret", f"obreg-{workload}", annotation),
            digest("deployment", workload, "{.spec.template" + annotation[1:]),
        }
        found[workload] = seen.pop() if len(seen) == 1 else f"disagree: {sorted(seen)}"
    return found


def statuses(scenario: Scenario) -> dict[str, str]:
    """The digest per workload that every resource's status shows for its current
    generation (Ready, observedGeneration current), or a mark of what is not so."""
    shown: dict[str, set[str]] = {w: set() for w in WORKLOADS}
    for kind, name in RESOURCES:
        resource = scenario.get(kind, name)
        status = resource.get("status", {})
        ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
        current = status.get("observedGeneration") == resource["metadata"]["generation"]
        for target in status.get("targets", []):
            fine = current and ready.get("status") == "True"
            shown[target["name"]].add(target["digest"] if fine else f"{kind} not Ready yet")
    return {w: d.pop() if len(d) == 1 else f"disagree: {sorted(d)}" for w, d in shown.items()}


def site_json_clients(scenario: Scenario) -> set[tuple[str, str]]:
    """The client id and secret in site.json as obreg wrote it for the API Manager."""
    data = scenario.get("secret", "obreg-wso2-apim")["data"]
    found = set()
    for key, value in data.items():
        if key.endswith("site.json"):
            site = json5.loads(base64.b64decode(value).decode())  # comments, as WSO2 ships it
            client = site["oidcConfiguration"]["clientConfiguration"]
            found.add((client["clientId"], client["clientSecret"]))
    return found

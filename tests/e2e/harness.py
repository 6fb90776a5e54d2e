"""Helpers of the e2e suite: the operator as a process, the sample scenario in a
namespace, and bounded observation of an absence."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.km.destination import ALLOWED_HOSTS_ANNOTATION, authority
from testbed import audit_log, install_obreg, kmdouble
from testbed.controlplane.launcher import ControlPlane
from testbed.kmdouble import KmDouble
from tests.bad_inputs import sample_documents
from tests.kubetools import Kubectl, poll

SETTLE = 0.5
# How long this plane took, from a change applied to the first rollout it caused, as the
# session's scenarios observed it (Scenario.rollouts; not those of tests/faults, which
# break the plane on purpose): an absence of rollouts or writes is watched for twice the
# slowest such reaction, so a loaded machine watches longer.
REACTIONS: list[float] = []


def window() -> float:
    """How long an absence is watched: twice the slowest reaction seen on this plane,
    and never less than the settle time's bound on a reconcile (six settles and two
    seconds) before any reaction was seen."""
    return max(SETTLE * 6 + 2, 2 * max(REACTIONS, default=0.0))


OBREG = install_obreg.USER
# What each pass of the resync logs (obreg/kube/resync.py), when this instance leads.
RESYNC_LINE = "resync: every targeted workload"
# The leader's Lease renewals are the one write an idle obreg makes, by design.
LEASES = {"leases"}


def obreg_writes(cluster: ControlPlane, offset: int) -> list[audit_log.Request]:
    """obreg's write requests (but its Lease renewals) the audit log recorded after
    ``offset``."""
    return [
        w
        for w in audit_log.writes(cluster.audit_log, offset)
        if w.user == OBREG and w.resource not in LEASES
    ]


@dataclass
class Operator:
    """``obreg run`` as a process."""

    kubeconfig: Path
    log: Path
    extra: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: int = 0  # the log's size when this process started

    def start(self) -> Operator:
        with self.log.open("ab") as sink:
            self.started_at = sink.tell()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "obreg.cli",
                    "run",
                    "--settle-seconds",
                    str(SETTLE),
                    *self.extra,
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "KUBECONFIG": str(self.kubeconfig), **(self.env or {})},
            )
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as an OOM kill or a node loss ends it: no clean-up of any kind."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The operator stopped (SIGSTOP) while the block runs, then resumed: it sees the
        block's changes together, as it sees the objects of one quick apply. How a test
        asserts that changes seen together coalesce: on a loaded plane one ``kubectl
        apply`` of three objects spread over 2.7 s, past the tests' settle time (a CI
        run rolled twice so), which is what separate changes rightly do."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def since_start(self) -> str:
        """What the current process wrote: the log is appended to across restarts, and a
        wait for a line must not be met by a line of the process before."""
        with self.log.open("rb") as source:
            source.seek(self.started_at)
            return source.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def assert_alive(self) -> None:
        """Fail with the operator's own log when it has exited."""
        if self.process is not None and self.process.poll() is not None:
            tail = "\n".join(self.text().splitlines()[-30:])
            raise AssertionError(f"obreg run exited with {self.process.returncode}:\n{tail}")


class Scenario:
    """The samples (the runbook scenario) in a namespace of their own, with a KM double
    standing in for the Key Manager's admin services."""

    def __init__(self, kubectl: Kubectl, namespace: str, km: KmDouble, km_ca: bytes) -> None:
        self.kubectl, self.namespace, self.km = kubectl, namespace, km
        self.docs = [d for d in sample_documents() if d["kind"] != "Namespace"]
        # When the last apply was made and how many rollouts there were then, until the
        # first rollout after it is seen (see REACTIONS).
        self.applied: tuple[float, int] | None = None
        # Off where the plane is broken on purpose (tests/faults): not its reactions.
        self.records_reactions = True
        for doc in self.docs:
            doc["metadata"]["namespace"] = namespace
        self.find("OBServiceProvider")["spec"]["keyManagerAdmin"]["url"] = km.url
        self.find("ConfigMap", "km-tls-ca")["data"]["ca.crt"] = km_ca.decode()
        admin = self.find("Secret", "km-admin")
        admin["stringData"]["password"] = km.password
        admin["metadata"]["annotations"][ALLOWED_HOSTS_ANNOTATION] = authority(km.url)

    def digest_key(self) -> bytes:
        """The key of obreg.dev/digest that every operator of the suite shares: in the
        kubeconfig's namespace (the chart's), as ``obreg run`` finds its own namespace."""
        secret = json.loads(
            self.kubectl(
                "get", "secret", "-n", install_obreg.NAMESPACE, "obreg-digest-key", "-o", "json"
            ).stdout
        )
        return base64.b64decode(secret["data"]["key"])

    def find(self, kind: str, name: str | None = None) -> dict[str, Any]:
        return next(
            d for d in self.docs if d["kind"] == kind and name in (None, d["metadata"]["name"])
        )

    def apply(self, docs: list[dict[str, Any]] | None = None) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs or self.docs))
        self.applied = (time.monotonic(), sum(self.rollouts().values()))

    def merge_patch(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        """A JSON merge patch, as someone editing by hand (or a GitOps tool) would."""
        self.kubectl(
            "patch", kind, name, "-n", self.namespace, "--type=merge", "-p", json.dumps(patch)
        )
        self.applied = (time.monotonic(), sum(self.rollouts().values()))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(
            self.kubectl("get", kind, name, "-n", self.namespace, "-o", "json").stdout
        )
        return result

    def rollouts(self) -> dict[str, int]:
        """Per workload, the ReplicaSets whose pod template carries obreg's digest: each is
        one rollout obreg caused (the workload's own first ReplicaSet, made before obreg
        acted, if the controller got there first, does not count)."""
        replica_sets = json.loads(
            self.kubectl("get", "rs", "-n", self.namespace, "-o", "json").stdout
        )["items"]
        counts = {"wso2-km": 0, "wso2-apim": 0}
        for rs in replica_sets:
            annotations = rs["spec"]["template"]["metadata"].get("annotations") or {}
            app = rs["metadata"]["labels"].get("app")
            if app in counts and "obreg.dev/digest" in annotations:
                counts[app] += 1
        if self.applied is not None and sum(counts.values()) > self.applied[1]:
            if self.records_reactions:
                REACTIONS.append(time.monotonic() - self.applied[0])
            self.applied = None
        return counts

    def revisions(self, names: tuple[str, ...] = ("wso2-km", "wso2-apim")) -> dict[str, int]:
        """Each workload's rollout count as its Deployment keeps it: one more per rollout,
        also one back to an earlier pod template (which reuses that ReplicaSet, so a count
        of ReplicaSets would miss it). Read once the deployment controller has synced the
        latest template (observedGeneration): it sets the revision annotation in that sync,
        after obreg's patch, so a read before it is a rollout short (a CI run failed so)."""
        seen: dict[str, dict[str, Any]] = {}

        def synced() -> bool:
            seen.update((name, self.get("deployment", name)) for name in names)
            return all(
                d.get("status", {}).get("observedGeneration") == d["metadata"]["generation"]
                for d in seen.values()
            )

        poll(synced, 60, lambda: f"the deployment controller to sync {', '.join(names)}")
        return {
            name: int(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
            for name, d in seen.items()
        }

    def ready_conditions(self) -> dict[str, dict[str, Any]]:
        """Each resource's Ready condition, as ``Kind name`` -> condition."""
        listed = json.loads(
            self.kubectl("get", "obta,obidp,obsp", "-n", self.namespace, "-o", "json").stdout
        )["items"]
        return {
            f"{item['kind']} {item['metadata']['name']}": next(
                (c for c in item.get("status", {}).get("conditions", []) if c["type"] == "Ready"),
                {},
            )
            for item in listed
        }

    def wait_ready(self, timeout: float = 60) -> None:
        """All of the namespace's resources Ready, read from their conditions with a
        deadline; on a timeout the failure shows each resource's Ready condition, so the
        report says which one is stuck and why (that is how a status-write race was
        found, which kubectl wait's bare "timed out" had hidden)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.ready_conditions()
            if found and all(c.get("status") == "True" for c in found.values()):
                return
            if time.monotonic() > deadline:
                shown = [
                    f"{name}: {c.get('status')} {c.get('reason')}: {c.get('message')}"
                    for name, c in sorted(found.items())
                ]
                pytest.fail(f"not Ready within {timeout:.0f} s:\n" + "\n".join(shown))
            time.sleep(0.2)

    def condition(self, kind: str, name: str, type_: str = "Ready") -> dict[str, Any]:
        conditions = self.get(kind, name).get("status", {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == type_), {})

    def data(self, kind: str, name: str) -> dict[str, str]:
        obj = self.get(kind, name)
        return {**obj.get("data", {}), **obj.get("binaryData", {})}


@contextmanager
def scenario_in_new_namespace(
    kubectl: Kubectl, operator: Operator, prefix: str
) -> Iterator[Scenario]:
    """The samples' scenario with a KM double of its own, in a new namespace named
    ``prefix``-something; the operator checked alive around it, the namespace deleted
    after."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:8]}"
    operator.assert_alive()
    kubectl("create", "namespace", namespace)
    km, km_ca = kmdouble.new(password=f"km-admin-{uuid.uuid4().hex[:8]}")
    yield Scenario(kubectl, namespace, km, km_ca)
    km.stop()
    operator.assert_alive()
    kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def consistently(check: Callable[[], bool], duration: float, what: str) -> None:
    """Assert ``check`` holds throughout a bounded window: how an absence (no rollout,
    no write) is observed; see window() for how long."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(0.2)

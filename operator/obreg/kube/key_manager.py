"""The Key Manager's database steps per OBServiceProvider: the OAuth app, the OIDC claim
and its place in the openid scope, made through the KM's admin services.

They run only once the KM workload runs the files obreg rendered for it (its rollout
with the current digest is complete), because the service provider file and the KM's
database must describe the same client. Requests are coalesced per service provider on
the work queue (workqueue.py), like workload reconciles. A request is a no-op when the
desired state was already reached (no call to the KM), unless forced: when the KM's pods
came back after a restart (a new pod may mean a new database) and on the slow periodic
check. A KM that is down or faults is retried with backoff for as long as that lasts, so
it is caught up without anyone acting once it is back; refused credentials and an
untrusted certificate wait for their Secret or CA to change instead (a refused login
even through forced passes, since each attempt counts toward locking the KM's admin
account). Credentials are read from Secrets at the moment of the call and never kept.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .. import metrics
from ..api.common import SecretKeyRef, TargetResult, WorkloadRef
from ..api.kinds import SERVICE_PROVIDER
from ..api.resource import Resource
from ..api.service_provider import KeyManagerResult, OBServiceProviderSpec
from ..errors import InvalidInput, Where
from ..km import destination, sync
from ..km.client import AdminClient, Connection, KmError
from ..redaction import redact
from ..render import credentials
from ..render.inputs import Inputs, MarkedInputs
from ..rules import km_app, km_steps, state
from ..rules.km_steps import Outcome
from ..rules.workload import Rollout
from . import events, faultpoint
from .api import Api
from .indexes import Indexes, StoreView
from .workqueue import WorkQueue

log = logging.getLogger(__name__)

KIND = SERVICE_PROVIDER.kind  # the kind whose Key Manager steps these are

SpId = tuple[str, str]  # (namespace, name)
ResourceId = tuple[str, str, str]  # (namespace, kind, name)


@dataclass
class KeyManagerSteps:
    """The passes, given what they need of the workload reconciles (controller.py):
    the outcome of the last apply to a KM workload (``files``), the statuses and
    credentials this process wrote that the index may not show yet, and the status
    writer."""

    api: Api
    settle_seconds: float
    files: Callable[[ResourceId, WorkloadRef], TargetResult | None]
    written: Mapping[ResourceId, Mapping[str, Any]]
    generated: Mapping[tuple[str, str], Any]
    write_statuses: Callable[[state.Snapshot, Iterable[tuple[str, str]]], Awaitable[None]]
    # What the passes read (handlers.py); None only in tests that run a pass by hand.
    indexes: Indexes | None = None
    # The operator's digest key (kube/digest_key.py): a refused login's fingerprint is
    # published under it, so a restart does not try that login again. None: in memory only.
    digest_key: bytes | None = field(default=None, repr=False)
    # Whether this instance leads now (kube/lease.py): a standby never calls the KM.
    leading: Callable[[], Awaitable[bool]] | None = None
    outcomes: dict[SpId, Outcome] = field(default_factory=dict)
    rollouts_seen: dict[tuple[str, str, str], Rollout] = field(default_factory=dict)
    # Service providers a forced request is pending for: a newer, unforced request that
    # supersedes it must still re-check the KM.
    forced: set[SpId] = field(default_factory=set)
    # KM workloads (namespace, kind, name) that a pass found still rolling out: the next
    # event that shows them complete requests the steps, even when kopf merged the
    # events of the rollout so that no "incomplete" state was ever seen.
    awaited: set[tuple[str, str, str]] = field(default_factory=set)
    queue: WorkQueue[SpId] = field(init=False)

    def __post_init__(self) -> None:
        # Retried for as long as the KM fails in a way a retry may fix: it is caught up
        # without anyone acting once it is back.
        self.queue = WorkQueue(
            self._pass,
            self.settle_seconds,
            km_steps.RETRY_DELAYS,
            max_retries=None,
            leading=self.leading,
        )

    # -- what status shows ----------------------------------------------------------------

    def result(
        self,
        sp: Resource[OBServiceProviderSpec],
        shown: Mapping[str, Any] | None,
        indexes: Indexes | None,
    ) -> KeyManagerResult | None:
        """The KM outcome status shows for ``sp``: None when it does not ask for one."""
        if sp.spec.key_manager_admin is None:
            return None
        rolling = self._rolling(sp, indexes)
        if rolling is not None:
            return rolling.result
        found = self._known((sp.namespace, sp.name), shown)
        return (
            found.result
            if found
            else km_steps.pending("waiting for the Key Manager's files").result
        )

    def _rolling(
        self, sp: Resource[OBServiceProviderSpec], indexes: Indexes | None
    ) -> Outcome | None:
        """Pending while the KM is not yet running the files obreg gave it: what a pass
        verified was for the files before, so the status written with the new files
        must not say Synced (it did, until the pass after the rollout said Pending and
        then Synced again: a Ready that came too early, then flipped). The rollout's
        end requests that pass."""
        km = sp.spec.key_manager
        files = self.files((sp.namespace, KIND, sp.name), km)
        if files is None or files.state != "Applied" or indexes is None:
            return None
        target = indexes.workload(sp.namespace, km)
        if target is None or km_steps.runs_its_files(files, target):
            return None
        self.awaited.add((sp.namespace, km.kind, km.name))
        return km_steps.pending(f"waiting for {km.kind}/{km.name} to finish rolling out")

    def warnings(self, sp: Resource[OBServiceProviderSpec]) -> list[str]:
        found = self.outcomes.get((sp.namespace, sp.name))
        return list(found.warnings) if found else []

    def _known(self, sp_id: SpId, shown: Mapping[str, Any] | None) -> Outcome | None:
        """This process's last outcome; after a restart, the one the status shows, so a
        restart neither flips Ready nor rewrites the message (its fingerprint is unknown,
        so the next pass checks the KM, unless it shows a refused login of the same
        inputs)."""
        if sp_id in self.outcomes:
            return self.outcomes[sp_id]
        found = (shown or {}).get("keyManagerDatabase")
        if not found:
            return None
        try:
            return km_steps.remembered(KeyManagerResult.model_validate(found))
        except ValueError:
            return None

    def forget(self, namespace: str, name: str) -> None:
        self.outcomes.pop((namespace, name), None)

    # -- requests ---------------------------------------------------------------------------

    def rollout_seen(self, key: tuple[str, str, str], rollout: Rollout) -> bool:
        """Whether the workload's pods just came (back) to all running the current
        template: its first rollout, a new one, pods that restarted, or a rollout a pass
        is waiting for."""
        before = self.rollouts_seen.get(key)
        self.rollouts_seen[key] = rollout
        if not rollout.complete:
            return False
        awaited = key in self.awaited
        self.awaited.discard(key)
        return awaited or before != rollout

    def request_for(self, snap: state.Snapshot, km: WorkloadRef, force: bool = False) -> None:
        """Request the steps of every service provider whose Key Manager is ``km``."""
        for sp in snap.namespace.service_providers:
            if sp.spec.key_manager == km and sp.spec.key_manager_admin is not None:
                self.request(sp.namespace, sp.name, force)

    def request(self, namespace: str, name: str, force: bool = False) -> None:
        if force:
            self.forced.add((namespace, name))
        self.queue.request((namespace, name))

    async def _pass(self, sp_id: SpId, attempt: int) -> bool:
        """One pass on the queue; whether to retry it. A retry always checks the KM."""
        assert self.indexes is not None  # set before any request (handlers.py)
        force = sp_id in self.forced or attempt > 0
        self.forced.discard(sp_id)
        try:
            return await self._steps(sp_id, self.indexes, force)
        except Exception:  # a bug: log it and try again later, like a KM failure
            log.exception("Key Manager steps of %s/%s failed", *sp_id)
            return True

    # -- the steps ----------------------------------------------------------------------------

    async def _steps(self, sp_id: SpId, indexes: Indexes, force: bool) -> bool:
        """One pass; True when it should be retried later."""
        namespace, name = sp_id
        snap = indexes.snapshot(namespace)
        sp = next((s for s in snap.namespace.service_providers if s.name == name), None)
        if sp is None or sp.spec.key_manager_admin is None:
            self.forget(namespace, name)
            return False
        km = sp.spec.key_manager
        rid = (namespace, KIND, name)
        gate = km_steps.gate(self.files(rid, km), indexes.workload(namespace, km), km)
        if gate.rollout:
            self.awaited.add((namespace, km.kind, km.name))
        if gate.wait is not None:
            await self._record(snap, sp, gate.wait)
        if not gate.go:
            return False
        previous = self._known(sp_id, self.written.get(rid) or snap.raw[(KIND, name)].get("status"))
        inputs = Inputs(
            # With the credentials just generated, which the watch may not show yet.
            secrets=StoreView(indexes.secrets, "data", extra=self.generated),
            config_maps=StoreView(indexes.config_maps, "data"),
            secret_labels=StoreView(
                indexes.secrets, "labels", extra=MarkedInputs(self.generated)
            ),
        ).tracked()
        try:
            client_credentials = credentials.resolve(sp, inputs)
            connection = km_connection(sp, inputs, StoreView(indexes.secrets, "annotations"))
        except InvalidInput as err:
            await self._record(snap, sp, Outcome(km_steps.result("Failed", str(err))))
            return False  # a fix to the input is an event that requests again
        assert inputs.log is not None
        read = tuple(inputs.log.warnings)
        want = km_app.desired(sp.spec, client_credentials)
        attempt = km_steps.attempt(want.fingerprint() + connection.fingerprint(), self.digest_key)
        checked = km_steps.memo(previous, attempt, read, force)
        if checked == "rewarn":  # same values; what was trimmed from them changed
            assert previous is not None
            await self._record(snap, sp, dataclasses.replace(previous, warnings=read))
        if checked != "call":
            return False
        secrets = (client_credentials.client_secret, connection.password)
        try:
            async with aiohttp.ClientSession() as session:
                client = AdminClient(
                    connection, session, secrets=(client_credentials.client_secret,)
                )
                try:
                    done = await sync.converge(client, want)
                finally:
                    for operation in client.calls:
                        metrics.KM_CALLS.labels(operation).inc()
        except KmError as err:
            metrics.KM_SYNCS.labels(err.kind).inc()
            await self._report(snap, sp, err.done, secrets)
            outcome, retry = km_steps.failed(
                err.kind,
                redact(str(err), secrets),
                attempt,
                read,
                keyed=self.digest_key is not None,
            )
            log.warning("Key Manager steps of %s: %s", sp.label, outcome.result.message)
            await self._record(snap, sp, outcome)
            return retry
        await faultpoint.reached("key-manager-converged")
        metrics.KM_SYNCS.labels("synced").inc()
        if done or previous is None or previous.result.state != "Synced":
            summary = "; ".join(done) if done else "found already in place"
            message = (
                f"OAuth app {want.app.name}, OIDC claim {want.claim.uri} and scope "
                f"{want.scope} in place ({redact(summary, secrets)})"
            )
        else:
            message = previous.result.message  # verified: nothing new to say
        await self._report(snap, sp, done, secrets)
        synced = km_steps.result("Synced", message)
        await self._record(snap, sp, Outcome(synced, attempt, warnings=read))
        return False

    async def _report(
        self,
        snap: state.Snapshot,
        sp: Resource[OBServiceProviderSpec],
        done: list[str],
        secrets: tuple[str, ...],
    ) -> None:
        """Log and post what a pass changed in the KM, also when it then failed: the next
        pass finds those changes in place and would never tell of them."""
        if not done:
            return
        summary = redact("; ".join(done), secrets)
        log.info("Key Manager steps of %s: %s", sp.label, summary)
        await events.post(
            self.api, [snap.raw[(KIND, sp.name)]], "Normal", "KeyManagerUpdated", summary
        )

    async def _record(
        self, snap: state.Snapshot, sp: Resource[OBServiceProviderSpec], outcome: Outcome
    ) -> None:
        """Keep the outcome and write the service provider's status (if it changed)."""
        self.outcomes[(sp.namespace, sp.name)] = outcome
        await self.write_statuses(snap, [(KIND, sp.name)])


def km_connection(
    sp: Resource[OBServiceProviderSpec],
    inputs: Inputs,
    annotations: Mapping[tuple[str, str], Mapping[str, str]],
) -> Connection:
    """How to reach the KM, refused unless the credentials Secret's owner allows its
    credentials to go to that host (see km/destination.py). Public because `obreg import
    --key-manager` reaches the KM by this same rule, so what it read is what the operator
    will read."""
    admin = sp.spec.key_manager_admin
    assert admin is not None  # only called for service providers that set it
    where = Where(sp.label, "spec.keyManagerAdmin")
    place = where.child("credentialsSecret")
    values = [
        inputs.secret_text(
            sp.namespace, SecretKeyRef(name=admin.credentials_secret, key=key), place
        )
        for key in ("username", "password")
    ]
    url = admin.url or sp.spec.key_manager_url
    secret = f"Secret {sp.namespace}/{admin.credentials_secret}"
    if not destination.permitted(
        annotations.get((sp.namespace, admin.credentials_secret), {}), url
    ):
        raise place.refuse(
            f"{secret} does not allow its credentials to be sent to {destination.authority(url)}",
            f"the Secret's owner lists allowed hosts in its annotation "
            f"{destination.ALLOWED_HOSTS_ANNOTATION}",
        )
    ca = inputs.file(sp.namespace, admin.ca, where.child("ca")) if admin.ca else None
    return Connection(
        url=url,
        username=values[0],
        password=values[1],
        ca_pem=ca,
        server_name=admin.server_name,
        timeout=float(admin.timeout_seconds),
    )

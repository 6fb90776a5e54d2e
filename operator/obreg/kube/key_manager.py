"""The Key Manager's database steps per OBServiceProvider: the OAuth app, the OIDC claim
and its place in the openid scope, made through the KM's admin services.

They run only once the KM workload runs the files obreg rendered for it (its rollout
with the current digest is complete), because the service provider file and the KM's
database must describe the same client. Requests are coalesced per service provider like
workload reconciles. A request is a no-op when the desired state was already reached
(no call to the KM), unless forced: when the KM's pods came back after a restart (a new
pod may mean a new database) and on the slow periodic check. A KM that is down or
faults is retried with backoff for as long as that lasts, so it is caught up without
anyone acting once it is back; refused credentials and an untrusted certificate wait for
their Secret or CA to change instead. Credentials are read from Secrets at the moment of
the call and never kept.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from .. import metrics
from ..api.common import SecretKeyRef, WorkloadRef
from ..api.resource import Resource
from ..api.service_provider import KIND, KeyManagerResult, OBServiceProviderSpec
from ..errors import InvalidInput, Where
from ..km import desired, destination, sync
from ..km.client import AdminClient, Connection, KmError
from ..redaction import redact
from ..render import credentials
from ..render.inputs import Inputs
from . import events, faultpoint, state
from .indexes import Indexes, StoreView

if TYPE_CHECKING:
    from .controller import Controller

log = logging.getLogger(__name__)

SpId = tuple[str, str]  # (namespace, name)
# Between attempts after a failure; the last one repeats until the KM answers.
RETRY_DELAYS = (2.0, 5.0, 10.0, 20.0, 30.0, 60.0)


@dataclass(frozen=True)
class Outcome:
    result: KeyManagerResult
    # Of the desired state reached and the KM it was reached on (URL, CA, credentials),
    # when Synced: pointing obreg at another KM is a change worth a call.
    fingerprint: str | None = None
    # Of the desired state and connection that the KM refused in a way a retry with the
    # same inputs cannot fix (credentials, certificate): only a change is worth a call.
    waits_for_change_of: str | None = None
    # What the Secret-value rule changed in the credentials read (see render/inputs.py).
    warnings: tuple[str, ...] = ()


def _pending(message: str) -> Outcome:
    return Outcome(KeyManagerResult(state="Pending", message=message))


@dataclass
class KeyManagerSteps:
    controller: Controller
    outcomes: dict[SpId, Outcome] = field(default_factory=dict)
    tickets: dict[SpId, int] = field(default_factory=dict)
    locks: collections.defaultdict[SpId, asyncio.Lock] = field(
        default_factory=lambda: collections.defaultdict(asyncio.Lock)
    )
    rollouts_seen: dict[tuple[str, str, str], Mapping[str, Any]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # Service providers a forced request is pending for: a newer, unforced request that
    # supersedes it must still re-check the KM.
    forced: set[SpId] = field(default_factory=set)
    # KM workloads (namespace, kind, name) that a pass found still rolling out: the next
    # event that shows them complete requests the steps, even when kopf merged the
    # events of the rollout so that no "incomplete" state was ever seen.
    awaited: set[tuple[str, str, str]] = field(default_factory=set)

    # -- what status shows ----------------------------------------------------------------

    def result(
        self, sp: Resource[OBServiceProviderSpec], shown: Mapping[str, Any] | None
    ) -> KeyManagerResult | None:
        """The KM outcome status shows for ``sp``: None when it does not ask for one."""
        if sp.spec.key_manager_admin is None:
            return None
        rolling = self._rolling(sp)
        if rolling is not None:
            return rolling.result
        found = self._known((sp.namespace, sp.name), shown)
        return found.result if found else _pending("waiting for the Key Manager's files").result

    def _rolling(self, sp: Resource[OBServiceProviderSpec]) -> Outcome | None:
        """Pending while the KM is not yet running the files obreg gave it: what a pass
        verified was for the files before, so the status written with the new files
        must not say Synced (it did, until the pass after the rollout said Pending and
        then Synced again: a Ready that came too early, then flipped). The rollout's
        end requests that pass."""
        km = sp.spec.key_manager
        files = self.controller.results.get((sp.namespace, KIND, sp.name), {}).get(km)
        indexes = self.controller.indexes
        if files is None or files.result.state != "Applied" or indexes is None:
            return None
        target = indexes.workload(sp.namespace, km)
        if target is None or (
            target.get("digest") == files.result.digest and target["rollout"]["complete"]
        ):
            return None
        self.awaited.add((sp.namespace, km.kind, km.name))
        return _pending(f"waiting for {km.kind}/{km.name} to finish rolling out")

    def warnings(self, sp: Resource[OBServiceProviderSpec]) -> list[str]:
        found = self.outcomes.get((sp.namespace, sp.name))
        return list(found.warnings) if found else []

    def _known(self, sp_id: SpId, shown: Mapping[str, Any] | None) -> Outcome | None:
        """This process's last outcome; after a restart, the one the status shows, so a
        restart neither flips Ready nor rewrites the message (its fingerprint is unknown,
        so the next pass checks the KM)."""
        if sp_id in self.outcomes:
            return self.outcomes[sp_id]
        found = (shown or {}).get("keyManagerDatabase")
        if not found:
            return None
        try:
            return Outcome(KeyManagerResult.model_validate(found))
        except ValueError:
            return None

    def forget(self, namespace: str, name: str) -> None:
        self.outcomes.pop((namespace, name), None)

    # -- requests ---------------------------------------------------------------------------

    def rollout_seen(self, key: tuple[str, str, str], rollout: Mapping[str, Any]) -> bool:
        """Whether the workload's pods just came (back) to all running the current
        template: its first rollout, a new one, pods that restarted, or a rollout a pass
        is waiting for."""
        before = self.rollouts_seen.get(key)
        self.rollouts_seen[key] = rollout
        if not rollout["complete"]:
            return False
        awaited = key in self.awaited
        self.awaited.discard(key)
        return awaited or before != rollout

    def request_for(
        self, snap: state.Snapshot, km: WorkloadRef, indexes: Indexes, force: bool = False
    ) -> None:
        """Request the steps of every service provider whose Key Manager is ``km``."""
        for sp in snap.namespace.service_providers:
            if sp.spec.key_manager == km and sp.spec.key_manager_admin is not None:
                self.request(sp.namespace, sp.name, indexes, force)

    def request(
        self, namespace: str, name: str, indexes: Indexes, force: bool = False, attempt: int = 0
    ) -> None:
        if force:
            self.forced.add((namespace, name))
        task = asyncio.create_task(self._request((namespace, name), indexes, attempt))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _request(self, sp_id: SpId, indexes: Indexes, attempt: int) -> None:
        ticket = self.tickets[sp_id] = self.tickets.get(sp_id, 0) + 1
        delay = (
            self.controller.settle_seconds
            if attempt == 0
            else RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
        )
        await asyncio.sleep(delay)
        if self.tickets.get(sp_id) != ticket:
            return  # a newer request will do the work
        async with self.locks[sp_id]:
            force = sp_id in self.forced or attempt > 0
            self.forced.discard(sp_id)
            try:
                retry = await self._steps(sp_id, indexes, force)
            except Exception:  # a bug: log it and try again later, like a KM failure
                log.exception("Key Manager steps of %s/%s failed", *sp_id)
                retry = True
            if retry:
                self.request(*sp_id, indexes, attempt=attempt + 1)

    # -- the steps ----------------------------------------------------------------------------

    async def _steps(self, sp_id: SpId, indexes: Indexes, force: bool) -> bool:
        """One pass; True when it should be retried later."""
        namespace, name = sp_id
        snap = state.snapshot(namespace, indexes.custom_objects(namespace))
        sp = next((s for s in snap.namespace.service_providers if s.name == name), None)
        if sp is None or sp.spec.key_manager_admin is None:
            self.forget(namespace, name)
            return False
        km = sp.spec.key_manager
        rid = (namespace, KIND, name)
        files = self.controller.results.get(rid, {}).get(km)
        target = indexes.workload(namespace, km)
        previous = self._known(
            sp_id, self.controller.written.get(rid) or snap.raw[(KIND, name)].get("status")
        )
        # Pending is not retried on a timer: the workload event that ends the wait
        # requests again. Before this process reconciled the KM once (just after a
        # start) there is nothing to say yet: that reconcile requests again.
        if files is None:
            return False
        if files.result.state != "Applied":
            why = files.result.state
            await self._record(snap, sp, _pending(f"waiting for the Key Manager's files ({why})"))
            return False
        if not (
            target is not None
            and target.get("digest") == files.result.digest
            and target["rollout"]["complete"]
        ):
            self.awaited.add((namespace, km.kind, km.name))
            await self._record(
                snap, sp, _pending(f"waiting for {km.kind}/{km.name} to finish rolling out")
            )
            return False
        inputs = Inputs(
            # With the credentials just generated, which the watch may not show yet.
            secrets=StoreView(indexes.secrets, "data", extra=self.controller.generated),
            config_maps=StoreView(indexes.config_maps, "data"),
        ).tracked()
        try:
            client_credentials = credentials.resolve(sp, inputs)
            connection = _connection(sp, inputs, StoreView(indexes.secrets, "annotations"))
        except InvalidInput as err:
            failed = KeyManagerResult(state="Failed", message=str(err))
            await self._record(snap, sp, Outcome(failed))
            return False  # a fix to the input is an event that requests again
        assert inputs.log is not None
        read = tuple(inputs.log.warnings)
        want = desired.desired(sp.spec, client_credentials)
        attempt = hashlib.sha256(
            (want.fingerprint() + connection.fingerprint()).encode()
        ).hexdigest()
        if not force and previous is not None:
            if previous.result.state == "Synced" and previous.fingerprint == attempt:
                if previous.warnings != read:  # same values; what was trimmed from them changed
                    await self._record(snap, sp, dataclasses.replace(previous, warnings=read))
                return False
            if previous.waits_for_change_of == attempt:
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
            message = redact(str(err), secrets)
            # Retrying refused credentials on a timer could lock the KM's admin account
            # (IS locks a user after failed logins), and an untrusted certificate or a KM
            # setting obreg cannot work with will not change by itself: they wait for
            # their Secret, ConfigMap or resource to change, or for the periodic check.
            retry = err.kind in ("unavailable", "garbled", "fault")
            if err.kind == "unsupported":
                message += "; obreg checks again when the resource changes and periodically"
            elif not retry:
                message += "; obreg tries again when the referenced Secret or CA changes"
            log.warning("Key Manager steps of %s: %s", sp.label, message)
            failed = KeyManagerResult(
                state="Unavailable" if err.kind in ("unavailable", "garbled") else "Failed",
                message=message,
            )
            await self._record(snap, sp, Outcome(failed, None, None if retry else attempt, read))
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
        synced = KeyManagerResult(state="Synced", message=message)
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
            self.controller.api, [snap.raw[(KIND, sp.name)]], "Normal", "KeyManagerUpdated", summary
        )

    async def _record(
        self, snap: state.Snapshot, sp: Resource[OBServiceProviderSpec], outcome: Outcome
    ) -> None:
        """Keep the outcome and write the service provider's status (if it changed)."""
        self.outcomes[(sp.namespace, sp.name)] = outcome
        await self.controller.write_statuses(snap, only=[(KIND, sp.name)])


def _connection(
    sp: Resource[OBServiceProviderSpec],
    inputs: Inputs,
    annotations: Mapping[tuple[str, str], Mapping[str, str]],
) -> Connection:
    """How to reach the KM, refused unless the credentials Secret's owner allows its
    credentials to go to that host (see km/destination.py)."""
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

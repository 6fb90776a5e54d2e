"""The operator's runtime state: coalesced reconcile requests per workload, the last
result per resource and target, and status and event writes that happen only on change.

Requests for a workload coalesce on the work queue (workqueue.py): one ``kubectl apply``
touching three resources of one workload makes one reconcile and at most one rollout. A
standby requests too (its watches see every change) but a request runs only while this
instance leads (kube/lease.py). A failed reconcile is retried with backoff. What a
reconcile decides is in rules/reconcile.py; kube/reconcile.py makes its calls.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import metrics
from ..api.common import API_VERSION, TargetResult, WorkloadRef
from ..api.kinds import SERVICE_PROVIDER, TRUST_ANCHOR
from ..api.trust_anchor import CertificateSummary
from ..render.inputs import Inputs, MarkedInputs
from ..render.objects import output_name
from ..rules import reconcile as decide
from ..rules import state, status
from ..rules.workload import Workload
from . import events, faultpoint, reconcile
from .api import Api, ApiError, NotLeading
from .indexes import Indexes, StoreView
from .key_manager import KeyManagerSteps
from .workqueue import WorkQueue

log = logging.getLogger(__name__)

ResourceId = tuple[str, str, str]  # (namespace, kind, name)
# After a failed reconcile; then the next event or the periodic resync takes over.
RETRY_DELAYS = (2.0, 5.0, 15.0, 30.0, 60.0)
RECONCILES_AT_ONCE = 8  # enough to keep the render threads and API calls busy
WorkloadId = tuple[str, WorkloadRef]
MANUAL_KM_STEPS = (
    "spec.keyManagerAdmin is unset: make the OAuth app, the OIDC claim and its openid "
    "scope on the Key Manager by hand (a fresh database gets the claim and scope from "
    "the files)"
)


async def _nothing_pending(_: str) -> None:
    return None


async def _always() -> bool:
    return True


@dataclass(frozen=True)
class TargetOutcome:
    """A resource's last outcome on one of its target workloads."""

    result: TargetResult
    warnings: tuple[str, ...] = ()
    certificates: tuple[CertificateSummary, ...] = ()


@dataclass
class Controller:
    api: Api
    settle_seconds: float
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    # One status writer at a time per resource (see write_statuses).
    status_locks: collections.defaultdict[ResourceId, asyncio.Lock] = field(
        default_factory=lambda: collections.defaultdict(asyncio.Lock)
    )
    results: dict[ResourceId, dict[WorkloadRef, TargetOutcome]] = field(default_factory=dict)
    # Targets each resource had when last seen, so a removed target is reconciled too.
    known_targets: dict[ResourceId, frozenset[WorkloadRef]] = field(default_factory=dict)
    # How many resources of each namespace target each workload: ``targeted`` is asked on
    # every event, and scanning every resource of every namespace was quadratic at scale.
    target_counts: dict[str, collections.Counter[WorkloadRef]] = field(default_factory=dict)
    last_events: dict[ResourceId, str] = field(default_factory=dict)
    # What reconciles read (handlers.py); None only in tests that never reconcile.
    indexes: Indexes | None = None
    # Other background work (statuses of invalid resources, a KM rollout's check).
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    workloads_seen: dict[tuple[str, str, str], Workload] = field(default_factory=dict)
    # The status this process last wrote per resource: fresher than the index, which
    # lags behind our own writes when the operator is busy.
    written: dict[ResourceId, dict[str, Any]] = field(default_factory=dict)
    # Credentials Secrets this process created that the index has not shown yet, shared
    # by the reconciles of all workloads (two workloads of one service provider must not
    # both generate: the second create fails and its render would miss the Secret).
    generated: dict[tuple[str, str], Any] = field(default_factory=dict)
    generating: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Waits until the Secrets and ConfigMaps of a namespace being fetched are held
    # (datawatch.py): a reconcile must not read a view older than its request.
    settled: Callable[[str], Awaitable[None]] = _nothing_pending
    # Whether this instance leads now (kube/lease.py); asked before each reconcile and
    # Key Manager pass, and by the API client before each write.
    leading: Callable[[], Awaitable[bool]] = _always
    # The key of the published digest (kube/digest_key.py); None only in tests that
    # never publish one.
    digest_key: bytes | None = field(default=None, repr=False)
    key_manager: KeyManagerSteps = field(init=False)
    queue: WorkQueue[WorkloadId] = field(init=False)

    def __post_init__(self) -> None:
        # Reconciles under way at once are capped: each holds its namespace's snapshot
        # and inputs while it waits for a render thread or an API call, and 1,000
        # requests due together (a start) held 1,000 snapshots, most of the peak memory.
        self.queue = WorkQueue(
            self._pass,
            self.settle_seconds,
            RETRY_DELAYS,
            max_retries=len(RETRY_DELAYS),
            at_once=RECONCILES_AT_ONCE,
            leading=self.leading,
        )
        self.key_manager = KeyManagerSteps(
            api=self.api,
            settle_seconds=self.settle_seconds,
            files=self._files,
            written=self.written,
            generated=self.generated,
            write_statuses=self.write_statuses,
            indexes=self.indexes,
            digest_key=self.digest_key,
            leading=self.leading,
        )

    def _files(self, rid: ResourceId, ref: WorkloadRef) -> TargetResult | None:
        """The outcome of the last reconcile of workload ``ref`` for resource ``rid``."""
        found = self.results.get(rid, {}).get(ref)
        return found.result if found else None

    async def finish(self) -> None:
        """Let the workload reconciles under way end, their retries included, for as
        long as the retry table lasts (then ``stop`` cancels what is left): when obreg's
        CRDs went, the reconciles that take their resources' files away must not be cut
        short, since no other instance will act until the CRDs are back."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.idle(), self.settle_seconds + sum(RETRY_DELAYS))

    async def stop(self) -> None:
        """Cancel every waiting and running reconcile and Key Manager pass. After SIGTERM
        this instance must write no more (a successor may be acting already); what it cut
        short is finished by whoever acts next, as after a kill (tests/faults)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(
            *tasks, self.queue.stop(), self.key_manager.queue.stop(), return_exceptions=True
        )

    def workload_changed(self, key: tuple[str, str, str], held: Workload | None) -> bool:
        """Whether a workload differs from when obreg last saw it in what its files
        depend on: anything but its rollout, whose status updates change nothing there
        (None: it is gone)."""
        if held is None:
            return self.workloads_seen.pop(key, None) is not None
        before = self.workloads_seen.get(key)
        self.workloads_seen[key] = held
        return before is None or dataclasses.replace(before, rollout=held.rollout) != held

    def targeted(self, namespace: str) -> set[WorkloadRef]:
        return set(self.target_counts.get(namespace, ()))

    def namespaces(self) -> list[str]:
        """The namespaces where some resource targets some workload, sorted."""
        return sorted(self.target_counts)

    def stop_acting(self) -> None:
        """This instance stopped leading: forget what it wrote and decided, which the
        next leader may have changed since (its statuses, its Key Manager outcomes), so
        that leading again starts from what the API server shows, as a restart does."""
        self.written.clear()
        self.key_manager.outcomes.clear()

    def track(self, rid: ResourceId, refs: Iterable[WorkloadRef] | None) -> set[WorkloadRef]:
        """Record a resource's current targets (None: deleted); return old and new."""
        before = self.known_targets.get(rid, frozenset())
        after = frozenset(refs) if refs is not None else frozenset()
        self._count(rid[0], before, after)
        if refs is None:
            if rid[1] == TRUST_ANCHOR.kind:
                metrics.certificates(rid[0], rid[2], ())
            metrics.conditions(*rid, ())
            self.known_targets.pop(rid, None)
            self.results.pop(rid, None)
            self.written.pop(rid, None)
            self.last_events.pop(rid, None)
            lock = self.status_locks.get(rid)
            if lock is not None and not lock.locked():
                del self.status_locks[rid]
            self.key_manager.forget(rid[0], rid[2])
            return set(before)
        self.known_targets[rid] = after
        return set(before) | after

    def _count(
        self, namespace: str, before: Iterable[WorkloadRef], after: Iterable[WorkloadRef]
    ) -> None:
        counts = self.target_counts.get(namespace, collections.Counter())
        counts.subtract(before)
        counts.update(after)
        counts = +counts  # without the workloads no resource targets any more
        if counts:
            self.target_counts[namespace] = counts
        else:
            self.target_counts.pop(namespace, None)

    def request(self, namespace: str, refs: Iterable[WorkloadRef]) -> None:
        """Schedule a reconcile of each workload and return at once: the watch that
        called would otherwise hold its next events (and so the store) meanwhile."""
        for ref in refs:
            self.queue.request((namespace, ref))

    async def _pass(self, key: WorkloadId, attempt: int) -> bool:
        """One reconcile on the queue; whether to retry it."""
        namespace, ref = key
        assert self.indexes is not None  # set before any request (handlers.py)
        with metrics.DURATION.time():
            try:
                await self._reconcile(namespace, ref, self.indexes)
            except NotLeading:  # lost the Lease meanwhile: the new leader does it
                return False
            except Exception as err:  # an API error, or a bug: log, count, retry
                metrics.ERRORS.inc()
                log.error(
                    "reconcile of %s/%s %s failed (attempt %d): %s",
                    ref.kind,
                    namespace,
                    ref.name,
                    attempt + 1,
                    err,
                    exc_info=not isinstance(err, ApiError),
                )
                return True
        return False

    async def _reconcile(self, namespace: str, ref: WorkloadRef, indexes: Indexes) -> None:
        await self.settled(namespace)
        snap = indexes.snapshot(namespace)
        for key in [k for k in self.generated if k in indexes.secrets]:
            del self.generated[key]  # the index has caught up
        inputs = Inputs(
            secrets=StoreView(indexes.secrets, "data", extra=self.generated),
            config_maps=StoreView(indexes.config_maps, "data"),
            secret_labels=StoreView(
                indexes.secrets, "labels", extra=MarkedInputs(self.generated)
            ),
            digest_key=self.digest_key,
        )
        target = indexes.workload(namespace, ref)
        name = output_name(ref)
        existing = {
            "ConfigMap": indexes.config_maps.get((namespace, name)),
            "Secret": indexes.secrets.get((namespace, name)),
        }
        current = {kind: decide.ours(obj, ref) for kind, obj in existing.items()}
        foreign = decide.foreign(namespace, name, ref, existing)
        async with self.generating:
            await reconcile.ensure_credentials(snap, inputs, self.api, self.generated)
        outcome = await reconcile.reconcile(
            ref, snap, inputs, target, current, self.api, self.clock(), foreign
        )
        self.remember(namespace, ref, outcome)
        metrics.RECONCILES.labels(decide.worst(r.state for r in outcome.results.values())).inc()
        for anchor, summaries in outcome.certificates.items():
            metrics.certificates(namespace, anchor, summaries)
        if outcome.rolled:
            metrics.ROLLOUTS.labels(namespace, ref.kind, ref.name).inc()
            bodies = [snap.raw[key] for key in outcome.results]
            await events.post(
                self.api,
                bodies,
                "Normal",
                "RolledOut",
                f"{ref.kind}/{ref.name} restarted to read new files (digest {outcome.rolled[:16]})",
            )
        await self.write_statuses(snap, outcome.results)
        # The files a KM's database steps wait for may just have been applied.
        self.key_manager.request_for(snap, ref)

    def remember(self, namespace: str, ref: WorkloadRef, outcome: decide.Outcome) -> None:
        """Keep what this workload's reconcile found for each of its resources."""
        for (kind, name), result in outcome.results.items():
            self.results.setdefault((namespace, kind, name), {})[ref] = TargetOutcome(
                result,
                tuple(outcome.warnings.get((kind, name), ())),
                tuple(outcome.certificates.get(name, ())) if kind == TRUST_ANCHOR.kind else (),
            )

    async def write_statuses(
        self, snap: state.Snapshot, only: Iterable[tuple[str, str]] | None = None
    ) -> None:
        """Status of the resources ``only`` names (default: all of the namespace), once
        every one of their targets has an outcome; and of every invalid resource.

        Reconciles of a resource's different workloads run side by side, and each may
        write its status: under a lock per resource, the status is computed from the
        results as they are at that moment and written before the next writer looks, so
        an older computation can never land after a newer one."""
        namespace = snap.namespace.name
        wanted = set(only) if only is not None else None
        for resource in snap.namespace.resources():
            if wanted is not None and (resource.kind, resource.name) not in wanted:
                continue
            rid = (namespace, resource.kind, resource.name)
            raw = snap.raw[(resource.kind, resource.name)]
            async with self.status_locks[rid]:
                desired = self._status(resource, raw)
                if desired is not None:
                    await self._write_status(rid, raw, desired)
        for invalid in snap.invalid:
            rid = (namespace, invalid.kind, invalid.name)
            raw = snap.raw[(invalid.kind, invalid.name)]
            generation = int(raw["metadata"].get("generation") or 0)
            problems = [f"{p.path}: {p.message}" for p in invalid.problems]
            async with self.status_locks[rid]:
                desired = status.build(
                    generation, [], problems, self._shown(rid, raw), self.clock()
                )
                await self._write_status(rid, raw, desired)

    def _shown(self, rid: ResourceId, raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The status the resource has: what this process last wrote (the index lags
        behind our own writes), else what the index holds (just after a start)."""
        return self.written[rid] if rid in self.written else raw.get("status")

    def _status(self, resource: Any, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        """The status ``resource`` should have now, or None while a target has no
        outcome yet (e.g. just after a start)."""
        rid = (resource.namespace, resource.kind, resource.name)
        known = self.results.get(rid, {})
        refs = sorted(state.targets(resource), key=lambda r: (r.kind, r.name))
        if not all(r in known for r in refs):
            return None
        outcomes = [known[r] for r in refs]
        warnings = sorted({w for o in outcomes for w in o.warnings})
        certificates = next((o.certificates for o in outcomes if o.certificates), ())
        shown = self._shown(rid, raw)
        key_manager = None
        if resource.kind == SERVICE_PROVIDER.kind:
            key_manager = self.key_manager.result(resource, shown, self.indexes)
            if key_manager is None:
                warnings.append(MANUAL_KM_STEPS)
            warnings += [w for w in self.key_manager.warnings(resource) if w not in warnings]
        return status.build(
            resource.generation,
            [o.result for o in outcomes],
            [],
            shown,
            self.clock(),
            certificates,
            warnings,
            key_manager,
        )

    async def _write_status(
        self, rid: ResourceId, raw: Mapping[str, Any], desired: Mapping[str, Any]
    ) -> None:
        if status.same(self._shown(rid, raw), desired):
            metrics.conditions(*rid, desired["conditions"])  # e.g. as a new leader found it
            return
        namespace, kind, name = rid
        try:
            await self.api.patch_status(API_VERSION, kind, namespace, name, desired)
        except ApiError as err:
            if err.status == 404:  # deleted meanwhile: nothing to tell it any more
                self.written.pop(rid, None)
                metrics.conditions(*rid, ())
                return
            raise
        await faultpoint.reached("status-written")
        self.written[rid] = dict(desired)
        metrics.conditions(*rid, desired["conditions"])
        ready = desired["conditions"][0]
        message = ready["message"]
        if ready["status"] != "True" and self.last_events.get(rid) != message:
            await events.post(self.api, [raw], "Warning", ready["reason"], message)
        self.last_events[rid] = message

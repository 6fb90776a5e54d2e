"""kopf wiring only: starting obreg's watches and the resync, and mapping each change to
the workloads it affects.

No kopf resource handlers anywhere: create/update handlers would make kopf store its own
state on the objects (and copy a Secret's data into an annotation), and its indexes of
obreg's resources kept, after a new list, what that list no longer had. obreg's own
watches hold what a reconcile reads: its resources (kube/resources.py), the workloads
and the Secrets and ConfigMaps they read (kube/datawatch.py). kopf runs the operator's
start-up and clean-up, standalone: instances elect a leader over a Lease
(kube/lease.py), and only the leader writes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import kopf

from . import metrics
from .api.common import WorkloadRef
from .kube import datawatch, resync
from .kube.api import Api
from .kube.controller import Controller
from .kube.digest_key import own_namespace
from .kube.indexes import Indexes
from .kube.lease import Elector
from .kube.resources import ResourceWatch
from .kube.tasks import spawn
from .render.objects import WORKLOAD_KIND_LABEL, WORKLOAD_LABEL, managed, output_name
from .rules import state
from .rules.leader import Timing
from .rules.resources import ResourceKey
from .rules.workload import Workload
from .settings import Settings

log = logging.getLogger(__name__)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    config: Settings = memo.settings  # parsed once by obreg run (cli.py)
    # obreg posts its own events; kopf would otherwise also post its log lines as events.
    settings.posting.level = logging.CRITICAL
    # The resources obreg serves are fixed; watching CRDs for new ones would need more RBAC.
    settings.scanning.disabled = True
    api: Api = memo.api  # the process's, as the readiness endpoint (cli.py)
    memo.data = datawatch.DataWatch(
        api,
        config.namespaces,
        functools.partial(_data_changed, memo),
        functools.partial(_workload_changed, memo),
    )
    # A kind no longer served stops this run of kopf (cli.py), as kopf's own watches did.
    memo.resources = ResourceWatch(
        api, config.namespaces, functools.partial(_resource_changed, memo), memo.crds_lost.set
    )
    memo.elector, memo.standby_tasks = None, set()
    if not config.standalone:
        memo.elector = Elector(
            api,
            own_namespace(),
            config.peering_name,
            config.identity,
            Timing(config.lease_duration, config.renew_deadline, config.retry_period),
            functools.partial(_started_leading, memo),
            functools.partial(_stopped_leading, memo),
        )
        # Every write asks, at the moment it is made (kube/api.py).
        api.leading = memo.elector.leading
    memo.controller = Controller(
        api,
        config.settle_seconds,
        indexes=Indexes(
            custom=memo.resources.resources.stores(),
            secrets=memo.data.holdings.view("Secret"),
            config_maps=memo.data.holdings.view("ConfigMap"),
            workloads=memo.data.workloads.held,
        ),
        settled=memo.data.settled,
        leading=functools.partial(_leads, memo),
        digest_key=memo.digest_key,
    )
    # The data first: a resource's reconcile must find what it reads listed.
    await memo.data.start()
    await memo.resources.start()
    held = memo.resources.resources.versions
    log.info("serving obreg's resources: %d listed", len(held))
    memo.readiness.ready = True
    # Not a kopf timer: those put a finalizer on every resource.
    memo.resync = asyncio.create_task(resync.forever(memo.controller, config))
    # Standbys hold everything listed too: a new leader acts at once (_started_leading).
    memo.electing = asyncio.create_task(memo.elector.run()) if memo.elector else None


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    """On SIGTERM: stop writing, then release the Lease, so a standby takes over at its
    next try instead of after the lease duration. When obreg's CRDs went (kopf stopped
    by kube/resources.py), the same, once the reconciles of their deleted resources
    ended: this instance goes on waiting for the CRDs, and nobody else acts meanwhile."""
    memo.readiness.ready = False
    memo.resync.cancel()
    memo.resources.stop()
    if memo.crds_lost.is_set():  # the resources went with their CRDs: take their files away
        await memo.controller.finish()
    if memo.electing is not None:
        memo.electing.cancel()
    memo.data.stop()
    await memo.controller.stop()
    if memo.elector is not None:
        await memo.elector.release()
        memo.api.leading = lambda: True  # the next run of kopf elects anew


# -- leadership -----------------------------------------------------------------------


async def _leads(memo: Any) -> bool:
    return memo.elector is None or bool(memo.elector.leading())


def _started_leading(memo: Any) -> None:
    """Reconcile everything: a standby's events were not acted on (its reconciles
    write nothing when the last leader left all done)."""
    controller: Controller = memo.controller
    indexes = controller.indexes
    assert indexes is not None
    for namespace in controller.namespaces():
        controller.request(namespace, controller.targeted(namespace))
    for namespace in {key[1] for key in memo.resources.resources.versions}:
        snap = indexes.snapshot(namespace)
        if snap.invalid:
            spawn(controller.tasks, _write_invalid(controller, snap))


def _stopped_leading(memo: Any) -> None:
    """Lost the Lease (not renewed within the deadline): stop what is under way, and
    forget what this process wrote, which the next leader may have changed since, and
    stop reporting the resources' state (the leader reports it now)."""
    controller: Controller = memo.controller
    spawn(memo.standby_tasks, controller.stop())
    controller.stop_acting()
    metrics.forget_resources()


# -- changes --------------------------------------------------------------------------


def _resource_changed(memo: Any, item: ResourceKey) -> None:
    """One of obreg's resources appeared, changed or went (a list that lacks it counts as
    its deletion): fetch what it reads, reconcile the workloads it targets or targeted."""
    kind, ns, name = item
    controller: Controller = memo.controller
    indexes = controller.indexes
    assert indexes is not None  # set at start-up, before any watch
    raw = memo.resources.resources.get(item)
    refs = None if raw is None else state.raw_targets(kind, raw["spec"])
    affected = controller.track((ns, kind, name), refs)
    snap = indexes.snapshot(ns)
    memo.data.want(ns, state.reads(snap, controller.targeted(ns) | affected))
    if any(i.name == name and i.kind == kind for i in snap.invalid):
        spawn(controller.tasks, _write_invalid(controller, snap))
    controller.request(ns, affected)


async def _write_invalid(controller: Controller, snap: state.Snapshot) -> None:
    """An invalid resource's own Stalled status (no reconcile of it runs)."""
    try:
        if await controller.leading():
            await controller.write_statuses(snap, only=())
    except Exception as err:  # its next change or the resync writes it again
        log.warning("status of an invalid resource in %s: %s", snap.namespace.name, err)


def _data_changed(memo: Any, item: tuple[str, str, str]) -> None:
    """A held Secret or ConfigMap changed, appeared or went: reconcile the workloads that
    read it at once, and the workload whose output it is (drift to revert) unless the
    change is obreg's own write coming back (kube/api.py's judge)."""
    kind, ns, name = item
    controller: Controller = memo.controller
    indexes = controller.indexes
    if indexes is None:  # no resource seen yet, so none reads it
        return
    if controller.targeted(ns):
        snap = indexes.snapshot(ns)
        controller.request(ns, state.workloads_reading(snap.namespace, kind, name))
    held = memo.data.holdings.held.get(item)
    if held is None:
        controller.api.forget_written(kind, ns, name)
        _output_changed(memo, item)
    else:
        controller.api.judge(
            kind, ns, name, held.resource_version, functools.partial(_output_changed, memo, item)
        )


def _output_changed(memo: Any, item: tuple[str, str, str]) -> None:
    """Someone else changed or removed a Secret or ConfigMap that may be obreg's output:
    reconcile the workload it is the output of, maybe one no resource targets any more
    (its labels say which)."""
    kind, ns, name = item
    controller: Controller = memo.controller
    refs = {ref for ref in controller.targeted(ns) if output_name(ref) == name}
    held = memo.data.holdings.held.get(item)
    labels = held.labels if held is not None else {}
    if managed(labels) and WORKLOAD_LABEL in labels:
        refs.add(
            WorkloadRef.model_validate(
                {
                    "kind": labels.get(WORKLOAD_KIND_LABEL, "Deployment"),
                    "name": labels[WORKLOAD_LABEL],
                }
            )
        )
    controller.request(ns, refs)


def _workload_changed(memo: Any, key: tuple[str, str, str]) -> None:
    """A workload's summary changed, appeared or went (datawatch.py): reconcile it if
    some resource targets it; re-check its Key Manager steps when its rollout ended."""
    ns, kind, name = key
    controller: Controller = memo.controller
    held: Workload | None = memo.data.workloads.held.get(key)
    if held is None:  # gone, whether or not something still targets it
        controller.api.forget_written(kind, ns, name)
    indexes = controller.indexes
    ref = WorkloadRef.model_validate({"kind": kind, "name": name})
    if indexes is None or ref not in controller.targeted(ns):
        return
    # Status updates during a rollout change nothing the files depend on, and obreg's
    # own apply coming back is done already: no reconcile.
    if controller.workload_changed(key, held):
        if held is None:
            controller.request(ns, [ref])
        else:
            controller.api.judge(
                kind, ns, name, held.resource_version, lambda: controller.request(ns, [ref])
            )
    # Pods all running the current template again (a rollout ended, or a Key Manager's
    # pods restarted, maybe onto a new database): re-check its database items.
    if held is not None and controller.key_manager.rollout_seen(key, held.rollout):
        spawn(controller.tasks, _key_manager_rolled_out(controller, ns, ref, indexes))


async def _key_manager_rolled_out(
    controller: Controller, ns: str, ref: WorkloadRef, indexes: Indexes
) -> None:
    if await controller.leading():
        snap = indexes.snapshot(ns)
        controller.key_manager.request_for(snap, ref, force=True)

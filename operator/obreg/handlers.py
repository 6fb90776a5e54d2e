"""kopf wiring only: starting obreg's watches and the resync, and mapping each change to
the workloads it affects.

No kopf resource handlers anywhere: create/update handlers would make kopf store its own
state on the objects (and copy a Secret's data into an annotation), and its indexes of
obreg's resources kept, after a new list, what that list no longer had. obreg's own
watches hold what a reconcile reads: its resources (kube/resources.py), the workloads
and the Secrets and ConfigMaps they read (kube/datawatch.py). kopf runs the operator's
start-up and clean-up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import kopf

from .api.common import WorkloadRef
from .kube import datawatch, resync
from .kube.api import Api
from .kube.controller import Controller
from .kube.indexes import Indexes
from .kube.resources import ResourceWatch
from .kube.tasks import spawn
from .render.objects import WORKLOAD_KIND_LABEL, WORKLOAD_LABEL, managed, output_name
from .rules import state
from .rules.resources import ResourceKey
from .rules.workload import Workload
from .settings import Settings

log = logging.getLogger(__name__)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    config = Settings.from_environment()
    # obreg posts its own events; kopf would otherwise also post its log lines as events.
    settings.posting.level = logging.CRITICAL
    settings.peering.name = config.peering_name
    # The resources obreg serves are fixed; watching CRDs for new ones would need more RBAC.
    settings.scanning.disabled = True
    settings.peering.mandatory = config.peering_mandatory
    settings.peering.priority = config.priority
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
    memo.controller = Controller(
        api,
        config.settle_seconds,
        settled=memo.data.settled,
        leading=functools.partial(resync.leads_now, api, config),
        digest_key=memo.digest_key,
    )
    memo.controller.indexes = Indexes(
        custom=memo.resources.resources.stores(),
        secrets=memo.data.holdings.view("Secret"),
        config_maps=memo.data.holdings.view("ConfigMap"),
        workloads=memo.data.workloads.held,
    )
    # The data first: a resource's reconcile must find what it reads listed.
    await memo.data.start()
    await memo.resources.start()
    held = memo.resources.resources.versions
    log.info("serving obreg's resources: %d listed", len(held))
    memo.readiness.ready = True
    # Not a kopf timer: those put a finalizer on every resource.
    memo.resync = asyncio.create_task(resync.forever(memo.controller, api, config))


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    memo.readiness.ready = False
    memo.resync.cancel()
    memo.resources.stop()
    memo.data.stop()
    await memo.controller.stop()


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
    snap = state.snapshot(ns, indexes.custom_objects(ns))
    memo.data.want(ns, state.reads(snap, controller.targeted(ns) | affected))
    if any(i.name == name and i.kind == kind for i in snap.invalid):
        spawn(controller.tasks, _write_invalid(controller, snap))
    controller.request(ns, affected, indexes, ask_leader=True)


async def _write_invalid(controller: Controller, snap: state.Snapshot) -> None:
    """An invalid resource's own Stalled status (no reconcile of it runs)."""
    try:
        if await controller.leading():
            await controller.write_statuses(snap, only=())
    except Exception as err:  # its next change or the resync writes it again
        log.warning("status of an invalid resource in %s: %s", snap.namespace.name, err)


def _data_changed(memo: Any, item: tuple[str, str, str]) -> None:
    """A held Secret or ConfigMap changed, appeared or went: reconcile the workloads that
    read it, or whose output it is (drift to revert)."""
    kind, ns, name = item
    controller: Controller = memo.controller
    indexes = controller.indexes
    if indexes is None:  # no resource seen yet, so none reads it
        return
    targeted = controller.targeted(ns)
    refs = {ref for ref in targeted if output_name(ref) == name}
    held = memo.data.holdings.held.get(item)
    labels = held.labels if held is not None else {}
    if managed(labels) and WORKLOAD_LABEL in labels:
        # obreg's own output, maybe of a workload no resource targets any more.
        refs.add(
            WorkloadRef.model_validate(
                {
                    "kind": labels.get(WORKLOAD_KIND_LABEL, "Deployment"),
                    "name": labels[WORKLOAD_LABEL],
                }
            )
        )
    if targeted:
        snap = state.snapshot(ns, indexes.custom_objects(ns))
        refs |= state.workloads_reading(snap.namespace, kind, name)
    controller.request(ns, refs, indexes, ask_leader=True)


def _workload_changed(memo: Any, key: tuple[str, str, str]) -> None:
    """A workload's summary changed, appeared or went (datawatch.py): reconcile it if
    some resource targets it; re-check its Key Manager steps when its rollout ended."""
    ns, kind, name = key
    controller: Controller = memo.controller
    indexes = controller.indexes
    ref = WorkloadRef.model_validate({"kind": kind, "name": name})
    if indexes is None or ref not in controller.targeted(ns):
        return
    held: Workload | None = memo.data.workloads.held.get(key)
    # Status updates during a rollout change nothing the files depend on: no reconcile.
    if controller.workload_changed(key, held):
        controller.request(ns, [ref], indexes, ask_leader=True)
    # Pods all running the current template again (a rollout ended, or a Key Manager's
    # pods restarted, maybe onto a new database): re-check its database items.
    if held is not None and controller.key_manager.rollout_seen(key, held.rollout):
        spawn(controller.tasks, _key_manager_rolled_out(controller, ns, ref, indexes))


async def _key_manager_rolled_out(
    controller: Controller, ns: str, ref: WorkloadRef, indexes: Indexes
) -> None:
    if await controller.leading():
        snap = state.snapshot(ns, indexes.custom_objects(ns))
        controller.key_manager.request_for(snap, ref, indexes, force=True)

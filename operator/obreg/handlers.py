"""kopf wiring only: indexes, event handlers, and starting the data watch and the resync.

No create/update handlers anywhere: they would make kopf store its own state on the
objects (and copy a Secret's data into an annotation). Instead indexes hold what a
reconcile reads of obreg's resources, the data watch (kube/datawatch.py) holds the
workloads and the Secrets and ConfigMaps they read, and handlers only map a change to the
workloads it affects. Secrets, ConfigMaps and workloads are not watched by kopf: its
watches would bring every object's data of the whole cluster into the operator, and its
start-up wait for indexed kinds costs each object a wake-up of every other.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import kopf

from .api import identity_provider, service_provider, trust_anchor
from .api.common import GROUP, VERSION, WorkloadRef
from .kube import datawatch, resync
from .kube.api import Api
from .kube.controller import Controller
from .kube.indexes import Indexes
from .kube.tasks import spawn
from .render.objects import WORKLOAD_KIND_LABEL, WORKLOAD_LABEL, managed, output_name
from .rules import state
from .rules.workload import Workload
from .settings import Settings

log = logging.getLogger(__name__)


def _ns(namespace: str | None) -> str:
    """Every kind obreg watches is namespaced, so kopf always passes a namespace."""
    assert namespace is not None
    return namespace


def _controller(memo: Any, kwargs: dict[str, Any]) -> Controller:
    controller: Controller = memo.controller
    # kopf's indexes are live objects: the resync task reads the same ones later.
    controller.indexes = _indexes(memo, kwargs)
    return controller


def _indexes(memo: Any, kwargs: dict[str, Any]) -> Indexes:
    """The live kopf indexes, as every handler receives them, and the held data."""
    holdings = memo.data.holdings
    return Indexes(
        custom=(
            kwargs["ob_trust_anchors"],
            kwargs["ob_identity_providers"],
            kwargs["ob_service_providers"],
        ),
        secrets=holdings.view("Secret"),
        config_maps=holdings.view("ConfigMap"),
        workloads=memo.data.workloads.held,
    )


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    config = Settings.from_environment()
    # obreg posts its own events; kopf would otherwise also post its log lines as events
    # (on every Secret and ConfigMap it sees). Only kopf.event() calls remain.
    settings.posting.level = logging.CRITICAL
    settings.peering.name = config.peering_name
    # The resources obreg serves are fixed; watching CRDs for new ones would need more RBAC.
    settings.scanning.disabled = True
    settings.peering.mandatory = config.peering_mandatory
    settings.peering.priority = config.priority
    # Paginated lists: a start never holds all of a kind's objects in one response.
    settings.watching.chunk_size = datawatch.PAGE
    api: Api = memo.api  # the process's, as the readiness endpoint (cli.py)
    memo.data = datawatch.DataWatch(
        api,
        config.namespaces,
        functools.partial(_data_changed, memo),
        functools.partial(_workload_changed, memo),
    )
    memo.controller = Controller(
        api,
        config.settle_seconds,
        settled=memo.data.settled,
        leading=functools.partial(resync.leads_now, api, config),
        digest_key=memo.digest_key,
    )
    # Before kopf's watches start: an event's reconcile must find the data listed.
    await memo.data.start()
    memo.readiness.ready = True
    # Not a kopf timer: those put a finalizer on every resource.
    memo.resync = asyncio.create_task(resync.forever(memo.controller, api, config))


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    memo.readiness.ready = False
    memo.resync.cancel()
    memo.data.stop()
    await memo.controller.stop()


# -- indexes --------------------------------------------------------------------------


def _custom(body: kopf.Body, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        # What obreg reads (and events need); not managedFields or other annotations,
        # which would multiply the operator's memory at scale.
        "metadata": {
            key: body.metadata.get(key) for key in ("name", "namespace", "uid", "generation")
        },
        "spec": dict(body.spec),
        "status": dict(body.get("status") or {}),
    }


@kopf.index(GROUP, VERSION, "obtrustanchors")
def ob_trust_anchors(namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {_ns(namespace): _custom(body, trust_anchor.KIND)}


@kopf.index(GROUP, VERSION, "obidentityproviders")
def ob_identity_providers(namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {_ns(namespace): _custom(body, identity_provider.KIND)}


@kopf.index(GROUP, VERSION, "observiceproviders")
def ob_service_providers(namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {_ns(namespace): _custom(body, service_provider.KIND)}


# -- events ---------------------------------------------------------------------------


@kopf.on.event(GROUP, VERSION, "obtrustanchors")
@kopf.on.event(GROUP, VERSION, "obidentityproviders")
@kopf.on.event(GROUP, VERSION, "observiceproviders")
async def custom_changed(
    event: kopf.RawEvent,
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: Any,
    **kwargs: Any,
) -> None:
    ns, controller, indexes = _ns(namespace), _controller(memo, kwargs), _indexes(memo, kwargs)
    kind = str(kwargs["resource"].kind)
    refs = None if event.get("type") == "DELETED" else state.raw_targets(kind, body.spec)
    affected = controller.track((ns, kind, name), refs)
    snap = state.snapshot(ns, indexes.custom_objects(ns))
    memo.data.want(ns, state.reads(snap, controller.targeted(ns) | affected))
    if any(i.name == name and i.kind == kind for i in snap.invalid):
        await controller.write_statuses(snap, only=())  # its own Stalled status
    controller.request(ns, affected, indexes)


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
    # Not through kopf, which pauses a standby's handlers: ask whether this one leads.
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
    # Not through kopf, which pauses a standby's handlers: ask whether this one leads.
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

"""One workload's reconcile: render its bundle from what the indexes hold, then write only
what differs (its ConfigMap and Secret, the workload's digest annotation and mounts).

A workload whose inputs are bad keeps its last good files: nothing is written for it
and the contributors learn why through their results. A workload that lost all its
contributors gets empty objects (never deleted: a pod that mounts them must still start)
and one rollout, so its pods return to their stock files.

This module makes the calls, in their order; what they carry out is decided in
rules/reconcile.py (whether to render, all or none, drift, results) and
rules/workload.py (the workload's apply and rollout).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import logging
from collections.abc import Callable, Mapping

from ..api.common import WorkloadRef
from ..errors import InvalidInput
from ..render import bundle as bundles
from ..render import credentials, objects
from ..render.inputs import Inputs
from ..rules import reconcile as decide
from ..rules import state, workload
from ..rules.holdings import Held
from ..rules.workload import Workload
from . import faultpoint
from .api import Api

log = logging.getLogger(__name__)


class Renders:
    """Where renders run: threads of their own, ``threads`` at once, one per namespace at
    a time. In the default pool renders could take every thread the API calls need (of
    every namespace), and more threads would only contend for the interpreter; one per
    namespace keeps a thread free for the others while one namespace renders thousands
    of certificates (with more busy namespaces than threads, they take turns)."""

    def __init__(self, threads: int) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="render")
        # Per namespace: its lock and how many renders hold or wait for it (so a lock is
        # dropped only when no one will use it again).
        self._namespaces: dict[str, tuple[asyncio.Lock, int]] = {}

    async def run(self, namespace: str, render: Callable[[], bundles.Bundle]) -> bundles.Bundle:
        lock, users = self._namespaces.get(namespace, (asyncio.Lock(), 0))
        self._namespaces[namespace] = (lock, users + 1)
        try:
            async with lock:
                return await asyncio.get_running_loop().run_in_executor(self._pool, render)
        finally:
            lock, users = self._namespaces[namespace]
            if users == 1:
                del self._namespaces[namespace]
            else:
                self._namespaces[namespace] = (lock, users - 1)


RENDERS = Renders(threads=2)


async def ensure_credentials(
    snap: state.Snapshot,
    inputs: Inputs,
    api: Api,
    secrets: dict[tuple[str, str], Mapping[str, bytes]],
) -> int:
    """Create the generated-credentials Secret of each SP that needs one and lacks it;
    the new data is added to ``secrets`` so this reconcile can use it at once."""
    created = 0
    clashing = {p.resource for p in snap.namespace.conflicts()}
    for sp in snap.namespace.service_providers:
        if sp.spec.client_credentials.client_id_ref is not None or sp.label in clashing:
            continue
        name = credentials.generated_secret_name(sp.name)
        if (sp.namespace, name) in inputs.secrets:
            continue
        data = credentials.generate()
        secret = objects.credentials_secret(sp.namespace, name, data)
        secret["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "obreg.dev/v1alpha1",
                "kind": sp.kind,
                "name": sp.name,
                "uid": sp.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        if await api.create(secret):
            await faultpoint.reached("credentials-created")
            secrets[(sp.namespace, name)] = data
            created += 1
            log.info("generated client credentials for %s into Secret %s", sp.label, name)
    return created


async def reconcile(
    ref: WorkloadRef,
    snap: state.Snapshot,
    inputs: Inputs,
    target: Workload | None,
    current: Mapping[str, Held | None],
    api: Api,
    now: datetime.datetime,
    foreign: list[str] | None = None,
) -> decide.Outcome:
    """``current`` maps "ConfigMap" and "Secret" to obreg's objects for ``ref`` as
    indexed; ``foreign``: the objects under its name that are someone else's."""
    early = decide.before_render(ref, snap, target, current, foreign or [])
    if early is not None:
        return early
    assert target is not None  # before_render decided for an absent workload
    contributors = state.contributors(snap, ref)
    keys = [(r.kind, r.name) for r in contributors]
    try:
        # Pure and CPU-bound: off the event loop, so a heavy namespace does not delay
        # the others; on its own copy of the inputs, which the loop keeps updating.
        rendered = await RENDERS.run(
            snap.namespace.name,
            functools.partial(decide.render_all, snap, ref, state.copy_inputs(snap, inputs), now),
        )
    except InvalidInput as err:
        return decide.refused(ref, keys, err.problems)
    except Exception:  # a bug: never a retry loop without status; the log has the trace
        log.exception("rendering %s/%s %s failed", ref.kind, snap.namespace.name, ref.name)
        return decide.crashed(ref, keys)

    writes = 0
    for desired in (objects.config_map(rendered), objects.secret(rendered)):
        desired = decide.owned(desired, target)
        found = current.get(desired["kind"])
        if decide.differs(desired, found):
            await api.apply(desired)
            writes += 1
            stray = decide.stray_keys(desired, found)
            if stray:
                meta = desired["metadata"]
                await api.remove_keys(desired["kind"], meta["namespace"], meta["name"], stray)
                writes += 1
            await faultpoint.reached(
                f"{'config-map' if desired['kind'] == 'ConfigMap' else 'secret'}-applied"
            )
    rolled = None
    if workload.needs_apply(target, rendered):
        await api.apply(workload.apply_body(target, rendered))
        writes += 1
        await faultpoint.reached("workload-applied")
        if workload.rolls(target, rendered):
            rolled = rendered.digest
            log.info(
                "rolled %s/%s %s for digest %s",
                ref.kind,
                snap.namespace.name,
                ref.name,
                rendered.digest[:16],
            )
    outcome = decide.applied(ref, keys, rendered, workload.hidden_files(target, rendered))
    outcome.rolled, outcome.writes = rolled, writes
    return outcome

"""One workload's reconcile: render its bundle from what the indexes hold, then write only
what differs (its ConfigMap and Secret, the workload's digest annotation and mounts).

A workload whose inputs are bad keeps its last good files: nothing is written for it
and the contributors learn why through their results. A workload that lost all its
contributors gets empty objects (never deleted: a pod that mounts them must still start)
and one rollout, so its pods return to their stock files.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import datetime
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.common import TargetResult, WorkloadRef
from ..api.trust_anchor import CertificateSummary
from ..errors import InvalidInput
from ..render import bundle as bundles
from ..render import credentials, objects
from ..render.inputs import Inputs
from ..rules import state, workload
from ..rules.workload import Workload
from . import faultpoint
from .api import Api

log = logging.getLogger(__name__)

INTERNAL_ERROR = (
    "internal error while rendering, please report it (the operator's log has the "
    "traceback); the workload keeps its last good files"
)

ResourceKey = tuple[str, str]  # (kind, name)


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


@dataclass
class Outcome:
    """What a workload's reconcile means for each resource that targets it."""

    results: dict[ResourceKey, TargetResult] = field(default_factory=dict)
    certificates: dict[str, list[CertificateSummary]] = field(default_factory=dict)
    warnings: dict[ResourceKey, list[str]] = field(default_factory=dict)
    rolled: str | None = None  # the new digest, when a rollout was triggered
    writes: int = 0


def _key(label: str) -> ResourceKey:
    kind, rest = label.split(" ", 1)
    return kind, rest.split("/", 1)[1]


def _result(ref: WorkloadRef, state_: str, message: str = "", digest: str = "") -> TargetResult:
    return TargetResult(
        kind=ref.kind,
        name=ref.name,
        state=state_,  # type: ignore[arg-type]
        message=message,
        digest=digest,
    )


def _object_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """An object's content as bytes, for comparing with what the index holds."""
    data: dict[str, bytes] = {}
    if obj["kind"] == "ConfigMap":
        data.update({k: v.encode() for k, v in (obj.get("data") or {}).items()})
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    else:
        data.update({k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()})
    return data


def _differs(desired: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    if current is None:
        return True
    meta = desired["metadata"]
    return (
        _object_data(desired) != current["data"]
        or any(current["labels"].get(k) != v for k, v in meta["labels"].items())
        or any(current["annotations"].get(k) != v for k, v in meta["annotations"].items())
        or [o["uid"] for o in meta.get("ownerReferences", [])] != current["owners"]
    )


def _owned(obj: dict[str, Any], target: Workload) -> dict[str, Any]:
    """The object, owned by its workload: it goes when the workload goes."""
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": target.kind,
            "name": target.name,
            "uid": target.uid,
            "controller": False,
            "blockOwnerDeletion": False,
        }
    ]
    return obj


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


def _render(
    snap: state.Snapshot,
    ref: WorkloadRef,
    contributors: list[Any],
    inputs: Inputs,
    now: datetime.datetime,
) -> bundles.Bundle:
    """The workload's bundle (empty when nothing targets it any more)."""
    if not contributors:
        return bundles.Bundle(snap.namespace.name, ref, (), ())
    return bundles.render(snap.namespace, ref, inputs, now)


def _render_all(
    snap: state.Snapshot,
    ref: WorkloadRef,
    contributors: list[Any],
    inputs: Inputs,
    now: datetime.datetime,
) -> bundles.Bundle:
    """The workload's bundle, refused when a contributor fails on another of its
    targets: a resource's change lands on all its workloads or on none."""
    keys = {(r.kind, r.name) for r in contributors}
    rendered = _render(snap, ref, contributors, inputs, now)
    others = {w for r in contributors for w in state.targets(r)} - {ref}
    for other in sorted(others, key=lambda w: (w.kind, w.name)):
        try:
            _render(snap, other, state.contributors(snap, other), inputs, now)
        except InvalidInput as err:
            ours = [p for p in err.problems if _key(p.resource) in keys]
            if ours:
                raise InvalidInput(ours) from None
    return rendered


async def reconcile(
    ref: WorkloadRef,
    snap: state.Snapshot,
    inputs: Inputs,
    target: Workload | None,
    current: Mapping[str, Mapping[str, Any] | None],
    api: Api,
    now: datetime.datetime,
    foreign: list[str] | None = None,
) -> Outcome:
    """``current`` maps "ConfigMap" and "Secret" to obreg's objects for ``ref`` as indexed."""
    outcome = Outcome()
    contributors = state.contributors(snap, ref)
    keys = [(r.kind, r.name) for r in contributors]
    blockers = [i for i in snap.invalid if ref in i.targets]

    if target is None:
        for key in keys:
            outcome.results[key] = _result(ref, "WaitingForWorkload")
        return outcome
    if blockers:
        names = ", ".join(f"{b.kind} {b.namespace}/{b.name}" for b in blockers)
        for key in keys:
            outcome.results[key] = _result(
                ref, "Blocked", f"{names} is invalid; the workload keeps its last good files"
            )
        return outcome
    if foreign:
        # Someone else's object under obreg's name: never take it over.
        for key in keys:
            outcome.results[key] = _result(
                ref,
                "Failed",
                f"{' and '.join(foreign)} exists and is not managed by obreg; rename or remove it",
            )
        return outcome
    if not contributors and current.get("ConfigMap") is None and current.get("Secret") is None:
        return outcome  # never ours

    try:
        # Pure and CPU-bound: off the event loop, so a heavy namespace does not delay
        # the others; on its own copy of the inputs, which the loop keeps updating.
        rendered = await RENDERS.run(
            snap.namespace.name,
            functools.partial(
                _render_all, snap, ref, contributors, state.copy_inputs(snap, inputs), now
            ),
        )
    except InvalidInput as err:
        failed = {_key(p.resource): str(p) for p in err.problems}
        for key in keys:
            if key in failed:
                outcome.results[key] = _result(ref, "Failed", failed[key])
            else:
                outcome.results[key] = _result(
                    ref,
                    "Blocked",
                    "another resource of this workload failed to render; "
                    "the workload keeps its last good files",
                )
        return outcome

    except Exception:  # a bug: never a retry loop without status; the log has the trace
        log.exception("rendering %s/%s %s failed", ref.kind, snap.namespace.name, ref.name)
        for key in keys:
            outcome.results[key] = _result(ref, "Failed", INTERNAL_ERROR)
        return outcome

    for desired in (objects.config_map(rendered), objects.secret(rendered)):
        desired = _owned(desired, target)
        found = current.get(desired["kind"])
        if _differs(desired, found):
            await api.apply(desired)
            outcome.writes += 1
            foreign = sorted(set(found["data"]) - set(_object_data(desired))) if found else []
            if foreign:  # keys someone added: obreg's objects hold its files only
                meta = desired["metadata"]
                await api.remove_keys(desired["kind"], meta["namespace"], meta["name"], foreign)
                outcome.writes += 1
            await faultpoint.reached(
                f"{'config-map' if desired['kind'] == 'ConfigMap' else 'secret'}-applied"
            )
    if workload.needs_apply(target, rendered):
        await api.apply(workload.apply_body(target, rendered))
        outcome.writes += 1
        await faultpoint.reached("workload-applied")
        if target.digest != rendered.digest:
            outcome.rolled = rendered.digest
            log.info(
                "rolled %s/%s %s for digest %s",
                ref.kind,
                snap.namespace.name,
                ref.name,
                rendered.digest[:16],
            )

    hidden = workload.hidden_files(target, rendered)
    for key in keys:
        outcome.results[key] = _result(ref, "Applied", digest=rendered.digest)
        label = f"{key[0]} {snap.namespace.name}/{key[1]}"
        outcome.warnings[key] = [*rendered.warnings.get(label, []), *hidden]
    outcome.certificates = rendered.certificates
    return outcome

"""What one workload's reconcile decides; kube/reconcile.py makes the calls.

- Whether it renders at all: a workload that is absent, that an invalid resource
  targets, or whose object names someone else holds gets results and no write.
- All or none: a resource's change that fails on one of its workloads lands on none.
- Drift: which of obreg's objects differ from what it would write, and which keys
  someone added to them.
- What each resource of the workload learns: its result, its warnings, the files the
  workload hides.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.common import TargetResult, WorkloadRef
from ..api.trust_anchor import CertificateSummary
from ..errors import InvalidInput, Label, Problem
from ..render import bundle as bundles
from ..render.inputs import Inputs
from ..render.objects import WORKLOAD_KIND_LABEL, WORKLOAD_LABEL
from . import state
from .holdings import Held
from .workload import Workload

KEPT = "the workload keeps its last good files"
INTERNAL_ERROR = (
    f"internal error while rendering, please report it (the operator's log has the "
    f"traceback); {KEPT}"
)

ResourceKey = tuple[str, str]  # (kind, name)


@dataclass
class Outcome:
    """What a workload's reconcile means for each resource that targets it."""

    results: dict[ResourceKey, TargetResult] = field(default_factory=dict)
    certificates: dict[str, list[CertificateSummary]] = field(default_factory=dict)
    warnings: dict[ResourceKey, list[str]] = field(default_factory=dict)
    rolled: str | None = None  # the new digest, when a rollout was triggered
    writes: int = 0


def result(ref: WorkloadRef, state_: str, message: str = "", digest: str = "") -> TargetResult:
    return TargetResult(
        kind=ref.kind,
        name=ref.name,
        state=state_,  # type: ignore[arg-type]
        message=message,
        digest=digest,
    )


def _each(keys: Iterable[ResourceKey], outcome: TargetResult) -> Outcome:
    return Outcome(results=dict.fromkeys(keys, outcome))


def ours(held: Held | None, ref: WorkloadRef) -> Held | None:
    """obreg's object for this workload, or None when it is absent or someone else's."""
    if held is None:
        return None
    labels = held.labels
    if (
        held.managed
        and labels.get(WORKLOAD_LABEL) == ref.name
        and labels.get(WORKLOAD_KIND_LABEL) == ref.kind
    ):
        return held
    return None


def foreign(
    namespace: str, name: str, ref: WorkloadRef, existing: Mapping[str, Held | None]
) -> list[str]:
    """The objects under obreg's output name ``name`` that exist but are not obreg's own
    for this workload, named for a message (``existing`` maps a kind to what is held)."""
    return [
        f"{kind} {namespace}/{name}"
        for kind, found in existing.items()
        if found is not None and ours(found, ref) is None
    ]


def before_render(
    ref: WorkloadRef,
    snap: state.Snapshot,
    target: Workload | None,
    current: Mapping[str, Held | None],
    foreign_objects: Iterable[str],
) -> Outcome | None:
    """The outcome when the workload is not rendered now, or None to render it.

    Absent: its resources wait for it. Targeted by an invalid resource: all of them are
    Blocked (rendering the valid ones alone would drop the invalid one's files). Its
    output names held by someone else: Failed, never taken over. Neither targeted nor
    ever written: nothing to do."""
    keys = [(r.kind, r.name) for r in state.contributors(snap, ref)]
    blockers = [i for i in snap.invalid if ref in i.targets]
    held = list(foreign_objects)
    if target is None:
        return _each(keys, result(ref, "WaitingForWorkload"))
    if blockers:
        names = ", ".join(f"{b.kind} {b.namespace}/{b.name}" for b in blockers)
        return _each(keys, result(ref, "Blocked", f"{names} is invalid; {KEPT}"))
    if held:
        message = f"{' and '.join(held)} exists and is not managed by obreg; rename or remove it"
        return _each(keys, result(ref, "Failed", message))
    if not keys and current.get("ConfigMap") is None and current.get("Secret") is None:
        return Outcome()
    return None


def render(
    snap: state.Snapshot, ref: WorkloadRef, inputs: Inputs, now: datetime.datetime
) -> bundles.Bundle:
    """The workload's bundle (empty when nothing targets it any more)."""
    if not state.contributors(snap, ref):
        return bundles.Bundle(snap.namespace.name, ref, ())
    return bundles.render(snap.namespace, ref, inputs, now)


def render_all(
    snap: state.Snapshot, ref: WorkloadRef, inputs: Inputs, now: datetime.datetime
) -> bundles.Bundle:
    """The workload's bundle, refused when one of its resources fails on another of
    its targets: a resource's change lands on all its workloads or on none."""
    contributors = state.contributors(snap, ref)
    keys = {(r.kind, r.name) for r in contributors}
    rendered = render(snap, ref, inputs, now)
    others = {w for r in contributors for w in state.targets(r)} - {ref}
    for other in sorted(others, key=lambda w: (w.kind, w.name)):
        try:
            render(snap, other, inputs, now)
        except InvalidInput as err:
            mine = [p for p in err.problems if problem_key(p) in keys]
            if mine:
                raise InvalidInput(mine) from None
    return rendered


def problem_key(problem: Problem) -> ResourceKey | None:
    """The resource a problem is about, or None when it names a file or an option."""
    subject = problem.resource
    return (subject.kind, subject.name) if isinstance(subject, Label) else None


def refused(ref: WorkloadRef, keys: Iterable[ResourceKey], problems: Iterable[Problem]) -> Outcome:
    """A render refused: each resource it names Failed with its problem, the others of
    the workload Blocked (nothing is written for any of them)."""
    failed = {problem_key(p): str(p) for p in problems}
    blocked = result(ref, "Blocked", f"another resource of this workload failed to render; {KEPT}")
    return Outcome(
        results={
            key: result(ref, "Failed", failed[key]) if key in failed else blocked for key in keys
        }
    )


def crashed(ref: WorkloadRef, keys: Iterable[ResourceKey]) -> Outcome:
    """A render that raised something other than a refusal: a bug, reported as such on
    every resource rather than retried without a status."""
    return _each(keys, result(ref, "Failed", INTERNAL_ERROR))


def object_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """An object's content as bytes, for comparing with what the index holds."""
    data: dict[str, bytes] = {}
    if obj["kind"] == "ConfigMap":
        data.update({k: v.encode() for k, v in (obj.get("data") or {}).items()})
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    else:
        data.update({k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()})
    return data


def differs(desired: Mapping[str, Any], current: Held | None) -> bool:
    """Whether obreg must write ``desired`` over ``current``: its data, one of its labels
    or annotations, or its owner differs. Labels and annotations others add are left
    alone."""
    if current is None:
        return True
    meta = desired["metadata"]
    return (
        object_data(desired) != current.data
        or any(current.labels.get(k) != v for k, v in meta["labels"].items())
        or any(current.annotations.get(k) != v for k, v in meta["annotations"].items())
        or tuple(o["uid"] for o in meta.get("ownerReferences", [])) != current.owners
    )


def stray_keys(desired: Mapping[str, Any], current: Held | None) -> list[str]:
    """Keys someone added to obreg's object, sorted: removed, since it holds its files only
    (a server-side apply leaves keys it does not own)."""
    if current is None:
        return []
    return sorted(set(current.data) - set(object_data(desired)))


def owned(obj: dict[str, Any], target: Workload) -> dict[str, Any]:
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


def applied(
    ref: WorkloadRef,
    keys: Iterable[ResourceKey],
    rendered: bundles.Bundle,
    hidden: list[str],
) -> Outcome:
    """The workload has its files: each resource Applied with their digest, with the
    warnings its own render gave and the files the workload hides."""
    outcome = Outcome(certificates=rendered.certificates)
    for kind, name in keys:
        outcome.results[(kind, name)] = result(ref, "Applied", digest=rendered.digest)
        own = rendered.warnings.get(Label(kind, rendered.namespace, name), [])
        outcome.warnings[(kind, name)] = [*own, *hidden]
    return outcome


def worst(states: Iterable[str]) -> str:
    """The state a workload's reconcile is counted under (obreg_reconciles_total): the
    worst of its resources' states; Idle when none targets it."""
    seen = set(states)
    return next(
        (s for s in ("Failed", "Blocked", "WaitingForWorkload") if s in seen),
        "Applied" if seen else "Idle",
    )

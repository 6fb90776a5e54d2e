"""What the operator knows of a namespace, from its kopf indexes, in rendering's terms.

Indexes hold plain dicts; this module turns them into validated resources and Inputs and
answers "which workloads does this object affect?", so every event maps to the workloads
to reconcile without an API call. Pure: testable without kopf or a cluster.
"""

from __future__ import annotations

import collections
import dataclasses
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api import parse
from ..api.common import WorkloadRef
from ..api.kinds import BY_KIND, SERVICE_PROVIDER
from ..api.resource import Resource
from ..errors import InvalidInput, Problem
from ..render import bundle, credentials
from ..render.bundle import Namespace
from ..render.inputs import Inputs
from ..render.objects import output_name


@dataclass(frozen=True)
class Invalid:
    """A resource whose spec does not validate, with the workloads it names (read
    leniently from the raw spec, so it can still block them)."""

    kind: str
    namespace: str
    name: str
    problems: list[Problem]
    targets: frozenset[WorkloadRef]


@dataclass
class Snapshot:
    namespace: Namespace
    invalid: list[Invalid] = field(default_factory=list)
    raw: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (kind, name)


def raw_targets(kind: str, spec: Mapping[str, Any]) -> frozenset[WorkloadRef]:
    """Best-effort targets of a spec that did not validate."""
    return BY_KIND[kind].raw_targets(spec)


PARSED_KEPT = 8192
_parsed_cache: collections.OrderedDict[tuple[Any, ...], Resource[Any] | InvalidInput] = (
    collections.OrderedDict()
)


def _parsed(obj: Mapping[str, Any]) -> Resource[Any]:
    """``parse.parse(obj)``, remembered by uid and generation: a namespace is validated
    on every event of any of its resources (status writes included), and validating
    all of them each time was most of obreg's CPU at scale. The API server bumps
    ``generation`` on every change of spec, so the same pair means the same spec;
    objects without both (tests, files) are parsed each time."""
    meta = obj.get("metadata")
    uid = meta.get("uid") if isinstance(meta, Mapping) else None
    generation = meta.get("generation") if isinstance(meta, Mapping) else None
    if not (isinstance(uid, str) and uid and isinstance(generation, int) and generation > 0):
        return parse.parse(obj)
    assert isinstance(meta, Mapping)
    key = (
        obj.get("apiVersion"),
        obj.get("kind"),
        meta.get("namespace"),
        meta.get("name"),
        uid,
        generation,
    )
    if key in _parsed_cache:
        _parsed_cache.move_to_end(key)
        found = _parsed_cache[key]
    else:
        try:
            found = parse.parse(obj)
        except InvalidInput as err:
            found = err
        _parsed_cache[key] = found
        if len(_parsed_cache) > PARSED_KEPT:
            _parsed_cache.popitem(last=False)
    if isinstance(found, InvalidInput):
        raise InvalidInput(found.problems)
    return found


def snapshot(namespace: str, objects: Iterable[Mapping[str, Any]]) -> Snapshot:
    """Validate every custom resource of a namespace; invalid ones are kept apart."""
    valid: list[Resource[Any]] = []
    result = Snapshot(Namespace(namespace))
    for obj in sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"])):
        kind, name = obj["kind"], obj["metadata"]["name"]
        result.raw[(kind, name)] = dict(obj)
        try:
            resource = _parsed(obj)
        except InvalidInput as err:
            result.invalid.append(
                Invalid(
                    kind, namespace, name, err.problems, raw_targets(kind, obj.get("spec") or {})
                )
            )
            continue
        valid.append(resource)
    result.namespace = Namespace.of(namespace, valid)
    return result


targets = bundle.targets


# _file_refs's answers by the id of the resource object, each dropped when its object
# goes (so an id is never reused while its entry stands).
_refs_kept: dict[int, frozenset[tuple[str, str]]] = {}


def _file_refs(resource: Resource[Any]) -> frozenset[tuple[str, str]]:
    """(Secret|ConfigMap, name) of every object a resource reads. Asked for every
    resource of a namespace on every event, and dumping each spec to walk it was a
    seventh of obreg's CPU at scale; ``_parsed`` hands out one object per spec, so the
    answer is kept with the object."""
    key = id(resource)
    found = _refs_kept.get(key)
    if found is None:
        found = _refs_kept[key] = frozenset(_walked_refs(resource))
        weakref.finalize(resource, _refs_kept.pop, key, None)
    return found


def _walked_refs(resource: Resource[Any]) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in (
                    "secretKeyRef",
                    "passwordSecretRef",
                    "clientSecretRef",
                    "clientIdRef",
                ) and isinstance(item, Mapping):
                    refs.add(("Secret", str(item.get("name"))))
                elif key == "configMapKeyRef" and isinstance(item, Mapping):
                    refs.add(("ConfigMap", str(item.get("name"))))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(resource.spec.model_dump(by_alias=True, exclude_none=True))
    if resource.kind == SERVICE_PROVIDER.kind:
        id_ref, _ = credentials.references(resource)
        refs.add(("Secret", id_ref.name))
        admin = resource.spec.key_manager_admin
        if admin is not None:  # a fixed password must retry the KM steps at once
            refs.add(("Secret", admin.credentials_secret))
    return refs


def copy_inputs(snap: Snapshot, inputs: Inputs) -> Inputs:
    """The Secrets and ConfigMaps the namespace's resources reference, copied out of
    ``inputs`` (live indexes): a render in another thread then reads a fixed view."""
    namespace = snap.namespace.name
    wanted: set[tuple[str, str]] = set()
    for resource in snap.namespace.resources():
        wanted |= _file_refs(resource)
    copies: dict[str, dict[tuple[str, str], Any]] = {"Secret": {}, "ConfigMap": {}}
    for kind, name in wanted:
        objects = inputs.secrets if kind == "Secret" else inputs.config_maps
        if (namespace, name) in objects:
            copies[kind][(namespace, name)] = objects[(namespace, name)]
    return dataclasses.replace(
        inputs, secrets=copies["Secret"], config_maps=copies["ConfigMap"], log=None
    )


def reads(snap: Snapshot, workloads: Iterable[WorkloadRef]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every Secret and ConfigMap obreg reads in a namespace:
    what its valid resources reference, and the objects under obreg's names for
    ``workloads`` (obreg's own, or someone else's in their way)."""
    namespace = snap.namespace.name
    found = {
        (kind, namespace, name) for r in snap.namespace.resources() for kind, name in _file_refs(r)
    }
    for ref in workloads:
        found |= {(kind, namespace, output_name(ref)) for kind in ("Secret", "ConfigMap")}
    return found


def workloads_reading(namespace: Namespace, kind: str, name: str) -> set[WorkloadRef]:
    """The workloads whose bundle reads Secret/ConfigMap ``name``."""
    affected: set[WorkloadRef] = set()
    for resource in namespace.resources():
        if (kind, name) in _file_refs(resource):
            affected |= targets(resource)
    return affected


def contributors(snap: Snapshot, workload: WorkloadRef) -> list[Resource[Any]]:
    """Asked several times per reconcile: the namespace indexes them once."""
    return snap.namespace.contributors(workload)

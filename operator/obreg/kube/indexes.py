"""What a reconcile reads, seen in place (never copied), so a reconcile or a Key Manager
step reads it as it is now: obreg's resources, the workloads, and the Secrets and
ConfigMaps, as obreg's own watches hold them (resources.py, datawatch.py)."""

from __future__ import annotations

import collections
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api.common import WorkloadRef
from ..rules import state
from ..rules.holdings import Held
from ..rules.workload import Workload

# The namespaces whose snapshot is kept (Indexes.snapshot): a scale step's 50 busy ones
# fit, and 1,000 quiet ones do not pile up.
SNAPSHOTS_KEPT = 128
Kept = tuple[list[dict[str, Any]], state.Snapshot]  # a snapshot and what it was made of


class StoreView(Mapping[Any, Any]):
    """Held objects seen as a plain mapping of one field of each (``data``,
    ``annotations``); no copy is made, so a reconcile reads them as they are now."""

    def __init__(
        self, index: Mapping[Any, Held], field_name: str, extra: Mapping[Any, Any] | None = None
    ) -> None:
        # Not ``extra or {}``: an empty mapping given must stay the one read, since its
        # owner may fill it after this view was made.
        self._index, self._field = index, field_name
        self._extra = extra if extra is not None else {}

    def __getitem__(self, key: Any) -> Any:
        if key in self._extra:
            return self._extra[key]
        return getattr(self._index[key], self._field)

    def __iter__(self) -> Iterator[Any]:
        yield from self._extra
        yield from (key for key in self._index if key not in self._extra)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class Indexes:
    """What a reconcile reads (see handlers.py), read in place."""

    # One per kind: namespace -> name -> the resource (rules/resources.py).
    custom: Sequence[Mapping[str, Mapping[str, dict[str, Any]]]]
    secrets: Mapping[tuple[str, str], Held]  # (namespace, name) -> what obreg holds
    config_maps: Mapping[tuple[str, str], Held]
    workloads: Mapping[tuple[str, str, str], Workload]  # (namespace, kind, name) -> summary
    # Per namespace, the most recently used first out: the resource objects its last
    # snapshot was made of, and it.
    _snapshots: collections.OrderedDict[str, Kept] = field(
        default_factory=collections.OrderedDict, repr=False
    )

    def custom_objects(self, namespace: str) -> list[dict[str, Any]]:
        return [
            obj for index in self.custom if namespace in index for obj in index[namespace].values()
        ]

    def snapshot(self, namespace: str) -> state.Snapshot:
        """A namespace's resources, validated (rules/state.py), made again only when one
        of them changed. A snapshot is asked for on most events of a namespace (each
        Secret, ConfigMap and workload event of a reconcile's writes coming back), and
        making each anew was a fifth of the event loop's CPU at a start. The resource
        store replaces a resource's object whenever the resource changes (status
        included) and never changes one in place, so the same objects, held here so
        that none of their ids is reused, mean the same snapshot; no one changes a
        snapshot once made. At most SNAPSHOTS_KEPT namespaces' are kept: with one
        resource in each of 1,000 namespaces every snapshot is made about once anyway,
        and keeping them all held 10 MB more (bench.operator --footprint)."""
        objects = self.custom_objects(namespace)
        kept = self._snapshots.get(namespace)
        if (
            kept is not None
            and len(kept[0]) == len(objects)
            and all(a is b for a, b in zip(kept[0], objects, strict=True))
        ):
            self._snapshots.move_to_end(namespace)
            return kept[1]
        snap = state.snapshot(namespace, objects)
        self._snapshots.pop(namespace, None)
        if objects:
            self._snapshots[namespace] = (objects, snap)
            if len(self._snapshots) > SNAPSHOTS_KEPT:
                self._snapshots.popitem(last=False)
        return snap

    def workload(self, namespace: str, ref: WorkloadRef) -> Workload | None:
        return self.workloads.get((namespace, ref.kind, ref.name))

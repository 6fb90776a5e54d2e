"""What a reconcile reads, seen in place (never copied), so a reconcile or a Key Manager
step reads it as it is now: obreg's resources, the workloads, and the Secrets and
ConfigMaps, as obreg's own watches hold them (resources.py, datawatch.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..api.common import WorkloadRef
from ..rules.holdings import Held
from ..rules.workload import Workload


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

    def custom_objects(self, namespace: str) -> list[dict[str, Any]]:
        return [
            obj for index in self.custom if namespace in index for obj in index[namespace].values()
        ]

    def workload(self, namespace: str, ref: WorkloadRef) -> Workload | None:
        return self.workloads.get((namespace, ref.kind, ref.name))

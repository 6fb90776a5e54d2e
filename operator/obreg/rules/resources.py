"""obreg's own resources (each of api/kinds.py's kinds) as the API server has them:
what a reconcile reads of them, kept from obreg's list and watch (kube/resources.py).

These were kopf indexes. kopf lists again when its watch's resourceVersion is gone (410)
but keeps in its indexes whatever the new list lacks, so a resource deleted while the
watch was broken stayed, and obreg kept rendering from it (a CA the bank removed stayed
trusted) until it restarted. Here a complete list replaces what was held: what it lacks
is forgotten and reported as deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..api.common import GROUP, VERSION
from ..api.kinds import KINDS

ResourceKey = tuple[str, str, str]  # (kind, namespace, name)


def compact(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """What obreg reads of a resource (and events need): not managedFields or other
    annotations, which would multiply the operator's memory at scale."""
    metadata = obj.get("metadata") or {}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {
            key: metadata.get(key) for key in ("name", "namespace", "uid", "generation")
        },
        "spec": dict(obj.get("spec") or {}),
        "status": dict(obj.get("status") or {}),
    }


def _acted_on(resource: Mapping[str, Any]) -> tuple[Any, Any]:
    """What of a compact resource a reconcile acts on: its metadata (a new uid is a
    resource deleted and made again) and its spec."""
    return resource["metadata"], resource["spec"]


class Resources:
    """Per kind, namespace -> name -> the compact resource; and each one's
    resourceVersion, so a list that repeats what is held changes nothing."""

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
            kind.kind: {} for kind in KINDS
        }
        self.versions: dict[ResourceKey, str] = {}

    def stores(self) -> list[Mapping[str, Mapping[str, dict[str, Any]]]]:
        """One live mapping per kind, namespace -> name -> resource (kube/indexes.py)."""
        return list(self.by_kind.values())

    def event(self, kind: str, kind_of_event: str, obj: Mapping[str, Any]) -> bool:
        """Apply a watch event (a listed item comes as ADDED); whether the resource
        appeared, went, or changed in what a reconcile acts on: anything but its
        status. The status is obreg's own output, and each status write comes back as
        an event; reconciling on those made a start of 1,000 anchors reconcile each of
        their workloads once per anchor again, for nothing (the status is still kept,
        for the first status write after a restart)."""
        metadata = obj["metadata"]
        namespace, name = str(metadata["namespace"]), str(metadata["name"])
        item = (kind, namespace, name)
        if kind_of_event == "DELETED":
            return self._forget(item)
        version = str(metadata.get("resourceVersion") or "")
        if version and self.versions.get(item) == version:
            return False
        self.versions[item] = version
        held = self.by_kind[kind].setdefault(namespace, {})
        before, after = held.get(name), compact(kind, obj)
        held[name] = after
        return before is None or _acted_on(before) != _acted_on(after)

    def relisted(
        self, kind: str, namespace: str | None, seen: Iterable[ResourceKey]
    ) -> list[ResourceKey]:
        """A complete list of ``kind`` in ``namespace`` (None: every namespace) came:
        forget and return what it lacks (deleted while no watch was open)."""
        present = set(seen)
        gone = [
            item
            for item in self.versions
            if item[0] == kind
            and namespace in (None, item[1])
            and item not in present
        ]
        for item in gone:
            self._forget(item)
        return gone

    def get(self, item: ResourceKey) -> dict[str, Any] | None:
        kind, namespace, name = item
        return self.by_kind[kind].get(namespace, {}).get(name)

    def _forget(self, item: ResourceKey) -> bool:
        kind, namespace, name = item
        self.versions.pop(item, None)
        held = self.by_kind[kind].get(namespace)
        if held is None or held.pop(name, None) is None:
            return False
        if not held:
            del self.by_kind[kind][namespace]
        return True

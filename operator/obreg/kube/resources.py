"""obreg's own list and watch of its kinds (api/kinds.py), keeping rules/resources.py exact.

One stream per kind and scope (the cluster, or each served namespace), as datawatch.py
keeps workloads: a list, then a watch from its resourceVersion, and a new list when the
server says that version is gone (410). A complete list replaces what was held, so what
it lacks is reported as deleted. The same watch both updates what a reconcile reads and
tells of the change, in that order: with kopf's watch telling and another keeping the
store, a reaction could read the store before its own change arrived.

A 404 means the kind is no longer served (its CRD deleted, and every resource of it): what
is held of it is reported as deleted, the stream ends and ``on_lost`` is told, so that
kube/serving.py waits for the CRDs and starts anew once the reconciles of the deletions
have ended (handlers.cleanup).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.common import GROUP, VERSION
from ..api.kinds import KINDS, Kind
from ..rules.resources import ResourceKey, Resources
from .api import Api, ApiError
from .datawatch import Stream, Streams


class ResourceStream(Stream["ResourceWatch"]):
    """Every resource of one of obreg's kinds in a scope."""

    def __init__(self, owner: ResourceWatch, kind: Kind, namespace: str | None) -> None:
        where = f"namespaces/{namespace}/" if namespace else ""
        collection = f"/apis/{GROUP}/{VERSION}/{where}{kind.plural}"
        super().__init__(owner, f"{kind.plural} {namespace or '*'}", collection)
        self.kind, self.namespace = kind.kind, namespace

    def key_of(self, metadata: dict[str, Any]) -> ResourceKey:
        return self.kind, str(metadata["namespace"]), str(metadata["name"])

    def on_listed(self, seen: list[ResourceKey]) -> None:
        for item in self.owner.resources.relisted(self.kind, self.namespace, seen):
            self.owner.on_change(item)

    def on_event(self, kind_of_event: str, obj: dict[str, Any]) -> None:
        if self.owner.resources.event(self.kind, kind_of_event, obj):
            metadata = obj["metadata"]
            self.owner.on_change((self.kind, str(metadata["namespace"]), str(metadata["name"])))

    def lost(self, err: ApiError) -> bool:
        """A 404: the kind is not served, so none of it exists (deleting a CRD deletes
        its resources): what is held of it is forgotten and reported as deleted, as a
        list that lacks it, before ``on_lost`` is told. A watch broken while the CRD
        went would otherwise leave the last resources held, and their files served."""
        if err.status != 404:
            return False
        self.owner.hand_over(self.on_listed, [])
        self.owner.hand_over(self.owner.on_lost)
        return True


class ResourceWatch(Streams):
    """The resources, kept current; ``on_change`` is told of each one that appeared,
    changed or went (rules/resources.py holds it, or no longer), on the event loop."""

    def __init__(
        self,
        api: Api,
        namespaces: tuple[str, ...],
        on_change: Callable[[ResourceKey], None],
        on_lost: Callable[[], None],
    ) -> None:
        super().__init__(api)
        self.on_change, self.on_lost = on_change, on_lost
        self.resources = Resources()
        self.streams = [
            ResourceStream(self, kind, namespace)
            for kind in KINDS
            for namespace in namespaces or (None,)
        ]

    async def start(self) -> None:
        """Start every stream and return once each has listed once."""
        await self.run_streams(self.streams)

    def stop(self) -> None:
        """Streams end at their next retry or watch timeout."""
        self.stopping.set()

"""Which Secrets and ConfigMaps obreg holds the data of, and what an event means for them.

A cluster's Secrets are mostly not obreg's business (Helm keeps every release revision in
one, up to 1 MiB), so obreg holds the data of only two sets: the objects some resource
reads (wanted, per namespace) and obreg's own objects (labelled managed-by obreg: its
output files and generated credentials), whose drift it reverts. Of every other object
it keeps only its resourceVersion, so that a resource that starts reading an existing
object fetches it at once and one that reads an absent object waits for its creation.

Pure: the watch (kube/datawatch.py) feeds it events and fetch results and does what it says.
Every change to a key bumps its sequence number, so a fetch that raced with an event is
repeated rather than trusted.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..render import objects

Key = tuple[str, str, str]  # (kind, namespace, name)
KINDS = ("Secret", "ConfigMap")


def managed(metadata: Mapping[str, Any]) -> bool:
    return objects.managed(metadata.get("labels") or {})


def key(kind: str, metadata: Mapping[str, Any]) -> Key:
    # Interned: the same namespace names repeat across every object of a cluster.
    return kind, sys.intern(str(metadata["namespace"])), str(metadata["name"])


@dataclass(frozen=True)
class Held:
    """What obreg holds of a Secret or ConfigMap: its data decoded, its labels, obreg's
    own annotations (kubectl's last-applied copy can be large) and its owners' uids."""

    data: Mapping[str, bytes]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    owners: tuple[str, ...]
    resource_version: str = ""

    @property
    def managed(self) -> bool:
        """Labelled as obreg's own (its output files or generated credentials)."""
        return objects.managed(self.labels)

    def content(self) -> tuple[Any, ...]:
        """Everything but the resource version: what a reader of it sees."""
        return self.data, self.labels, self.annotations, self.owners


def summary(kind: str, obj: Mapping[str, Any]) -> Held:
    """What obreg holds of ``obj``; a Secret's stringData and a ConfigMap's data are
    text, read as UTF-8 bytes like the rest."""
    meta = obj.get("metadata") or {}
    encoded, plain = ("data", "stringData") if kind == "Secret" else ("binaryData", "data")
    data = {k: base64.b64decode(v) for k, v in (obj.get(encoded) or {}).items()}
    data.update({k: str(v).encode() for k, v in (obj.get(plain) or {}).items()})
    return Held(
        data=data,
        labels=dict(meta.get("labels") or {}),
        annotations={
            k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith("obreg.dev/")
        },
        owners=tuple(str(o.get("uid")) for o in meta.get("ownerReferences") or []),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


class KindView(Mapping[tuple[str, str], Held]):
    """The held objects of one kind by (namespace, name), seen in place."""

    def __init__(self, held: Mapping[Key, Held], kind: str) -> None:
        self._held, self._kind = held, kind

    def __getitem__(self, item: tuple[str, str]) -> Held:
        return self._held[(self._kind, *item)]

    def __contains__(self, item: object) -> bool:
        return isinstance(item, tuple) and (self._kind, *item) in self._held

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((ns, name) for kind, ns, name in list(self._held) if kind == self._kind)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class Holdings:
    held: dict[Key, Held] = field(default_factory=dict)
    # resourceVersion of every object outside obreg's label, held or not.
    existing: dict[Key, str] = field(default_factory=dict)
    wanted: dict[str, frozenset[Key]] = field(default_factory=dict)  # by namespace
    sequence: dict[Key, int] = field(default_factory=dict)

    def view(self, kind: str) -> KindView:
        return KindView(self.held, kind)

    def is_wanted(self, item: Key) -> bool:
        return item in self.wanted.get(item[1], frozenset())

    def _bump(self, item: Key) -> None:
        self.sequence[item] = self.sequence.get(item, 0) + 1

    def _needs_fetch(self, item: Key) -> bool:
        """Wanted, outside obreg's label, existing, and not held as it is now."""
        version = self.existing.get(item)
        if version is None or not self.is_wanted(item):
            return False
        held = self.held.get(item)
        return held is None or held.resource_version != version

    def want(self, namespace: str, items: Iterable[Key]) -> list[Key]:
        """Set what a namespace's resources read; drop what none reads any more (unless
        it is obreg's own); return the keys to fetch."""
        wanted = frozenset(items)
        if wanted:
            self.wanted[namespace] = wanted
        else:
            self.wanted.pop(namespace, None)
        for item in [k for k in self.held if k[1] == namespace and k not in wanted]:
            if not self.held[item].managed:
                del self.held[item]
                self._bump(item)
        return sorted(k for k in wanted if self._needs_fetch(k))

    def metadata_event(
        self, kind: str, kind_of_event: str, metadata: Mapping[str, Any]
    ) -> Literal["fetch", "gone"] | None:
        """An object's metadata as the all-objects watch saw it: "fetch" when a wanted
        object is new or changed, "gone" when a held one was deleted."""
        item = key(kind, metadata)
        if managed(metadata):  # the labelled watch reports it in full
            self.existing.pop(item, None)
            return None
        if kind_of_event == "DELETED":
            self.existing.pop(item, None)
            return "gone" if self.forget(item) else None
        self.existing[item] = str(metadata.get("resourceVersion") or "")
        return "fetch" if self._needs_fetch(item) else None

    def forget(self, item: Key) -> bool:
        """The object is gone; True when a held object went (so readers react)."""
        self._bump(item)
        return self.held.pop(item, None) is not None

    def managed_event(self, kind: str, kind_of_event: str, obj: Mapping[str, Any]) -> bool:
        """An object as the labelled watch saw it, in full; True when held data changed.

        DELETED from a labelled watch also means "no longer labelled": the object may
        live on as someone else's, which the all-objects watch then reports."""
        item = key(kind, obj.get("metadata") or {})
        if kind_of_event == "DELETED":
            return self.forget(item)
        return self.store(item, summary(kind, obj))

    def store(self, item: Key, held: Held | None) -> bool:
        """Hold ``held`` (None: absent) for ``item``; True when what is held changed."""
        self._bump(item)
        before = self.held.get(item)
        if held is None:
            self.held.pop(item, None)
            return before is not None
        if not held.managed and not self.is_wanted(item):
            self.held.pop(item, None)
            return before is not None
        self.held[item] = held
        return before is None or before.content() != held.content()

    def relisted(self, kind: str, namespace: str | None, seen: Iterable[Key]) -> list[Key]:
        """After a full list of ``kind`` (in ``namespace``, or everywhere): keys of
        objects outside obreg's label that the list no longer has, now forgotten."""
        present = set(seen)
        gone = [
            k
            for k in self.existing
            if k[0] == kind and (namespace is None or k[1] == namespace) and k not in present
        ]
        for item in gone:
            del self.existing[item]
        return [k for k in gone if self.forget(k)]

    def managed_relisted(self, kind: str, namespace: str | None, seen: Iterable[Key]) -> list[Key]:
        """After a full list of obreg's own objects of ``kind``: held ones of obreg's that
        it no longer has, now forgotten."""
        present = set(seen)
        gone = [
            k
            for k, held in self.held.items()
            if k[0] == kind
            and (namespace is None or k[1] == namespace)
            and k not in present
            and held.managed
        ]
        return [k for k in gone if self.forget(k)]

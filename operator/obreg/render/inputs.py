"""The Secrets and ConfigMaps that resources reference, already read.

Rendering never reads from the API: the operator fills this from its indexes, the offline
CLI from manifest files, and tests from literals. A missing object or key is refused
with the field path of the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..api.common import ConfigMapKeyRef, FileSource, SecretKeyRef
from ..errors import Where

# (namespace, name) -> key -> bytes. ConfigMap data and binaryData are merged.
Objects = Mapping[tuple[str, str], Mapping[str, bytes]]


@dataclass(frozen=True)
class Inputs:
    secrets: Objects = field(default_factory=dict)
    config_maps: Objects = field(default_factory=dict)

    def secret(self, namespace: str, ref: SecretKeyRef, where: Where) -> bytes:
        return self._lookup("Secret", self.secrets, namespace, ref.name, ref.key, where)

    def config_map(self, namespace: str, ref: ConfigMapKeyRef, where: Where) -> bytes:
        return self._lookup("ConfigMap", self.config_maps, namespace, ref.name, ref.key, where)

    def file(self, namespace: str, source: FileSource, where: Where) -> bytes:
        if source.secret_key_ref is not None:
            return self.secret(namespace, source.secret_key_ref, where.child("secretKeyRef"))
        assert source.config_map_key_ref is not None  # FileSource validates exactly one
        return self.config_map(namespace, source.config_map_key_ref, where.child("configMapKeyRef"))

    @staticmethod
    def _lookup(
        kind: str, objects: Objects, namespace: str, name: str, key: str, where: Where
    ) -> bytes:
        data = objects.get((namespace, name))
        if data is None:
            raise where.refuse(
                f"{kind} {namespace}/{name} not found", f"create the {kind} or fix the name"
            )
        if key not in data:
            raise where.refuse(
                f"{kind} {namespace}/{name} has no key {key!r}",
                f"keys present: {', '.join(sorted(data)) or 'none'}",
            )
        return data[key]

"""A custom resource as rendering sees it: identity plus a validated spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from ..errors import Label

Spec = TypeVar("Spec", bound=BaseModel)


@dataclass(frozen=True)
class Resource(Generic[Spec]):
    kind: str
    namespace: str
    name: str
    spec: Spec
    generation: int = 0
    uid: str = ""

    @property
    def label(self) -> Label:
        """How errors and reports name the resource: ``Kind namespace/name``."""
        return Label(self.kind, self.namespace, self.name)

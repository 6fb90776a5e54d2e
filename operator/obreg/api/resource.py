"""A custom resource as rendering sees it: identity plus a validated spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

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
    def label(self) -> str:
        """How errors and reports name the resource: ``Kind namespace/name``."""
        return f"{self.kind} {self.namespace}/{self.name}"

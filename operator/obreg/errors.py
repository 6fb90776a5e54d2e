"""Refusals that name the resource, the field path and what to do.

Messages are composed only from field paths, names and fixed text: never from an input
value, so a secret that ends up in the wrong field is never echoed into a log, an event
or a status.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    resource: str  # e.g. "OBTrustAnchor bank/ob-cas"
    path: str  # e.g. "spec.certificates[0].inline"
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.resource}: {self.path}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class InvalidInput(Exception):
    """Input refused as a whole; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Where:
    """A place in a resource, for errors raised deep in rendering."""

    resource: str
    path: str

    def child(self, suffix: str) -> Where:
        joiner = "" if suffix.startswith("[") else "."
        return Where(self.resource, f"{self.path}{joiner}{suffix}")

    def refuse(self, message: str, hint: str = "") -> InvalidInput:
        return InvalidInput([Problem(self.resource, self.path, message, hint)])

"""Refusals that name the resource, the field path and what to do.

Messages are composed only from field paths, names and fixed text: never from an input
value, so a secret that ends up in the wrong field is never echoed into a log, an event
or a status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Controls (C0 with tab and newline, DEL, C1), what XML cannot carry, and the
# bidirectional overrides that make a terminal or a browser show other text than it is.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
MESSAGE_MAX = 1024  # like an event's message: a status line stays readable


def printable(text: str) -> str:
    """``text`` with every control or direction-changing character written as an escape
    (``\\x1b``), so a message quoting input (a certificate subject, a name) cannot
    drive a terminal, hide text, or break a log line."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def bounded(text: str, limit: int = MESSAGE_MAX) -> str:
    """A message for a status or an event: printable, and cut with a mark when long."""
    text, mark = printable(text), " ... (truncated)"
    return text if len(text) <= limit else text[: limit - len(mark)] + mark


@dataclass(frozen=True)
class Label:
    """A resource as refusals, warnings and files name it (``Kind namespace/name``), kept
    whole: code that needs its kind or name reads them here, never parses the text."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Problem:
    resource: Label | str  # a resource; or a file or option the command line names
    path: str  # e.g. "spec.certificates[0].inline"
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.resource}: {self.path}: {self.message}"
        return printable(f"{text} ({self.hint})" if self.hint else text)


class InvalidInput(Exception):
    """Input refused as a whole; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Where:
    """A place in a resource, for errors raised deep in rendering."""

    resource: Label | str
    path: str

    def child(self, suffix: str) -> Where:
        joiner = "" if suffix.startswith("[") else "."
        return Where(self.resource, f"{self.path}{joiner}{suffix}")

    def refuse(self, message: str, hint: str = "") -> InvalidInput:
        return InvalidInput([Problem(self.resource, self.path, message, hint)])

"""Refusals that name the resource, the field path and what to do.

Messages are composed only from field paths, names and fixed text: never from an input
value, so a secret that ends up in the wrong field is never echoed into a log, an event
or a status.
"""

from __future__ import annotations

from dataclasses import dataclass

MESSAGE_MAX = 1024  # like an event's message: a status line stays readable


def printable(text: str) -> str:
    """``text`` with every character Python does not call printable written as an escape
    (``\\x1b`` as ``\\u001b``), so a message quoting input (a certificate subject, a
    name) cannot drive a terminal, hide text, or break a log line. One rule, by Unicode
    category rather than a list: controls, format characters (the bidirectional
    overrides, zero-width ones), line and paragraph separators (U+2028 and U+2029, which
    ``splitlines`` and log viewers break on), surrogates, private-use and unassigned code
    points, and every space but the ASCII one."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


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

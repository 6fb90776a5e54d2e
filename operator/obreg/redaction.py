"""Masking secrets in text that came from elsewhere (a Key Manager's fault, an error).

A server may echo a value in another form than it was sent: with its whitespace
collapsed or doubled, or XML-escaped by a SOAP stack. Each secret is masked in every one
of those forms, and before any other processing of the text (which could itself change
the form, as collapsing whitespace does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from xml.sax.saxutils import escape

MASK = "***"


def _forms(secret: str) -> list[str]:
    """The secret as sent and XML-escaped (quotes included, as attribute values are)."""
    escaped = escape(secret, {'"': "&quot;", "'": "&apos;"})
    return list(dict.fromkeys([secret, escaped, escape(secret)]))


def _pattern(form: str) -> str:
    """A form whose whitespace runs match any whitespace run, so an echo with collapsed,
    doubled or other whitespace is found too."""
    parts = [re.escape(p) for p in re.split(r"\s+", form) if p]
    return r"\s+".join(parts)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every non-empty secret replaced by ``***``."""
    patterns = [_pattern(f) for s in secrets if s.strip() for f in _forms(s)]
    # Longest first, so a secret that contains another is masked whole.
    for pattern in sorted(set(patterns), key=len, reverse=True):
        text = re.sub(pattern, MASK, text)
    return text

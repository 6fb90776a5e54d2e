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


def _words(form: str) -> tuple[str, ...]:
    """A form as its words: an echo with collapsed, doubled or other whitespace between
    them is the same echo."""
    return tuple(form.split())


def _mask(text: str, words: tuple[str, ...]) -> str:
    """``text`` with every run of ``words`` separated by whitespace replaced by ``***``,
    leftmost first, as ``re.sub`` of the words joined by ``\\s+`` would; but in time
    linear in the text. That pattern was tried at every place the first word occurs, and
    a secret of k words on a text of n took k times n steps (a 4 KB secret of words on a
    Key Manager fault within its 4 MiB budget: minutes).

    The text's whitespace runs are collapsed to one space each; a plain search (linear)
    finds the words joined by one space there; each find is mapped back to its span of
    the text by walking the runs once, in step with the finds (no map of the text is
    kept: an answer may be 4 MiB)."""
    collapsed, needle = re.sub(r"\s+", " ", text), " ".join(words)
    runs = re.finditer(r"\s+", text)
    run = next(runs, None)
    shift = 0  # the text's index minus the collapsed text's, up to the next run

    def original(at: int) -> int:
        """The text's index of the collapsed text's ``at``, a character of a word; asked
        in increasing order."""
        nonlocal run, shift
        while run is not None and run.start() - shift < at:
            shift += len(run.group()) - 1
            run = next(runs, None)
        return at + shift

    pieces: list[str] = []
    done = 0  # in ``text``
    at = collapsed.find(needle)
    while at >= 0:
        end = at + len(needle)  # the needle ends with a word, never with whitespace
        pieces += [text[done : original(at)], MASK]
        done = original(end - 1) + 1
        at = collapsed.find(needle, end)
    return "".join(pieces) + text[done:] if pieces else text


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every non-empty secret replaced by ``***``."""
    forms = {_words(f) for s in secrets if s.strip() for f in _forms(s)}
    # Longest first, so a secret that contains another is masked whole; then by the
    # words, so that the same secrets mask the same text the same way, whatever the order
    # of a set of them.
    for words in sorted(forms, key=lambda w: (-len(" ".join(w)), w)):
        text = _mask(text, words)
    return text

"""Setting top-level members of a JSON5 document while keeping the rest of its text.

Stock site.json files carry ``//`` comments and trailing commas, and a reviewer wants a
diff that shows only the runbook's edits. A JSON5 round trip would drop every comment, so
instead the document is validated with json5, its top-level members are located by a
small scanner, and only the values obreg owns are rewritten (or appended). Rewriting a
value with the same rendering is a no-op, so patching is idempotent.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

import json5

from .. import budgets
from ..errors import Where

# A JSON5 member name without quotes: ECMAScript identifier characters or \uXXXX escapes.
_ESCAPE = r"\\u[0-9a-fA-F]{4}"
_IDENTIFIER = re.compile(rf"(?:[^\W\d]|[$_]|{_ESCAPE})(?:[\w$\u200c\u200d]|{_ESCAPE})*")
BOM = "\ufeff"
# What opens or closes a level, and what hides brackets (strings, comments): each
# alternative matches possessively to its end or the text's, so the scan is linear even
# in text json5 will refuse (an unclosed string or comment).
_NESTING_TOKENS = re.compile(
    r""""(?:[^"\\]|\\.)*+"?"""  # a double-quoted string
    r"""|'(?:[^'\\]|\\.)*+'?"""  # a single-quoted one
    r"|//[^\n]*+|/\*(?:[^*]|\*(?!/))*+(?:\*/)?"  # comments
    r"|[\[\]{}]",
    re.DOTALL,
)
# json5's parser recurses about 22 Python frames per level of nesting (16 for arrays,
# 22 for objects, measured with json5 0.17); this leaves room for another version.
_FRAMES_PER_LEVEL = 32
_RECURSION = threading.Lock()  # the limit is the process's: one raise at a time


class _Layout(Exception):
    """The scanner met a layout it does not know (json5 accepted the document)."""


def decode(data: bytes, where: Where) -> str:
    """A JSON5 file's text: UTF-8, a leading byte-order mark dropped (editors on Windows
    write one; the products read the file without it)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise where.refuse("not UTF-8 text", "save the file as UTF-8") from None
    return text.removeprefix(BOM)


@dataclass(frozen=True)
class _Member:
    key: str
    key_start: int
    value_start: int
    value_end: int


def nesting(text: str) -> int:
    """How deep ``text``'s arrays and objects nest, counted without recursion."""
    depth = deepest = 0
    for token in _NESTING_TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth


def _parse(loads: Callable[[str], object], text: str, levels: int, where: Where) -> object:
    """``loads`` (json's or json5's), and the walk joining surrogates, with the recursion
    they need for ``levels`` of nesting above this call, whatever the caller's own depth
    (the operator's handlers run deep in kopf's stack); pure-Python frames take no C
    stack on Python 3.11+."""
    with _RECURSION:
        previous = sys.getrecursionlimit()
        needed = _stack_depth() + _FRAMES_PER_LEVEL * (levels + 2)
        sys.setrecursionlimit(max(previous, needed))
        try:
            return _whole_characters(loads(text), where)
        finally:
            sys.setrecursionlimit(previous)


def _whole_characters(value: object, where: Where) -> object:
    """``value`` with each escaped surrogate pair (``"\\ud83d\\ude00"``, which json5
    leaves as two halves) joined into its character; a lone half is no character, and
    cannot be written as UTF-8, so it is refused."""
    if isinstance(value, str):
        try:
            return value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise where.refuse(
                "a string escapes half of a surrogate pair (\\ud800-\\udfff) without the other",
                "escape a character outside the BMP as its two halves, high then low",
            ) from None
    if isinstance(value, list):
        return [_whole_characters(item, where) for item in value]
    if isinstance(value, dict):
        return {_whole_characters(k, where): _whole_characters(v, where) for k, v in value.items()}
    return value


def load_object(text: str, where: Where) -> dict[str, object]:
    """The document as Python values, refused past budgets.NESTING_DEPTH before any
    parser recurses. Plain JSON (what the stock locale files are) is read by the
    standard library's parser, in C; only text that needs JSON5 (comments, trailing
    commas) reaches json5's, whose CPU is bounded by budgets.JSON5_BYTES."""
    levels = nesting(text)
    if levels > budgets.NESTING_DEPTH:
        raise where.refuse(
            f"nested more than {budgets.NESTING_DEPTH} deep", "site.json nests about 4 deep"
        )
    try:
        value = _parse(json.loads, text, levels, where)
    except ValueError:
        if len(text.encode("utf-8", "surrogatepass")) > budgets.JSON5_BYTES:
            raise where.refuse(
                f"larger than {budgets.JSON5_BYTES} bytes of JSON5 (comments or trailing commas)",
                "write it as plain JSON, or trim it: site.json and the locale files are smaller",
            ) from None
    else:
        if not isinstance(value, dict):
            raise where.refuse("the document is not a JSON object")
        return value
    try:
        value = _parse(json5.loads, text, levels, where)
    except ValueError as err:
        line = re.search(r":(\d+)", str(err))
        at = f" near line {line.group(1)}" if line else ""
        raise where.refuse(
            f"not valid JSON5{at}", "comments and trailing commas are fine; check quotes and braces"
        ) from None
    if not isinstance(value, dict):
        raise where.refuse("the document is not a JSON object")
    return value


def set_members(
    text: str, values: dict[str, object], where: Where, *, loaded: bool = False
) -> str:
    """Return ``text`` with each top-level key of ``values`` set to that value.
    ``loaded``: the caller has read ``text`` with load_object already, so it is not
    parsed twice (json5's parse is most of a render's CPU)."""
    if not loaded:
        load_object(text, where)
    try:
        opening, members, _ = _scan(text)
    except (_Layout, IndexError, ValueError):
        raise where.refuse(
            "obreg cannot edit this file's layout in place",
            "please report it; meanwhile remove unusual syntax around the top-level members",
        ) from None
    indent = _member_indent(text, members)
    newline = line_ending(text)
    for key in values:
        if sum(1 for m in members if m.key == key) > 1:
            raise where.refuse(f"the key {key!r} appears more than once at the top level")
    # Replace from the end so earlier offsets stay valid.
    replacements: list[tuple[int, int, str]] = []
    appended: list[str] = []
    for key, value in values.items():
        rendered = _render(value, indent).replace("\n", newline)
        member = next((m for m in members if m.key == key), None)
        if member is None:
            appended.append(f"{indent}{json.dumps(key)}: {rendered}")
        else:
            replacements.append((member.value_start, member.value_end, rendered))
    if appended:
        if members:
            anchor = members[-1].value_end
            replacements.append((anchor, anchor, "".join("," + newline + a for a in appended)))
        else:
            joined = ("," + newline).join(appended)
            replacements.append((opening + 1, opening + 1, newline + joined + newline))
    for start, end, new in sorted(replacements, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def line_ending(text: str) -> str:
    """The file's own line ending, by its first line break: what every edit writes, so a
    CRLF file stays CRLF throughout (an edit in LF would leave it mixed)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _render(value: object, indent: str) -> str:
    """JSON for a value, its continuation lines indented to sit under its key."""
    unit = indent or "    "
    lines = json.dumps(value, indent=len(unit), ensure_ascii=False).split("\n")
    return "\n".join([lines[0], *(indent + line for line in lines[1:])])


def _member_indent(text: str, members: list[_Member]) -> str:
    if members:
        line_start = text.rfind("\n", 0, members[0].key_start) + 1
        prefix = text[line_start : members[0].key_start]
        if prefix.strip() == "":
            return prefix
    return "    "


def _scan(text: str) -> tuple[int, list[_Member], int]:
    """Offsets of the top-level object's braces and of each member's key and value."""
    i = _skip(text, 0)
    _expect(text, i, "{")  # load_object checked the document is an object
    opening = i
    i = _skip(text, i + 1)
    members = []
    while text[i] != "}":
        key_start = i
        if text[i] in "\"'":
            end = _string_end(text, i)
            key = str(json5.loads(text[i:end]))
        else:
            match = _IDENTIFIER.match(text, i)
            if match is None:
                raise _Layout(i)
            key, end = str(json5.loads(f'"{match.group(0)}"')), match.end()
        i = _skip(text, end)
        _expect(text, i, ":")
        value_start = _skip(text, i + 1)
        value_end = _value_end(text, value_start)
        members.append(_Member(key, key_start, value_start, value_end))
        i = _skip(text, value_end)
        if text[i] == ",":
            i = _skip(text, i + 1)
    return opening, members, i


def _expect(text: str, i: int, char: str) -> None:
    if i >= len(text) or text[i] != char:
        raise _Layout(i)


def _skip(text: str, i: int) -> int:
    """Past whitespace and comments."""
    while i < len(text):
        if text[i].isspace() or text[i] == BOM:
            i += 1
        elif text.startswith("//", i):
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline + 1
        elif text.startswith("/*", i):
            i = text.index("*/", i + 2) + 2
        else:
            break
    return i


def _string_end(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _value_end(text: str, i: int) -> int:
    if text[i] in "\"'":
        return _string_end(text, i)
    if text[i] in "{[":
        depth = 0
        while True:
            i = _skip(text, i)
            char = text[i]
            if char in "\"'":
                i = _string_end(text, i)
                continue
            if char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    while (
        i < len(text)
        and text[i] not in ",}]"
        and not text[i].isspace()
        and not text.startswith("//", i)
        and not text.startswith("/*", i)
    ):
        i += 1
    return i

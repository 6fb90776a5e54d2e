"""A YAML stream read within obreg's budgets: nodes counted with alias expansion, nesting
depth, and numbers no longer than Python converts; a mapping holding one key twice is
refused at the second (yaml keeps the last silently, and the API server's strict decoding
refuses it), which also names the usual cause of a second ``apiVersion:`` in one
document: files concatenated without a ``---`` line between them.

An alias is one shared node, and the object it constructs one shared Python object, so
a 1 KB "billion laughs" document composes small; whatever walks or copies it afterwards
(validation, a deep copy, a dump) expands it to 10^9 nodes. Counting each alias at its
anchor's expanded size, and an alias placed deep at its anchor's height on top of its own
depth, refuses such a stream while it is composed, before anything walks it. Composition
is yaml's own Composer over libyaml's event parser (fast, and the C composer has no hook
to count with); Python's parser stands in where PyYAML was built without libyaml.
"""

from __future__ import annotations

import sys
from typing import Any

from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

from . import budgets

try:
    from yaml._yaml import CParser as EventParser
except ImportError:  # PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class EventParser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class Refused(Exception):
    """The stream is over a budget or holds a value yaml cannot construct, at ``line``
    (1-based)."""

    def __init__(self, line: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.line, self.message, self.hint = line, message, hint


def _line(event_or_node: Any) -> int:
    return int(event_or_node.start_mark.line) + 1


class _Loader(Composer, EventParser, SafeConstructor, Resolver):
    """yaml's safe loader with Composer's composition (ahead of the C parser's own in the
    method order) counting as it goes."""

    def __init__(self, text: str) -> None:
        EventParser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.nodes = 0  # across the whole stream: many small documents add up too
        self._depth = 0
        self._deepest = 0
        # An anchor's (expanded nodes, height), once its node is composed: an alias to an
        # anchor not in here yet is inside its own anchor's node (a cycle).
        self._measured: dict[str, tuple[int, int]] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self.anchors:  # an unknown one is yaml's to refuse
                if event.anchor not in self._measured:
                    raise Refused(_line(event), "an alias inside its own anchor's node (a cycle)")
                nodes, height = self._measured[event.anchor]
                self._spend(nodes, self._depth + height, event)
            return super().compose_node(parent, index)
        assert isinstance(event, NodeEvent)
        # yaml refuses an anchor defined twice in a document; one of an earlier document
        # may be defined again, and is measured anew.
        self._measured.pop(event.anchor or "", None)
        before, outer_deepest = self.nodes, self._deepest
        self._depth += 1
        self._deepest = self._depth
        self._spend(1, self._depth, event)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if event.anchor is not None:
            self._measured[event.anchor] = (self.nodes - before, self._deepest - self._depth)
        self._deepest = max(outer_deepest, self._deepest)
        if isinstance(node, ScalarNode) and node.tag in _NUMBERS:
            self._check_number(node)
        return node

    def _spend(self, nodes: int, depth: int, event: Any) -> None:
        self.nodes += nodes
        self._deepest = max(self._deepest, depth)
        if self.nodes > budgets.YAML_NODES:
            raise Refused(
                _line(event),
                f"more than {budgets.YAML_NODES} YAML nodes (aliases counted expanded)",
                "split the manifests, or write out what the aliases repeat",
            )
        if depth > budgets.NESTING_DEPTH:
            raise Refused(
                _line(event),
                f"nested more than {budgets.NESTING_DEPTH} deep (aliases counted expanded)",
                "a Kubernetes object nests about 10 deep",
            )

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            before = len(seen)
            first = seen.setdefault((key.tag, key.value), _line(key))
            if len(seen) == before:  # already there
                top = self._depth == 1
                hint = (
                    "two documents concatenated without a '---' line between them?"
                    if top and key.value in ("apiVersion", "kind", "metadata")
                    else "remove one; the API server refuses a duplicate field"
                )
                shown = key.value if len(key.value) <= 64 else key.value[:64] + "..."
                raise Refused(
                    _line(key), f"the key {shown!r} again (first at line {first})", hint
                )
        return node

    @staticmethod
    def _check_number(node: ScalarNode) -> None:
        """Python converts at most this many digits (its own guard against quadratic
        conversion), but yaml's base-60 numbers (``1:2:3``) convert digit by digit,
        quadratic in length, with no such guard."""
        if len(node.value) > sys.get_int_max_str_digits():
            raise Refused(
                _line(node),
                f"a number longer than {sys.get_int_max_str_digits()} characters",
                "quote it if it is text",
            )

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """yaml's constructors raise ValueError for a scalar their pattern matched but
        Python refuses (``2001-13-45`` as a date, ``!!float 1e``): that is the input's."""
        try:
            return super().construct_object(node, deep)
        except ValueError:
            raise Refused(
                _line(node), "a value YAML reads as a date or number is not one", "quote it"
            ) from None


def load_all(text: str) -> list[Any]:
    """Every document of ``text``, or Refused (or yaml.YAMLError for text that is not
    YAML) before any budget is exceeded."""
    return [document for _, document in load_all_located(text)]


def load_all_located(text: str) -> list[tuple[int, Any]]:
    """Every document of ``text`` with the line (1-based) where its content starts."""
    loader = _Loader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                documents.append((_line(node), loader.construct_document(node)))
        return documents
    finally:
        loader.dispose()

"""What differs between a product file as found and the same file as obreg renders it.

Each difference names an element (XML) or a key path (JSON) and never a value, since the
files hold client secrets. XML is compared as WSO2's parsers read it: by element name,
children in any order, a leaf's text exactly (WSO2 keeps surrounding whitespace, so a
padded value is another value); a ``Property`` is known by
its ``Name``, an ``Attribute`` or ``Claim`` by its ``Name``/``ClaimUri``, so a list is
compared as a set of named items rather than by position.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from ..errors import Where
from ..render import json_text, xml_patch

# Child elements that name the list item they are in: how one item is matched to another.
# Never one that holds a credential (InboundAuthKey is the client id): paths are printed.
_KEYS = ("Name", "ClaimUri", "ResponseTypeName", "IdentityProviderName")


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def _key(element: etree._Element) -> str:
    """``Tag`` or ``Tag[Key=value]``: the element's step in a reported path."""
    for name in _KEYS:
        for child in element:
            if isinstance(child.tag, str) and _local(child) == name and len(child) == 0:
                return f"{_local(element)}[{name}={child.text or ''}]"
    local_claim = next(
        (c for c in element if isinstance(c.tag, str) and _local(c) == "LocalClaim"), None
    )
    if local_claim is not None:
        uri = next(
            (
                c.text or ""
                for c in local_claim
                if isinstance(c.tag, str) and _local(c) == "ClaimUri"
            ),
            "",
        )
        return f"{_local(element)}[LocalClaim={uri}]"
    return _local(element)


def _children(element: etree._Element) -> dict[str, list[etree._Element]]:
    named: dict[str, list[etree._Element]] = {}
    for child in element:
        if isinstance(child.tag, str):  # comments and processing instructions aside
            named.setdefault(_key(child), []).append(child)
    return named


def _walk(found: etree._Element, rendered: etree._Element, path: str) -> Iterator[tuple[str, str]]:
    if sorted(found.attrib.items()) != sorted(rendered.attrib.items()):
        yield path, "its attributes differ from what obreg writes"
    if len(found) == 0 and len(rendered) == 0:
        if (found.text or "") != (rendered.text or ""):
            yield path, "obreg writes another value here"
        return
    ours, theirs = _children(found), _children(rendered)
    for key, elements in ours.items():
        others = theirs.get(key, [])
        for index, element in enumerate(elements):
            step = f"{path}/{key}" + (f"[{index + 1}]" if len(elements) > 1 else "")
            if index < len(others):
                yield from _walk(element, others[index], step)
            else:
                yield step, "not represented by obreg's resources (obreg would drop it)"
    for key, elements in theirs.items():
        for index in range(len(ours.get(key, [])), len(elements)):
            step = f"{path}/{key}" + (f"[{index + 1}]" if len(elements) > 1 else "")
            yield step, "absent here; obreg would add it"


def xml(found: bytes, rendered: bytes, root: str) -> list[tuple[str, str]]:
    """(element path, what) for each difference between two documents of root ``root``."""
    where = Where("import", root)
    a = xml_patch.parse(found, where, root).getroot()
    b = xml_patch.parse(rendered, where, root).getroot()
    return list(_walk(a, b, "/" + _local(a)))


def _json_walk(found: object, rendered: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(found, dict) and isinstance(rendered, dict):
        for key in found:
            step = f"{path}.{key}" if path else str(key)
            if key not in rendered:
                yield step, "not represented by obreg's resources (obreg would drop it)"
            else:
                yield from _json_walk(found[key], rendered[key], step)
        for key in rendered:
            if key not in found:
                yield (f"{path}.{key}" if path else str(key)), "absent here; obreg would add it"
    elif found != rendered or type(found) is not type(rendered):
        yield path or "(document)", "obreg writes another value here"


def json(found: bytes, rendered: bytes) -> list[tuple[str, str]]:
    """(key path, what) for each difference between two JSON5 documents, parsed."""
    where = Where("import", "json")
    a = json_text.load_object(json_text.decode(found, where), where)
    b = json_text.load_object(json_text.decode(rendered, where), where)
    return list(_json_walk(a, b, ""))

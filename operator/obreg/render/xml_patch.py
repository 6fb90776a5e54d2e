"""Safe XML parsing and minimal, idempotent patching of the products' XML files.

Parsing never resolves entities, loads a DTD or reaches the network, and a document
that declares a DTD at all is refused: WSO2's files have none, so one is either a mistake
or an XXE/entity-bomb attempt. The check is made on the parsed document, after the
parser decoded it, so no encoding (UTF-16, a declared Latin-1) hides a declaration.

Patches change only the elements they own and indent new elements like their
neighbours, so a diff of the output against the base shows exactly the runbook's edits.
Looking elements up before adding them makes patching idempotent.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from .. import budgets
from ..errors import Where

_NESTING_HINT = "WSO2's files nest about 8 deep"


# The one set of XML parser options obreg uses, for base files and the KM's answers alike
# (km/soap.py feeds the same options to a pull parser): no entities, no network, no DTD.
OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": False,
    "remove_pis": False,
    "strip_cdata": False,
}


def parser() -> etree.XMLParser:
    """The one XML parser obreg uses, for base files and the KM's answers alike."""
    return etree.XMLParser(**OPTIONS)


def parse(data: bytes, where: Where, root_name: str) -> etree._ElementTree:
    """Parse a base file, refusing DTDs, entities and a root element other than expected."""
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser()))
    except etree.XMLSyntaxError as err:
        # lxml's message names line and column, never document content beyond a token.
        # libxml2 stops at 256 deep (its other limits are past what a ConfigMap holds).
        if err.code == etree.ErrorTypes.ERR_RESOURCE_LIMIT:  # type: ignore[attr-defined]
            raise where.refuse(
                f"nested more than {budgets.NESTING_DEPTH} deep, or over another of the XML "
                f"parser's limits: line {err.lineno}",
                _NESTING_HINT,
            ) from None
        raise where.refuse(
            f"not well-formed XML: line {err.lineno}, column {err.offset}", "fix the base file"
        ) from None
    except ValueError:  # lxml refuses some inputs before parsing (an unknown encoding)
        raise where.refuse("not XML obreg can read", "save the base file as UTF-8") from None
    if declares_dtd(tree):
        raise where.refuse(
            "the XML declares a DTD or entities, which obreg refuses",
            "remove the <!DOCTYPE>/<!ENTITY> declarations; WSO2's files have none",
        )
    root = tree.getroot()
    _check_nesting(root, where)
    if etree.QName(root).localname != root_name:
        raise where.refuse(
            f"root element is <{etree.QName(root).localname}>, expected <{root_name}>",
            "is this the right file?",
        )
    return tree


def _check_nesting(root: etree._Element, where: Where) -> None:
    """Refuse elements nested past budgets.NESTING_DEPTH, counted without recursion:
    patches and serializing walk the tree, and the refusal should name obreg's budget
    rather than whichever walk would fail first."""
    depth = 0
    for event, element in etree.iterwalk(root, events=("start", "end"), tag=etree.Element):
        depth += 1 if event == "start" else -1
        if depth > budgets.NESTING_DEPTH:
            raise where.refuse(
                f"nested more than {budgets.NESTING_DEPTH} deep: line {element.sourceline}",
                _NESTING_HINT,
            )


def declares_dtd(tree: etree._ElementTree) -> bool:
    """Whether a parsed document has a document type (internal or external) or an
    entity reference left unexpanded anywhere."""
    info = tree.docinfo
    return (
        bool(info.doctype)  # type: ignore[attr-defined]  # real, missing in lxml-stubs
        or info.internalDTD is not None
        or info.externalDTD is not None
        or any(True for _ in tree.iter(etree.Entity))
    )


DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


def serialize(tree: etree._ElementTree, like: bytes | None = None) -> bytes:
    """The document with WSO2's own declaration style and each top-level comment on its
    own line (lxml would glue a prolog comment to the root element); in the line ending of
    ``like``, the base file it was parsed from (an XML parser reads every CRLF as LF, so
    without this a CRLF file would come out LF)."""
    root = tree.getroot()
    nodes = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    parts = [DECLARATION]
    parts += [bytes(etree.tostring(node, encoding="UTF-8", with_tail=False)) for node in nodes]
    text = b"\n".join(parts) + b"\n"
    first = like.find(b"\n") if like is not None else -1
    if first > 0 and like is not None and like[first - 1 : first] == b"\r":
        text = text.replace(b"\n", b"\r\n")
    return text


def qname(like: etree._Element, local: str) -> str:
    """A tag in the namespace of ``like`` (WSO2's files use a default namespace)."""
    namespace = etree.QName(like).namespace
    return f"{{{namespace}}}{local}" if namespace else local


def child(parent: etree._Element, local: str) -> etree._Element | None:
    return parent.find(qname(parent, local))


def ensure_child(parent: etree._Element, local: str) -> etree._Element:
    """The first child of that name, appended (indented) when absent."""
    existing = child(parent, local)
    if existing is not None:
        return existing
    created = etree.Element(qname(parent, local), nsmap=None)
    append(parent, created)
    return created


def set_text(parent: etree._Element, local: str, text: str) -> etree._Element:
    element = ensure_child(parent, local)
    element.text = text
    return element


def _unit(tree_root: etree._Element) -> str:
    """The document's indentation unit, read from the root's first child."""
    text = tree_root.text or ""
    if "\n" in text:
        indent = text.rsplit("\n", 1)[1]
        if indent and indent.strip() == "":
            return indent
    return "    "


def append(parent: etree._Element, element: etree._Element) -> None:
    """Append ``element`` as the last child of ``parent``, indented like its siblings."""
    root = parent.getroottree().getroot()
    unit = _unit(root)
    depth = sum(1 for _ in parent.iterancestors()) + 1
    inner = "\n" + unit * depth
    outer = "\n" + unit * (depth - 1)
    if len(element):
        etree.indent(element, space=unit, level=depth)
    if len(parent):
        last = parent[-1]
        element.tail = last.tail if last.tail is not None else outer
        last.tail = inner
    else:
        parent.text = inner
        element.tail = outer
    parent.append(element)


def element(tag: str, *content: etree._Element | str) -> etree._Element:
    """A new element from children and text, for files built from scratch."""
    created = etree.Element(tag)
    for item in content:
        if isinstance(item, str):
            created.text = item
        else:
            created.append(item)
    return created

"""The API Manager's XML files: open-banking.xml's allowed inbound signature algorithm and
api-manager.xml's application attributes."""

from __future__ import annotations

from lxml import etree

from ..api.service_provider import ApplicationAttribute
from ..errors import Where
from . import xml_patch

OPEN_BANKING_PATH = "repository/conf/finance/open-banking.xml"
API_MANAGER_PATH = "repository/conf/api-manager.xml"


def patch_open_banking(base: bytes, algorithm: str, where: Where) -> bytes:
    """Exactly one allowed algorithm, the one site.json's clientAlgorithm names, so the
    store and the gateway cannot disagree."""
    tree = xml_patch.parse(base, where, "Server")
    uk = xml_patch.ensure_child(tree.getroot(), "UK")
    allowed = xml_patch.ensure_child(uk, "AllowedInboundSignatureAlgorithms")
    current = allowed.findall(xml_patch.qname(allowed, "Algorithm"))
    if [a.text for a in current] != [algorithm]:
        for element in current:
            _remove(element)
        xml_patch.set_text(allowed, "Algorithm", algorithm)
    return xml_patch.serialize(tree, base)


def patch_api_manager(base: bytes, attributes: list[ApplicationAttribute], where: Where) -> bytes:
    tree = xml_patch.parse(base, where, "APIManager")
    configuration = xml_patch.ensure_child(tree.getroot(), "ApplicationConfiguration")
    container = xml_patch.ensure_child(configuration, "ApplicationAttributes")
    existing = {
        (a.findtext(xml_patch.qname(container, "Name")) or "").strip(): a
        for a in container.findall(xml_patch.qname(container, "Attribute"))
    }
    for attribute in attributes:
        element = existing.get(attribute.name)
        if element is None:
            element = etree.Element(xml_patch.qname(container, "Attribute"))
            xml_patch.append(container, element)
            xml_patch.set_text(element, "Name", attribute.name)
        element.set("required", "true" if attribute.required else "false")
        xml_patch.set_text(element, "Description", attribute.description)
    return xml_patch.serialize(tree, base)


def _remove(element: etree._Element) -> None:
    """Remove an element, keeping the whitespace layout of its siblings."""
    parent = element.getparent()
    assert parent is not None
    previous = element.getprevious()
    if previous is not None:
        previous.tail = element.tail
    else:
        parent.text = element.tail
    parent.remove(element)

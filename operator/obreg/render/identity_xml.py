"""identity.xml: the ``code`` response type with the OB handler and validator classes.

Some packs already carry a ``code`` entry, with or without the validator line, so the
entry is found and completed rather than added again.
"""

from __future__ import annotations

from lxml import etree

from ..api.service_provider import OB_CODE_HANDLER, OB_CODE_VALIDATOR
from ..errors import Where
from . import xml_patch

PATH = "repository/conf/identity/identity.xml"


def patch(base: bytes, where: Where) -> bytes:
    tree = xml_patch.parse(base, where, "Server")
    root = tree.getroot()
    oauth = xml_patch.child(root, "OAuth")
    if oauth is None:
        raise where.refuse("identity.xml has no <OAuth> element", "give the product's identity.xml")
    types = xml_patch.ensure_child(oauth, "SupportedResponseTypes")
    entry = next(
        (
            candidate
            for candidate in types.findall(xml_patch.qname(types, "SupportedResponseType"))
            if (candidate.findtext(xml_patch.qname(types, "ResponseTypeName")) or "").strip()
            == "code"
        ),
        None,
    )
    if entry is None:
        entry = etree.Element(xml_patch.qname(types, "SupportedResponseType"))
        xml_patch.append(types, entry)
        xml_patch.set_text(entry, "ResponseTypeName", "code")
    xml_patch.set_text(entry, "ResponseTypeHandlerImplClass", OB_CODE_HANDLER)
    xml_patch.set_text(entry, "ResponseTypeValidatorImplClass", OB_CODE_VALIDATOR)
    return xml_patch.serialize(tree, base)

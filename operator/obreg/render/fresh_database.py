"""claim-config.xml and oidc-scope-config.xml, which the Key Manager reads only when its
database is first created: the OIDC claim ``tpp_associated`` and its place in the
``openid`` scope. On an existing database these steps need the admin API instead.
"""

from __future__ import annotations

from lxml import etree

from ..api.service_provider import OidcClaim
from ..errors import Where
from . import xml_patch

CLAIM_CONFIG_PATH = "repository/conf/claim-config.xml"
OIDC_SCOPE_CONFIG_PATH = "repository/conf/identity/oidc-scope-config.xml"
OIDC_DIALECT = "http://wso2.org/oidc/claim"


def patch_claim_config(base: bytes, claim: OidcClaim, where: Where) -> bytes:
    tree = xml_patch.parse(base, where, "Claims")
    root = tree.getroot()
    dialect = next(
        (
            d
            for d in root.iter(xml_patch.qname(root, "Dialect"))
            if d.get("dialectURI") == OIDC_DIALECT
        ),
        None,
    )
    if dialect is None:
        raise where.refuse(
            f'claim-config.xml has no <Dialect dialectURI="{OIDC_DIALECT}">',
            "give the product's claim-config.xml",
        )
    entry = next(
        (
            c
            for c in dialect.findall(xml_patch.qname(dialect, "Claim"))
            if (c.findtext(xml_patch.qname(dialect, "ClaimURI")) or "").strip() == claim.claim_uri
        ),
        None,
    )
    if entry is None:
        entry = etree.Element(xml_patch.qname(dialect, "Claim"))
        xml_patch.append(dialect, entry)
        xml_patch.set_text(entry, "ClaimURI", claim.claim_uri)
    # AttributeID is mandatory even for an external claim, or the dialect fails to load.
    if xml_patch.child(entry, "AttributeID") is None:
        xml_patch.set_text(entry, "AttributeID", claim.claim_uri)
    xml_patch.set_text(entry, "MappedLocalClaim", claim.mapped_local_claim)
    return xml_patch.serialize(tree, base)


def patch_oidc_scope_config(base: bytes, claim_uri: str, where: Where) -> bytes:
    tree = xml_patch.parse(base, where, "Scopes")
    root = tree.getroot()
    scope = next(
        (s for s in root.findall(xml_patch.qname(root, "Scope")) if s.get("id") == "openid"), None
    )
    if scope is None:
        raise where.refuse(
            'oidc-scope-config.xml has no <Scope id="openid">',
            "give the product's oidc-scope-config.xml",
        )
    claims = scope.findall(xml_patch.qname(scope, "Claim"))
    if len(claims) > 1:
        raise where.refuse(
            "the openid scope has several <Claim> elements",
            "the Key Manager concatenates them without a separator; merge them into one comma list",
        )
    element = claims[0] if claims else xml_patch.ensure_child(scope, "Claim")
    names = [n.strip() for n in (element.text or "").split(",") if n.strip()]
    if claim_uri not in names:
        element.text = ",".join([*names, claim_uri])
    return xml_patch.serialize(tree, base)

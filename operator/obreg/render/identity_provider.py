"""The file-based identity provider: the OB directory as the Key Manager's OIDC IdP.

Built from scratch (it has no base file), in the element shape the Key Manager's
IdentityProvider.build reads. It holds the client secret, so it belongs in a Secret.
"""

from __future__ import annotations

from lxml import etree

from ..api.identity_provider import OBIdentityProviderSpec
from ..api.resource import Resource
from ..errors import Where
from . import xml_patch
from .inputs import Inputs

AUTHENTICATOR = "OpenIDConnectAuthenticator"


def path(spec: OBIdentityProviderSpec) -> str:
    return f"repository/conf/identity/identity-providers/{spec.identity_provider_name}.xml"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _property(name: str, value: str, confidential: bool = False) -> etree._Element:
    prop = xml_patch.element(
        "Property", xml_patch.element("Name", name), xml_patch.element("Value", value)
    )
    if confidential:
        prop.append(xml_patch.element("IsConfidential", "true"))
    return prop


def render(idp: Resource[OBIdentityProviderSpec], inputs: Inputs) -> bytes:
    spec = idp.spec
    secret_where = Where(idp.label, "spec.clientSecretRef")
    client_secret = inputs.secret_text(idp.namespace, spec.client_secret_ref, secret_where)

    properties = [
        _property("ClientId", spec.client_id),
        _property("ClientSecret", client_secret, confidential=True),
        _property("OAuth2AuthzEPUrl", spec.authorization_endpoint),
        _property("OAuth2TokenEPUrl", spec.token_endpoint),
        _property("callbackUrl", spec.callback_url),
    ]
    if spec.user_info_endpoint:
        properties.append(_property("UserInfoUrl", spec.user_info_endpoint))
    if spec.logout_endpoint:
        properties.append(_property("OIDCLogoutEPUrl", spec.logout_endpoint))
    properties += [
        _property("IsUserIdInClaims", _flag(spec.user_id_in_claims)),
        _property("commonAuthQueryParams", spec.query_parameters),
        _property("IsBasicAuthEnabled", _flag(spec.basic_auth)),
    ]

    claims = spec.claims
    provisioning = spec.provisioning
    root = xml_patch.element(
        "IdentityProvider",
        xml_patch.element("IdentityProviderName", spec.identity_provider_name),
        xml_patch.element("DisplayName", spec.display_name),
        xml_patch.element("IsEnabled", "true"),
        xml_patch.element("IsPrimary", "false"),
        xml_patch.element("IsFederationHub", "false"),
        xml_patch.element(
            "FederatedAuthenticatorConfigs",
            xml_patch.element(
                "OpenIDConnectAuthenticatorConfig",
                xml_patch.element("Name", AUTHENTICATOR),
                xml_patch.element("DisplayName", "openidconnect"),
                xml_patch.element("IsEnabled", "true"),
                xml_patch.element("Properties", *properties),
            ),
        ),
        xml_patch.element("DefaultAuthenticatorConfig", AUTHENTICATOR),
        xml_patch.element(
            "ClaimConfig",
            xml_patch.element("LocalClaimDialect", "false"),
            xml_patch.element("UserClaimURI", claims.user_id_claim),
            xml_patch.element(
                "IdpClaims",
                *[
                    xml_patch.element("Claim", xml_patch.element("ClaimUri", m.remote))
                    for m in claims.mappings
                ],
            ),
            xml_patch.element(
                "ClaimMappings",
                *[
                    xml_patch.element(
                        "ClaimMapping",
                        xml_patch.element("LocalClaim", xml_patch.element("ClaimUri", m.local)),
                        xml_patch.element("RemoteClaim", xml_patch.element("ClaimUri", m.remote)),
                    )
                    for m in claims.mappings
                ],
            ),
        ),
        xml_patch.element(
            "JustInTimeProvisioningConfig",
            xml_patch.element("IsProvisioningEnabled", _flag(provisioning.enabled)),
            xml_patch.element("ProvisioningUserStore", provisioning.user_store_domain),
            xml_patch.element("IsPasswordProvisioningEnabled", _flag(not provisioning.silent)),
            xml_patch.element("AllowModifyUserName", _flag(not provisioning.silent)),
            xml_patch.element("PromptConsent", _flag(not provisioning.silent)),
        ),
    )
    etree.indent(root, space="    ")
    return xml_patch.serialize(etree.ElementTree(root))

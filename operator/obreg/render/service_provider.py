"""The file-based service provider for the store's login on the Key Manager.

Built from scratch, in the shape ServiceProvider.build reads (checked with WSO2's own
parser classes by tests/fidelity): OAuth2 inbound with the
store's client id, one federated step through the OB directory IdP, and the requested
claims. The OAuth application with that client id lives only in the KM database.
"""

from __future__ import annotations

from lxml import etree

from ..api.service_provider import OBServiceProviderSpec
from . import xml_patch
from .identity_provider import AUTHENTICATOR


def path(spec: OBServiceProviderSpec) -> str:
    return f"repository/conf/identity/service-providers/{spec.application_name}.xml"


def render(spec: OBServiceProviderSpec, client_id: str, identity_provider_name: str) -> bytes:
    root = xml_patch.element(
        "ServiceProvider",
        xml_patch.element("ApplicationName", spec.application_name),
        xml_patch.element(
            "Description", "API Manager store login through the Open Banking directory"
        ),
        # Absent means true to WSO2's parser; an SP made in the console is not SaaS.
        xml_patch.element("IsSaaSApp", "true" if spec.saas_app else "false"),
        xml_patch.element(
            "InboundAuthenticationConfig",
            xml_patch.element(
                "InboundAuthenticationRequestConfigs",
                xml_patch.element(
                    "InboundAuthenticationRequestConfig",
                    xml_patch.element("InboundAuthKey", client_id),
                    xml_patch.element("InboundAuthType", "oauth2"),
                    xml_patch.element("Properties"),
                ),
            ),
        ),
        xml_patch.element(
            "LocalAndOutBoundAuthenticationConfig",
            xml_patch.element("AuthenticationType", "federated"),
            xml_patch.element(
                "AuthenticationSteps",
                xml_patch.element(
                    "AuthenticationStep",
                    xml_patch.element("StepOrder", "1"),
                    xml_patch.element("SubjectStep", "true"),
                    xml_patch.element("AttributeStep", "true"),
                    xml_patch.element(
                        "FederatedIdentityProviders",
                        xml_patch.element(
                            "IdentityProvider",
                            xml_patch.element("IdentityProviderName", identity_provider_name),
                            xml_patch.element("IsEnabled", "true"),
                            # WSO2's own shape: the step's authenticators as configs, and
                            # the default named by its text (a Name element inside
                            # DefaultAuthenticatorConfig is never read).
                            xml_patch.element(
                                "FederatedAuthenticatorConfigs",
                                xml_patch.element(
                                    "FederatedAuthenticatorConfig",
                                    xml_patch.element("Name", AUTHENTICATOR),
                                    xml_patch.element("IsEnabled", "true"),
                                ),
                            ),
                            xml_patch.element("DefaultAuthenticatorConfig", AUTHENTICATOR),
                        ),
                    ),
                ),
            ),
            # Its default differs between the frameworks obreg targets (false before
            # 5.14.141, true since), and WSO2 reads the element only to turn it on, so
            # both read one value only when it is written true.
            xml_patch.element("UseUserstoreDomainInRoles", "true"),
        ),
        xml_patch.element(
            "ClaimConfig",
            xml_patch.element("LocalClaimDialect", "true"),
            xml_patch.element(
                "ClaimMappings",
                *[
                    xml_patch.element(
                        "ClaimMapping",
                        xml_patch.element("LocalClaim", xml_patch.element("ClaimUri", claim)),
                        xml_patch.element("RemoteClaim", xml_patch.element("ClaimUri", claim)),
                        xml_patch.element("RequestClaim", "true"),
                    )
                    for claim in spec.requested_claims
                ],
            ),
        ),
    )
    etree.indent(root, space="    ")
    return xml_patch.serialize(etree.ElementTree(root))

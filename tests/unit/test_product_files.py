"""Every rendered XML/JSON file: what the runbook requires, what it keeps from its base
file, and idempotence (patching a patched file changes nothing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import json5
import pytest
import yaml
from lxml import etree

from obreg.api.parse import parse
from obreg.api.service_provider import OB_CODE_HANDLER, OB_CODE_VALIDATOR, OBServiceProviderSpec
from obreg.errors import InvalidInput, Where
from obreg.render import (
    apim_xml,
    fresh_database,
    identity_provider,
    identity_xml,
    locale,
    service_provider,
    site_json,
)
from obreg.render.inputs import Inputs

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
WHERE = Where("OBServiceProvider bank/store", "spec.baseFiles.x")
CARBON = "{http://wso2.org/projects/carbon/carbon.xml}"
OB = "{http://wso2.org/projects/carbon/open-banking.xml}"


@pytest.fixture(scope="module")
def base() -> dict[str, bytes]:
    """The sample base files (obreg's own stand-ins of WSO2's shapes)."""
    config_map = yaml.safe_load((SAMPLES / "base-files.yaml").read_text())
    return {key: value.encode() for key, value in config_map["data"].items()}


def sp_spec(**overrides: Any) -> OBServiceProviderSpec:
    objects = list(yaml.safe_load_all((SAMPLES / "service-provider.yaml").read_text()))
    obj = next(o for o in objects if o["kind"] == "OBServiceProvider")
    obj["spec"].update(overrides)
    spec = parse(obj).spec
    assert isinstance(spec, OBServiceProviderSpec)
    return spec


def xml(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def idempotent(patch: Any, data: bytes, *args: Any) -> bytes:
    once = patch(data, *args)
    assert patch(once, *args) == once
    return once


# -- Key Manager --------------------------------------------------------------------------


def test_identity_xml_completes_the_existing_code_entry(base: dict[str, bytes]) -> None:
    out = idempotent(identity_xml.patch, base["identity.xml"], WHERE)
    root = xml(out)
    entries = root.findall(
        f"{CARBON}OAuth/{CARBON}SupportedResponseTypes/{CARBON}SupportedResponseType"
    )
    by_name = {e.findtext(f"{CARBON}ResponseTypeName"): e for e in entries}
    assert list(by_name) == ["token", "code"]  # found, not added twice
    assert by_name["code"].findtext(f"{CARBON}ResponseTypeHandlerImplClass") == OB_CODE_HANDLER
    assert by_name["code"].findtext(f"{CARBON}ResponseTypeValidatorImplClass") == OB_CODE_VALIDATOR
    # Kept from the base: the other entry, other elements, comments.
    assert (
        by_name["token"].findtext(f"{CARBON}ResponseTypeHandlerImplClass")
        == "org.example.TokenHandler"
    )
    assert root.findtext(f"{CARBON}OAuth/{CARBON}TimestampSkew") == "300"
    assert b"<!-- Key Manager identity configuration (obreg sample stand-in). -->\n<Server" in out
    assert b"<!-- Response types the authorize endpoint accepts. -->" in out


def test_identity_xml_adds_the_entry_and_the_list_when_absent() -> None:
    bare = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<Server xmlns="http://wso2.org/projects/carbon/carbon.xml">\n'
        b"    <OAuth>\n        <Other>x</Other>\n    </OAuth>\n</Server>\n"
    )
    out = idempotent(identity_xml.patch, bare, WHERE)
    assert b"        <SupportedResponseTypes>\n            <SupportedResponseType>\n" in out
    code = xml(out).find(
        f"{CARBON}OAuth/{CARBON}SupportedResponseTypes/{CARBON}SupportedResponseType"
    )
    assert code is not None and code.findtext(f"{CARBON}ResponseTypeName") == "code"
    assert xml(out).findtext(f"{CARBON}OAuth/{CARBON}Other") == "x"


def test_identity_provider_file() -> None:
    objects = list(yaml.safe_load_all((SAMPLES / "identity-provider.yaml").read_text()))
    idp = parse(next(o for o in objects if o["kind"] == "OBIdentityProvider"))
    inputs = Inputs(secrets={("obreg-demo", "ob-directory-client"): {"client-secret": b"s3cr3t"}})
    root = xml(identity_provider.render(idp, inputs))
    assert root.tag == "IdentityProvider"
    assert root.findtext("IdentityProviderName") == "OBDirectory"
    assert root.findtext("IsEnabled") == "true"
    assert root.findtext("DefaultAuthenticatorConfig") == "OpenIDConnectAuthenticator"
    authenticator = root.find("FederatedAuthenticatorConfigs/*")
    assert authenticator is not None
    assert authenticator.findtext("Name") == "OpenIDConnectAuthenticator"
    props = {p.findtext("Name"): p for p in authenticator.findall("Properties/Property")}
    values = {name: p.findtext("Value") for name, p in props.items()}
    assert values == {
        "ClientId": "sample-directory-client-id",
        "ClientSecret": "s3cr3t",
        "OAuth2AuthzEPUrl": "https://auth.directory.example/as/authorization.oauth2",
        "OAuth2TokenEPUrl": "https://auth.directory.example/as/token.oauth2",
        "callbackUrl": "https://km.bank.example:9446/commonauth",
        "UserInfoUrl": "https://auth.directory.example/idp/userinfo.openid",
        "IsUserIdInClaims": "true",
        "commonAuthQueryParams": "scope=openid email profile&prompt=login",
        "IsBasicAuthEnabled": "true",
    }
    assert props["ClientSecret"].findtext("IsConfidential") == "true"
    assert root.findtext("ClaimConfig/UserClaimURI") == "email"
    assert root.findtext("ClaimConfig/LocalClaimDialect") == "false"
    mappings = {
        m.findtext("RemoteClaim/ClaimUri"): m.findtext("LocalClaim/ClaimUri")
        for m in root.findall("ClaimConfig/ClaimMappings/ClaimMapping")
    }
    assert mappings == {
        "tpp_associated": "http://wso2.org/claims/active",
        "email": "http://wso2.org/claims/emailaddress",
    }
    jit = root.find("JustInTimeProvisioningConfig")
    assert jit is not None
    assert {c.tag: c.text for c in jit} == {
        "IsProvisioningEnabled": "true",
        "ProvisioningUserStore": "PRIMARY",
        "IsPasswordProvisioningEnabled": "false",
        "AllowModifyUserName": "false",
        "PromptConsent": "false",
    }


def test_service_provider_file() -> None:
    root = xml(service_provider.render(sp_spec(), "the-client-id", "OBDirectory"))
    assert root.findtext("ApplicationName") == "apim_store_ob"
    inbound = root.find(
        "InboundAuthenticationConfig/InboundAuthenticationRequestConfigs/"
        "InboundAuthenticationRequestConfig"
    )
    assert inbound is not None
    assert inbound.findtext("InboundAuthKey") == "the-client-id"
    assert inbound.findtext("InboundAuthType") == "oauth2"
    outbound = root.find("LocalAndOutBoundAuthenticationConfig")
    assert outbound is not None and outbound.findtext("AuthenticationType") == "federated"
    idp = outbound.find(
        "AuthenticationSteps/AuthenticationStep/FederatedIdentityProviders/IdentityProvider"
    )
    assert idp is not None and idp.findtext("IdentityProviderName") == "OBDirectory"
    requested = [
        m.findtext("LocalClaim/ClaimUri")
        for m in root.findall("ClaimConfig/ClaimMappings/ClaimMapping")
        if m.findtext("RequestClaim") == "true"
    ]
    assert requested == ["http://wso2.org/claims/emailaddress", "http://wso2.org/claims/active"]


def test_claim_config_for_a_fresh_database(base: dict[str, bytes]) -> None:
    out = idempotent(
        fresh_database.patch_claim_config, base["claim-config.xml"], sp_spec().oidc_claim, WHERE
    )
    root = xml(out)
    dialects = {d.get("dialectURI"): d for d in root.findall("Dialect")}
    oidc = {c.findtext("ClaimURI"): c for c in dialects["http://wso2.org/oidc/claim"]}
    assert list(oidc) == ["email", "tpp_associated"]
    assert oidc["tpp_associated"].findtext("MappedLocalClaim") == "http://wso2.org/claims/active"
    assert oidc["tpp_associated"].findtext("AttributeID")
    assert oidc["email"].findtext("AttributeID") == "mail"
    assert len(dialects["http://wso2.org/claims"]) == 1


def test_oidc_scope_config_for_a_fresh_database(base: dict[str, bytes]) -> None:
    out = idempotent(
        fresh_database.patch_oidc_scope_config,
        base["oidc-scope-config.xml"],
        "tpp_associated",
        WHERE,
    )
    scopes = {s.get("id"): s.findall("Claim") for s in xml(out).findall("Scope")}
    assert [c.text for c in scopes["openid"]] == ["sub,email,email_verified,tpp_associated"]
    assert [c.text for c in scopes["phone"]] == ["phone_number"]


# -- API Manager --------------------------------------------------------------------------


# site.json's clientConfiguration for sp_spec() with client id cid and secret csecret.
CLIENT_CONFIGURATION = {
    "clientId": "cid",
    "clientSecret": "csecret",
    "responseType": "code",
    "authorizationType": "authorization_code",
    "scope": "phone email address openid profile api_store",
    "redirectURI": "https://apim.bank.example:9443/store/jagg/jaggery_oidc_acs_ob.jag",
    "postLogoutRedirectURI": "https://apim.bank.example:9443/store/",
    "clientAlgorithm": "PS256",
}


def test_site_json(base: dict[str, bytes]) -> None:
    spec = sp_spec()
    out = idempotent(site_json.patch, base["site.json"], spec, "cid", "csecret", WHERE)
    text = out.decode()
    document = json5.loads(text)
    oidc = document["oidcConfiguration"]
    assert oidc["enabled"] == "true"  # a string, as the store compares it
    assert oidc["issuer"] == "API_STORE"
    assert oidc["identityProviderURI"] == "https://apim.bank.example:8243/token"
    assert oidc["authorizationEndpointURI"] == "https://km.bank.example:9446/oauth2/authorize"
    assert oidc["tokenEndpointURI"] == "https://km.bank.example:9446/oauth2/token"
    assert oidc["userInfoURI"] == "https://km.bank.example:9446/oauth2/userinfo"
    assert oidc["jwksURI"] == "https://km.bank.example:9446/oauth2/jwks"
    assert oidc["logoutEndpointURI"] == "https://km.bank.example:9446/oidc/logout"
    assert (oidc["authHttpMethod"], oidc["usernameClaim"], oidc["roleParameter"], oidc["role"]) == (
        "POST",
        "email",
        "tpp_associated",
        "Internal/subscriber",
    )
    assert oidc["clientConfiguration"] == CLIENT_CONFIGURATION
    assert oidc["disableCaching"] == "true"  # a base key the runbook does not set, kept
    assert document["OBDirectoryIntegrated"] is True
    assert document["UseSoftwareIdAsApplicationName"] is True
    # Everything outside the edited members is the base's text, comments included.
    assert "// Store web app settings (obreg sample stand-in)." in text
    assert '"enabled": "false", // the store uses OIDC, not SAML' in text
    assert document["theme"] == {"base": "wso2"}


def test_site_json_without_the_members_appends_them() -> None:
    base = b'{\n  // nothing yet\n  "context": "/store"\n}\n'
    out = idempotent(site_json.patch, base, sp_spec(signatureAlgorithm="ES256"), "i", "s", WHERE)
    document = json5.loads(out.decode())
    assert list(document) == [
        "context",
        "oidcConfiguration",
        "OBDirectoryIntegrated",
        "UseSoftwareIdAsApplicationName",
    ]
    assert document["oidcConfiguration"]["clientConfiguration"]["clientAlgorithm"] == "ES256"
    assert out.startswith(
        b'{\n  // nothing yet\n  "context": "/store",\n  "oidcConfiguration": {\n'
    )


@pytest.mark.parametrize("slash", ["", "/", "//"])
def test_oidc_configuration_whole_from_nothing_whatever_the_urls_trailing_slashes(
    slash: str,
) -> None:
    """From a site.json without one, the member is exactly the runbook's (no base key
    can stand in for a missing one)."""
    spec = sp_spec(
        keyManagerUrl="https://km.bank.example:9446" + slash,
        storeUrl="https://apim.bank.example:9443" + slash,
    )
    out = site_json.patch(b"{}", spec, "cid", "csecret", WHERE)
    km = "https://km.bank.example:9446"
    assert json5.loads(out.decode())["oidcConfiguration"] == {
        "enabled": "true",
        "issuer": "API_STORE",
        "identityProviderURI": "https://apim.bank.example:8243/token",
        "authorizationEndpointURI": f"{km}/oauth2/authorize",
        "tokenEndpointURI": f"{km}/oauth2/token",
        "userInfoURI": f"{km}/oauth2/userinfo",
        "jwksURI": f"{km}/oauth2/jwks",
        "logoutEndpointURI": f"{km}/oidc/logout",
        "authHttpMethod": "POST",
        "usernameClaim": "email",
        "roleParameter": "tpp_associated",
        "role": "Internal/subscriber",
        "clientConfiguration": CLIENT_CONFIGURATION,
    }


@pytest.mark.parametrize("algorithm", ["PS256", "ES256"])
def test_open_banking_xml_allows_exactly_the_store_algorithm(
    base: dict[str, bytes], algorithm: str
) -> None:
    out = idempotent(apim_xml.patch_open_banking, base["open-banking.xml"], algorithm, WHERE)
    uk = xml(out).find(f"{OB}UK")
    assert uk is not None
    assert [a.text for a in uk.findall(f"{OB}AllowedInboundSignatureAlgorithms/{OB}Algorithm")] == [
        algorithm
    ]
    assert uk.findtext(f"{OB}SigningAlgorithm") == "PS256"
    assert b"<!-- UK specification settings. -->" in out
    # Switching algorithm replaces, never accumulates: site.json and this file agree.
    other = "ES256" if algorithm == "PS256" else "PS256"
    switched = xml(apim_xml.patch_open_banking(out, other, WHERE))
    assert [a.text for a in switched.iter(f"{OB}Algorithm")] == [other]


def test_api_manager_xml_application_attributes(base: dict[str, bytes]) -> None:
    attributes = sp_spec().application_attributes
    out = idempotent(apim_xml.patch_api_manager, base["api-manager.xml"], attributes, WHERE)
    root = xml(out)
    found = root.findall("ApplicationConfiguration/ApplicationAttributes/Attribute")
    assert sorted(a.findtext("Name") or "" for a in found) == sorted(
        f"software_{claim}_{env}"
        for claim in ("id", "roles", "jwks_endpoint", "client_name")
        for env in ("sandbox", "production")
    )
    assert {a.get("required") for a in found} == {"false"}
    assert all(a.findtext("Description") for a in found)
    assert root.findtext("GatewayType") == "Synapse"


def test_api_manager_xml_updates_an_existing_attribute() -> None:
    base = (
        b"<APIManager>\n    <ApplicationConfiguration>\n        <ApplicationAttributes>\n"
        b'            <Attribute required="true">\n'
        b"                <Name>software_id_sandbox</Name>\n"
        b"                <Description>old</Description>\n            </Attribute>\n"
        b'            <Attribute required="true">\n                <Name>custom</Name>\n'
        b"            </Attribute>\n        </ApplicationAttributes>\n"
        b"    </ApplicationConfiguration>\n</APIManager>\n"
    )
    attributes = sp_spec().application_attributes[:1]
    root = xml(idempotent(apim_xml.patch_api_manager, base, attributes, WHERE))
    found = {a.findtext("Name"): a for a in root.iter("Attribute")}
    assert list(found) == ["software_id_sandbox", "custom"]
    assert found["software_id_sandbox"].get("required") == "false"
    assert found["software_id_sandbox"].findtext("Description") == "Software ID of the sandbox"
    assert found["custom"].get("required") == "true"
    # An attribute the spec requires says so, new or existing.
    wanted = [{"name": n, "description": "d", "required": True} for n in ("custom", "new")]
    required = sp_spec(applicationAttributes=wanted).application_attributes
    root = xml(apim_xml.patch_api_manager(base, required, WHERE))
    assert {a.findtext("Name"): a.get("required") for a in root.iter("Attribute")} == {
        "software_id_sandbox": "true",
        "custom": "true",
        "new": "true",
    }


def test_locale_files(base: dict[str, bytes]) -> None:
    out = idempotent(locale.patch, base["locale_en.json"], WHERE)
    document = json.loads(out)
    assert document == {
        "Applications": "Applications",
        "Add Application": "Add Application",
        "ID": "ID",
    }


def test_patches_refuse_what_is_not_their_file(base: dict[str, bytes]) -> None:
    with pytest.raises(InvalidInput, match="root element is <APIManager>, expected <Server>"):
        identity_xml.patch(base["api-manager.xml"], WHERE)
    with pytest.raises(InvalidInput, match="no <OAuth> element"):
        identity_xml.patch(b'<Server xmlns="http://wso2.org/projects/carbon/carbon.xml"/>', WHERE)


def test_json_files_with_a_byte_order_mark_are_edited_and_written_without_it(
    base: dict[str, bytes],
) -> None:
    bom = "\ufeff".encode()
    for data, patch, args in (
        (base["site.json"], site_json.patch, (sp_spec(), "cid", "csecret", WHERE)),
        (base["locale_en.json"], locale.patch, (WHERE,)),
    ):
        plain = patch(data, *args)
        assert patch(bom + data, *args) == plain and not plain.startswith(bom)


def test_json5_member_names_of_any_legal_form_are_edited_in_place() -> None:
    text = '{ünïcode: 1, \\u0041b: 2, $x: [1, {"}": "]"}], \'ID\': "old", // c\n}'
    out = locale.patch(text.encode(), WHERE).decode()
    assert out == text.replace('"old"', '"ID"')


@pytest.mark.parametrize(
    ("scope", "claims"),
    [
        ('<Scope id="openid"/>', ["tpp_associated"]),  # no <Claim>: one is made
        ('<Scope id="openid"><Claim/></Scope>', ["tpp_associated"]),  # an empty one
        ('<Scope id="openid"><Claim> sub , ,email </Claim></Scope>', ["sub,email,tpp_associated"]),
        ('<Scope id="openid"><Claim>tpp_associated</Claim></Scope>', ["tpp_associated"]),
    ],
)
def test_the_openid_scope_gets_the_claim_in_any_shape_it_comes(
    scope: str, claims: list[str]
) -> None:
    base = f'<Scopes><Scope id="phone"><Claim>x</Claim></Scope>{scope}</Scopes>'.encode()
    out = idempotent(fresh_database.patch_oidc_scope_config, base, "tpp_associated", WHERE)
    scopes = {s.get("id"): [c.text for c in s.findall("Claim")] for s in xml(out).findall("Scope")}
    assert scopes == {"phone": ["x"], "openid": claims}


@pytest.mark.parametrize(
    ("scopes", "refusal"),
    [
        ('<Scope id="profile"><Claim>x</Claim></Scope>', 'has no <Scope id="openid">'),
        ('<Scope id="openid"><Claim>a</Claim><Claim>b</Claim></Scope>', "several <Claim>"),
    ],
)
def test_an_oidc_scope_config_obreg_cannot_patch_is_refused(scopes: str, refusal: str) -> None:
    with pytest.raises(InvalidInput, match=refusal) as refused:
        fresh_database.patch_oidc_scope_config(f"<Scopes>{scopes}</Scopes>".encode(), "c", WHERE)
    assert refused.value.problems[0].hint


def test_a_claim_already_in_the_oidc_dialect_is_updated_in_place() -> None:
    """Found by its ClaimURI (surrounding blanks aside); its AttributeID is kept, and a
    claim without one gets the URI (the dialect does not load without it)."""
    base = (
        b"<Claims>"
        b'<Dialect dialectURI="http://wso2.org/oidc/claim">'
        b"<Claim><ClaimURI> tpp_associated </ClaimURI><AttributeID>kept</AttributeID>"
        b"<MappedLocalClaim>http://wso2.org/claims/old</MappedLocalClaim></Claim>"
        b"<Claim><ClaimURI>other</ClaimURI></Claim>"
        b"</Dialect></Claims>"
    )
    out = idempotent(fresh_database.patch_claim_config, base, sp_spec().oidc_claim, WHERE)
    claims = xml(out).findall("Dialect/Claim")
    assert [c.findtext("ClaimURI").strip() for c in claims] == ["tpp_associated", "other"]
    assert claims[0].findtext("AttributeID") == "kept"
    assert claims[0].findtext("MappedLocalClaim") == "http://wso2.org/claims/active"
    bare = base.replace(b"<AttributeID>kept</AttributeID>", b"")
    out = fresh_database.patch_claim_config(bare, sp_spec().oidc_claim, WHERE)
    assert xml(out).find("Dialect/Claim").findtext("AttributeID") == "tpp_associated"


def test_a_claim_config_without_the_oidc_dialect_is_refused() -> None:
    base = b'<Claims><Dialect dialectURI="http://wso2.org/claims"/></Claims>'
    with pytest.raises(InvalidInput, match="has no <Dialect") as refused:
        fresh_database.patch_claim_config(base, sp_spec().oidc_claim, WHERE)
    assert refused.value.problems[0].hint


# The whole file, as WSO2's parser reads it (tests/fidelity runs that parser on it): every
# element is one the runbook sets by hand in the Key Manager console.
SERVICE_PROVIDER_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<ServiceProvider>\n"
    "    <ApplicationName>apim_store_ob</ApplicationName>\n"
    "    <Description>API Manager store login through the Open Banking directory</Description>\n"
    "    <IsSaaSApp>false</IsSaaSApp>\n"
    "    <InboundAuthenticationConfig>\n"
    "        <InboundAuthenticationRequestConfigs>\n"
    "            <InboundAuthenticationRequestConfig>\n"
    "                <InboundAuthKey>the-client-id</InboundAuthKey>\n"
    "                <InboundAuthType>oauth2</InboundAuthType>\n"
    "                <Properties/>\n"
    "            </InboundAuthenticationRequestConfig>\n"
    "        </InboundAuthenticationRequestConfigs>\n"
    "    </InboundAuthenticationConfig>\n"
    "    <LocalAndOutBoundAuthenticationConfig>\n"
    "        <AuthenticationType>federated</AuthenticationType>\n"
    "        <AuthenticationSteps>\n"
    "            <AuthenticationStep>\n"
    "                <StepOrder>1</StepOrder>\n"
    "                <SubjectStep>true</SubjectStep>\n"
    "                <AttributeStep>true</AttributeStep>\n"
    "                <FederatedIdentityProviders>\n"
    "                    <IdentityProvider>\n"
    "                        <IdentityProviderName>OBDirectory</IdentityProviderName>\n"
    "                        <IsEnabled>true</IsEnabled>\n"
    "                        <FederatedAuthenticatorConfigs>\n"
    "                            <FederatedAuthenticatorConfig>\n"
    "                                <Name>OpenIDConnectAuthenticator</Name>\n"
    "                                <IsEnabled>true</IsEnabled>\n"
    "                            </FederatedAuthenticatorConfig>\n"
    "                        </FederatedAuthenticatorConfigs>\n"
    "                        <DefaultAuthenticatorConfig>OpenIDConnectAuthenticator"
    "</DefaultAuthenticatorConfig>\n"
    "                    </IdentityProvider>\n"
    "                </FederatedIdentityProviders>\n"
    "            </AuthenticationStep>\n"
    "        </AuthenticationSteps>\n"
    "        <UseUserstoreDomainInRoles>true</UseUserstoreDomainInRoles>\n"
    "    </LocalAndOutBoundAuthenticationConfig>\n"
    "    <ClaimConfig>\n"
    "        <LocalClaimDialect>true</LocalClaimDialect>\n"
    "        <ClaimMappings>\n"
    "            <ClaimMapping>\n"
    "                <LocalClaim>\n"
    "                    <ClaimUri>http://wso2.org/claims/emailaddress</ClaimUri>\n"
    "                </LocalClaim>\n"
    "                <RemoteClaim>\n"
    "                    <ClaimUri>http://wso2.org/claims/emailaddress</ClaimUri>\n"
    "                </RemoteClaim>\n"
    "                <RequestClaim>true</RequestClaim>\n"
    "            </ClaimMapping>\n"
    "            <ClaimMapping>\n"
    "                <LocalClaim>\n"
    "                    <ClaimUri>http://wso2.org/claims/active</ClaimUri>\n"
    "                </LocalClaim>\n"
    "                <RemoteClaim>\n"
    "                    <ClaimUri>http://wso2.org/claims/active</ClaimUri>\n"
    "                </RemoteClaim>\n"
    "                <RequestClaim>true</RequestClaim>\n"
    "            </ClaimMapping>\n"
    "        </ClaimMappings>\n"
    "    </ClaimConfig>\n"
    "</ServiceProvider>\n"
)


def test_the_service_provider_file_whole() -> None:
    rendered = service_provider.render(sp_spec(), "the-client-id", "OBDirectory")
    assert rendered.decode() == SERVICE_PROVIDER_XML
    saas = service_provider.render(sp_spec(saasApp=True), "the-client-id", "OBDirectory")
    assert b"<IsSaaSApp>true</IsSaaSApp>" in saas


IDENTITY_PROVIDER_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<IdentityProvider>\n"
    "    <IdentityProviderName>OBDirectory</IdentityProviderName>\n"
    "    <DisplayName>Open Banking Directory</DisplayName>\n"
    "    <IsEnabled>true</IsEnabled>\n"
    "    <IsPrimary>false</IsPrimary>\n"
    "    <IsFederationHub>false</IsFederationHub>\n"
    "    <FederatedAuthenticatorConfigs>\n"
    "        <OpenIDConnectAuthenticatorConfig>\n"
    "            <Name>OpenIDConnectAuthenticator</Name>\n"
    "            <DisplayName>openidconnect</DisplayName>\n"
    "            <IsEnabled>true</IsEnabled>\n"
    "            <Properties>\n"
    "                <Property>\n"
    "                    <Name>ClientId</Name>\n"
    "                    <Value>sample-directory-client-id</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>ClientSecret</Name>\n"
    "                    <Value>s3cr3t</Value>\n"
    "                    <IsConfidential>true</IsConfidential>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>OAuth2AuthzEPUrl</Name>\n"
    "                    <Value>https://auth.directory.example/as/authorization.oauth2</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>OAuth2TokenEPUrl</Name>\n"
    "                    <Value>https://auth.directory.example/as/token.oauth2</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>callbackUrl</Name>\n"
    "                    <Value>https://km.bank.example:9446/commonauth</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>UserInfoUrl</Name>\n"
    "                    <Value>https://auth.directory.example/idp/userinfo.openid</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>OIDCLogoutEPUrl</Name>\n"
    "                    <Value>https://auth.directory.example/idp/logout</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>IsUserIdInClaims</Name>\n"
    "                    <Value>true</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>commonAuthQueryParams</Name>\n"
    "                    <Value>scope=openid email profile&amp;prompt=login</Value>\n"
    "                </Property>\n"
    "                <Property>\n"
    "                    <Name>IsBasicAuthEnabled</Name>\n"
    "                    <Value>true</Value>\n"
    "                </Property>\n"
    "            </Properties>\n"
    "        </OpenIDConnectAuthenticatorConfig>\n"
    "    </FederatedAuthenticatorConfigs>\n"
    "    <DefaultAuthenticatorConfig>OpenIDConnectAuthenticator</DefaultAuthenticatorConfig>\n"
    "    <ClaimConfig>\n"
    "        <LocalClaimDialect>false</LocalClaimDialect>\n"
    "        <UserClaimURI>email</UserClaimURI>\n"
    "        <IdpClaims>\n"
    "            <Claim>\n"
    "                <ClaimUri>tpp_associated</ClaimUri>\n"
    "            </Claim>\n"
    "            <Claim>\n"
    "                <ClaimUri>email</ClaimUri>\n"
    "            </Claim>\n"
    "        </IdpClaims>\n"
    "        <ClaimMappings>\n"
    "            <ClaimMapping>\n"
    "                <LocalClaim>\n"
    "                    <ClaimUri>http://wso2.org/claims/active</ClaimUri>\n"
    "                </LocalClaim>\n"
    "                <RemoteClaim>\n"
    "                    <ClaimUri>tpp_associated</ClaimUri>\n"
    "                </RemoteClaim>\n"
    "            </ClaimMapping>\n"
    "            <ClaimMapping>\n"
    "                <LocalClaim>\n"
    "                    <ClaimUri>http://wso2.org/claims/emailaddress</ClaimUri>\n"
    "                </LocalClaim>\n"
    "                <RemoteClaim>\n"
    "                    <ClaimUri>email</ClaimUri>\n"
    "                </RemoteClaim>\n"
    "            </ClaimMapping>\n"
    "        </ClaimMappings>\n"
    "    </ClaimConfig>\n"
    "    <JustInTimeProvisioningConfig>\n"
    "        <IsProvisioningEnabled>true</IsProvisioningEnabled>\n"
    "        <ProvisioningUserStore>PRIMARY</ProvisioningUserStore>\n"
    "        <IsPasswordProvisioningEnabled>false</IsPasswordProvisioningEnabled>\n"
    "        <AllowModifyUserName>false</AllowModifyUserName>\n"
    "        <PromptConsent>false</PromptConsent>\n"
    "    </JustInTimeProvisioningConfig>\n"
    "</IdentityProvider>\n"
)


def test_the_identity_provider_file_whole_with_a_logout_endpoint() -> None:
    """Every element the Key Manager reads, in its order: an element misnamed or
    dropped is a setting WSO2's parser silently leaves at its default."""
    objects = list(yaml.safe_load_all((SAMPLES / "identity-provider.yaml").read_text()))
    obj = next(o for o in objects if o["kind"] == "OBIdentityProvider")
    obj["spec"]["logoutEndpoint"] = "https://auth.directory.example/idp/logout"
    inputs = Inputs(secrets={("obreg-demo", "ob-directory-client"): {"client-secret": b"s3cr3t"}})
    rendered = identity_provider.render(parse(obj), inputs)
    assert rendered.decode() == IDENTITY_PROVIDER_XML


LINE, END = "\n" + " " * 12, "\n" + " " * 8  # an algorithm's line; the closing tag's


@pytest.mark.parametrize(
    ("algorithms", "expected"),
    [
        # The other algorithm goes with its line; the chosen one is appended in its place.
        (
            f"{LINE}<Algorithm>PS256</Algorithm>{LINE}<Algorithm>RS256</Algorithm>{END}",
            f"{LINE}<Algorithm>ES256</Algorithm>{END}",
        ),
        (
            f"{LINE}<Algorithm>ES256</Algorithm>{LINE}<Algorithm>PS256</Algorithm>{END}",
            f"{LINE}<Algorithm>ES256</Algorithm>{END}",
        ),
    ],
)
def test_removed_algorithms_leave_the_layout_as_it_was(algorithms: str, expected: str) -> None:
    base = (
        "<Server>\n    <UK>\n        <AllowedInboundSignatureAlgorithms>"
        f"{algorithms}</AllowedInboundSignatureAlgorithms>\n    </UK>\n</Server>\n"
    )
    out = apim_xml.patch_open_banking(base.encode(), "ES256", WHERE).decode()
    assert out == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Server>\n    <UK>\n        <AllowedInboundSignatureAlgorithms>"
        f"{expected}</AllowedInboundSignatureAlgorithms>\n    </UK>\n</Server>\n"
    )


def test_site_json_keeps_the_bases_own_keys_inside_the_members_it_sets() -> None:
    base = b'{"oidcConfiguration": {"clientConfiguration": {"custom": "kept", "scope": "x"}}}'
    out = site_json.patch(base, sp_spec(), "cid", "csecret", WHERE)
    client = json5.loads(out.decode())["oidcConfiguration"]["clientConfiguration"]
    assert client["custom"] == "kept"
    assert client["scope"] == "phone email address openid profile api_store"

"""render(import(home)) gives the same files, for homes configured by hand the way the
runbook says: stock-shaped files of obreg's own (never WSO2's), the CAs imported with the
JDK's keytool as the runbook's commands do, the XML and JSON edited as a person would.

Each file obreg manages comes back byte for byte where obreg keeps the base's layout
(identity.xml, open-banking.xml, api-manager.xml, the locale files), otherwise as the
same document: canonical XML for the identity and service provider files obreg writes
from scratch, parsed JSON5 for site.json (obreg writes its oidcConfiguration member
whole), the same keytool-listed entries for the truststores.

Then every unrepresentable case of docs/importing.md: its report line and exit status.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path

import json5
import pytest
from lxml import etree

from obreg.cli import main
from tests.pki import issue

NS = "bank"
STOREPASS = "wso2carbon"
TRUSTSTORE = "repository/resources/security/client-truststore.jks"
IDENTITY = "repository/conf/identity/identity.xml"
IDP = "repository/conf/identity/identity-providers/OBDirectory.xml"
SP_DIR = "repository/conf/identity/service-providers"
SP = f"{SP_DIR}/apim_store_ob.xml"
STORE = "repository/deployment/server/jaggeryapps/store/site/conf"
SITE = f"{STORE}/site.json"
OPEN_BANKING = "repository/conf/finance/open-banking.xml"
API_MANAGER = "repository/conf/api-manager.xml"
LOCALES = [
    f"{STORE}/locales/jaggery/locale_default.json",
    f"{STORE}/locales/jaggery/locale_en.json",
]

# --- stock-shaped files, obreg's own ------------------------------------------------------

STOCK_IDENTITY = """<?xml version="1.0" encoding="UTF-8"?>
<!-- A Key Manager's identity configuration, test stand-in. -->
<Server xmlns="http://wso2.org/projects/carbon/carbon.xml">
    <OAuth>
        <SupportedResponseTypes>
            <SupportedResponseType>
                <ResponseTypeName>token</ResponseTypeName>
                <ResponseTypeHandlerImplClass>org.example.Token</ResponseTypeHandlerImplClass>
            </SupportedResponseType>
            <SupportedResponseType>
                <ResponseTypeName>code</ResponseTypeName>
                <ResponseTypeHandlerImplClass>org.example.Code</ResponseTypeHandlerImplClass>
            </SupportedResponseType>
        </SupportedResponseTypes>
        <TimestampSkew>300</TimestampSkew>
    </OAuth>
</Server>
"""
STOCK_DEFAULT_SP = """<?xml version="1.0" encoding="UTF-8"?>
<ServiceProvider>
    <ApplicationID>1</ApplicationID>
    <ApplicationName>default</ApplicationName>
    <Description>Fallback for clients without their own (test stand-in)</Description>
</ServiceProvider>
"""
STOCK_SITE = """{
    // Store settings, test stand-in.
    "context": "/store",
    "oidcConfiguration": {
        "enabled": "false",
        "issuer": "API_STORE",
        "disableCaching": "true",
    },
}
"""
STOCK_OPEN_BANKING = """<?xml version="1.0" encoding="UTF-8"?>
<Server xmlns="http://wso2.org/projects/carbon/open-banking.xml">
    <UK>
        <!-- UK settings. -->
        <SigningAlgorithm>PS256</SigningAlgorithm>
    </UK>
</Server>
"""
STOCK_API_MANAGER = """<?xml version="1.0" encoding="UTF-8"?>
<APIManager>
    <DataSourceName>jdbc/WSO2AM_DB</DataSourceName>
</APIManager>
"""
STOCK_LOCALE = (
    '{\n    "Applications": "Applications",\n    "Add Application": "Add Application"\n}\n'
)

# --- the runbook's edits, as a person makes them --------------------------------------------

_EXT = "com.wso2.finance.open.banking.identity.extensions.response.type"
OB_CODE = (
    f"<ResponseTypeHandlerImplClass>{_EXT}.handlers.OBCodeResponseTypeHandler"
    "</ResponseTypeHandlerImplClass>\n                <ResponseTypeValidatorImplClass>"
    f"{_EXT}.validators.OBCodeTokenResponseValidator</ResponseTypeValidatorImplClass>"
)


def idp_file(extra_property: str = "") -> str:
    """The identity provider as the console's steps leave it, written into a file."""
    props = [
        ("ClientId", "bank-directory-client"),
        ("ClientSecret", "directory-secret-by-hand"),
        ("OAuth2AuthzEPUrl", "https://directory.example/authorize"),
        ("OAuth2TokenEPUrl", "https://directory.example/token"),
        ("callbackUrl", "https://km.bank.example:9446/commonauth"),
        ("IsUserIdInClaims", "true"),
        ("commonAuthQueryParams", "scope=openid email profile&amp;prompt=login"),
        ("IsBasicAuthEnabled", "true"),
    ]
    body = "".join(
        f"<Property><Name>{n}</Name><Value>{v}</Value>"
        + ("<IsConfidential>true</IsConfidential>" if n == "ClientSecret" else "")
        + "</Property>\n"
        for n, v in props
    )
    # Another indentation and declaration than obreg's: the same document, not the bytes.
    return f"""<?xml version='1.0' encoding='utf-8'?>
<IdentityProvider>
  <IdentityProviderName>OBDirectory</IdentityProviderName>
  <DisplayName>Open Banking Directory</DisplayName>
  <IsEnabled>true</IsEnabled>
  <IsPrimary>false</IsPrimary>
  <IsFederationHub>false</IsFederationHub>
  <FederatedAuthenticatorConfigs>
    <OpenIDConnectAuthenticatorConfig>
      <Name>OpenIDConnectAuthenticator</Name>
      <DisplayName>openidconnect</DisplayName>
      <IsEnabled>true</IsEnabled>
      <Properties>
{body}{extra_property}      </Properties>
    </OpenIDConnectAuthenticatorConfig>
  </FederatedAuthenticatorConfigs>
  <DefaultAuthenticatorConfig>OpenIDConnectAuthenticator</DefaultAuthenticatorConfig>
  <ClaimConfig>
    <LocalClaimDialect>false</LocalClaimDialect>
    <UserClaimURI>email</UserClaimURI>
    <IdpClaims>
      <Claim><ClaimUri>tpp_associated</ClaimUri></Claim>
      <Claim><ClaimUri>email</ClaimUri></Claim>
    </IdpClaims>
    <ClaimMappings>
      <ClaimMapping><LocalClaim><ClaimUri>http://wso2.org/claims/active</ClaimUri></LocalClaim><RemoteClaim><ClaimUri>tpp_associated</ClaimUri></RemoteClaim></ClaimMapping>
      <ClaimMapping><LocalClaim><ClaimUri>http://wso2.org/claims/emailaddress</ClaimUri></LocalClaim><RemoteClaim><ClaimUri>email</ClaimUri></RemoteClaim></ClaimMapping>
    </ClaimMappings>
  </ClaimConfig>
  <JustInTimeProvisioningConfig>
    <IsProvisioningEnabled>true</IsProvisioningEnabled>
    <ProvisioningUserStore>PRIMARY</ProvisioningUserStore>
    <IsPasswordProvisioningEnabled>false</IsPasswordProvisioningEnabled>
    <AllowModifyUserName>false</AllowModifyUserName>
    <PromptConsent>false</PromptConsent>
  </JustInTimeProvisioningConfig>
</IdentityProvider>
"""  # noqa: E501


def sp_file(name: str = "apim_store_ob") -> str:
    claims = "".join(
        f"<ClaimMapping><LocalClaim><ClaimUri>{c}</ClaimUri></LocalClaim>"
        f"<RemoteClaim><ClaimUri>{c}</ClaimUri></RemoteClaim>"
        "<RequestClaim>true</RequestClaim></ClaimMapping>"
        for c in ("http://wso2.org/claims/emailaddress", "http://wso2.org/claims/active")
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ServiceProvider>
  <ApplicationName>{name}</ApplicationName>
  <Description>API Manager store login through the Open Banking directory</Description>
  <IsSaaSApp>false</IsSaaSApp>
  <InboundAuthenticationConfig><InboundAuthenticationRequestConfigs>
    <InboundAuthenticationRequestConfig><InboundAuthKey>store-client-by-hand</InboundAuthKey><InboundAuthType>oauth2</InboundAuthType><Properties/></InboundAuthenticationRequestConfig>
  </InboundAuthenticationRequestConfigs></InboundAuthenticationConfig>
  <LocalAndOutBoundAuthenticationConfig>
    <AuthenticationType>federated</AuthenticationType>
    <AuthenticationSteps><AuthenticationStep>
      <StepOrder>1</StepOrder><SubjectStep>true</SubjectStep><AttributeStep>true</AttributeStep>
      <FederatedIdentityProviders><IdentityProvider>
        <IdentityProviderName>OBDirectory</IdentityProviderName><IsEnabled>true</IsEnabled>
        <FederatedAuthenticatorConfigs><FederatedAuthenticatorConfig><Name>OpenIDConnectAuthenticator</Name><IsEnabled>true</IsEnabled></FederatedAuthenticatorConfig></FederatedAuthenticatorConfigs>
        <DefaultAuthenticatorConfig>OpenIDConnectAuthenticator</DefaultAuthenticatorConfig>
      </IdentityProvider></FederatedIdentityProviders>
    </AuthenticationStep></AuthenticationSteps>
    <UseUserstoreDomainInRoles>true</UseUserstoreDomainInRoles>
  </LocalAndOutBoundAuthenticationConfig>
  <ClaimConfig><LocalClaimDialect>true</LocalClaimDialect><ClaimMappings>{claims}</ClaimMappings></ClaimConfig>
</ServiceProvider>
"""  # noqa: E501


# The runbook's snippet, in its own layout (spaces before colons), pasted into site.json.
OIDC = """"oidcConfiguration" : {
     "enabled" : "true",
     "issuer" : "API_STORE",
     "disableCaching": "true",
     "identityProviderURI" : "https://apim.bank.example:8243/token",
     "authorizationEndpointURI" : "https://km.bank.example:9446/oauth2/authorize",
     "tokenEndpointURI" : "https://km.bank.example:9446/oauth2/token",
     "userInfoURI" : "https://km.bank.example:9446/oauth2/userinfo",
     "jwksURI" : "https://km.bank.example:9446/oauth2/jwks",
     "logoutEndpointURI" : "https://km.bank.example:9446/oidc/logout",
     "authHttpMethod": "POST",
     "usernameClaim":"email",
     "roleParameter":"tpp_associated",
     "role" :"Internal/subscriber",
     "clientConfiguration" : {
       "clientId" : "store-client-by-hand",
       "clientSecret" : "store-secret-by-hand",
       "responseType" : "code",
       "authorizationType" : "authorization_code",
       "scope" : "phone email address openid profile api_store",
       "redirectURI" : "https://apim.bank.example:9443/store/jagg/jaggery_oidc_acs_ob.jag",
       "postLogoutRedirectURI" : "https://apim.bank.example:9443/store/",
       "clientAlgorithm" : "PS256"
     }
    },
    "OBDirectoryIntegrated": true,
    "UseSoftwareIdAsApplicationName": true,"""

ATTRIBUTES = [
    ("software_id_sandbox", "Software ID of the sandbox"),
    ("software_id_production", "Software ID of the production"),
    ("software_roles_production", "Software roles of the production"),
    ("software_roles_sandbox", "Software roles of the sandbox"),
    ("software_jwks_endpoint_sandbox", "JWKS endpoint of sandbox"),
    ("software_jwks_endpoint_production", "JWKS endpoint of production"),
    ("software_client_name_sandbox", "Software Client Name of the sandbox"),
    ("software_client_name_production", "Software Client Name of the production"),
]


def put(home: Path, path: str, text: str) -> None:
    target = home / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def keytool(*args: str) -> str:
    return subprocess.run(
        ["keytool", *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout


@dataclass(frozen=True)
class Homes:
    km: Path
    apim: Path
    stock: Path
    password: str


def build(root: Path, password: str) -> Homes:
    """A KM and an APIM home as the runbook leaves them, and the stock truststore."""
    stock = root / "stock-client-truststore.jks"
    for i in range(3):  # the product's own CAs
        pem = root / f"stock{i}.pem"
        pem.write_bytes(issue(f"Stock Product CA {i}").pem)
        keytool(
            "-importcert",
            "-noprompt",
            "-alias",
            f"stockca{i}",
            "-file",
            str(pem),
            "-keystore",
            str(stock),
            "-storetype",
            "JKS",
            "-storepass",
            password,
        )
    ob_root = issue("OB Directory Root CA")
    ob_issuer = issue("OB Directory Issuing CA", ob_root)
    (root / "root.pem").write_bytes(ob_root.pem)
    (root / "issuer.pem").write_bytes(ob_issuer.pem)
    km, apim = root / "km", root / "apim"
    for home in (km, apim):
        store = home / TRUSTSTORE
        store.parent.mkdir(parents=True)
        shutil.copy(stock, store)
        # The runbook's two commands.
        for alias, pem_name in (("tpproot", "root.pem"), ("tppissuer", "issuer.pem")):
            keytool(
                "-import",
                "-noprompt",
                "-alias",
                alias,
                "-file",
                str(root / pem_name),
                "-keystore",
                str(store),
                "-storepass",
                password,
            )
    put(
        km,
        IDENTITY,
        re.sub(
            r"<ResponseTypeHandlerImplClass>org\.example\.Code</ResponseTypeHandlerImplClass>",
            OB_CODE,
            STOCK_IDENTITY,
        ),
    )
    put(km, f"{SP_DIR}/default.xml", STOCK_DEFAULT_SP)
    put(km, IDP, idp_file())
    put(km, SP, sp_file())
    put(
        apim,
        SITE,
        re.sub(r'"oidcConfiguration": \{.*?\n    \},', lambda _: OIDC, STOCK_SITE, flags=re.S),
    )
    put(
        apim,
        OPEN_BANKING,
        STOCK_OPEN_BANKING.replace(
            "    </UK>",
            "        <AllowedInboundSignatureAlgorithms>\n"
            "            <Algorithm>PS256</Algorithm>\n"
            "        </AllowedInboundSignatureAlgorithms>\n    </UK>",
        ),
    )
    attributes = "".join(
        f'            <Attribute required="false">\n                <Name>{n}</Name>\n'
        f"                <Description>{d}</Description>\n            </Attribute>\n"
        for n, d in ATTRIBUTES
    )
    put(
        apim,
        API_MANAGER,
        STOCK_API_MANAGER.replace(
            "</APIManager>",
            "    <ApplicationConfiguration>\n        <ApplicationAttributes>\n"
            f"{attributes}        </ApplicationAttributes>\n    </ApplicationConfiguration>\n"
            "</APIManager>",
        ),
    )
    for path in LOCALES:
        put(apim, path, STOCK_LOCALE.replace('"\n}', '",\n    "ID": "ID"\n}'))
    return Homes(km, apim, stock, password)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Homes]:
    """Homes by truststore password: WSO2's default, and one the bank chose."""
    return {
        password: build(tmp_path_factory.mktemp("homes"), password)
        for password in (STOREPASS, "bank-chosen-storepass")
    }


def copy(pristine: Homes, to: Path) -> Homes:
    """A copy of the homes that a test may edit."""
    shutil.copytree(pristine.km, to / "km")
    shutil.copytree(pristine.apim, to / "apim")
    return Homes(to / "km", to / "apim", pristine.stock, pristine.password)


@pytest.fixture
def homes(pristine: dict[str, Homes], tmp_path: Path) -> Homes:
    return copy(pristine[STOREPASS], tmp_path)


def run_import(homes: Homes, out: Path, *extra: str, namespace: str = NS) -> tuple[int, str]:
    args = [
        "import",
        "--km-home",
        str(homes.km),
        "--apim-home",
        str(homes.apim),
        "--stock-truststore",
        str(homes.stock),
        "-n",
        namespace,
        "-o",
        str(out),
        *extra,
    ]
    if homes.password != STOREPASS:
        secret = out.parent / f"{out.name}.storepass"
        secret.write_text(homes.password + "\n")
        args += ["--truststore-password-file", str(secret)]
    err = io.StringIO()
    with redirect_stderr(err):
        status = main(args)
    return status, err.getvalue()


def entries(store: Path, password: str) -> set[tuple[str, str]]:
    """(alias, SHA-256 fingerprint) of every entry, as keytool lists them."""
    listing = keytool("-list", "-v", "-keystore", str(store), "-storepass", password)
    aliases = re.findall(r"^Alias name: (.+)$", listing, re.M)
    prints = re.findall(r"^\s*SHA256: ([0-9A-F:]+)$", listing, re.M)
    assert len(aliases) == len(prints) > 0
    return set(zip(aliases, prints, strict=True))


def canonical(data: bytes) -> str:
    root = etree.fromstring(data, etree.XMLParser(remove_blank_text=True))
    return str(etree.canonicalize(etree.tostring(root).decode(), strip_text=True))


def assert_same_files(homes: Homes, km: Path, apim: Path) -> None:
    """Every file obreg manages in the KM and APIM folders ``km`` and ``apim`` (rendered,
    or copied out of the pods after an adoption: tests/real/test_adoption.py) is the
    homes' file as the import's contract says: byte for byte where obreg keeps the base's
    layout, the same canonical XML for the provider files obreg writes from scratch, the
    same parsed JSON5 for site.json, the same keytool-listed entries for the truststores."""
    for home, out, path in [
        (homes.km, km, IDENTITY),
        *[(homes.apim, apim, p) for p in (OPEN_BANKING, API_MANAGER, *LOCALES)],
    ]:
        assert (out / path).read_bytes() == (home / path).read_bytes(), path
    for path in (IDP, SP):
        assert canonical((km / path).read_bytes()) == canonical((homes.km / path).read_bytes())
    assert json5.loads((apim / SITE).read_text()) == json5.loads((homes.apim / SITE).read_text())
    for home, out in ((homes.km, km), (homes.apim, apim)):
        assert entries(out / TRUSTSTORE, homes.password) == entries(
            home / TRUSTSTORE, homes.password
        )


@pytest.mark.parametrize("password", [STOREPASS, "bank-chosen-storepass"])
def test_render_of_the_import_gives_the_same_files(
    pristine: dict[str, Homes], tmp_path: Path, password: str
) -> None:
    homes = copy(pristine[password], tmp_path)
    status, err = run_import(homes, tmp_path / "adopted")
    assert (status, "unrepresentable" in err) == (0, False), err
    rendered = tmp_path / "rendered"
    with redirect_stderr(io.StringIO()):
        assert main(["render", "-f", str(tmp_path / "adopted"), "-o", str(rendered)]) == 0
    km, apim = rendered / NS / "wso2-km", rendered / NS / "wso2-apim"
    assert_same_files(homes, km, apim)
    # obreg manages exactly these files: nothing else is written into the homes' places.
    managed = {str(p.relative_to(km)) for p in km.rglob("*") if p.is_file()}
    assert managed == {IDENTITY, IDP, SP, TRUSTSTORE, f"{TRUSTSTORE}.txt", "obreg-objects.yaml"}


def test_the_anchor_holds_the_runbook_aliases_only(homes: Homes, tmp_path: Path) -> None:
    run_import(homes, tmp_path / "adopted")
    text = (tmp_path / "adopted" / "trust-anchor.yaml").read_text()
    assert re.findall(r"alias: (\S+)", text) == ["tppissuer", "tpproot"]


def _round_trip_truststores(homes: Homes, tmp_path: Path) -> str:
    """Import, render, and check both truststores list the same entries; the anchors."""
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 0, err
    rendered = tmp_path / "rendered"
    with redirect_stderr(io.StringIO()):
        assert main(["render", "-f", str(tmp_path / "adopted"), "-o", str(rendered)]) == 0
    for home, workload in ((homes.km, "wso2-km"), (homes.apim, "wso2-apim")):
        assert entries(rendered / NS / workload / TRUSTSTORE, homes.password) == entries(
            home / TRUSTSTORE, homes.password
        )
    return (tmp_path / "adopted" / "trust-anchor.yaml").read_text()


def test_products_with_other_cas_get_an_anchor_each(homes: Homes, tmp_path: Path) -> None:
    keytool(
        "-delete",
        "-alias",
        "tppissuer",
        "-keystore",
        str(homes.apim / TRUSTSTORE),
        "-storepass",
        homes.password,
    )
    anchors = _round_trip_truststores(homes, tmp_path)
    assert re.findall(r"name: (ob-directory-cas-\w+)", anchors) == [
        "ob-directory-cas-km",
        "ob-directory-cas-apim",
    ]


def test_a_stock_alias_given_another_ca_is_replaced(homes: Homes, tmp_path: Path) -> None:
    pem = tmp_path / "replacement.pem"
    pem.write_bytes(issue("Bank's own CA under a stock alias").pem)
    for home in (homes.km, homes.apim):
        store = str(home / TRUSTSTORE)
        keytool("-delete", "-alias", "stockca2", "-keystore", store, "-storepass", homes.password)
        keytool(
            "-importcert",
            "-noprompt",
            "-alias",
            "stockca2",
            "-file",
            str(pem),
            "-keystore",
            store,
            "-storepass",
            homes.password,
        )
    anchors = _round_trip_truststores(homes, tmp_path)
    assert "replaceExistingAliases: true" in anchors and "alias: stockca2" in anchors


# --- what the import cannot represent: docs/importing.md's table -----------------------------

_NOT_KEPT = "not represented by obreg's resources (obreg would drop it)"
_PROPS = (
    "/IdentityProvider/FederatedAuthenticatorConfigs/"
    "OpenIDConnectAuthenticatorConfig[Name=OpenIDConnectAuthenticator]/Properties"
)


def _edit(home: Path, path: str, old: str, new: str) -> None:
    text = (home / path).read_text()
    assert old in text
    (home / path).write_text(text.replace(old, new, 1))


CASES = {
    "an IdP property obreg does not model": (
        lambda h: (h.km / IDP).write_text(
            idp_file("<Property><Name>IsPKCEEnabled</Name><Value>true</Value></Property>\n")
        ),
        f"km:{IDP}: {_PROPS}/Property[Name=IsPKCEEnabled]: {_NOT_KEPT}",
    ),
    "a second service provider": (
        lambda h: put(h.km, f"{SP_DIR}/partner_portal.xml", sp_file("partner_portal")),
        f"km:{SP_DIR}/partner_portal.xml: /ServiceProvider: a second service provider: "
        "obreg makes one, the store's login",
    ),
    "a second identity provider": (
        lambda h: put(
            h.km,
            "repository/conf/identity/identity-providers/Other.xml",
            idp_file().replace(">OBDirectory<", ">Other<"),
        ),
        "km:repository/conf/identity/identity-providers/Other.xml: /IdentityProvider: a "
        "second identity provider: obreg models the one the store's service provider "
        "federates to",
    ),
    "a second allowed algorithm (an edit the runbook does not make)": (
        lambda h: _edit(
            h.apim,
            OPEN_BANKING,
            "<Algorithm>PS256</Algorithm>",
            "<Algorithm>PS256</Algorithm>\n            <Algorithm>ES256</Algorithm>",
        ),
        f"apim:{OPEN_BANKING}: /Server/UK/AllowedInboundSignatureAlgorithms/Algorithm[2]: "
        f"{_NOT_KEPT}",
    ),
    "a response type the runbook does not set": (
        lambda h: _edit(
            h.apim, SITE, '"responseType" : "code"', '"responseType" : "code id_token"'
        ),
        f"apim:{SITE}: oidcConfiguration.clientConfiguration.responseType: obreg writes "
        "another value here",
    ),
    "the ID column in one locale only": (
        lambda h: (h.apim / LOCALES[1]).write_text(STOCK_LOCALE),
        f"apim:{LOCALES[1]}: ID: absent here but set in the other locale file; obreg sets "
        "both or neither",
    ),
    "identity.xml without the runbook's code response type": (
        lambda h: put(h.km, IDENTITY, STOCK_IDENTITY),
        f"km:{IDENTITY}: /Server/OAuth/SupportedResponseTypes/"
        "SupportedResponseType[ResponseTypeName=code]/ResponseTypeValidatorImplClass: "
        "absent here; obreg would add it",
    ),
    "a signature algorithm obreg's model does not allow": (
        lambda h: _edit(h.apim, SITE, '"clientAlgorithm" : "PS256"', '"clientAlgorithm" : "RS256"'),
        f"apim:{SITE}: oidcConfiguration.clientConfiguration.clientAlgorithm: obreg's model "
        "refuses the value: Input should be 'PS256' or 'ES256'",
    ),
    "a stock truststore entry deleted": (
        lambda h: keytool(
            "-delete",
            "-alias",
            "stockca1",
            "-keystore",
            str(h.apim / TRUSTSTORE),
            "-storepass",
            h.password,
        ),
        f"apim:{TRUSTSTORE}: stockca1: absent here; obreg would add it",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_unrepresentable_is_reported(homes: Homes, tmp_path: Path, case: str) -> None:
    change, line = CASES[case]
    change(homes)
    status, err = run_import(homes, tmp_path / "refused")
    assert f"obreg import: unrepresentable: {line}\n" in err, err
    assert status == 1 and not (tmp_path / "refused").exists()
    status, err = run_import(homes, tmp_path / "allowed", "--allow-unrepresentable")
    assert status == 0 and line in err
    assert (tmp_path / "allowed" / "service-provider.yaml").is_file()


def test_the_table_in_the_docs_has_every_line() -> None:
    """The offline cases' rows (the Key Manager's: tests/km/test_import_adoption.py)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "importing.md").read_text()
    rows = dict(re.findall(r"^\| ([^|`]+) \| `([^`]+)` \|$", doc, re.M))
    offline = {c: line for c, line in rows.items() if not line.startswith("key-manager:")}
    assert offline == {case: line for case, (_, line) in CASES.items()}


def test_reports_never_carry_a_secret(homes: Homes, tmp_path: Path) -> None:
    """Every case at once, and a client id that differs between the SP file and site.json:
    the report names places, never the values the homes hold."""
    for change, _ in CASES.values():
        change(homes)
    _edit(homes.km, SP, "store-client-by-hand", "another-client-by-hand")
    status, err = run_import(homes, tmp_path / "refused")
    assert status == 1
    assert f"apim:{SITE}: oidcConfiguration.clientConfiguration.clientId: is not the client" in err
    held = (
        "directory-secret-by-hand",
        "store-secret-by-hand",
        "store-client-by-hand",
        "another-client-by-hand",
        "bank-directory-client",
        homes.password,
    )
    assert not [value for value in held if value in err], err

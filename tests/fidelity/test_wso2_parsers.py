"""obreg's identity provider and service provider files, read by WSO2's own parser
classes (IdentityProvider.build, ServiceProvider.build) as the Key Manager reads them at
start, for the framework IS-KM 5.7.0 runs and a newer one. What WSO2 read is compared
field by field with what the resources say, and every element obreg writes must be read.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from lxml import etree

from obreg.cli import main
from tests.fidelity import wso2
from tests.fuzz import strategies as s

pytestmark = pytest.mark.fidelity

IDP = "repository/conf/identity/identity-providers/{}.xml"
SP = "repository/conf/identity/service-providers/{}.xml"
Docs = list[dict[str, Any]]


def rendered(docs: Docs, out: Path) -> tuple[Path, Path]:
    """Render ``docs``; the IdP and SP files of the Key Manager."""
    manifest = out.parent / f"{out.name}.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    assert main(["render", "-f", str(manifest), "-o", str(out)]) == 0
    idp = s.find(docs, "OBIdentityProvider")["spec"].get("identityProviderName", "OBDirectory")
    app = s.find(docs, "OBServiceProvider")["spec"].get("applicationName", "apim_store_ob")
    km = out / "obreg-demo" / "wso2-km"
    return km / IDP.format(idp), km / SP.format(app)


def unread_leaves(path: Path, model: dict[str, Any]) -> list[str]:
    """Leaf elements of the file whose text WSO2's model does not hold anywhere: an
    element the parser never reads. (true/false are checked field by field instead.)"""
    found = wso2.values(model)
    tree = etree.parse(str(path))
    return [
        tree.getpath(e)
        for e in tree.iter()
        if isinstance(e.tag, str)
        and len(e) == 0
        and (e.text or "").strip()
        and e.text not in ("true", "false")
        and e.text not in found
    ]


def check_identity_provider(docs: Docs, path: Path, read: dict[str, Any]) -> None:
    spec = s.find(docs, "OBIdentityProvider")["spec"]
    secret = s.find(docs, "Secret", spec["clientSecretRef"]["name"])["stringData"][
        spec["clientSecretRef"]["key"]
    ].strip()
    assert "refused" not in read, read
    assert read["identityProviderName"] == spec.get("identityProviderName", "OBDirectory")
    assert read["displayName"] == spec.get("displayName", "Open Banking Directory")
    assert read["enable"] is True
    assert (read["defaultAuthenticatorConfig"] or {}).get("name") == "OpenIDConnectAuthenticator"
    [oidc] = read["federatedAuthenticatorConfigs"]
    assert (oidc["name"], oidc["displayName"], oidc["enabled"]) == (
        "OpenIDConnectAuthenticator",
        "openidconnect",
        True,
    )
    properties = {p["name"]: (p["value"], p["confidential"]) for p in oidc["properties"]}
    expected = {
        "ClientId": (spec["clientId"], False),
        "ClientSecret": (secret, True),
        "OAuth2AuthzEPUrl": (spec["authorizationEndpoint"], False),
        "OAuth2TokenEPUrl": (spec["tokenEndpoint"], False),
        "callbackUrl": (spec["callbackUrl"], False),
        "IsUserIdInClaims": (str(spec.get("userIdInClaims", True)).lower(), False),
        "commonAuthQueryParams": (
            spec.get("queryParameters", "scope=openid email profile&prompt=login"),
            False,
        ),
        "IsBasicAuthEnabled": (str(spec.get("basicAuth", True)).lower(), False),
    }
    if spec.get("userInfoEndpoint"):
        expected["UserInfoUrl"] = (spec["userInfoEndpoint"], False)
    if spec.get("logoutEndpoint"):
        expected["OIDCLogoutEPUrl"] = (spec["logoutEndpoint"], False)
    assert properties == expected
    claims = read["claimConfig"]
    assert claims["localClaimDialect"] is False
    mappings = spec.get("claims", {}).get("mappings") or [
        {"remote": "tpp_associated", "local": "http://wso2.org/claims/active"},
        {"remote": "email", "local": "http://wso2.org/claims/emailaddress"},
    ]
    assert claims["userClaimURI"] == spec.get("claims", {}).get("userIdClaim", "email")
    assert [c["claimUri"] for c in claims["idpClaims"]] == [m["remote"] for m in mappings]
    assert [
        (m["remoteClaim"]["claimUri"], m["localClaim"]["claimUri"]) for m in claims["claimMappings"]
    ] == [(m["remote"], m["local"]) for m in mappings]
    provisioning = spec.get("provisioning", {})
    silent = provisioning.get("silent", True)
    jit = read["justInTimeProvisioningConfig"]
    assert jit["provisioningEnabled"] is provisioning.get("enabled", True)
    assert jit["provisioningUserStore"] == provisioning.get("userStoreDomain", "PRIMARY")
    assert (
        jit["passwordProvisioningEnabled"],
        jit["modifyUserNameAllowed"],
        jit["promptConsent"],
    ) == (
        not silent,
        not silent,
        not silent,
    )
    assert unread_leaves(path, read) == []


def check_service_provider(docs: Docs, path: Path, read: dict[str, Any]) -> None:
    spec = s.find(docs, "OBServiceProvider")["spec"]
    idp = s.find(docs, "OBIdentityProvider")["spec"].get("identityProviderName", "OBDirectory")
    assert "refused" not in read, read
    assert read["applicationName"] == spec.get("applicationName", "apim_store_ob")
    assert read["saasApp"] is spec.get("saasApp", False)
    [inbound] = read["inboundAuthenticationConfig"]["inboundAuthenticationRequestConfigs"]
    assert inbound["inboundAuthType"] == "oauth2" and inbound["inboundAuthKey"]
    flow = read["localAndOutBoundAuthenticationConfig"]
    assert flow["authenticationType"] == "federated"
    # Written, since the frameworks' defaults differ: every version reads the same.
    assert flow["useUserstoreDomainInRoles"] is True
    [step] = flow["authenticationSteps"]
    assert (step["stepOrder"], step["subjectStep"], step["attributeStep"]) == (1, True, True)
    [federated] = step["federatedIdentityProviders"]
    assert federated["identityProviderName"] == idp and federated["enable"] is True
    default = federated["defaultAuthenticatorConfig"] or {}
    assert default.get("name") == "OpenIDConnectAuthenticator", "no default authenticator"
    assert len(federated["federatedAuthenticatorConfigs"]) == 1, "no authenticator configs"
    [authenticator] = federated["federatedAuthenticatorConfigs"]
    assert (authenticator["name"], authenticator["enabled"]) == ("OpenIDConnectAuthenticator", True)
    claims = read["claimConfig"]
    assert claims["localClaimDialect"] is True
    requested = spec.get(
        "requestedClaims", ["http://wso2.org/claims/emailaddress", "http://wso2.org/claims/active"]
    )
    assert [
        (m["localClaim"]["claimUri"], m["remoteClaim"]["claimUri"], m["requested"])
        for m in claims["claimMappings"]
    ] == [(c, c, True) for c in requested]
    assert unread_leaves(path, read) == []


def _edges() -> list[tuple[str, Callable[[Docs], None]]]:
    """Odd but legal resources: their files must read as meant too."""

    def idp(d: Docs) -> dict[str, Any]:
        return s.find(d, "OBIdentityProvider")["spec"]

    def sp(d: Docs) -> dict[str, Any]:
        return s.find(d, "OBServiceProvider")["spec"]

    return [
        (
            "markup and Unicode in text",
            lambda d: idp(d).update(
                displayName='Open <Banking> & "Directory" — ïñ 日本',
                queryParameters="scope=openid email&prompt=login&x=<y>",
            ),
        ),
        (
            "names with dots and underscores",
            lambda d: (
                idp(d).update(identityProviderName="SHARED_OB.Directory-2"),
                sp(d).update(applicationName="store_ob.v2-prod"),
            ),
        ),
        (
            "no optional endpoints",
            lambda d: [idp(d).pop(k, None) for k in ("userInfoEndpoint", "logoutEndpoint")],
        ),
        (
            "provisioning off and not silent",
            lambda d: idp(d).update(
                provisioning={"enabled": False, "silent": False, "userStoreDomain": "SECONDARY"},
                userIdInClaims=False,
                basicAuth=False,
            ),
        ),
        (
            "several claims",
            lambda d: (
                idp(d).update(
                    claims={
                        "userIdClaim": "sub",
                        "mappings": [
                            {"remote": f"c{n}", "local": f"http://wso2.org/claims/c{n}"}
                            for n in range(5)
                        ],
                    }
                ),
                sp(d).update(requestedClaims=[f"http://wso2.org/claims/c{n}" for n in range(5)]),
            ),
        ),
        ("a SaaS application", lambda d: sp(d).update(saasApp=True)),
        (
            "names next to the ones WSO2 reserves",
            lambda d: (
                idp(d).update(identityProviderName="LOCALE"),
                sp(d).update(applicationName="Default"),
            ),
        ),
        (
            "prefixes of the names WSO2 reserves",
            lambda d: (
                idp(d).update(identityProviderName="default-directory"),
                sp(d).update(applicationName="wso2carbon-local-sp-store"),
            ),
        ),
        (
            "a secret with markup",
            lambda d: s.find(d, "Secret", "ob-directory-client")["stringData"].update(
                {"client-secret": "a<b>&c\"d'e]]>f"}
            ),
        ),
    ]


EDGES = _edges()


def test_the_samples_and_their_edges_read_as_meant(wso2_reader: str, tmp_path: Path) -> None:
    cases = [("samples", s.full_samples()), ("plain samples", s.samples())]
    for name, mutate in EDGES:
        docs = s.full_samples()
        mutate(docs)
        cases.append((name, docs))
    files = [rendered(docs, tmp_path / f"out{n}") for n, (_, docs) in enumerate(cases)]
    idps = wso2.read(wso2_reader, "idp", [f[0] for f in files])
    sps = wso2.read(wso2_reader, "sp", [f[1] for f in files])
    for (name, docs), (idp_file, sp_file), idp, sp in zip(cases, files, idps, sps, strict=True):
        try:
            check_identity_provider(docs, idp_file, idp)
            check_service_provider(docs, sp_file, sp)
        except AssertionError as err:
            raise AssertionError(f"{name}: {err}") from err


def test_an_element_wso2_never_reads_is_caught(wso2_reader: str, tmp_path: Path) -> None:
    """The guard itself: the SP shape obreg used to write (the authenticator's name in a
    Name element inside DefaultAuthenticatorConfig) is one WSO2 ignores."""
    _, sp_file = rendered(s.full_samples(), tmp_path / "out")
    tree = etree.parse(str(sp_file))
    default = tree.find(".//FederatedIdentityProviders/IdentityProvider/DefaultAuthenticatorConfig")
    configs = default.getparent().find("FederatedAuthenticatorConfigs")
    default.getparent().remove(configs)
    moved = copy.deepcopy(configs[0])
    default.text = None
    default.append(moved)
    tree.write(str(sp_file))
    [read] = wso2.read(wso2_reader, "sp", [sp_file])
    with pytest.raises(AssertionError):
        check_service_provider(s.full_samples(), sp_file, read)
    assert unread_leaves(sp_file, read) != []


@settings(max_examples=12)
@given(docs=s.with_strings())
def test_fuzzed_resources_that_render_read_as_meant(wso2_reader: str, docs: Docs) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "in.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        out = Path(tmp) / "out"
        if main(["render", "-f", str(manifest), "-o", str(out)]) != 0:
            return
        idp_file, sp_file = rendered(docs, Path(tmp) / "again")
        [idp] = wso2.read(wso2_reader, "idp", [idp_file])
        [sp] = wso2.read(wso2_reader, "sp", [sp_file])
        check_identity_provider(docs, idp_file, idp)
        check_service_provider(docs, sp_file, sp)

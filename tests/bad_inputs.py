"""The bad-input table: the samples, mutated one way each, with the field path and the
message every refusal must show. Shared by the offline tier (tests/unit), the API
server's schema checks (tests/cluster) and the operator (tests/e2e); the samples'
helpers live here too."""

from __future__ import annotations

import base64
import contextlib
import copy
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jks
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from obreg.cli import main
from obreg.render.inputs import INPUT_LABEL
from tests.hostile_keystores import encrypted_info, jceks, pbes2, pfx
from tests.pki import DAY, NOW, issue

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
# The label a Secret's owner gives it to let obreg's resources read it.
INPUT = {INPUT_LABEL: "true"}
Docs = list[dict[str, Any]]


def sample_documents() -> Docs:
    docs: Docs = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def find(docs: Docs, kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"]))


def anchor(docs: Docs) -> dict[str, Any]:
    return find(docs, "OBTrustAnchor")["spec"]


def idp(docs: Docs) -> dict[str, Any]:
    return find(docs, "OBIdentityProvider")["spec"]


def mappings(docs: Docs) -> list[dict[str, str]]:
    """The identity provider's claim mappings, written out as the defaults are."""
    claims = idp(docs).setdefault("claims", {})
    return claims.setdefault(  # type: ignore[no-any-return]
        "mappings",
        [
            {"remote": "tpp_associated", "local": "http://wso2.org/claims/active"},
            {"remote": "email", "local": "http://wso2.org/claims/emailaddress"},
        ],
    )


def sp(docs: Docs) -> dict[str, Any]:
    return find(docs, "OBServiceProvider")["spec"]


def base_file(docs: Docs, key: str, text: str) -> None:
    find(docs, "ConfigMap", "wso2-base-files")["data"][key] = text


def cas(docs: Docs, key: str, value: str) -> None:
    find(docs, "ConfigMap", "ob-directory-cas")["data"][key] = value


def binary_secret(docs: Docs, name: str, key: str, value: bytes) -> None:
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "obreg-demo", "labels": dict(INPUT)},
            "data": {key: base64.b64encode(value).decode()},
        }
    )


def binary_base_file(docs: Docs, key: str, value: bytes) -> None:
    base = find(docs, "ConfigMap", "wso2-base-files")
    base.setdefault("binaryData", {})[key] = base64.b64encode(value).decode()


def jks_store(entries: list[Any]) -> bytes:
    return bytes(jks.KeyStore.new("jks", entries).saves("wso2carbon"))


def base_keystore(docs: Docs, store: bytes) -> None:
    find(docs, "ConfigMap", "ob-directory-cas")["binaryData"]["client-truststore.jks"] = (
        base64.b64encode(store).decode()
    )


def base_pkcs12(docs: Docs) -> None:
    """The anchor's base keystore: a PKCS12 in Secret p12, key store."""
    anchor(docs).update(
        baseKeystore={"source": {"secretKeyRef": {"name": "p12", "key": "store"}}, "type": "PKCS12"}
    )


def plain_secret(docs: Docs, name: str, data: dict[str, Any]) -> None:
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "obreg-demo", "labels": dict(INPUT)},
            "stringData": data,
        }
    )


def damaged_inside(der: bytes) -> bytes:
    """A DER certificate whose subject name is damaged: it still loads, because the
    library decodes fields only when asked."""
    damaged = bytearray(der)
    at = damaged.find(b"Some Root") - 2  # the tag of the common name's string
    damaged[at] = 0xF3
    return bytes(damaged)


def unsupported_jks_version() -> bytes:
    store = bytearray(jks_store([]))
    store[4:8] = (3).to_bytes(4, "big")  # JKS is version 1 or 2
    return bytes(store)


KEY = issue("Leaked Key Holder")
PKCS8 = (
    serialization.Encoding.DER,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)
ROOT = issue("Some Root")
ROOT_PEM = ROOT.pem.decode()
EXPIRED = issue("Expired CA", not_before=NOW - 900 * DAY, not_after=NOW - 30 * DAY).pem.decode()


def _mutations() -> list[tuple[str, Callable[[Docs], None], str, str]]:
    """(case, mutation of the samples, expected field path, expected message)."""

    def other_alias_jks(docs: Docs) -> None:
        other = issue("Different").der
        store = jks.KeyStore.new("jks", [jks.TrustedCertEntry.new("tpproot", other)]).saves(
            "wso2carbon"
        )
        find(docs, "ConfigMap", "ob-directory-cas")["binaryData"]["client-truststore.jks"] = (
            base64.b64encode(store).decode()
        )

    def second_sp(algorithm: str) -> Callable[[Docs], None]:
        def mutate(docs: Docs) -> None:
            extra = copy.deepcopy(find(docs, "OBServiceProvider"))
            extra["metadata"]["name"] = "apim-store-2"
            extra["spec"]["signatureAlgorithm"] = algorithm
            extra["spec"]["applicationName"] = "second"
            docs.append(extra)

        return mutate

    def many_certificates(docs: Docs) -> None:
        """5,001 certificates in three ConfigMaps, each of a size the API server takes."""
        anchor(docs)["certificates"] = []
        for n in range(3):
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cas-{n}", "namespace": "obreg-demo"},
                    "data": {"bundle.pem": ROOT_PEM * 1667},
                }
            )
            anchor(docs)["certificates"].append(
                {"configMapKeyRef": {"name": f"cas-{n}", "key": "bundle.pem"}}
            )

    def second_idp(docs: Docs) -> None:
        """Another identity provider of the same name on the same Key Manager."""
        other = copy.deepcopy(find(docs, "OBIdentityProvider"))
        other["metadata"]["name"] = "ob-directory-2"
        other["spec"]["clientId"] = "another-client-id"
        docs.append(other)

    def second_anchor(docs: Docs) -> None:
        extra = copy.deepcopy(find(docs, "OBTrustAnchor"))
        extra["metadata"]["name"] = "more-cas"
        extra["spec"]["output"] = {"format": "PKCS12"}
        docs.append(extra)

    pem_block = ROOT_PEM.split("\n")

    def misspelt_kind(docs: Docs) -> None:
        find(docs, "OBTrustAnchor")["kind"] = "OBTrustAnchr"

    def secret_twice(docs: Docs) -> None:
        """A base and an overlay both defining the client secret: kubectl apply keeps
        the last."""
        docs.append(copy.deepcopy(find(docs, "Secret", "ob-directory-client")))

    return [
        (
            "malformed PEM",
            lambda d: cas(d, "root-ca.pem", ROOT_PEM.replace("-----END CERTIFICATE-----", "")),
            "spec.certificates[0].configMapKeyRef",
            "malformed PEM",
        ),
        (
            "PEM with a broken body",
            lambda d: cas(d, "root-ca.pem", "\n".join(pem_block[:2] + ["AAAA"] + pem_block[-2:])),
            "spec.certificates[0].configMapKeyRef",
            "is not a valid X.509 certificate",
        ),
        (
            "private key PEM",
            lambda d: cas(d, "root-ca.pem", KEY.key_pem.decode()),
            "spec.certificates[0].configMapKeyRef",
            "PEM block 1 is a private key",
        ),
        (
            "private key inside a bundle",
            lambda d: cas(d, "root-ca.pem", ROOT_PEM + KEY.key_pem.decode()),
            "spec.certificates[0].configMapKeyRef",
            "PEM block 2 is a private key",
        ),
        (
            "private key as DER",
            lambda d: (
                binary_secret(
                    d,
                    "der",
                    "k",
                    KEY.key.private_bytes(*PKCS8),
                ),
                anchor(d)["certificates"].__setitem__(
                    0, {"secretKeyRef": {"name": "der", "key": "k"}}
                ),
            ),
            "spec.certificates[0].secretKeyRef",
            "holds a private key",
        ),
        (
            "inline that is not PEM",
            lambda d: anchor(d)["certificates"].__setitem__(0, {"inline": "MIIBIjANBgkq"}),
            "spec.certificates[0].inline",
            "inline must be PEM",
        ),
        (
            "binary that is not DER",
            lambda d: (
                binary_secret(d, "bin", "c", bytes(range(256))),
                anchor(d)["certificates"].__setitem__(
                    0, {"secretKeyRef": {"name": "bin", "key": "c"}}
                ),
            ),
            "spec.certificates[0].secretKeyRef",
            "not a DER certificate",
        ),
        (
            "text with no PEM",
            lambda d: cas(d, "root-ca.pem", "this is my certificate"),
            "spec.certificates[0].configMapKeyRef",
            "no PEM certificate found",
        ),
        (
            "a CSR instead of a certificate",
            lambda d: cas(d, "root-ca.pem", ROOT_PEM.replace("CERTIFICATE", "CERTIFICATE REQUEST")),
            "spec.certificates[0].configMapKeyRef",
            "is a CERTIFICATE REQUEST, not a CERTIFICATE",
        ),
        (
            "wrong base keystore password",
            lambda d: (
                d.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {
                            "name": "pw",
                            "namespace": "obreg-demo",
                            "labels": dict(INPUT),
                        },
                        "stringData": {"p": "not-the-password"},
                    }
                ),
                anchor(d)["baseKeystore"].update(passwordSecretRef={"name": "pw", "key": "p"}),
            ),
            "spec.baseKeystore",
            "password is wrong",
        ),
        (
            "base keystore that is not JKS",
            lambda d: anchor(d)["baseKeystore"].update(
                source={"configMapKeyRef": {"name": "ob-directory-cas", "key": "root-ca.pem"}}
            ),
            "spec.baseKeystore",
            "not a JKS keystore",
        ),
        (
            "JKS declared as PKCS12",
            lambda d: anchor(d)["baseKeystore"].update(type="PKCS12"),
            "spec.baseKeystore",
            "not a PKCS12 keystore",
        ),
        (
            "missing Secret",
            lambda d: d.remove(find(d, "Secret", "ob-directory-client")),
            "spec.clientSecretRef",
            "Secret obreg-demo/ob-directory-client not found",
        ),
        (
            "missing Secret key",
            lambda d: idp(d).update(clientSecretRef={"name": "ob-directory-client", "key": "nope"}),
            "spec.clientSecretRef",
            "has no key 'nope'",
        ),
        (
            "missing ConfigMap",
            lambda d: d.remove(find(d, "ConfigMap", "wso2-base-files")),
            "spec.baseFiles.siteJson.configMapKeyRef",
            "ConfigMap obreg-demo/wso2-base-files not found",
        ),
        (
            "duplicate alias",
            lambda d: anchor(d)["certificates"][1].update(alias="tpproot"),
            "spec.certificates[1]",
            "alias 'tpproot' is also used for a different certificate",
        ),
        (
            "alias colliding with the base",
            other_alias_jks,
            "spec.certificates",
            "already holds a different certificate in the base keystore",
        ),
        (
            "alias on a bundle",
            lambda d: cas(
                d,
                "root-ca.pem",
                ROOT_PEM + find(d, "ConfigMap", "ob-directory-cas")["data"]["issuing-ca.pem"],
            ),
            "spec.certificates[0].alias",
            "explicit alias needs a source with exactly one certificate",
        ),
        (
            "expired CA",
            lambda d: cas(d, "root-ca.pem", EXPIRED),
            "spec.certificates[0].configMapKeyRef",
            "expired on",
        ),
        (
            "non-https endpoint",
            lambda d: idp(d).update(tokenEndpoint="http://auth.directory.example/token"),
            "spec.tokenEndpoint",
            "String should match pattern",
        ),
        (
            "invalid base XML",
            lambda d: base_file(d, "identity.xml", "<Server><OAuth></Server>"),
            "spec.baseFiles.identityXml",
            "not well-formed XML",
        ),
        (
            "XML with a DTD",
            lambda d: base_file(
                d,
                "identity.xml",
                '<?xml version="1.0"?><!DOCTYPE Server [<!ENTITY a "aaaa">]><Server>&a;</Server>',
            ),
            "spec.baseFiles.identityXml",
            "declares a DTD or entities",
        ),
        (
            "XML with an external entity",
            lambda d: base_file(
                d,
                "api-manager.xml",
                '<!DOCTYPE APIManager [<!ENTITY x SYSTEM "file:///etc/passwd">]><APIManager>&x;</APIManager>',
            ),
            "spec.baseFiles.apiManagerXml",
            "declares a DTD or entities",
        ),
        (
            "site.json that is not JSON5",
            lambda d: base_file(d, "site.json", '{"a": [1, 2}'),
            "spec.baseFiles.siteJson",
            "not valid JSON5",
        ),
        (
            "site.json nested past the budget",
            lambda d: base_file(d, "site.json", '{"a": ' * 65 + "1" + "}" * 65),
            "spec.baseFiles.siteJson",
            "nested more than 64 deep",
        ),
        (
            "site.json escaping half a surrogate pair",
            lambda d: base_file(d, "site.json", '{"oidcConfiguration": {"k": "\\ud83d"}}'),
            "spec.baseFiles.siteJson",
            "a string escapes half of a surrogate pair",
        ),
        (
            "site.json needing JSON5 past its budget",
            lambda d: base_file(d, "site.json", '{"a": "' + "x" * 32_768 + '", // comment\n}'),
            "spec.baseFiles.siteJson",
            "larger than 32768 bytes of JSON5",
        ),
        (
            "identity.xml nested past the budget",
            lambda d: base_file(d, "identity.xml", "<a>" * 65 + "</a>" * 65),
            "spec.baseFiles.identityXml",
            "nested more than 64 deep",
        ),
        (
            "a ConfigMap the API server would refuse for its size",
            lambda d: base_file(d, "site.json", '{"a": "' + "x" * 1_048_576 + '"}'),
            "binaryData/data",
            "the API server refuses a ConfigMap of more than 1048576",
        ),
        (
            "site.json that is not an object",
            lambda d: base_file(d, "site.json", "[1, 2]"),
            "spec.baseFiles.siteJson",
            "not a JSON object",
        ),
        (
            "conflicting algorithm",
            second_sp("ES256"),
            "spec.apiManager",
            "conflicting signatureAlgorithm",
        ),
        (
            "two store logins on one API Manager",
            second_sp("PS256"),
            "spec.apiManager",
            "already configures this API Manager's store login",
        ),
        (
            "unsupported algorithm",
            lambda d: sp(d).update(signatureAlgorithm="RS256"),
            "spec.signatureAlgorithm",
            "Input should be 'PS256' or 'ES256'",
        ),
        (
            "unknown field",
            lambda d: anchor(d).update(certificate=[]),
            "spec.certificate",
            "unknown field",
        ),
        (
            "missing required field",
            lambda d: idp(d).pop("clientId"),
            "spec.clientId",
            "required field is not set",
        ),
        (
            "two sources in one",
            lambda d: anchor(d)["certificates"][0].update(inline=ROOT_PEM),
            "spec.certificates[0]",
            "set exactly one of inline, secretKeyRef and configMapKeyRef",
        ),
        (
            "half the client credentials",
            lambda d: sp(d).update(clientCredentials={"clientIdRef": {"name": "x", "key": "y"}}),
            "spec.clientCredentials",
            "set both clientIdRef and clientSecretRef",
        ),
        (
            "fresh database without its files",
            lambda d: sp(d)["baseFiles"].pop("claimConfigXml"),
            "spec",
            "freshDatabase needs baseFiles.claimConfigXml",
        ),
        (
            "unknown identity provider",
            lambda d: sp(d).update(identityProviderRef="nobody"),
            "spec.identityProviderRef",
            "OBIdentityProvider obreg-demo/nobody not found",
        ),
        (
            "IdP on another Key Manager",
            lambda d: idp(d).update(target={"name": "other-km"}),
            "spec.identityProviderRef",
            "the IdP and the SP must be on the same Key Manager",
        ),
        (
            "claim-config without the OIDC dialect",
            lambda d: base_file(d, "claim-config.xml", "<Claims/>"),
            "spec.baseFiles.claimConfigXml",
            "has no <Dialect",
        ),
        (
            "openid scope in two Claim elements",
            lambda d: base_file(
                d,
                "oidc-scope-config.xml",
                '<Scopes><Scope id="openid"><Claim>a</Claim><Claim>b</Claim></Scope></Scopes>',
            ),
            "spec.baseFiles.oidcScopeConfigXml",
            "several <Claim> elements",
        ),
        (
            "anchors disagreeing on one truststore",
            second_anchor,
            "spec.output",
            "differs from OBTrustAnchor obreg-demo/more-cas spec.output",
        ),
        (
            "empty client secret",
            lambda d: find(d, "Secret", "ob-directory-client")["stringData"].update(
                {"client-secret": ""}
            ),
            "spec.clientSecretRef",
            "key 'client-secret' is empty",
        ),
        (
            "wrong apiVersion",
            lambda d: find(d, "OBTrustAnchor").update(apiVersion="obreg.dev/v1"),
            "apiVersion",
            "must be obreg.dev/v1alpha1",
        ),
        (
            "invalid workload name",
            lambda d: anchor(d)["targets"][0].update(name="WSO2_KM"),
            "spec.targets[0].name",
            "String should match pattern",
        ),
        (
            "absolute output path",
            lambda d: anchor(d).update(output={"path": "/etc/passwd"}),
            "spec.output.path",
            "String should match pattern",
        ),
        # -- names and paths that would leave -o or that Kubernetes refuses ------------
        (
            "output path climbing out of the product home",
            lambda d: anchor(d).update(output={"path": "repository/../../../etc/x.jks"}),
            "spec.output.path",
            "String should match pattern",
        ),
        (
            "output path with the key separator",
            lambda d: anchor(d).update(output={"path": "repository/a__b.jks"}),
            "spec.output.path",
            "must not contain '__'",
        ),
        (
            "output path too long to be a key",
            lambda d: anchor(d).update(output={"path": "a/" * 127 + "b.jks"}),
            "spec.output.path",
            "at most 253 characters",
        ),
        # -- text WSO2 would keep as it is ------------------------------------------------
        (
            "a client id written as a block scalar",
            lambda d: idp(d).update(clientId=idp(d)["clientId"] + "\n"),
            "spec.clientId",
            "has surrounding whitespace, a tab or a line break",
        ),
        (
            "a display name with a tab",
            lambda d: idp(d).update(displayName="Open\tBanking"),
            "spec.displayName",
            "which WSO2 would keep as part of the value",
        ),
        (
            "query parameters with a leading space",
            lambda d: idp(d).update(queryParameters=" scope=openid"),
            "spec.queryParameters",
            "has surrounding whitespace",
        ),
        # -- claims WSO2 would read one way of two, or not at all ------------------------
        (
            "a remote claim mapped twice",
            lambda d: mappings(d).append(
                {"remote": "tpp_associated", "local": "http://wso2.org/claims/role"}
            ),
            "spec.claims.mappings",
            "the remote claim tpp_associated is mapped twice",
        ),
        (
            "a local claim mapped from two remote claims",
            lambda d: mappings(d).append(
                {"remote": "org_status", "local": "http://wso2.org/claims/active"}
            ),
            "spec.claims.mappings",
            "map each local claim once",
        ),
        (
            "a claim mapped to the runbook's https dialect",
            lambda d: mappings(d)[1].update(local="https://wso2.org/claims/emailaddress"),
            "spec.claims.mappings[1].local",
            "String should match pattern",
        ),
        (
            "a claim requested twice",
            lambda d: sp(d).update(
                requestedClaims=["http://wso2.org/claims/active", "http://wso2.org/claims/active"]
            ),
            "spec.requestedClaims",
            "is requested twice",
        ),
        (
            "a requested claim outside the local dialect",
            lambda d: sp(d).update(requestedClaims=["email"]),
            "spec.requestedClaims[0]",
            "String should match pattern",
        ),
        # -- a Secret its owner did not let obreg read ----------------------------------------
        (
            "a Secret its owner did not mark as an input of obreg",
            lambda d: (
                d.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "someone-elses", "namespace": "obreg-demo"},
                        "stringData": {"password": "Summer2026!"},
                    }
                ),
                anchor(d).update(
                    output={"passwordSecretRef": {"name": "someone-elses", "key": "password"}}
                ),
            ),
            "spec.output.passwordSecretRef",
            "is not marked as an input of obreg (its owner labels it obreg.dev/input=true",
        ),
        # -- names the Key Manager reserves ------------------------------------------------
        (
            "the Key Manager's fallback service provider",
            lambda d: sp(d).update(applicationName="default"),
            "spec.applicationName",
            "is a name the Key Manager reserves for its own service providers",
        ),
        (
            "the resident service provider in another case",
            lambda d: sp(d).update(applicationName="WSO2Carbon-Local-SP"),
            "spec.applicationName",
            "wso2carbon-local-sp in any case",
        ),
        (
            "the resident identity provider",
            lambda d: idp(d).update(identityProviderName="Local"),
            "spec.identityProviderName",
            "is a name the Key Manager reserves for its own identity providers",
        ),
        (
            "the Key Manager's fallback identity provider",
            lambda d: idp(d).update(identityProviderName="default"),
            "spec.identityProviderName",
            "(default, LOCAL in any case)",
        ),
        # -- a truststore never replaces another product file ---------------------------
        (
            "output path under another product file",
            lambda d: anchor(d).update(
                output={"path": "repository/conf/identity/identity.xml/client-truststore.jks"}
            ),
            "spec.output.path",
            "must name a file directly in repository/resources/security/",
        ),
        (
            "output path replacing the product's start script",
            lambda d: anchor(d).update(output={"path": "bin/wso2server.sh"}),
            "spec.output.path",
            "a truststore never replaces another product file",
        ),
        (
            "output path replacing the primary keystore",
            lambda d: anchor(d).update(
                output={"path": "repository/resources/security/wso2carbon.jks"}
            ),
            "spec.output.path",
            "whose name ends in 'truststore.jks' or 'truststore.p12'",
        ),
        (
            "output path replacing the product's configuration",
            lambda d: anchor(d).update(output={"path": "repository/conf/deployment.toml"}),
            "spec.output.path",
            "a truststore never replaces another product file",
        ),
        (
            "output path whose extension is another format's",
            lambda d: anchor(d).update(
                output={"format": "JKS", "path": "repository/resources/security/ob-truststore.p12"}
            ),
            "spec.output",
            "the path's extension must say the format",
        ),
        (
            "namespace that is a path",
            lambda d: [
                x["metadata"].update(namespace="../../tmp") for x in d if x["kind"] != "Namespace"
            ],
            "metadata.namespace",
            "must be a DNS-1123 label",
        ),
        (
            "application name that is a path",
            lambda d: sp(d).update(applicationName="../../../etc/cron.d/x"),
            "spec.applicationName",
            "String should match pattern",
        ),
        (
            "application name with a colon",
            lambda d: sp(d).update(applicationName="store:ob@bank"),
            "spec.applicationName",
            "String should match pattern",
        ),
        (
            "application name too long for a file name",
            lambda d: sp(d).update(applicationName="a" * 300),
            "spec.applicationName",
            "at most 128 characters",
        ),
        (
            "metadata that is not a mapping",
            lambda d: find(d, "OBTrustAnchor").update(metadata="ob-directory-cas"),
            "metadata",
            "must be a mapping",
        ),
        (
            "a name that is a number",
            lambda d: find(d, "OBIdentityProvider")["metadata"].update(name=12),
            "metadata.name",
            "must be a DNS-1123 name",
        ),
        (
            "service provider name too long for its credentials Secret",
            lambda d: find(d, "OBServiceProvider")["metadata"].update(name="s" * 241),
            "metadata.name",
            "at most 240 characters",
        ),
        (
            "workload name too long for a label value",
            lambda d: anchor(d)["targets"][0].update(name="k" * 64),
            "spec.targets[0].name",
            "at most 63 characters",
        ),
        (
            "workload named like the generated credentials Secret",
            lambda d: anchor(d)["targets"].append({"name": "apim-store-client"}),
            "spec.targets[2]",
            "would have one name",
        ),
        (
            "a Deployment and a StatefulSet of one name",
            lambda d: anchor(d)["targets"].append({"kind": "StatefulSet", "name": "wso2-km"}),
            "spec.targets[0]",
            "both a Deployment and a StatefulSet named wso2-km",
        ),
        (
            "outputs over Kubernetes' 1 MiB from inputs under it",
            lambda d: (
                base_file(
                    d, "api-manager.xml", "<APIManager><!--" + "x" * 600_000 + "--></APIManager>"
                ),
                d.append(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "more-base-files", "namespace": "obreg-demo"},
                        "data": {"ob.xml": "<Server><!--" + "x" * 600_000 + "--></Server>"},
                    }
                ),
                sp(d)["baseFiles"].update(
                    openBankingXml={"configMapKeyRef": {"name": "more-base-files", "key": "ob.xml"}}
                ),
            ),
            "spec",
            "Kubernetes allows 1048576",
        ),
        # -- text that XML cannot carry or that is not what it looks like ---------------
        (
            "a control character in a field that lands in XML",
            lambda d: idp(d).update(displayName="Open Banking\x01Directory"),
            "spec.displayName",
            "holds a control character or a character XML cannot carry",
        ),
        (
            "U+FFFE in an application attribute",
            lambda d: sp(d).update(
                applicationAttributes=[{"name": "software_id", "description": "id\ufffe"}]
            ),
            "spec.applicationAttributes[0].description",
            "holds a control character or a character XML cannot carry",
        ),
        (
            "a terminal escape in a claim",
            lambda d: mappings(d)[0].update(remote="tpp\x1b[2J"),
            "spec.claims.mappings[0].remote",
            "holds a control character",
        ),
        (
            "a base URL with a query string",
            lambda d: sp(d).update(keyManagerUrl="https://km.bank.example:9446?tenant=x"),
            "spec.keyManagerUrl",
            "String should match pattern",
        ),
        (
            "a URL carrying a password",
            lambda d: idp(d).update(tokenEndpoint="https://user:pw@auth.directory.example/token"),
            "spec.tokenEndpoint",
            "String should match pattern",
        ),
        (
            "UTF-16 XML declaring a DTD",
            lambda d: (
                binary_base_file(
                    d,
                    "identity16.xml",
                    (
                        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Server '
                        '[<!ENTITY a "aaaa">]><Server><OAuth>&a;</OAuth></Server>'
                    ).encode("utf-16"),
                ),
                sp(d)["baseFiles"].update(
                    identityXml={
                        "configMapKeyRef": {"name": "wso2-base-files", "key": "identity16.xml"}
                    }
                ),
            ),
            "spec.baseFiles.identityXml",
            "declares a DTD or entities",
        ),
        # -- Secret values ----------------------------------------------------------------
        (
            "YAML reading a password as a number",
            lambda d: find(d, "Secret", "ob-directory-client")["stringData"].update(
                {"client-secret": 83}
            ),
            "stringData.client-secret",
            "must be a string",
        ),
        (
            "an empty YAML value",
            lambda d: find(d, "Secret", "ob-directory-client")["stringData"].update(
                {"client-secret": None}
            ),
            "stringData.client-secret",
            "must be a string",
        ),
        (
            "a line break inside a secret",
            lambda d: find(d, "Secret", "ob-directory-client")["stringData"].update(
                {"client-secret": "abc\ndef"}
            ),
            "spec.clientSecretRef",
            "holds a control character",
        ),
        (
            "an empty truststore password",
            lambda d: (
                plain_secret(d, "pw", {"p": "  \n"}),
                anchor(d).update(
                    output={"format": "PKCS12", "passwordSecretRef": {"name": "pw", "key": "p"}}
                ),
            ),
            "spec.output.passwordSecretRef",
            "key 'p' is empty",
        ),
        # -- keystores and certificates ---------------------------------------------------
        (
            "a damaged entry in the base JKS",
            lambda d: base_keystore(
                d, jks_store([jks.TrustedCertEntry.new("broken", b"\x30\x03\x02\x01\x01")])
            ),
            "spec.baseKeystore",
            "the entry 'broken' is not a readable X.509 certificate",
        ),
        (
            "a DER certificate damaged inside",
            lambda d: (
                binary_secret(d, "der", "c", damaged_inside(ROOT.der)),
                anchor(d)["certificates"].__setitem__(
                    0, {"secretKeyRef": {"name": "der", "key": "c"}}
                ),
            ),
            "spec.certificates[0].secretKeyRef",
            "certificate 1 is damaged",
        ),
        (
            "a base JKS entry damaged inside",
            lambda d: base_keystore(
                d, jks_store([jks.TrustedCertEntry.new("stock", damaged_inside(ROOT.der))])
            ),
            "spec.baseKeystore",
            "the entry 'stock' is not a readable X.509 certificate",
        ),
        (
            "a JKS version obreg cannot read",
            lambda d: base_keystore(d, unsupported_jks_version()),
            "spec.baseKeystore",
            "a JKS keystore of a version obreg cannot read",
        ),
        (
            "a base JKS holding a private key",
            lambda d: base_keystore(
                d,
                jks_store(
                    [
                        jks.PrivateKeyEntry.new(
                            "leaked", [KEY.der], KEY.key.private_bytes(*PKCS8), "pkcs8"
                        )
                    ]
                ),
            ),
            "spec.baseKeystore",
            "the base keystore holds key entries",
        ),
        (
            "a base PKCS12 holding a private key",
            lambda d: (
                binary_secret(
                    d,
                    "p12",
                    "store",
                    pkcs12.serialize_key_and_certificates(
                        b"leaked",
                        KEY.key,
                        KEY.cert,
                        None,
                        serialization.BestAvailableEncryption(b"wso2carbon"),
                    ),
                ),
                base_pkcs12(d),
            ),
            "spec.baseKeystore",
            "the base keystore holds a private key",
        ),
        (
            "a base PKCS12 whose MAC asks for 2^31 iterations",
            lambda d: (
                binary_secret(
                    d, "p12", "store", pfx(encrypted_info(pbes2(2048)), mac_iterations=2**31 - 1)
                ),
                base_pkcs12(d),
            ),
            "spec.baseKeystore",
            "macData.iterations asks for more than 1000000 key-derivation iterations",
        ),
        (
            "a base PKCS12 whose encrypted certificates ask for 2^31 iterations",
            lambda d: (
                binary_secret(d, "p12", "store", pfx(encrypted_info(pbes2(2**31 - 1)))),
                base_pkcs12(d),
            ),
            "spec.baseKeystore",
            "asks for more than 1000000 key-derivation iterations",
        ),
        (
            "a base JCEKS holding a secret key",
            lambda d: base_keystore(d, jceks([], secret_keys=1)),
            "spec.baseKeystore",
            "the base keystore holds key entries",
        ),
        (
            "a base PKCS12 that is not one",
            lambda d: (
                binary_secret(d, "p12", "store", b"not a keystore"),
                base_pkcs12(d),
            ),
            "spec.baseKeystore",
            "not a PKCS12 keystore, or its password is wrong",
        ),
        (
            "anchors of one workload with different base keystores",
            lambda d: (
                second_anchor(d),
                find(d, "OBTrustAnchor", "more-cas")["spec"].update(
                    output=anchor(d).get("output", {"format": "JKS"}),
                    baseKeystore={
                        "source": {"configMapKeyRef": {"name": "wso2-base-files", "key": "x"}}
                    },
                ),
            ),
            "spec.baseKeystore",
            "for the same workload",
        ),
        (
            "a PEM block ending with another label",
            lambda d: cas(
                d,
                "root-ca.pem",
                ROOT_PEM.replace("END CERTIFICATE", "END PRIVATE KEY"),
            ),
            "spec.certificates[0].configMapKeyRef",
            "begins CERTIFICATE but ends PRIVATE KEY",
        ),
        (
            "identity.xml without its OAuth element",
            lambda d: base_file(d, "identity.xml", "<Server><Other/></Server>"),
            "spec.baseFiles.identityXml",
            "identity.xml has no <OAuth> element",
        ),
        (
            "a base file of another kind",
            lambda d: base_file(d, "api-manager.xml", "<Server/>"),
            "spec.baseFiles.apiManagerXml",
            "root element is <Server>, expected <APIManager>",
        ),
        (
            "oidc-scope-config without the openid scope",
            lambda d: base_file(d, "oidc-scope-config.xml", '<Scopes><Scope id="email"/></Scopes>'),
            "spec.baseFiles.oidcScopeConfigXml",
            'has no <Scope id="openid">',
        ),
        (
            "site.json that is not UTF-8",
            lambda d: (
                find(d, "ConfigMap", "wso2-base-files")["data"].pop("site.json"),
                binary_base_file(d, "site.json", b'{"a": "\xff"}'),
            ),
            "spec.baseFiles.siteJson",
            "not UTF-8 text",
        ),
        (
            "site.json setting obreg's key twice",
            lambda d: base_file(
                d, "site.json", '{"OBDirectoryIntegrated": true, "OBDirectoryIntegrated": false}'
            ),
            "spec.baseFiles.siteJson",
            "the key 'OBDirectoryIntegrated' appears more than once at the top level",
        ),
        (
            "a client secret that is not UTF-8",
            lambda d: (
                d.remove(find(d, "Secret", "ob-directory-client")),
                binary_secret(d, "ob-directory-client", "client-secret", b"\xff\xfe"),
            ),
            "spec.clientSecretRef",
            "is not UTF-8 text",
        ),
        (
            "an output path another resource writes",
            second_idp,
            "spec",
            "which OBIdentityProvider obreg-demo/ob-directory also writes with other content",
        ),
        (
            "open-banking.xml that is not XML",
            lambda d: base_file(d, "open-banking.xml", "<Server>"),
            "spec.baseFiles.openBankingXml",
            "not well-formed XML",
        ),
        (
            "a default locale file that is not JSON5",
            lambda d: base_file(d, "locale_default.json", "{"),
            "spec.baseFiles.localeDefault",
            "not valid JSON5",
        ),
        (
            "an English locale file that is not an object",
            lambda d: base_file(d, "locale_en.json", "[]"),
            "spec.baseFiles.localeEn",
            "not a JSON object",
        ),
        (
            "client credentials whose secret key is missing",
            lambda d: (
                plain_secret(d, "sp-creds", {"id": "store-client"}),
                sp(d).update(
                    clientCredentials={
                        "clientIdRef": {"name": "sp-creds", "key": "id"},
                        "clientSecretRef": {"name": "sp-creds", "key": "secret"},
                    }
                ),
            ),
            "spec.clientCredentials.clientSecretRef",
            "has no key 'secret'",
        ),
        (
            "a client id that is blank",
            lambda d: (
                plain_secret(d, "sp-creds", {"id": " \n", "secret": "s3cret"}),
                sp(d).update(
                    clientCredentials={
                        "clientIdRef": {"name": "sp-creds", "key": "id"},
                        "clientSecretRef": {"name": "sp-creds", "key": "secret"},
                    }
                ),
            ),
            "spec.clientCredentials.clientIdRef",
            "key 'id' is empty",
        ),
        (
            "an output path that is another file's folder",
            lambda d: anchor(d).update(output={"path": "repository/conf/identity"}),
            "spec.output.path",
            "a truststore never replaces another product file",
        ),
        (
            "claim-config.xml that is not XML",
            lambda d: base_file(d, "claim-config.xml", "<Claims>"),
            "spec.baseFiles.claimConfigXml",
            "not well-formed XML",
        ),
        (
            "oidc-scope-config.xml that is not XML",
            lambda d: base_file(d, "oidc-scope-config.xml", "<Scopes>"),
            "spec.baseFiles.oidcScopeConfigXml",
            "not well-formed XML",
        ),
        (
            "more certificates than one resource may hold",
            many_certificates,
            "spec.certificates",
            "holds more than 5000 certificates",
        ),
        (
            "a misspelt kind of obreg's group",
            misspelt_kind,
            "kind",
            "is not a kind of obreg.dev",
        ),
        (
            "a Secret defined twice",
            secret_twice,
            "metadata.name",
            "defined twice",
        ),
        (
            "a base JKS alias over the alias budget",
            lambda d: base_keystore(d, jks_store([jks.TrustedCertEntry.new("a" * 256, ROOT.der)])),
            "spec.baseKeystore",
            "entry 1's alias ('aaaa",
        ),
        (
            "a base PKCS12 whose certificates are under legacy encryption",
            lambda d: (
                binary_secret(
                    d,
                    "p12",
                    "store",
                    pkcs12.serialize_java_truststore(
                        [pkcs12.PKCS12Certificate(ROOT.cert, b"stock")],
                        serialization.PrivateFormat.PKCS12.encryption_builder()
                        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                        .build(b"wso2carbon"),
                    ),
                ),
                base_pkcs12(d),
            ),
            "spec.baseKeystore",
            "is not PBES2 with AES, so obreg cannot read which of its certificates Java trusts",
        ),
    ]


CASES = _mutations()
# Manifests that only obreg render meets: kubectl or the API server refuses them before
# any operator sees them (not an object, a name or value of the wrong type, a namespace
# that is not one), or the e2e harness cannot apply them (client-side apply keeps a copy
# of each object in an annotation, which holds at most 256 KiB).
MANIFEST_ONLY_CASES = {
    "a ConfigMap the API server would refuse for its size",
    "namespace that is a path",
    "metadata that is not a mapping",
    "a name that is a number",
    "YAML reading a password as a number",
    "an empty YAML value",
    "outputs over Kubernetes' 1 MiB from inputs under it",
    "more certificates than one resource may hold",
    # Objects the API server does not see as obreg's: an unknown kind has no CRD; an
    # object twice is one object, applied twice.
    "a misspelt kind of obreg's group",
    "a Secret defined twice",
}

# Cases of the bad-input table that the schema alone can catch (the rest need the
# referenced Secrets' and ConfigMaps' content, which only rendering sees).
SCHEMA_CASES = {
    "an output path that is another file's folder",
    "the Key Manager's fallback service provider",
    "the resident service provider in another case",
    "the resident identity provider",
    "the Key Manager's fallback identity provider",
    "a remote claim mapped twice",
    "a local claim mapped from two remote claims",
    "a claim mapped to the runbook's https dialect",
    "a claim requested twice",
    "a requested claim outside the local dialect",
    "non-https endpoint",
    "unsupported algorithm",
    "unknown field",
    "missing required field",
    "two sources in one",
    "half the client credentials",
    "fresh database without its files",
    "invalid workload name",
    "absolute output path",
    "wrong apiVersion",
    "output path climbing out of the product home",
    "output path with the key separator",
    "output path too long to be a key",
    "a client id written as a block scalar",
    "a display name with a tab",
    "query parameters with a leading space",
    "output path under another product file",
    "output path replacing the product's start script",
    "output path replacing the primary keystore",
    "output path replacing the product's configuration",
    "output path whose extension is another format's",
    "application name that is a path",
    "application name with a colon",
    "application name too long for a file name",
    "service provider name too long for its credentials Secret",
    "workload name too long for a label value",
    "a base URL with a query string",
    "a URL carrying a password",
}


# Every case's whole refusal as ``obreg render`` prints it: the messages are what a user
# reads, so a change of their wording shows in review (and is caught when unintended).
# Rewritten by ``make refusals`` (hack/record_refusals.py).
RECORDED_REFUSALS = Path(__file__).resolve().parent / "refusals.txt"
TMP_MARK = "<tmp>"


def refusal(docs: Docs, folder: Path) -> tuple[int, str, bool]:
    """``obreg render`` of ``docs`` in ``folder``: its exit code, its standard error with
    the folder's path replaced by a mark, and whether it wrote its output folder."""
    manifest, out = folder / "in.yaml", folder / "out"
    manifest.write_text(yaml.safe_dump_all(docs))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["render", "-f", str(manifest), "-o", str(out)])
    return code, err.getvalue().replace(str(folder), TMP_MARK), out.exists()


def recorded_refusals() -> dict[str, str]:
    """The recorded refusal of each case, by name."""
    found: dict[str, str] = {}
    for block in RECORDED_REFUSALS.read_text().split("\n== ")[1:]:
        name, _, text = block.partition("\n")
        found[name] = text
    return found


def record_refusals(cases: list[tuple[str, Callable[[Docs], None], str, str]], folder: Path) -> str:
    """The text of RECORDED_REFUSALS for ``cases``."""
    parts = ["# obreg render's refusal of each case of tests/bad_inputs.py (make refusals)\n"]
    for index, (name, mutate, _, _) in enumerate(cases):
        docs = sample_documents()
        mutate(docs)
        case_folder = folder / str(index)
        case_folder.mkdir()
        _, text, _ = refusal(docs, case_folder)
        parts.append(f"\n== {name}\n{text}")
    return "".join(parts)

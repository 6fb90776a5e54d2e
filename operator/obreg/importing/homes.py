"""Read a Key Manager home and an API Manager home into obreg's resources.

Each value is read from the file the runbook edits, into the field that renders it back;
then ``verify`` renders the resources with obreg's own renderer and compares every file
obreg would manage with the one in the home. That comparison, not a list of known cases,
is what finds what obreg cannot represent: an IdP property it does not model, a second
algorithm, a stock truststore entry removed. What it finds is reported by file and
element (``Report``), and the command exits non-zero unless told to proceed.
"""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import TypeAdapter, ValidationError

from ..api import kinds, names
from ..api.common import API_VERSION
from ..api.parse import parse
from ..api.trust_anchor import DEFAULT_PASSWORD, DEFAULT_PATHS
from ..errors import InvalidInput, Where
from ..render import (
    apim_xml,
    bundle,
    credentials,
    identity_xml,
    json_text,
    locale,
    site_json,
    truststore,
    xml_patch,
)
from ..render.certificates import Certificate
from ..render.inputs import INPUT_LABEL, Inputs
from . import compare, key_manager

IDP_DIR = "repository/conf/identity/identity-providers"
SP_DIR = "repository/conf/identity/service-providers"
TRUSTSTORE = DEFAULT_PATHS["JKS"]
# The objects the import writes, by fixed names a bank can rename after review.
CAS = "ob-directory-cas"
BASE_FILES = "wso2-base-files"
IDP = "ob-directory"
IDP_SECRET = "ob-directory-client"
SP = "apim-store"
SP_SECRET = "apim-store-client"
PASSWORD_SECRET = "client-truststore-password"
STOCK_KEY = "client-truststore.jks"
# The base files of the service provider: spec field, ConfigMap key, home, path.
_BASES = (
    ("identityXml", "identity.xml", "km", identity_xml.PATH),
    ("siteJson", "site.json", "apim", site_json.PATH),
    ("openBankingXml", "open-banking.xml", "apim", apim_xml.OPEN_BANKING_PATH),
    ("apiManagerXml", "api-manager.xml", "apim", apim_xml.API_MANAGER_PATH),
    ("localeDefault", "locale_default.json", "apim", locale.DEFAULT_PATH),
    ("localeEn", "locale_en.json", "apim", locale.EN_PATH),
)


@dataclass(frozen=True)
class Report:
    """Something in a home that obreg's resources do not represent. ``file`` is
    ``km:`` or ``apim:`` and the path in the home; ``element`` an element path (XML), a
    key path (JSON), an alias (truststore) or ``-`` for the whole file."""

    file: str
    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.message}"


@dataclass(frozen=True)
class Options:
    namespace: str = "default"
    km_workload: str = "wso2-km"
    apim_workload: str = "wso2-apim"
    # The product's stock client truststore: an entry of a home's truststore that is also
    # in it (same alias, same certificate) is stock; every other entry becomes an anchor.
    stock_truststore: bytes | None = None
    truststore_password: str = DEFAULT_PASSWORD
    # --key-manager: read the KM database's items too (importing/key_manager.py).
    key_manager: key_manager.KeyManagerSource | None = None


@dataclass
class Imported:
    """The manifests (by output file name), the Secrets apart, and the reports."""

    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    # Per kind, the file and element each spec field was read from ("*": the file of the
    # rest, the field path standing for the element): where a value the model refuses is
    # reported.
    sources: dict[str, dict[str, tuple[str, str | None]]] = field(default_factory=dict)

    def report(self, file: str, element: str, message: str) -> None:
        self.reports.append(Report(file, element, message))


def _object(kind: str, name: str, namespace: str, **rest: Any) -> dict[str, Any]:
    api = "v1" if kind in ("ConfigMap", "Secret") else API_VERSION
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        **rest,
    }


def _secret(name: str, namespace: str, values: dict[str, str]) -> dict[str, Any]:
    """A Secret obreg may read: labelled as its input (README, the rules a review checks)."""
    secret = _object("Secret", name, namespace, type="Opaque", stringData=values)
    secret["metadata"]["labels"] = {INPUT_LABEL: "true"}
    return secret


class _Homes:
    """The two homes, read by product-relative path, and the import's output so far."""

    def __init__(self, km: Path, apim: Path, options: Options, out: Imported) -> None:
        self.roots = {"km": km, "apim": apim}
        self.options = options
        self.out = out

    def read(self, home: str, path: str) -> bytes | None:
        file = self.roots[home] / path
        return file.read_bytes() if file.is_file() else None

    def xml(self, home: str, path: str, root: str) -> etree._Element | None:
        data = self.read(home, path)
        if data is None:
            return None
        return xml_patch.parse(data, Where(f"{home}:{path}", "-"), root).getroot()


def _text(element: etree._Element | None, *steps: str) -> str | None:
    """The stripped text at a path of child names (no namespace: the IdP and SP files)."""
    for step in steps:
        if element is None:
            return None
        element = element.find(step)
    return None if element is None else (element.text or "").strip()


# --- the trust anchor -------------------------------------------------------------------


def _trust(homes: _Homes) -> None:
    """The OBTrustAnchor(s): each home's entries that are not stock (Options), over the
    stock truststore as the base keystore."""
    options, out = homes.options, homes.out
    password = options.truststore_password
    stores: dict[str, dict[str, Certificate]] = {}
    for home in ("km", "apim"):
        store = homes.read(home, TRUSTSTORE)
        if store is None:
            out.report(f"{home}:{TRUSTSTORE}", "-", "no client truststore in this home")
            continue
        stores[home] = truststore._read_jks(store, password, Where(f"{home}:{TRUSTSTORE}", "-"))
    if not stores:
        return
    if options.stock_truststore is None:
        raise Where("--stock-truststore", "-").refuse(
            "is needed to tell the CAs added by hand from the product's own",
            "give the product's stock client-truststore.jks (from its image or pack)",
        )
    stock = truststore._read_jks(
        options.stock_truststore, password, Where("--stock-truststore", "-")
    )
    extras: dict[str, dict[str, Certificate]] = {
        home: {
            alias: cert
            for alias, cert in entries.items()
            if alias not in stock or stock[alias].sha256 != cert.sha256
        }
        for home, entries in stores.items()
    }
    workloads = {"km": options.km_workload, "apim": options.apim_workload}
    # One anchor for both products when they hold the same CAs, as the runbook imports them.
    groups: list[tuple[list[str], dict[str, Certificate]]] = []
    for home, certs in extras.items():
        same = next((g for g in groups if _same(g[1], certs)), None)
        if same is not None:
            same[0].append(home)
        elif certs:
            groups.append(([home], certs))
    data: dict[str, str] = {}
    keys: dict[str, str] = {}  # sha256 -> ConfigMap key
    anchors: list[dict[str, Any]] = []
    for homes_of, certs in groups:
        sources = []
        for alias, cert in sorted(certs.items()):
            if not _alias_ok(alias):
                for home in homes_of:
                    out.report(
                        f"{home}:{TRUSTSTORE}",
                        alias,
                        "an alias obreg cannot keep (lower-case letters, digits, '.', '_', "
                        "'-', at most 64)",
                    )
                continue
            key = keys.get(cert.sha256) or (
                f"{alias}.pem" if f"{alias}.pem" not in data else f"{alias}-{cert.sha256[:16]}.pem"
            )
            keys[cert.sha256] = key
            data[key] = _pem(cert.der)
            sources.append({"alias": alias, "configMapKeyRef": {"name": CAS, "key": key}})
        if not sources:
            continue
        spec: dict[str, Any] = {
            "targets": [{"name": workloads[h]} for h in homes_of],
            "certificates": sources,
            "baseKeystore": {"source": {"configMapKeyRef": {"name": CAS, "key": STOCK_KEY}}},
        }
        if any(alias in stock for alias in certs):
            spec["replaceExistingAliases"] = True
        if password != DEFAULT_PASSWORD:
            ref = {"name": PASSWORD_SECRET, "key": "password"}
            spec["baseKeystore"]["passwordSecretRef"] = ref
            spec["output"] = {"passwordSecretRef": ref}
        name = CAS if len(groups) == 1 else f"{CAS}-{'-'.join(homes_of)}"
        anchors.append(_object(kinds.TRUST_ANCHOR.kind, name, options.namespace, spec=spec))
    if not anchors:
        return
    config_map = _object("ConfigMap", CAS, options.namespace, data=data)
    config_map["binaryData"] = {STOCK_KEY: base64.b64encode(options.stock_truststore).decode()}
    out.documents["trust-anchor.yaml"] = [config_map, *anchors]
    out.sources[kinds.TRUST_ANCHOR.kind] = {"*": (f"km+apim:{TRUSTSTORE}", None)}
    if password != DEFAULT_PASSWORD:
        out.secrets.append(_secret(PASSWORD_SECRET, options.namespace, {"password": password}))


def _alias_ok(alias: str) -> bool:
    """Whether an alias is one an OBTrustAnchor can carry (api/trust_anchor.py)."""
    return len(alias) <= 64 and re.fullmatch(r"[a-z0-9][a-z0-9._-]*", alias) is not None


def _same(a: Mapping[str, Certificate], b: Mapping[str, Certificate]) -> bool:
    return {k: v.sha256 for k, v in a.items()} == {k: v.sha256 for k, v in b.items()}


def _pem(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


# --- the identity provider --------------------------------------------------------------

_AUTHENTICATOR = "OpenIDConnectAuthenticator"
# OBIdentityProvider fields read from a property of the OIDC authenticator.
_IDP_PROPERTIES = {
    "clientId": "ClientId",
    "authorizationEndpoint": "OAuth2AuthzEPUrl",
    "tokenEndpoint": "OAuth2TokenEPUrl",
    "callbackUrl": "callbackUrl",
    "userInfoEndpoint": "UserInfoUrl",
    "logoutEndpoint": "OIDCLogoutEPUrl",
    "queryParameters": "commonAuthQueryParams",
}
# OBServiceProvider fields read from site.json, by key path.
_SITE_KEYS = {
    "keyManagerUrl": "oidcConfiguration.authorizationEndpointURI",
    "storeUrl": "oidcConfiguration.clientConfiguration.redirectURI",
    "tokenUrl": "oidcConfiguration.identityProviderURI",
    "issuer": "oidcConfiguration.issuer",
    "signatureAlgorithm": "oidcConfiguration.clientConfiguration.clientAlgorithm",
    "scope": "oidcConfiguration.clientConfiguration.scope",
    "usernameClaim": "oidcConfiguration.usernameClaim",
    "roleParameter": "oidcConfiguration.roleParameter",
    "role": "oidcConfiguration.role",
    "authHttpMethod": "oidcConfiguration.authHttpMethod",
}


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def _files(homes: _Homes, folder: str) -> list[str]:
    root = homes.roots["km"] / folder
    return sorted(f"{folder}/{p.name}" for p in root.glob("*.xml")) if root.is_dir() else []


def _identity_provider(homes: _Homes, wanted: str | None) -> str | None:
    """The OBIdentityProvider; returns the IdP name. Other IdP files are reported: obreg
    models one OB directory per Key Manager."""
    out, options = homes.out, homes.options
    chosen: tuple[str, etree._Element] | None = None
    for path in _files(homes, IDP_DIR):
        root = homes.xml("km", path, "IdentityProvider")
        assert root is not None
        name = _text(root, "IdentityProviderName") or ""
        if _products_own(names.IdentityProviderName, name):
            continue
        if chosen is None and (wanted is None or name == wanted):
            chosen = (path, root)
        else:
            out.report(
                f"km:{path}",
                "/IdentityProvider",
                "a second identity provider: obreg models the one the store's service "
                "provider federates to",
            )
    if chosen is None:
        out.report(f"km:{IDP_DIR}", "-", "no identity provider file")
        return None
    path, root = chosen
    configs = root.find("FederatedAuthenticatorConfigs")
    oidc = next(
        (c for c in (configs if configs is not None else []) if _text(c, "Name") == _AUTHENTICATOR),
        None,
    )
    properties = {
        _text(p, "Name") or "": _text(p, "Value") or ""
        for p in (oidc.findall("Properties/Property") if oidc is not None else [])
    }
    claims = root.find("ClaimConfig")
    mappings = [
        {
            "remote": _text(m, "RemoteClaim", "ClaimUri"),
            "local": _text(m, "LocalClaim", "ClaimUri"),
        }
        for m in (claims.findall("ClaimMappings/ClaimMapping") if claims is not None else [])
    ]
    jit = root.find("JustInTimeProvisioningConfig")
    silent = all(
        _text(jit, flag) == "false"
        for flag in ("IsPasswordProvisioningEnabled", "AllowModifyUserName", "PromptConsent")
    )
    spec: dict[str, Any] = {
        "target": {"name": options.km_workload},
        "identityProviderName": _text(root, "IdentityProviderName"),
        "displayName": _text(root, "DisplayName") or "",
        "clientId": properties.get("ClientId"),
        "clientSecretRef": {"name": IDP_SECRET, "key": "client-secret"},
        "authorizationEndpoint": properties.get("OAuth2AuthzEPUrl"),
        "tokenEndpoint": properties.get("OAuth2TokenEPUrl"),
        "callbackUrl": properties.get("callbackUrl"),
        "queryParameters": properties.get("commonAuthQueryParams", ""),
        "userIdInClaims": properties.get("IsUserIdInClaims") == "true",
        "basicAuth": properties.get("IsBasicAuthEnabled") == "true",
        "claims": {"userIdClaim": _text(claims, "UserClaimURI"), "mappings": mappings},
        "provisioning": {
            "enabled": _text(jit, "IsProvisioningEnabled") == "true",
            "userStoreDomain": _text(jit, "ProvisioningUserStore") or "PRIMARY",
            "silent": silent,
        },
    }
    for field_name, prop in (
        ("userInfoEndpoint", "UserInfoUrl"),
        ("logoutEndpoint", "OIDCLogoutEPUrl"),
    ):
        if prop in properties:
            spec[field_name] = properties[prop]
    properties_path = (
        f"/IdentityProvider/FederatedAuthenticatorConfigs/{_local(oidc)}[Name={_AUTHENTICATOR}]"
        "/Properties"
        if oidc is not None
        else None
    )
    out.sources[kinds.IDENTITY_PROVIDER.kind] = {
        "*": (f"km:{path}", None),
        **{
            f"spec.{name}": (f"km:{path}", f"{properties_path}/Property[Name={prop}]/Value")
            for name, prop in _IDP_PROPERTIES.items()
            if properties_path is not None
        },
    }
    out.documents["identity-provider.yaml"] = [
        _object(kinds.IDENTITY_PROVIDER.kind, IDP, options.namespace, spec=_present(spec))
    ]
    out.secrets.append(
        _secret(
            IDP_SECRET, options.namespace, {"client-secret": properties.get("ClientSecret", "")}
        )
    )
    return _text(root, "IdentityProviderName")


def _products_own(kind: Any, name: str) -> bool:
    """Whether ``name`` is one the Key Manager reserves for its own provider (the
    file-based fallback ``default``, the resident ``LOCAL``...), as obreg's model refuses
    it: such a file is the product's, kept as it is, never imported."""
    try:
        TypeAdapter(kind).validate_python(name)
    except ValidationError as err:
        return "reserves" in str(err)
    return False


def _present(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec without unset fields, so the model's validation names what is missing."""
    return {k: _present(v) if isinstance(v, dict) else v for k, v in spec.items() if v is not None}


# --- the service provider ---------------------------------------------------------------


def _service_provider(homes: _Homes) -> str | None:
    """The OBServiceProvider; returns the IdP name its login federates to. A name the
    Key Manager reserves (default, Console, ...) is the product's own, never imported;
    any other second service provider is reported."""
    out, options = homes.out, homes.options
    chosen: tuple[str, etree._Element] | None = None
    for path in _files(homes, SP_DIR):
        root = homes.xml("km", path, "ServiceProvider")
        assert root is not None
        name = _text(root, "ApplicationName") or ""
        if _products_own(names.ServiceProviderName, name):
            continue
        if chosen is None:
            chosen = (path, root)
        else:
            out.report(
                f"km:{path}",
                "/ServiceProvider",
                "a second service provider: obreg makes one, the store's login",
            )
    if chosen is None:
        out.report(f"km:{SP_DIR}", "-", "no service provider file for the store's login")
        return None
    path, root = chosen
    step = "LocalAndOutBoundAuthenticationConfig/AuthenticationSteps/AuthenticationStep"
    idp_name = _text(
        root,
        *step.split("/"),
        "FederatedIdentityProviders",
        "IdentityProvider",
        "IdentityProviderName",
    )
    client_id = _text(
        root,
        "InboundAuthenticationConfig",
        "InboundAuthenticationRequestConfigs",
        "InboundAuthenticationRequestConfig",
        "InboundAuthKey",
    )
    requested = [
        _text(m, "LocalClaim", "ClaimUri")
        for m in root.findall("ClaimConfig/ClaimMappings/ClaimMapping")
        if _text(m, "RequestClaim") == "true"
    ]
    site = _site(homes)
    configuration = site.get("oidcConfiguration")
    oidc: dict[str, Any] = configuration if isinstance(configuration, dict) else {}
    client = oidc.get("clientConfiguration")
    client = client if isinstance(client, dict) else {}
    if client.get("clientId") != client_id:
        out.report(
            f"apim:{site_json.PATH}",
            "oidcConfiguration.clientConfiguration.clientId",
            f"is not the client id of the service provider in {path}",
        )
    authorize = str(oidc.get("authorizationEndpointURI", ""))
    redirect = str(client.get("redirectURI", ""))
    attributes = _attributes(homes)
    locales = [homes.read("apim", p) for p in (locale.DEFAULT_PATH, locale.EN_PATH)]
    columns = [
        text is not None and _json(text, f"apim:{p}").get("ID") == "ID"
        for text, p in zip(locales, (locale.DEFAULT_PATH, locale.EN_PATH), strict=True)
    ]
    id_column = all(columns)
    if any(columns) and not id_column:  # obreg sets both or neither; the files stay as they are
        lacking = locale.EN_PATH if columns[0] else locale.DEFAULT_PATH
        out.report(
            f"apim:{lacking}",
            "ID",
            "absent here but set in the other locale file; obreg sets both or neither",
        )
    base_files: dict[str, Any] = {}
    data: dict[str, str] = {}
    for field_name, key, home, file in _BASES:
        content = homes.read(home, file)
        if content is None:
            continue
        if field_name == "siteJson":
            content = _without_credentials(content)
        data[key] = content.decode("utf-8")
        base_files[field_name] = {"configMapKeyRef": {"name": BASE_FILES, "key": key}}
    spec: dict[str, Any] = {
        "identityProviderRef": IDP,
        "keyManager": {"name": options.km_workload},
        "apiManager": {"name": options.apim_workload},
        "applicationName": _text(root, "ApplicationName"),
        # Absent means true to WSO2's parser.
        "saasApp": (_text(root, "IsSaaSApp") or "true") == "true",
        "clientCredentials": {
            "clientIdRef": {"name": SP_SECRET, "key": credentials.CLIENT_ID_KEY},
            "clientSecretRef": {"name": SP_SECRET, "key": credentials.CLIENT_SECRET_KEY},
        },
        "keyManagerUrl": authorize.removesuffix("/oauth2/authorize"),
        "storeUrl": redirect.removesuffix(site_json.ACS_PATH),
        "tokenUrl": oidc.get("identityProviderURI"),
        "issuer": oidc.get("issuer"),
        "signatureAlgorithm": client.get("clientAlgorithm"),
        "scope": client.get("scope"),
        "usernameClaim": oidc.get("usernameClaim"),
        "roleParameter": oidc.get("roleParameter"),
        "role": oidc.get("role"),
        "authHttpMethod": oidc.get("authHttpMethod"),
        "requestedClaims": requested,
        "obDirectoryIntegrated": site.get("OBDirectoryIntegrated") is True,
        "useSoftwareIdAsApplicationName": site.get("UseSoftwareIdAsApplicationName") is True,
        "applicationAttributes": attributes,
        "idColumn": id_column,
        "baseFiles": base_files,
    }
    out.sources[kinds.SERVICE_PROVIDER.kind] = {
        "*": (f"km:{path}", None),
        "spec.applicationAttributes": (f"apim:{apim_xml.API_MANAGER_PATH}", None),
        **{f"spec.{name}": (f"apim:{site_json.PATH}", key) for name, key in _SITE_KEYS.items()},
    }
    out.documents["service-provider.yaml"] = [
        _object("ConfigMap", BASE_FILES, options.namespace, data=data),
        _object(kinds.SERVICE_PROVIDER.kind, SP, options.namespace, spec=_present(spec)),
    ]
    out.secrets.append(
        _secret(
            SP_SECRET,
            options.namespace,
            {
                credentials.CLIENT_ID_KEY: client_id or "",
                credentials.CLIENT_SECRET_KEY: str(client.get("clientSecret", "")),
            },
        )
    )
    return idp_name


def _json(data: bytes, path: str) -> dict[str, object]:
    where = Where(path, "-")
    return json_text.load_object(json_text.decode(data, where), where)


def _site(homes: _Homes) -> dict[str, object]:
    data = homes.read("apim", site_json.PATH)
    return {} if data is None else _json(data, f"apim:{site_json.PATH}")


def _without_credentials(site: bytes) -> bytes:
    """site.json as a base file without the client id and secret, which the render puts
    back from the Secret: so the base can go into a ConfigMap. The render replaces the
    whole oidcConfiguration member, keeping the base's keys in their order, so the
    rendered file is the same as the home's."""
    where = Where(f"apim:{site_json.PATH}", "-")
    text = json_text.decode(site, where)
    current = json_text.load_object(text, where)
    oidc = current.get("oidcConfiguration")
    if not isinstance(oidc, dict) or not isinstance(oidc.get("clientConfiguration"), dict):
        return site
    client = dict(oidc["clientConfiguration"])
    for key in ("clientId", "clientSecret"):
        if key in client:
            client[key] = ""
    blanked = {**oidc, "clientConfiguration": client}
    return json_text.set_members(text, {"oidcConfiguration": blanked}, where).encode("utf-8")


def _attributes(homes: _Homes) -> list[dict[str, Any]]:
    root = homes.xml("apim", apim_xml.API_MANAGER_PATH, "APIManager")
    if root is None:
        return []

    def named(parent: etree._Element, local: str) -> list[etree._Element]:
        return parent.findall(xml_patch.qname(parent, local))

    found = []
    for configuration in named(root, "ApplicationConfiguration")[:1]:
        for container in named(configuration, "ApplicationAttributes")[:1]:
            for attribute in named(container, "Attribute"):
                name = attribute.findtext(xml_patch.qname(container, "Name"))
                description = attribute.findtext(xml_patch.qname(container, "Description"))
                found.append(
                    {
                        "name": (name or "").strip(),
                        "description": (description or "").strip(),
                        "required": attribute.get("required") == "true",
                    }
                )
    return found


# --- the check: render the resources, compare with the homes -----------------------------


def _verify(homes: _Homes, now: datetime.datetime) -> None:
    """Render the resources as ``obreg render`` would and report every managed file that
    differs from the home's: the one check that finds whatever the readers above missed.
    ``now`` only dates the renderer's expiry warnings, which the import does not show."""
    out, options = homes.out, homes.options
    resources = []
    for document in out.documents.values():
        for obj in document:
            if obj["kind"] in ("ConfigMap", "Secret"):
                continue
            try:
                resources.append(parse(obj))
            except InvalidInput as err:
                for problem in err.problems:
                    origin, element = _source(out.sources.get(obj["kind"], {}), problem.path)
                    out.report(
                        origin,
                        element or problem.path,
                        f"obreg's model refuses the value: {problem.message}",
                    )
    namespace = bundle.Namespace.of(options.namespace, resources)
    config_maps: dict[tuple[str, str], dict[str, bytes]] = {}
    for document in out.documents.values():
        for obj in document:
            if obj["kind"] == "ConfigMap":
                values = {k: v.encode() for k, v in obj.get("data", {}).items()}
                values.update(
                    {k: base64.b64decode(v) for k, v in obj.get("binaryData", {}).items()}
                )
                config_maps[(options.namespace, obj["metadata"]["name"])] = values
    secrets = {
        (options.namespace, s["metadata"]["name"]): {
            k: v.encode() for k, v in s["stringData"].items()
        }
        for s in out.secrets
    }
    inputs = Inputs(secrets=secrets, config_maps=config_maps)
    homes_of = {options.km_workload: "km", options.apim_workload: "apim"}
    for workload in namespace.workloads():
        home = homes_of[workload.name]
        try:
            rendered = bundle.render(namespace, workload, inputs, now)
        except InvalidInput as err:
            for problem in err.problems:
                out.report(
                    f"{home}:-", problem.path, f"obreg refuses the import: {problem.message}"
                )
            continue
        for file in rendered.files:
            found = homes.read(home, file.path)
            where = f"{home}:{file.path}"
            if found is None:
                out.report(where, "-", "absent here; obreg would add it")
            else:
                for element, message in _differences(file.path, found, file.content, options):
                    out.report(where, element, message)


def _source(sources: Mapping[str, tuple[str, str | None]], path: str) -> tuple[str, str | None]:
    """The file and element a refused spec field was read from."""
    top = ".".join(path.replace("[", ".").split(".")[:2])
    return sources.get(top, sources.get("*", ("-", None)))


_ROOTS = {
    identity_xml.PATH: "Server",
    apim_xml.OPEN_BANKING_PATH: "Server",
    apim_xml.API_MANAGER_PATH: "APIManager",
}


def _differences(
    path: str, found: bytes, rendered: bytes, options: Options
) -> list[tuple[str, str]]:
    if found == rendered:
        return []
    if path.endswith(".jks"):
        where = Where(path, "-")
        a = truststore._read_jks(found, options.truststore_password, where)
        b = truststore._read_jks(rendered, options.truststore_password, where)
        return [
            (
                alias,
                "not represented by obreg's resources (obreg would drop it)"
                if alias not in b
                else "absent here; obreg would add it"
                if alias not in a
                else "obreg writes another certificate under this alias",
            )
            for alias in sorted(set(a) | set(b))
            if alias not in a or alias not in b or a[alias].sha256 != b[alias].sha256
        ]
    if path.endswith(".json"):
        return compare.json(found, rendered)
    if path.startswith(IDP_DIR):
        return compare.xml(found, rendered, "IdentityProvider")
    if path.startswith(SP_DIR):
        return compare.xml(found, rendered, "ServiceProvider")
    return compare.xml(found, rendered, _ROOTS.get(path, "Server"))


def import_homes(km: Path, apim: Path, options: Options) -> Imported:
    """The resources, Secrets and reports of two product homes. The service provider is
    read first: its federated step names the identity provider to import."""
    out = Imported()
    homes = _Homes(km, apim, options, out)
    _trust(homes)
    idp_name = _service_provider(homes)
    _identity_provider(homes, idp_name)
    if options.key_manager is not None:  # before the check, which then covers its objects
        key_manager.adopt(out, options.key_manager, options.namespace)
    _verify(homes, datetime.datetime.now(datetime.UTC))
    return out

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
import errno
import itertools
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import hashes
from lxml import etree
from pydantic import TypeAdapter, ValidationError

from .. import budgets, manifests
from ..api import kinds, names
from ..api.common import API_VERSION
from ..api.parse import parse
from ..api.trust_anchor import DEFAULT_PASSWORD, DEFAULT_PATHS
from ..errors import InvalidInput, Label, Where
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
from . import compare, files, key_manager

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
# The file of every Secret the import writes (mode 0600).
SECRETS_FILE = "secrets.yaml"
STOCK_KEY = "client-truststore.jks"
# The base files of the service provider: spec field, Secret key, home, path. They go
# into a Secret, never a ConfigMap: the import cannot tell a file's credentials (an
# AuthManager password, a keystore password, an old secret left in a comment) from its
# settings.
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
    """The manifests (by output file name), the Secrets apart, and the reports; after
    ``import_homes``, each file's text as written (``texts``, secrets.yaml with the
    homes' values), from which the objects were read back and checked."""

    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
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
    """The two homes, read by product-relative path, and the import's output so far.

    ``read`` and ``listing`` are the one way into a home, whose every byte, file type and
    link is the pod's. Each home is a descriptor opened once (files.open_folder: never
    through a link), and every path is walked from it: each step is looked at without
    following a link and opened with O_NOFOLLOW, so nothing outside the home is ever
    read; only folders and regular files of one link (a hard link could be any file of
    the importer's) are taken, a file within ``budgets.MANIFEST_BYTES`` (files.read_bounded)
    and a folder within ``budgets.IMPORT_FOLDER_ENTRIES``; anything else (a link, a FIFO,
    a device, a folder where a file is expected) is refused by its path. Absent is not
    refused: the caller reports it.

    Each file is read once: what ``read`` found is kept, and every later
    consumer (the values, the base files, the check) gets those same bytes, so a home
    written to while the import runs cannot make the check compare another version of a
    file than the one the values came from. What is kept is bounded by
    ``budgets.IMPORT_HOME_BYTES`` per home."""

    def __init__(self, roots: Mapping[str, int], options: Options, out: Imported) -> None:
        self.roots = dict(roots)  # home -> descriptor of its folder, opened once
        self.options = options
        self.out = out
        self._files: dict[tuple[str, str], bytes | None] = {}
        self._bytes = dict.fromkeys(self.roots, 0)

    def _open(self, home: str, path: str, folder: bool) -> int | None:
        """A descriptor of ``path`` in ``home``, or None when absent."""
        where = Where(f"{home}:{path}", "-")
        steps = path.split("/")
        current = os.dup(self.roots[home])
        try:
            for number, step in enumerate(steps, start=1):
                want_folder = folder or number < len(steps)
                try:
                    found = os.stat(step, dir_fd=current, follow_symlinks=False)
                except FileNotFoundError:
                    return None
                except OSError as err:
                    raise where.refuse(f"cannot be read: {err.strerror}") from None
                kind = stat.S_ISDIR if want_folder else stat.S_ISREG
                if not kind(found.st_mode):
                    raise where.refuse(
                        f"{'/'.join(steps[:number])} is not a "
                        f"{'folder' if want_folder else 'regular file'}: the import follows "
                        "no link and reads nothing but folders and regular files in a home "
                        "(no FIFO, device or socket)",
                        "copy the home again without links, or remove what is odd",
                    )
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                try:
                    opened = os.open(
                        step, flags | (os.O_DIRECTORY if want_folder else 0), dir_fd=current
                    )
                except OSError as err:  # replaced since the stat: a link now, or gone
                    if err.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                        raise where.refuse(f"changed while it was read ({err.strerror})") from None
                    raise where.refuse(f"cannot be read: {err.strerror}") from None
                os.close(current)
                current = opened
                opened_stat = os.fstat(current)
                if not kind(opened_stat.st_mode):
                    raise where.refuse("changed while it was read (another file type)")
                if not want_folder and opened_stat.st_nlink > 1:
                    # A hard link is a regular file to lstat and O_NOFOLLOW alike, and
                    # may be one of the importer's own files: a copied home has none.
                    raise where.refuse(
                        f"has {opened_stat.st_nlink} hard links: the import reads only "
                        "files that are nowhere else",
                        "copy the home again (kubectl cp makes no hard links)",
                    )
            opened, current = current, -1
            return opened
        finally:
            if current >= 0:
                os.close(current)

    def read(self, home: str, path: str) -> bytes | None:
        """A regular file's bytes, within the budget; None when absent. Read once."""
        key = (home, path)
        if key not in self._files:
            self._files[key] = self._read_once(home, path)
        return self._files[key]

    def _read_once(self, home: str, path: str) -> bytes | None:
        descriptor = self._open(home, path, folder=False)
        if descriptor is None:
            return None
        where = Where(f"{home}:{path}", "-")
        data = files.read_bounded(descriptor, where)
        self._bytes[home] += len(data)
        if self._bytes[home] > budgets.IMPORT_HOME_BYTES:
            raise where.refuse(
                f"the files the import reads from this home hold more than "
                f"{budgets.IMPORT_HOME_BYTES} bytes together",
                "a product home's are a few MiB at most: remove what is not the product's",
            )
        return data

    def listing(self, home: str, folder: str) -> list[str] | None:
        """The names in a folder of ``home``, within the budget; None when absent."""
        descriptor = self._open(home, folder, folder=True)
        if descriptor is None:
            return None
        budget = budgets.IMPORT_FOLDER_ENTRIES
        try:
            with os.scandir(descriptor) as entries:
                found = [entry.name for entry in itertools.islice(entries, budget + 1)]
        finally:
            os.close(descriptor)
        if len(found) > budget:
            raise Where(f"{home}:{folder}", "-").refuse(
                f"holds more than {budget} entries: the import lists at most {budget} in a "
                "folder (a product home holds a handful of providers)",
                "remove what is not the product's from the copy of the home",
            )
        return sorted(found)

    def xml(self, home: str, path: str, root: str) -> etree._Element | None:
        data = self.read(home, path)
        if data is None:
            return None
        return xml_patch.parse(data, Where(f"{home}:{path}", "-"), root).getroot()


def _text(element: etree._Element | None, *steps: str) -> str | None:
    """The text at a path of child names (no namespace: the IdP and SP files), exactly
    as WSO2 reads it: WSO2 keeps surrounding whitespace (docs/security.md, rule 6), so a
    value padded in the home is imported padded, for the model to refuse and the import
    to report, never stripped into another value."""
    for step in steps:
        if element is None:
            return None
        element = element.find(step)
    return None if element is None else (element.text or "")


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
            if _products_own(names.TruststoreAlias, alias):
                for home in homes_of:
                    out.report(
                        f"{home}:{TRUSTSTORE}",
                        alias,
                        "an alias the products look up by name, holding another certificate "
                        "than the stock truststore's: no anchor may name it; give this "
                        "truststore as --stock-truststore to keep it",
                    )
                continue
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


def _entries(data: bytes, password: str, where: Where) -> dict[str, str]:
    """A JKS's entries as stored, alias to the SHA-256 of its certificate: none merged
    (a base keystore's reader keeps a certificate under two aliases once), so the
    comparison sees every alias the product holds."""
    entries = {}
    for alias, cert in truststore.jks_entries(data, password, where):
        if cert is None:
            raise where.refuse(f"the entry {alias!r} is not a readable X.509 certificate")
        entries[alias] = cert.fingerprint(hashes.SHA256()).hex()
    return entries


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
    names_in = homes.listing("km", folder) or []
    return [f"{folder}/{name}" for name in names_in if name.endswith(".xml")]


def _identity_provider(homes: _Homes, wanted: str | None) -> str | None:
    """The OBIdentityProvider; returns the IdP name. Other IdP files are reported: obreg
    models one OB directory per Key Manager."""
    out, options = homes.out, homes.options
    chosen: tuple[str, etree._Element] | None = None
    for path in _files(homes, IDP_DIR):
        root = homes.xml("km", path, "IdentityProvider")
        if root is None:  # gone since it was listed
            continue
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
    """Whether ``name`` is one the products reserve for their own provider (the
    file-based fallback ``default``, the resident ``LOCAL``...) or truststore entry
    (``wso2carbon``), as obreg's model refuses it: such a file or entry is the product's,
    never imported."""
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
        if root is None:  # gone since it was listed
            continue
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
        try:
            data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            raise Where(f"{home}:{file}", "-").refuse("not UTF-8") from None
        base_files[field_name] = {"secretKeyRef": {"name": BASE_FILES, "key": key}}
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
        _object(kinds.SERVICE_PROVIDER.kind, SP, options.namespace, spec=_present(spec)),
    ]
    if data:
        out.secrets.append(_secret(BASE_FILES, options.namespace, data))
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
                        "name": name or "",
                        "description": description or "",
                        "required": attribute.get("required") == "true",
                    }
                )
    return found


# --- the check: render the resources, compare with the homes -----------------------------


class _Dumper(yaml.SafeDumper):
    """Multi-line text (PEM, base files) as YAML literal blocks, readable in a review."""


def _block(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.startswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _block)


def dump(objects: list[dict[str, Any]]) -> str:
    """One manifest file's text, as obreg's render writes YAML: every character outside
    printable ASCII escaped (no allow_unicode), since PyYAML writes some raw (U+0085, a
    line break to YAML inside a literal block) that its reader gives back otherwise.
    Whatever it writes is read back and checked anyway (``import_homes``)."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False)


def _verify(
    homes: _Homes, written: dict[str, list[dict[str, Any]]], now: datetime.datetime
) -> None:
    """Render the resources as ``obreg render`` would and report every managed file that
    differs from the home's: the one check that finds whatever the readers above missed.
    ``written`` is every object as read back from the text the import writes, so what is
    checked is what is applied; its ConfigMaps and Secrets are read as ``obreg render``
    reads them, with the API server's size limit. ``now`` only dates the renderer's
    expiry warnings, which the import does not show."""
    out, options = homes.out, homes.options
    resources = []
    for document in written.values():
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
    data: dict[str, dict[tuple[str, str], dict[str, bytes]]] = {"ConfigMap": {}, "Secret": {}}
    for document in written.values():
        for obj in document:
            if obj["kind"] in data:
                name = obj["metadata"]["name"]
                label = Label(obj["kind"], options.namespace, name)
                data[obj["kind"]][(options.namespace, name)] = manifests.object_data(obj, label)
    inputs = Inputs(secrets=data["Secret"], config_maps=data["ConfigMap"])
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
        a = _entries(found, options.truststore_password, where)
        b = _entries(rendered, options.truststore_password, where)
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
            if a.get(alias) != b.get(alias)
        ]
    if path.endswith(".json"):
        return compare.json(found, rendered)
    if path.startswith(IDP_DIR):
        return compare.xml(found, rendered, "IdentityProvider")
    if path.startswith(SP_DIR):
        return compare.xml(found, rendered, "ServiceProvider")
    return compare.xml(found, rendered, _ROOTS.get(path, "Server"))


def import_homes(km: Path, apim: Path, options: Options) -> Imported:
    """The resources, Secrets and reports of two product homes, each opened once as a
    folder that is not a link (files.open_folder) and read only through that descriptor."""
    out = Imported()
    roots: dict[str, int] = {}
    try:
        for home, path in (("km", km), ("apim", apim)):
            roots[home] = files.open_folder(path, f"--{home}-home")
        _import(_Homes(roots, options, out))
    finally:
        for descriptor in roots.values():
            os.close(descriptor)
    return out


def _import(homes: _Homes) -> None:
    """Read the homes into ``homes.out``, then check it. The service provider is read
    first: its federated step names the identity provider to import."""
    out, options = homes.out, homes.options
    for home in homes.roots:
        if homes.listing(home, "repository") is None:
            raise Where(f"{home}:repository", "-").refuse(
                "no repository/ folder: not a product home"
            )
    _trust(homes)
    idp_name = _service_provider(homes)
    _identity_provider(homes, idp_name)
    if options.key_manager is not None:  # before the check, which then covers its objects
        key_manager.adopt(out, options.key_manager, options.namespace)
    outputs = {**out.documents, **({SECRETS_FILE: out.secrets} if out.secrets else {})}
    out.texts = {name: dump(objects) for name, objects in sorted(outputs.items())}
    written = {name: [d for d in yaml.safe_load_all(text) if d] for name, text in out.texts.items()}
    _verify(homes, written, datetime.datetime.now(datetime.UTC))

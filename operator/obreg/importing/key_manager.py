"""``obreg import --key-manager``: the Key Manager database's side of an adoption.

The OAuth app, the OIDC claim and the ``openid`` scope live only in the KM's database,
so no home holds them. The import reads them through the admin services the operator
calls, with the connection the operator would build (kube/key_manager.km_connection:
the same credentials Secret, destination rule and CA), and sets what obreg models from
them: the grant types and the claim's local mapping. The client id and secret stay
site.json's: they are what the store logs in with, and what the rendered site.json
carries back.

Then, as the offline import renders and compares, this runs the operator's own plan
(rules/km_app.plan) over what the KM holds: every write it plans, and any reason it
would stop, is what the first reconcile would change, and is reported by item. So the
report is complete by construction: an import that reports nothing is one whose first
reconcile finds the app, the claim and the scope in place and writes nothing. What obreg
does not model (token lifetimes, PKCE, other claims of the scope) is not reported: no
write of obreg's clears it (an update sends every field back as read).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import yaml

from ..api import kinds, names
from ..api.parse import parse
from ..errors import InvalidInput, Problem
from ..km.client import CLAIMS, OAUTH, AdminClient, Connection, KmError
from ..km.sync import observe
from ..kube.key_manager import km_connection
from ..redaction import redact
from ..render import credentials
from ..render.inputs import INPUT_LABEL, Inputs
from ..rules.km_app import OIDC_DIALECT, Blocked, desired, plan

if TYPE_CHECKING:  # homes calls adopt: only the type is needed here
    from .homes import Imported

KM_CA = "wso2-km-ca"
KM_CA_KEY = "ca.crt"
SERVICE_PROVIDER_FILE = "service-provider.yaml"
_ORIGIN = "key-manager"
DEFAULT_TYPE = "kubernetes.io/basic-auth"


@dataclass(frozen=True)
class KeyManagerSource:
    """What ``--key-manager`` and its companions name: the URL, the admin credentials
    Secret as the import writes it (``credentials_secret``, read from the manifest that
    keyManagerAdmin.credentialsSecret names), the CA of the KM's TLS and the name its
    certificate is issued to."""

    url: str
    credentials: dict[str, Any] = field(repr=False)
    ca: bytes | None = None
    server_name: str | None = None


def _v1(kind: str, name: str, namespace: str, **rest: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        **rest,
    }


def _refused(flag: str, message: str) -> InvalidInput:
    return InvalidInput([Problem(flag, "-", message)])


def _mapping(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A manifest's member that must be a mapping; absent (or anything else) is empty."""
    value = obj.get(key)
    return dict(value) if isinstance(value, dict) else {}


# The API server's bound on an object's annotations, keys and values together.
_ANNOTATIONS_MAX = 256 * 1024


def _metadata_problem(obj: Mapping[str, Any]) -> str | None:
    """What in the manifest's metadata and type the API server would refuse, checked
    here so a Secret the import writes is one ``kubectl apply`` takes: a name that is a
    DNS-1123 subdomain, labels and annotations that are mappings of qualified names to
    strings (a label's value a label value), a type that is a qualified name, as every
    Kubernetes type is. Names fields, never values: the file holds a password."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return "metadata is not a mapping"
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return "names no Secret (metadata.name)"
    if not names.is_subdomain(name):
        return (
            f"metadata.name is not a DNS-1123 name of at most {names.SUBDOMAIN_MAX} "
            "characters (lower-case letters, digits, '-' and '.')"
        )
    for member, valid in (("labels", names.is_label_value), ("annotations", None)):
        given = metadata.get(member, {})
        if not isinstance(given, dict) or not all(
            isinstance(key, str) and names.is_qualified_name(key) and isinstance(value, str)
            for key, value in given.items()
        ):
            return (
                f"metadata.{member} is not a mapping of Kubernetes keys ([prefix/]name) to "
                "strings (quote a value that YAML reads as a number, a list or a mapping)"
            )
        if valid is not None and not all(valid(value) for value in given.values()):
            return (
                f"metadata.{member} holds a value that is not a label value (at most "
                f"{names.QUALIFIED_NAME_MAX} letters, digits, '-', '_' and '.')"
            )
        if sum(len(k) + len(v) for k, v in given.items()) > _ANNOTATIONS_MAX:
            return f"metadata.{member} hold more than {_ANNOTATIONS_MAX} bytes"
    kind = obj.get("type", DEFAULT_TYPE)
    if not isinstance(kind, str) or not names.is_qualified_name(kind):
        return f"type is not a Secret type (a [prefix/]name such as {DEFAULT_TYPE})"
    return None


def credentials_secret(manifest: bytes, namespace: str) -> dict[str, Any]:
    """The credentials Secret as the import writes it: the manifest's name, labels,
    annotations (the owner's list of hosts the credentials may go to) and type, each
    checked as the API server would (``_metadata_problem``), its ``username`` and
    ``password`` as stringData (so --secrets=placeholders can stand in for them), and the
    input label that lets obreg's resources read it. Read when the command line is, so a
    manifest obreg cannot write back is refused before any home is read."""
    flag = "--key-manager-credentials"
    try:
        obj = yaml.safe_load(manifest)
    except yaml.YAMLError:
        raise _refused(flag, "is not a YAML Secret manifest") from None
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        raise _refused(flag, "is not a Secret manifest")
    if (problem := _metadata_problem(obj)) is not None:
        raise _refused(flag, problem)
    metadata = obj["metadata"]
    if metadata.get("namespace", namespace) != namespace:
        raise _refused(flag, f"is not in the namespace {namespace} (-n), as the resource must be")
    values: dict[str, str] = {}
    for key in ("username", "password"):
        text, encoded = _mapping(obj, "stringData").get(key), _mapping(obj, "data").get(key)
        if text is None and isinstance(encoded, str):
            try:
                text = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _refused(flag, f"data.{key} is not base64 of UTF-8 text") from None
        if not isinstance(text, str) or not text:
            raise _refused(flag, f"has no {key}")
        values[key] = text
    secret = _v1("Secret", metadata["name"], namespace, type=obj.get("type", DEFAULT_TYPE))
    secret["metadata"]["labels"] = {**metadata.get("labels", {}), INPUT_LABEL: "true"}
    if annotations := metadata.get("annotations"):
        secret["metadata"]["annotations"] = dict(annotations)
    secret["stringData"] = values
    return secret


def adopt(out: Imported, source: KeyManagerSource, namespace: str) -> None:
    """Set the imported OBServiceProvider's keyManagerAdmin, grant types and OIDC claim
    from the KM, add the credentials Secret (and the CA's ConfigMap), and report what
    the first reconcile would write. A KM that cannot be read refuses the import: an
    adoption that did not look at the KM cannot say it changes nothing there."""
    documents = out.documents.get(SERVICE_PROVIDER_FILE, [])
    sp = next((o for o in documents if o["kind"] == kinds.SERVICE_PROVIDER.kind), None)
    if sp is None:  # no service provider file: reported already, nothing owns an app
        return
    secret = source.credentials
    out.secrets.append(secret)
    admin: dict[str, Any] = {"url": source.url, "credentialsSecret": secret["metadata"]["name"]}
    config_maps: dict[tuple[str, str], dict[str, bytes]] = {}
    if source.ca is not None:
        if not source.ca.isascii():
            raise _refused("--key-manager-ca", "is not PEM")
        admin["ca"] = {"configMapKeyRef": {"name": KM_CA, "key": KM_CA_KEY}}
        documents.append(_v1("ConfigMap", KM_CA, namespace, data={KM_CA_KEY: source.ca.decode()}))
        config_maps[(namespace, KM_CA)] = {KM_CA_KEY: source.ca}
    if source.server_name is not None:
        admin["serverName"] = source.server_name
    sp["spec"]["keyManagerAdmin"] = admin
    secrets = {
        (namespace, s["metadata"]["name"]): {k: v.encode() for k, v in s["stringData"].items()}
        for s in out.secrets
    }
    labels = {(namespace, s["metadata"]["name"]): s["metadata"]["labels"] for s in out.secrets}
    inputs = Inputs(secrets=secrets, config_maps=config_maps, secret_labels=labels)
    annotations = {
        (namespace, secret["metadata"]["name"]): secret["metadata"].get("annotations", {})
    }
    try:
        resource = parse(sp)
    except InvalidInput as err:
        # What the command line gave (a URL, a server name) is refused as such; any other
        # field the model refuses, the offline check has reported by its source.
        given = [p for p in err.problems if p.path.startswith("spec.keyManagerAdmin")]
        if given:
            raise InvalidInput(given) from None
        return
    connection = km_connection(resource, inputs, annotations)
    client_credentials = credentials.resolve(resource, inputs)
    hidden = (client_credentials.client_secret, connection.password)
    try:
        reports = asyncio.run(_read(connection, client_credentials, sp))
    except KmError as err:
        raise _refused("--key-manager", redact(str(err), hidden)) from None
    for file, element, message in reports:
        out.report(f"{_ORIGIN}:{file}", element, redact(message, hidden))


async def _read(
    connection: Connection, client: credentials.ClientCredentials, sp: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """Fill the spec from the KM, then plan against it: (service, item, message) for
    every write the first reconcile would make, or the reason it would stop."""
    spec = sp["spec"]
    offline = {k: spec[k] for k in ("grantTypes", "oidcClaim") if k in spec}
    async with aiohttp.ClientSession() as session:
        km = AdminClient(connection, session, secrets=(client.client_secret,))
        app = await km.get_app(client.client_id)
        if app is not None and app.grant_types:
            spec["grantTypes"] = list(app.grant_types)
        # The claim obreg manages is the one the store's role check reads (roleParameter).
        role = str(spec.get("roleParameter", "tpp_associated"))
        claim = next((c for c in await km.get_external_claims(OIDC_DIALECT) if c.uri == role), None)
        if claim is not None:
            spec["oidcClaim"] = {"claimUri": claim.uri, "mappedLocalClaim": claim.mapped_local}
        try:
            resource = parse(sp)
        except InvalidInput as err:  # the grant types or the claim: all parsed before
            # Reported here, by KM item; the spec goes back to what the homes gave, so
            # the offline check still renders and compares every file.
            for key in ("grantTypes", "oidcClaim"):
                spec.pop(key, None)
            spec.update(offline)
            name = spec.get("applicationName")
            return [
                (CLAIMS, f"ExternalClaim[{role}]", f"obreg's model refuses the value: {p.message}")
                if p.path.startswith("spec.oidcClaim")
                else (
                    OAUTH,
                    f"OAuthConsumerApp[{name}]",
                    f"obreg's model refuses {p.path}: {p.message}",
                )
                for p in err.problems
            ]
        want = desired(resource.spec, client)
        steps = plan(want, await observe(km, want))
    app_item = f"OAuthConsumerApp[{want.app.name}]"
    if isinstance(steps, Blocked):
        return [(OAUTH, app_item, f"obreg's first reconcile would stop here: {steps.reason}")]
    items: Mapping[str, tuple[str, str]] = {
        "register_app": (OAUTH, app_item),
        "replace_app": (OAUTH, app_item),
        "update_app": (OAUTH, app_item),
        "add_claim": (CLAIMS, f"ExternalClaim[{want.claim.uri}]"),
        "update_claim": (CLAIMS, f"ExternalClaim[{want.claim.uri}]"),
        "add_scope_claim": (OAUTH, f"Scope[{want.scope}]"),
    }
    return [
        (*items[s.kind], f"obreg's first reconcile would change this: {s.description}")
        for s in steps
    ]

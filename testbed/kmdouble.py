"""A contract double of the IS-KM 5.7 admin services obreg calls, over HTTPS.

It stands in for a WSO2 Key Manager, which cannot run on our machines, and serves the
contract in kmcontract/contract.yaml (read from WSO2's sources for identity-inbound-auth-
oauth 6.0.53, carbon-identity-framework 5.12.153 and Axis2 1.6.1-wso2v28): every request
is validated against the XML Schema of the services' types (anything else is a Client
fault); replies have the real status codes (200 with the response wrapper, a nil return
for register, 202 and no body only for updateScope); the read by consumer key leaves out
backChannelLogoutUrl, username and state, empty fields come back xsi:nil; an update
overwrites what the service overwrites (a field left out is cleared); names are unique
per owner, a duplicate key is a generic database fault, an unknown key is a fault; a
scope without claims is not listed by getScopes; an external claim needs an existing
dialect and a valid local claim; refused credentials are HTTP 500 with Carbon's
"Access Denied" fault. With ``hash_secrets`` it behaves like a KM with client-secret
hashing on (HashingPersistenceProcessor): it stores {"hash": hex, "algorithm": A}, the
unsalted digest ``hash_algorithm`` of the secret's UTF-8 bytes, returns that from both
reads, takes an update only with that value as its secret, and isHashDisabled says false.
A name is looked up per tenant, whoever owns the app (the last of several), while a
register refuses a name only its own owner has already.

``release`` picks the oauth component's words for an app a read does not find: 6.0.53's
(the contract's) by default, or "6.7.149" (IS 5.12 and later): its own words for "not
found", the older ones then meaning a server error, and an app cache that answers the
read by key with the plaintext secret right after a register (until it is removed).

Test knobs: ``delay`` (seconds before answering), ``faults`` (fault an operation with a
reason until removed), ``stop``/``start`` (the KM down and up on the same port),
``hash_secrets``, ``hash_algorithm``, ``release``, ``calls`` (every operation received),
``unauthorized`` (requests refused for credentials) and ``drop_after`` (operations that
are applied and then get no answer: the connection is closed, as when it breaks on the
way back).
``python -m testbed.kmdouble --port N --dir D`` serves it standalone (``make demo`` does),
with a throwaway CA written to D/ca.crt.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from testbed import kmcontract

CONTRACT = kmcontract.load()
NS = CONTRACT.namespaces
SOAP11, AXIS2, XSI = NS["soap"], NS["axis2"], NS["xsi"]
OIDC_DIALECT = "http://wso2.org/oidc/claim"
LOCAL_DIALECT = "http://wso2.org/claims"
SERVICES = CONTRACT.services()
WRITES = {
    "registerOAuthApplicationData",
    "updateConsumerApplication",
    "removeOAuthApplicationData",
    "updateScope",
    "addExternalClaim",
    "updateExternalClaim",
}
ALLOWED_GRANTS = {
    "authorization_code",
    "implicit",
    "password",
    "client_credentials",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "iwa:ntlm",
}
LOCAL_CLAIMS = {
    "http://wso2.org/claims/active",
    "http://wso2.org/claims/emailaddress",
    "http://wso2.org/claims/givenname",
    "http://wso2.org/claims/lastname",
    "http://wso2.org/claims/username",
}
DEFAULT_EXPIRY = {  # the server's defaults, taken when a request says 0
    "userAccessTokenExpiryTime": 3600,
    "applicationAccessTokenExpiryTime": 3600,
    "refreshTokenExpiryTime": 86400,
    "idTokenExpiryTime": 3600,
}
APP = CONTRACT.dtos["OAuthConsumerAppDTO"]
# MessageDigest names the double's hash_algorithm may take, as hashlib names them.
_DIGESTS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


class Refused(Exception):
    """A call the service refuses: answered as a SOAP fault with this reason."""

    def __init__(self, reason: str, code: str = "soapenv:Server") -> None:
        super().__init__(reason)
        self.code = code


@dataclass
class Database:
    """The KM database rows these services touch, seeded like a fresh KM."""

    apps: dict[str, dict[str, Any]] = field(default_factory=dict)  # consumer key -> app
    claims: dict[str, str] = field(
        default_factory=lambda: {
            "email": "http://wso2.org/claims/emailaddress",
            "given_name": "http://wso2.org/claims/givenname",
            "family_name": "http://wso2.org/claims/lastname",
        }
    )  # OIDC external claim -> local claim
    dialects: set[str] = field(default_factory=lambda: {OIDC_DIALECT})
    scopes: dict[str, list[str]] = field(
        default_factory=lambda: {
            "openid": ["sub", "email", "given_name", "family_name"],
            "email": ["email"],
            "profile": ["given_name", "family_name"],
        }
    )


def _empty_app() -> dict[str, Any]:
    return {
        name: [] if kind.endswith("[]") else {"long": 0, "boolean": False}.get(kind)
        for name, kind in APP.fields
    }


class KmDouble:
    def __init__(
        self,
        cert_pem: bytes,
        key_pem: bytes,
        username: str,
        password: str,
        address: str = "127.0.0.1",
    ) -> None:
        self.cert_pem, self.key_pem = cert_pem, key_pem
        # Where it listens: loopback, or the real node's address, which pods reach.
        self.address = address
        self.username, self.password = username, password
        self.db = Database()
        self.calls: list[str] = []
        self.unauthorized = 0  # requests refused for their credentials
        self.delay = 0.0
        self.hash_secrets = False
        self.hash_algorithm = "SHA-256"  # identity.xml's <HashAlgorithm>
        self.release = "6.0.53"
        # 6.7+'s AppInfoCache: consumer key -> the plaintext secret it was registered with.
        self.cached_secrets: dict[str, str] = {}
        # What a load balancer's maintenance page looks like to a SOAP client.
        self.garbage = False
        # What a load balancer in front of a KM that is down answers (e.g. 503), and
        # with what body.
        self.http_status: int | None = None
        self.http_body = b"<html>Unavailable</html>"
        self.faults: dict[str, str] = {}
        self.drop_after: set[str] = set()
        self.lock = threading.Lock()
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, port: int = 0) -> KmDouble:
        """Listen on ``port`` (0: a free one; on restart, the same one as before)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as directory:  # ssl loads keys from files only
            cert, key = Path(directory, "tls.crt"), Path(directory, "tls.key")
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)
        server = _Server((self.address, port or self.port), _handler(self))
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = server.server_address[1]
        self._server = server
        # stop() waits for the serving loop's next poll (every 0.5 s by default): a
        # short one keeps each test's teardown short (60 KM tests spent 30 s waiting).
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def renew_certificate(self) -> bytes:
        """A new serving certificate from a new CA, served from the next start; returns
        that CA (the KM's certificate replaced, as a renewal by another CA does)."""
        ca, self.cert_pem, self.key_pem = certificates()
        return ca

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}"

    def writes(self) -> list[str]:
        with self.lock:
            return [c for c in self.calls if c in WRITES]

    def stored_secret(self, secret: str) -> str:
        """What the database keeps of a client secret: itself, or HashingPersistence-
        Processor's JSON (org.json writes "hash" first: its HashMap's order)."""
        if not self.hash_secrets:
            return secret
        name = _DIGESTS[self.hash_algorithm.upper()]
        digest = hashlib.new(name, secret.encode()).hexdigest()
        return json.dumps({"hash": digest, "algorithm": self.hash_algorithm}, separators=(",", ":"))

    def _fault(self, op: kmcontract.Operation, which: str, **values: Any) -> Refused:
        """The fault ``which`` in this release's words."""
        newer = f"{which} (6.7+)"
        chosen = newer if self.release != "6.0.53" and newer in op.faults else which
        return Refused(op.fault(chosen, **values))

    def _by_key(self, key: str) -> dict[str, Any] | None:
        """The app as the read by key finds it: 6.7+'s cache first (the plaintext secret
        right after a register), then the database."""
        app = self.db.apps.get(key)
        if app is not None and key in self.cached_secrets:
            return {**app, "oauthConsumerSecret": self.cached_secrets[key]}
        return app

    # -- the services -------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any]) -> Any:
        """Run one operation on the database; what its response wrapper returns."""
        db, op = self.db, CONTRACT.operations[operation]
        if operation in ("getOAuthApplicationData", "getOAuthApplicationDataByAppName"):
            if operation == "getOAuthApplicationData":
                app = self._by_key(params["consumerKey"])
                unknown = "unknown key"
            else:  # WHERE APP_NAME=? AND TENANT_ID=?: any owner's; the last row wins
                named = [a for a in db.apps.values() if a["applicationName"] == params["appName"]]
                app = named[-1] if named else None
                unknown = "unknown name"
            if app is None:
                raise self._fault(op, unknown, **params)
            return {k: v for k, v in app.items() if k not in op.omits}
        if operation == "registerOAuthApplicationData":
            return self._register(op, params["application"])
        if operation == "updateConsumerApplication":
            return self._update(op, params["consumerAppDTO"])
        if operation == "removeOAuthApplicationData":
            db.apps.pop(params["consumerKey"], None)
            self.cached_secrets.pop(params["consumerKey"], None)
            return None
        if operation == "getScopes":  # a scope with no claims is not listed
            return [{"claim": c, "name": n} for n, c in sorted(db.scopes.items()) if c]
        if operation == "isScopeExist":
            return params["scope"] in db.scopes
        if operation == "isHashDisabled":
            return not self.hash_secrets
        if operation == "updateScope":
            scope = params["scope"]
            not_oidc = [c for c in params["addClaims"] if c not in db.claims]
            if scope not in db.scopes or not_oidc:
                raise Refused(op.fault("failed", scope=scope))
            kept = [c for c in db.scopes[scope] if c not in params["deleteClaims"]]
            db.scopes[scope] = kept + [c for c in params["addClaims"] if c not in kept]
            return None
        if operation == "getExternalClaims":
            dialect = params["externalClaimDialectURI"]
            if dialect != OIDC_DIALECT:
                return []
            return [
                {
                    "externalClaimDialectURI": dialect,
                    "externalClaimURI": uri,
                    "mappedLocalClaimURI": local,
                }
                for uri, local in sorted(db.claims.items())
            ]
        claim = params["externalClaim"]
        values = {k: claim.get(k) or "" for k, _ in CONTRACT.dtos["ExternalClaimDTO"].fields}
        if values["mappedLocalClaimURI"] not in LOCAL_CLAIMS:
            raise Refused(op.fault("invalid local claim", **values))
        uri = values["externalClaimURI"]
        if operation == "addExternalClaim":
            if values["externalClaimDialectURI"] not in db.dialects:
                raise Refused(op.fault("no dialect", **values))
            if uri in db.claims:
                raise Refused(op.fault("existing", **values))
        db.claims[uri] = values["mappedLocalClaimURI"]
        return None

    def _grants(self, requested: str | None) -> list[str]:
        return [g for g in (requested or "").split() if g]

    def _register(self, op: kmcontract.Operation, given: dict[str, Any]) -> None:
        grants = self._grants(given.get("grantTypes"))
        if {"authorization_code", "implicit"} & set(grants) and not given.get("callbackUrl"):
            raise Refused(op.fault("no callback"))
        for grant in grants:
            if grant not in ALLOWED_GRANTS:
                raise Refused(op.fault("grant not allowed", grant=grant))
        app = _empty_app()
        app.update({k: v for k, v in given.items() if k not in ("state", "username")})
        if not given.get("oauthConsumerKey"):  # a chosen secret only with a chosen key
            app["oauthConsumerKey"] = secrets.token_urlsafe(20)
            app["oauthConsumerSecret"] = secrets.token_urlsafe(20)
        elif not given.get("oauthConsumerSecret"):
            app["oauthConsumerSecret"] = secrets.token_urlsafe(20)
        plaintext = app["oauthConsumerSecret"]
        app["oauthConsumerSecret"] = self.stored_secret(plaintext)
        app["OAuthVersion"] = given.get("OAuthVersion") or "OAuth-2.0"
        app["username"], app["state"] = self.username, "ACTIVE"
        for name, default in DEFAULT_EXPIRY.items():
            app[name] = app[name] or default
        if any(
            a["applicationName"] == app["applicationName"] and a["username"] == self.username
            for a in self.db.apps.values()
        ):
            raise Refused(op.fault("duplicate name"))
        if app["oauthConsumerKey"] in self.db.apps:
            raise Refused(op.fault("duplicate key", **app))
        self.db.apps[app["oauthConsumerKey"]] = app
        if self.release != "6.0.53":
            self.cached_secrets[app["oauthConsumerKey"]] = plaintext

    def _update(self, op: kmcontract.Operation, given: dict[str, Any]) -> None:
        key, secret = given.get("oauthConsumerKey"), given.get("oauthConsumerSecret")
        if not key or not secret:
            raise Refused(op.fault("no key or secret"))
        found = self._by_key(key)  # the secret must be what the read by key returns
        if found is None or not hmac.compare_digest(
            str(found["oauthConsumerSecret"]).encode(), str(secret).encode()
        ):
            raise Refused(op.fault("unknown key or other secret"))
        app = self.db.apps[key]
        version_2 = given.get("OAuthVersion") == "OAuth-2.0"
        for grant in self._grants(given.get("grantTypes")) if version_2 else []:
            if grant not in ALLOWED_GRANTS:
                raise Refused(op.fault("grant not allowed", grant=grant, oauthConsumerKey=key))
        blank = _empty_app()
        for name in (*op.overwrites, *(op.overwrites_oauth2 if version_2 else ())):
            app[name] = given.get(name, blank[name])  # overwritten, never merged
        for name, default in DEFAULT_EXPIRY.items():
            app[name] = app[name] or default

    # -- the wire -----------------------------------------------------------------------

    def answer(
        self, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        """The status, headers and body to send; None: close the connection unanswered."""
        if self.delay:
            time.sleep(self.delay)
        if self.garbage:
            return 200, {"Content-Type": "text/html"}, b"<html><body>Down for maintenance"
        if self.http_status is not None:
            return self.http_status, {"Content-Type": "text/html"}, self.http_body
        if not self._authorized(headers.get("Authorization", "")):
            with self.lock:
                self.unauthorized += 1
            status, reason = CONTRACT.access_denied
            return status, {}, _fault(Refused(reason, "soapenv:Client"))
        service = path.removeprefix("/services/")
        if service not in SERVICES:
            return 404, {}, b""
        if not headers.get("Content-Type", "").startswith("text/xml"):
            return 415, {}, b""
        try:
            operation, params = _read(service, headers.get("SOAPAction", ""), body)
        except Refused as refused:
            return 500, {}, _fault(refused)
        op = CONTRACT.operations[operation]
        with self.lock:
            self.calls.append(operation)
            try:
                if operation in self.faults:
                    raise Refused(self.faults[operation])
                returned = self.handle(operation, params)
            except Refused as refused:
                return 500, {}, _fault(refused)
        if operation in self.drop_after:
            return None
        if op.returns is None:
            return op.status, {}, b""
        return op.status, {}, _envelope(operation, op.returns, returned)

    def _authorized(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user, self.username) and hmac.compare_digest(
            password.encode(), self.password.encode()
        )


class _Server(http.server.ThreadingHTTPServer):
    """TLS is negotiated in each connection's own thread (at the handler's first read),
    not in accept on the serving loop: a client that connected and never finished its
    handshake (a tunnel dropped half-way) held the loop, and stop() with it, for ever."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed its handshake or went silent: the client sees that;
        the double, like a KM, logs nothing of it."""


def _handler(double: KmDouble) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 30  # seconds a connection may stay silent before its thread ends

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            reply = double.answer(self.path, self.headers, self.rfile.read(length))
            if reply is None:
                self.close_connection = True
                return
            status, headers, body = reply
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body and "Content-Type" not in headers:
                self.send_header("Content-Type", "text/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            """Quiet: the tests read ``calls``, not an access log."""

    return Handler


def _read(service: str, soap_action: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """The operation and its parameters, or Refused (a Client fault) naming what does not
    match the contract: the envelope, the SOAPAction, or the XML Schema of the types."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as err:
        raise Refused(f"not well-formed XML: {err}", "soapenv:Client") from None
    if root.tag != f"{{{SOAP11}}}Envelope" or root.getroottree().docinfo.internalDTD is not None:
        raise Refused("not a SOAP 1.1 envelope", "soapenv:Client")
    bodies = root.findall(f"{{{SOAP11}}}Body")
    calls = [e for e in bodies[0] if isinstance(e.tag, str)] if len(bodies) == 1 else []
    if len(calls) != 1:
        raise Refused("the Body must hold exactly one operation element", "soapenv:Client")
    call = calls[0]
    qname = etree.QName(call)
    names = {o.name for o in SERVICES[service]}
    if qname.namespace != AXIS2 or qname.localname not in names:
        raise Refused(f"{service} has no operation {call.tag}", "soapenv:Client")
    operation = CONTRACT.operations[qname.localname]
    if soap_action.strip('"') != f"urn:{operation.name}":
        raise Refused(
            f"SOAPAction {soap_action!r} does not match {operation.name}", "soapenv:Client"
        )
    schema = kmcontract.request_schema()
    if not schema.validate(etree.ElementTree(etree.fromstring(etree.tostring(call)))):
        errors = [e.message for e in schema.error_log]  # type: ignore[attr-defined]
        raise Refused(f"{operation.name}: {errors[-1] if errors else 'invalid'}", "soapenv:Client")
    params: dict[str, Any] = {}
    for name, kind in operation.parameters:
        found = call.findall(f"{{{AXIS2}}}{name}")
        if kind.endswith("[]"):
            params[name] = [e.text or "" for e in found]
        elif kind in CONTRACT.dtos:
            params[name] = _read_dto(found[0], CONTRACT.dtos[kind]) if found else {}
        else:
            params[name] = (found[0].text or "") if found else ""
    return operation.name, params


def _read_dto(element: etree._Element, dto: kmcontract.Dto) -> dict[str, Any]:
    """A DTO's fields as typed values (the schema has checked their form)."""
    values: dict[str, Any] = {}
    for name, kind in dto.fields:
        found = [
            e
            for e in element.findall(f"{{{dto.namespace}}}{name}")
            if e.get(f"{{{XSI}}}nil") != "true"
        ]
        texts = [e.text or "" for e in found]
        if kind.endswith("[]"):
            values[name] = texts
        elif texts and kind == "long":
            values[name] = int(texts[0].strip())
        elif texts and kind == "boolean":
            values[name] = texts[0].strip() in ("true", "1")
        elif texts:
            values[name] = texts[0]
    return values


def _value(parent: etree._Element, tag: str, kind: str, value: Any) -> None:
    """One field as Axis2 writes it: arrays repeat, an empty value is xsi:nil."""
    items = value if kind.endswith("[]") else [value]
    if kind.endswith("[]") and not items:
        items = [None]
    for item in items:
        child = etree.SubElement(parent, tag)
        if item is None or item == "":
            child.set(f"{{{XSI}}}nil", "true")
        else:
            child.text = str(item).lower() if isinstance(item, bool) else str(item)


def _envelope(operation: str, returns: str, returned: Any) -> bytes:
    """The response wrapper holding what the contract says the operation returns."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    wrapper = etree.SubElement(
        body, f"{{{AXIS2}}}{operation}Response", nsmap={"ns": AXIS2, "xsi": XSI}
    )
    name = returns.removesuffix("[]")
    if returns == "nil":
        etree.SubElement(wrapper, f"{{{AXIS2}}}return").set(f"{{{XSI}}}nil", "true")
    elif returns == "boolean":
        etree.SubElement(wrapper, f"{{{AXIS2}}}return").text = str(bool(returned)).lower()
    elif name in CONTRACT.dtos:
        dto = CONTRACT.dtos[name]
        for item in returned if returns.endswith("[]") else [returned]:
            element = etree.SubElement(wrapper, f"{{{AXIS2}}}return", nsmap={"ax": dto.namespace})
            element.set(f"{{{XSI}}}type", f"ax:{dto.name}")
            for field_name, kind in dto.fields:
                if field_name in item:
                    _value(element, f"{{{dto.namespace}}}{field_name}", kind, item[field_name])
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def _fault(refused: Refused) -> bytes:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP11}}}Fault")
    etree.SubElement(fault, "faultcode").text = refused.code
    etree.SubElement(fault, "faultstring").text = str(refused)
    etree.SubElement(fault, "detail")
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


# -- certificates ---------------------------------------------------------------------


def certificates(host: str = "localhost") -> tuple[bytes, bytes, bytes]:
    """A throwaway CA and a server certificate it issued for ``host``, localhost and
    127.0.0.1: (CA PEM, server certificate PEM, server key PEM)."""
    now = datetime.datetime.now(datetime.UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, signer: Any, issuer: str, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names: list[x509.GeneralName] = [x509.DNSName(n) for n in {host, "localhost"}]
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("obreg KM double CA", ca_key, ca_key, "obreg KM double CA", True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build(host, key, ca_key, "obreg KM double CA", False)
    pem = serialization.Encoding.PEM
    return (
        ca.public_bytes(pem),
        cert.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def new(
    username: str = "admin", password: str = "admin", address: str = "127.0.0.1"
) -> tuple[KmDouble, bytes]:
    """A started double and the CA that issued its certificate (for localhost: clients
    name it as the KM's serverName, whichever address they reach it at)."""
    ca, cert, key = certificates()
    return KmDouble(cert, key, username, password, address).start(), ca


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", type=Path, required=True, help="where ca.crt is written")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password-file", type=Path, help="default: the password admin")
    args = parser.parse_args(argv)
    password = args.password_file.read_text().strip() if args.password_file else "admin"
    ca, cert, key = certificates()
    double = KmDouble(cert, key, args.username, password).start(args.port)
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "ca.crt.tmp").write_bytes(ca)
    (args.dir / "ca.crt.tmp").rename(args.dir / "ca.crt")  # whole, for whoever waits on it
    print(f"KM double at {double.url}; CA {args.dir / 'ca.crt'}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

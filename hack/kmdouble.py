"""A contract double of the IS-KM 5.7 admin services obreg calls, over HTTPS.

It stands in for a WSO2 Key Manager, which cannot run on our machines. It implements the
operations of OAuthAdminService (identity-inbound-auth-oauth 6.0.53) and
ClaimMetadataManagementService (carbon-identity-framework 5.12) that obreg uses, with
their public request and response shapes: SOAP 1.1, operation elements in Axis2's schema
namespace, DTO fields in the DTO package's namespace, HTTP 202 and no body for a void
operation, a SOAP fault with the service's reason for a refused call. It keeps state like
the KM database (apps, OIDC external claims, scope-claim mappings), enforces the
service-side rules obreg depends on (an update must carry the stored secret, a callback
is required for the code grant, no duplicate key, name or claim), requires HTTP basic
auth, and refuses any envelope that does not match an operation's shape, so obreg's
client is checked against the contract rather than against itself.

Test knobs: ``delay`` (seconds before answering), ``faults`` (fault an operation with a
reason until removed), ``stop``/``start`` (the KM down and up on the same port), ``calls``
(every operation received) and ``unauthorized`` (requests refused for credentials).
``python hack/kmdouble.py --port N --dir D`` serves it standalone (``make demo`` does),
with a throwaway CA written to D/ca.crt.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hmac
import http.server
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

# Written apart from obreg's client on purpose, namespaces and operation lists included:
# the double checks that client, so it must not share its definitions.
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
AXIS2 = "http://org.apache.axis2/xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAUTH_DTO = "http://dto.oauth.identity.carbon.wso2.org/xsd"
CLAIM_DTO = "http://dto.mgt.metadata.claim.identity.carbon.wso2.org/xsd"
OIDC_DIALECT = "http://wso2.org/oidc/claim"

# OAuthConsumerAppDTO's properties at 6.0.53 (Axis2 names them after the getters).
APP_FIELDS = {
    "OAuthVersion": str,
    "applicationAccessTokenExpiryTime": int,
    "applicationName": str,
    "audiences": list,
    "backChannelLogoutUrl": str,
    "callbackUrl": str,
    "grantTypes": str,
    "idTokenEncryptionAlgorithm": str,
    "idTokenEncryptionEnabled": bool,
    "idTokenEncryptionMethod": str,
    "oauthConsumerKey": str,
    "oauthConsumerSecret": str,
    "pkceMandatory": bool,
    "pkceSupportPlain": bool,
    "refreshTokenExpiryTime": int,
    "requestObjectSignatureValidationEnabled": bool,
    "scopeValidators": list,
    "state": str,
    "userAccessTokenExpiryTime": int,
    "username": str,
}
CLAIM_FIELDS = {"externalClaimDialectURI": str, "externalClaimURI": str, "mappedLocalClaimURI": str}
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
# Parameters per operation: name -> "string", "strings" (repeated), or a DTO's fields.
Shape = dict[str, Any]
OPERATIONS: dict[str, dict[str, Shape]] = {
    "OAuthAdminService": {
        "getOAuthApplicationData": {"consumerKey": "string"},
        "registerOAuthApplicationData": {"application": APP_FIELDS},
        "updateConsumerApplication": {"consumerAppDTO": APP_FIELDS},
        "removeOAuthApplicationData": {"consumerKey": "string"},
        "getScopes": {},
        "updateScope": {"scope": "string", "addClaims": "strings", "deleteClaims": "strings"},
    },
    "ClaimMetadataManagementService": {
        "getExternalClaims": {"externalClaimDialectURI": "string"},
        "addExternalClaim": {"externalClaim": CLAIM_FIELDS},
        "updateExternalClaim": {"externalClaim": CLAIM_FIELDS},
    },
}
DTO_NAMESPACE = {id(APP_FIELDS): OAUTH_DTO, id(CLAIM_FIELDS): CLAIM_DTO}
WRITES = {
    "registerOAuthApplicationData",
    "updateConsumerApplication",
    "removeOAuthApplicationData",
    "updateScope",
    "addExternalClaim",
    "updateExternalClaim",
}
LOCAL_CLAIMS = {
    "http://wso2.org/claims/active",
    "http://wso2.org/claims/emailaddress",
    "http://wso2.org/claims/givenname",
    "http://wso2.org/claims/lastname",
    "http://wso2.org/claims/username",
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
    scopes: dict[str, list[str]] = field(
        default_factory=lambda: {
            "openid": ["sub", "email", "given_name", "family_name"],
            "email": ["email"],
            "profile": ["given_name", "family_name"],
        }
    )


class KmDouble:
    def __init__(self, cert_pem: bytes, key_pem: bytes, username: str, password: str) -> None:
        self.cert_pem, self.key_pem = cert_pem, key_pem
        self.username, self.password = username, password
        self.db = Database()
        self.calls: list[str] = []
        self.unauthorized = 0  # requests refused for their credentials
        self.delay = 0.0
        self.faults: dict[str, str] = {}
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
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port or self.port), _handler(self))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def writes(self) -> list[str]:
        with self.lock:
            return [c for c in self.calls if c in WRITES]

    # -- the services -------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any]) -> list[etree._Element] | None:
        """Run one operation on the database: its return elements, or None when void."""
        db = self.db
        if operation == "getOAuthApplicationData":
            app = db.apps.get(params["consumerKey"])
            if app is None:
                raise Refused(
                    "Error while retrieving the app information using consumerKey: "
                    + params["consumerKey"]
                )
            return [_dto("return", OAUTH_DTO, "OAuthConsumerAppDTO", app)]
        if operation == "registerOAuthApplicationData":
            app = dict(params["application"])
            grants = str(app.get("grantTypes", "")).split()
            if not app.get("applicationName"):
                raise Refused("No application name in the request")
            if {"authorization_code", "implicit"} & set(grants) and not app.get("callbackUrl"):
                raise Refused("Callback URL is required for the code and implicit grant types")
            for grant in grants:
                if grant not in ALLOWED_GRANTS:
                    raise Refused(f"{grant} not allowed")
            key = app.get("oauthConsumerKey")
            if key in db.apps:
                raise Refused("An application with this consumer key already exists")
            if any(a["applicationName"] == app["applicationName"] for a in db.apps.values()):
                raise Refused("An application with the same name already exists")
            app.setdefault("OAuthVersion", "OAuth-2.0")
            app.setdefault("username", self.username)
            for name in ("userAccessTokenExpiryTime", "applicationAccessTokenExpiryTime"):
                app[name] = app.get(name) or 3600
            app["refreshTokenExpiryTime"] = app.get("refreshTokenExpiryTime") or 86400
            app["state"] = "ACTIVE"
            db.apps[str(key)] = app
            return None
        if operation == "updateConsumerApplication":
            new = params["consumerAppDTO"]
            key, secret = new.get("oauthConsumerKey"), new.get("oauthConsumerSecret")
            if not key or not secret:
                raise Refused("OauthConsumerKey or OauthConsumerSecret is not provided")
            app = db.apps.get(key)
            if app is None or not hmac.compare_digest(
                str(app["oauthConsumerSecret"]).encode(), str(secret).encode()
            ):
                raise Refused("Error while updating the app information.")
            for grant in str(new.get("grantTypes", "")).split():
                if grant not in ALLOWED_GRANTS:
                    raise Refused(f"{grant} not allowed for OAuth App with consumerKey: {key}")
            app.update(new)
            return None
        if operation == "removeOAuthApplicationData":
            db.apps.pop(params["consumerKey"], None)
            return None
        if operation == "getScopes":
            return [
                _dto("return", OAUTH_DTO, "ScopeDTO", {"claim": claims, "name": name})
                for name, claims in sorted(db.scopes.items())
            ]
        if operation == "updateScope":
            scope = params["scope"]
            if scope not in db.scopes:
                raise Refused(f"Scope {scope} does not exist")
            unknown = [c for c in params["addClaims"] if c not in db.claims]
            if unknown:
                raise Refused(f"Claims {', '.join(unknown)} are not OIDC claims")
            kept = [c for c in db.scopes[scope] if c not in params["deleteClaims"]]
            db.scopes[scope] = kept + [c for c in params["addClaims"] if c not in kept]
            return None
        if operation == "getExternalClaims":
            if params["externalClaimDialectURI"] != OIDC_DIALECT:
                return []
            return [
                _dto(
                    "return",
                    CLAIM_DTO,
                    "ExternalClaimDTO",
                    {
                        "externalClaimDialectURI": OIDC_DIALECT,
                        "externalClaimURI": uri,
                        "mappedLocalClaimURI": local,
                    },
                )
                for uri, local in sorted(db.claims.items())
            ]
        claim = params["externalClaim"]
        if claim.get("externalClaimDialectURI") != OIDC_DIALECT:
            raise Refused("Only the OIDC dialect is kept by this double")
        if claim.get("mappedLocalClaimURI") not in LOCAL_CLAIMS:
            raise Refused(f"Local claim {claim.get('mappedLocalClaimURI')} does not exist")
        uri = str(claim.get("externalClaimURI"))
        if operation == "addExternalClaim":
            if uri in db.claims:
                raise Refused(f"External claim {uri} already exists")
        elif uri not in db.claims:
            raise Refused(f"External claim {uri} does not exist")
        db.claims[uri] = str(claim["mappedLocalClaimURI"])
        return None

    # -- the wire -----------------------------------------------------------------------

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.delay:
            time.sleep(self.delay)
        if not self._authorized(headers.get("Authorization", "")):
            with self.lock:
                self.unauthorized += 1
            return 401, {"WWW-Authenticate": 'Basic realm="WSO2 Carbon"'}, b""
        service = path.removeprefix("/services/")
        if service not in OPERATIONS:
            return 404, {}, b""
        if not headers.get("Content-Type", "").startswith("text/xml"):
            return 415, {}, b""
        try:
            operation, params = _read(service, headers.get("SOAPAction", ""), body)
        except Refused as refused:
            return 500, {}, _fault(refused)
        with self.lock:
            self.calls.append(operation)
            try:
                if operation in self.faults:
                    raise Refused(self.faults[operation])
                returned = self.handle(operation, params)
            except Refused as refused:
                return 500, {}, _fault(refused)
        if returned is None:
            return 202, {}, b""
        return 200, {}, _envelope(operation + "Response", returned)

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


def _handler(double: KmDouble) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            status, headers, body = double.answer(self.path, self.headers, self.rfile.read(length))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body:
                self.send_header("Content-Type", "text/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            """Quiet: the tests read ``calls``, not an access log."""

    return Handler


def _read(service: str, soap_action: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """The operation and its parameters, or Refused naming the mismatch."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as err:
        raise Refused(f"not well-formed XML: {err}", "soapenv:Client") from None
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise Refused("not a SOAP 1.1 envelope", "soapenv:Client")
    bodies = root.findall(f"{{{SOAP11}}}Body")
    calls = [e for e in bodies[0] if isinstance(e.tag, str)] if len(bodies) == 1 else []
    if len(calls) != 1:
        raise Refused("the Body must hold exactly one operation element", "soapenv:Client")
    call = calls[0]
    qname = etree.QName(call)
    shapes = OPERATIONS[service]
    if qname.namespace != AXIS2 or qname.localname not in shapes:
        raise Refused(f"{service} has no operation {call.tag}", "soapenv:Client")
    operation = qname.localname
    if soap_action.strip('"') != f"urn:{operation}":
        raise Refused(f"SOAPAction {soap_action!r} does not match {operation}", "soapenv:Client")
    shape = shapes[operation]
    params: dict[str, Any] = {n: [] for n, kind in shape.items() if kind == "strings"}
    for element in call:
        if not isinstance(element.tag, str):
            continue
        name = _name(element, AXIS2, f"parameter of {operation}")
        kind = shape.get(name)
        if kind is None:
            raise Refused(f"{operation} has no parameter {name}", "soapenv:Client")
        if kind == "strings":
            params[name].append(element.text or "")
        elif kind == "string":
            if name in params:
                raise Refused(f"{operation}: {name} given twice", "soapenv:Client")
            params[name] = element.text or ""
        else:
            params[name] = _read_dto(element, kind, DTO_NAMESPACE[id(kind)], operation)
    missing = [n for n, kind in shape.items() if kind != "strings" and n not in params]
    if missing:
        raise Refused(f"{operation}: missing {', '.join(missing)}", "soapenv:Client")
    return operation, params


def _name(element: etree._Element, namespace: str, what: str) -> str:
    qname = etree.QName(element)
    if qname.namespace != namespace:
        raise Refused(
            f"{what} {qname.localname} is in namespace {qname.namespace!r}, not {namespace!r}",
            "soapenv:Client",
        )
    return str(qname.localname)


def _read_dto(
    element: etree._Element, shape: dict[str, type], namespace: str, operation: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = _name(child, namespace, f"{operation} field")
        kind = shape.get(name)
        if kind is None:
            raise Refused(f"{operation}: unknown field {name}", "soapenv:Client")
        text = child.text or ""
        if kind is list:
            values.setdefault(name, []).append(text)
        elif name in values:
            raise Refused(f"{operation}: field {name} given twice", "soapenv:Client")
        elif kind is bool:
            if text not in ("true", "false"):
                raise Refused(f"{operation}: {name} is not a boolean", "soapenv:Client")
            values[name] = text == "true"
        elif kind is int:
            if not text.lstrip("-").isdigit():
                raise Refused(f"{operation}: {name} is not a number", "soapenv:Client")
            values[name] = int(text)
        else:
            values[name] = text
    return values


def _dto(tag: str, namespace: str, type_name: str, values: dict[str, Any]) -> etree._Element:
    element = etree.Element(f"{{{AXIS2}}}{tag}", nsmap={"ns": AXIS2, "ax": namespace, "xsi": XSI})
    element.set(f"{{{XSI}}}type", f"ax:{type_name}")
    for name in sorted(values):
        value = values[name]
        items: Iterable[Any] = value if isinstance(value, list) else [value]
        for item in items:
            child = etree.SubElement(element, f"{{{namespace}}}{name}")
            child.text = str(item).lower() if isinstance(item, bool) else str(item)
    return element


def _envelope(wrapper: str, returned: list[etree._Element]) -> bytes:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    holder = etree.SubElement(body, f"{{{AXIS2}}}{wrapper}", nsmap={"ns": AXIS2})
    holder.extend(returned)
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


def new(username: str = "admin", password: str = "admin") -> tuple[KmDouble, bytes]:
    """A started double and the CA that issued its certificate."""
    ca, cert, key = certificates()
    return KmDouble(cert, key, username, password).start(), ca


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

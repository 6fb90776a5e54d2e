"""The Key Manager admin client: OAuthAdminService and ClaimMetadataManagementService
over HTTPS with basic auth, as typed calls.

Failures become a ``KmError`` whose kind says what to do next: ``unavailable`` (connection
refused, timeout, 5xx without a fault: retry later), ``unauthorized`` (fix the admin
credentials; Carbon answers them with HTTP 500 and an "Access Denied" fault), ``fault``
(the KM refused the call; its reason is kept), ``protocol`` (the answer is not what these
services send), ``unsupported`` (the KM is configured in a way obreg cannot work with).
Messages name the service, operation and the KM's own reason; never a request or
response body, which carry the client secret.

A read is retried at once a few times when the connection failed, timed out or a proxy
answered 502/503/504. A write (WRITES) is sent again only when it failed before any byte
of it left: the connection was never made (refused, no such host, TLS handshake). Any
other failure may have come after the KM applied it, so sending it again blindly could
register an app twice: the write raises ``unavailable`` instead, and the pass after it
starts over from reads and decides from what the KM holds.

Every answer is read within budgets.KM_ANSWER_BYTES (km/answer.py), and every message is
printable and bounded (errors.bounded), whatever the KM put in its fault.

With HTTPS_PROXY set, calls go through that proxy's CONNECT tunnel unless NO_PROXY
exempts the KM (km/proxy.py); TLS is made with the KM through it and verified the same.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets as random
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
from lxml import etree

from ..errors import bounded
from ..redaction import redact
from ..rules.km_app import OAUTH_VERSION, ExternalClaim, OAuthApp, ObservedApp
from ..rules.km_steps import ErrorKind
from . import answer, proxy, soap

OAUTH = "OAuthAdminService"
CLAIMS = "ClaimMetadataManagementService"
WRITES = frozenset(  # never sent again once it may have reached the KM
    {
        "registerOAuthApplicationData",
        "updateConsumerApplication",
        "removeOAuthApplicationData",
        "updateScope",
        "addExternalClaim",
        "updateExternalClaim",
    }
)
# Carbon answers refused credentials with a fault ("Access Denied. Please login first."),
# a locked or disabled admin account with the user store's text ("17003 User account is
# locked for user : admin. cannot login until the account is unlocked"). Each is a login
# refused: retried, it counts toward locking the account.
_DENIED = (
    "access denied",
    "authentication failed",
    "not authorized",
    "account is locked",
    "account is disabled",
    "until the account is unlocked",
)
# The reads' fault for an app they do not find. identity-inbound-auth-oauth 6.7 and 7.x
# (IS 5.12, IS 7) answer it in words of its own (OAUTH-60002); in those releases the words
# of 6.0.x (IS-KM 5.7) mean a server error (OAUTH-65001), while 6.0.x answers both an
# unknown app and a database error with them. So the older words mean "no such app" only
# from a KM that answers an app known not to exist with them (AdminClient._legacy).
_NOT_FOUND_KEY = "Cannot find a valid OAuth client for consumerKey: "
_NOT_FOUND_NAME = "Cannot find a valid OAuth client with application name: "
_LEGACY_KEY = "Error while retrieving the app information using consumerKey: "
_LEGACY_NAME = "Error while retrieving the app information by app name: "


class KmError(Exception):
    """``message`` quotes the KM (its fault, an element name): it is made printable and
    bounded here, once, so no caller can put raw KM text into a status, event or log.
    ``reason`` keeps a fault's whole text (masked) for callers that recognise one."""

    def __init__(self, kind: ErrorKind, message: str, reason: str = "") -> None:
        super().__init__(bounded(message))
        self.kind = kind
        self.reason = reason
        # What the failed pass had made before (sync.converge): changes to report all
        # the same, since the next pass will find them in place and say nothing of them.
        self.done: list[str] = []


@dataclass(frozen=True)
class Connection:
    """Where and how to call the KM. ``password`` is never printed."""

    url: str  # https://host:port
    username: str
    password: str = field(repr=False)
    ca_pem: bytes | None = field(default=None, repr=False)
    server_name: str | None = None
    timeout: float = 10.0

    def fingerprint(self) -> str:
        """A digest of every setting, password included; in memory only."""
        parts = [self.url, self.username, self.password, self.server_name or "", str(self.timeout)]
        digest = hashlib.sha256("\0".join(parts).encode())
        digest.update(self.ca_pem or b"")
        return digest.hexdigest()


def tls_context(ca_pem: bytes | None) -> ssl.SSLContext:
    """Verifying context: the given CAs, else the system's. Never unverified."""
    if ca_pem is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        raise KmError("protocol", "the CA for the Key Manager's TLS is not PEM") from None


def _before_sending(err: aiohttp.ClientError) -> bool:
    """Whether the request cannot have left: no connection was made (refused, no such
    host, TLS handshake, a proxy that refused the tunnel). Every other failure may come
    after the KM read the request."""
    return isinstance(err, aiohttp.ClientConnectorError | aiohttp.ClientHttpProxyError)


def _why(err: aiohttp.ClientError) -> str:
    """A connection failure in words that stay the same from one attempt to the next
    (aiohttp's own text names the TLS context object, whose address changes), so a KM
    that stays down does not rewrite status on every retry."""
    if isinstance(err, aiohttp.ClientHttpProxyError):
        return f"the proxy refused the tunnel (HTTP {err.status})"
    if isinstance(err, aiohttp.ClientConnectorError):
        return err.os_error.strerror or type(err.os_error).__name__
    return type(err).__name__


def _maybe(sent: bool) -> str:
    """What a failed write adds: it may have been applied, so it is not sent again."""
    if not sent:
        return ""
    return "; the change may have been made, so it is not sent again: the next pass reads first"


class AdminClient:
    def __init__(
        self,
        connection: Connection,
        session: aiohttp.ClientSession,
        retry_delays: Sequence[float] = (0.5, 1.0, 2.0),
        secrets: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``secrets`` (the client secrets the calls carry) and the admin password are
        masked in every text the KM sends back, before anything else reads it.
        ``environ`` (default: the process's) holds the proxy variables."""
        self._conn = connection
        self._proxy = proxy.choose(connection.url, os.environ if environ is None else environ)
        # Where a connection failure happened, when it was the proxy's side of it.
        self._via = f" through the proxy {self._proxy.authority}" if self._proxy else ""
        self._secrets = (connection.password, *secrets)
        self._session = session
        self._ssl = tls_context(connection.ca_pem)
        self._delays = tuple(retry_delays)
        token = base64.b64encode(f"{connection.username}:{connection.password}".encode())
        self._auth = "Basic " + token.decode()
        self.calls: list[str] = []  # operations sent, in order (for metrics and tests)
        self._legacy_words: bool | None = None  # see _legacy

    def _masked(self, text: str) -> str:
        """KM text with every secret masked (before anything else reads it) and its
        whitespace runs collapsed."""
        return " ".join(redact(text, self._secrets).split())

    async def _call(
        self, service: str, operation: str, parameters: Sequence[tuple[str, soap.Value]]
    ) -> list[etree._Element]:
        url = f"{self._conn.url.rstrip('/')}/services/{service}"
        body = soap.request(operation, parameters)
        headers = {
            "Content-Type": soap.CONTENT_TYPE,
            "SOAPAction": soap.action(operation),
            "Authorization": self._auth,
            "Accept-Encoding": answer.ACCEPTED,
        }
        where = f"{service}.{operation}"
        write = operation in WRITES
        for attempt in range(len(self._delays) + 1):
            last = attempt == len(self._delays)
            self.calls.append(operation)
            try:
                async with self._session.post(
                    url,
                    data=body,
                    headers=headers,
                    ssl=self._ssl,
                    server_hostname=self._conn.server_name,
                    timeout=aiohttp.ClientTimeout(total=self._conn.timeout),
                    allow_redirects=False,
                    auto_decompress=False,  # answer.read inflates, within the budget
                    proxy=self._proxy.url if self._proxy else None,
                    proxy_headers=self._proxy.headers if self._proxy else None,
                ) as response:
                    status, data = response.status, await answer.read(response)
            except answer.Unreadable as err:
                raise KmError("garbled", f"{where}: {self._masked(str(err))}") from None
            except TimeoutError:
                if write or last:
                    raise KmError(
                        "unavailable",
                        f"{where}: no answer within {self._conn.timeout:g} s{_maybe(write)}",
                    ) from None
            except aiohttp.ClientConnectorCertificateError as err:
                raise KmError(
                    "protocol",
                    f"{where}: the Key Manager's TLS certificate is not trusted: "
                    f"{err.certificate_error}",
                ) from None
            except aiohttp.ClientSSLError as err:
                raise KmError("protocol", f"{where}: TLS failed: {err}") from None
            except aiohttp.ClientError as err:
                sent = write and not _before_sending(err)
                if sent or last:
                    raise KmError(
                        "unavailable",
                        f"{where}: cannot reach {self._conn.url}{self._via}: "
                        f"{_why(err)}{_maybe(sent)}",
                    ) from None
            else:
                if status in (502, 503, 504) and not (last or write):
                    await asyncio.sleep(self._delays[attempt])
                    continue
                # Parsed off the event loop: within its budgets an answer still takes up
                # to a tenth of a second, which other reconciles should not wait for.
                return await asyncio.to_thread(self._answer, where, operation, status, data)
            await asyncio.sleep(self._delays[attempt])
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _answer(self, where: str, operation: str, status: int, data: bytes) -> list[etree._Element]:
        """What an answer says, from one parse of it (soap.parse, within its budgets)."""
        if status in (401, 403):
            raise KmError(
                "unauthorized",
                f"{where}: the Key Manager refused the admin credentials (HTTP {status})",
            )
        try:
            envelope = soap.parse(data) if data.strip() else None
        except soap.TooManyNodes as err:  # as an answer over KM_ANSWER_BYTES, whatever the status
            raise KmError("garbled", f"{where}: {err}") from None
        except soap.MalformedResponse as err:
            why = self._masked(str(err))
            if status >= 500:  # a proxy's or load balancer's error page: say its status
                raise KmError(
                    "unavailable", f"{where}: HTTP {status}, not a Key Manager answer: {why}"
                ) from None
            raise KmError("garbled", f"{where}: not a Key Manager answer: {why}") from None
        found = envelope.fault() if envelope is not None else None
        if found is not None:
            reason = self._masked(found.reason)
            if any(d in reason.lower() for d in _DENIED):
                raise KmError(
                    "unauthorized",
                    f"{where}: the Key Manager refused the admin credentials ({reason})",
                )
            raise KmError("fault", f"{where}: the Key Manager answered: {reason}", reason)
        if status >= 500:
            raise KmError("unavailable", f"{where}: HTTP {status}")
        if status == 202 and envelope is None:
            return []  # a void operation
        if status != 200:
            raise KmError("garbled", f"{where}: not a Key Manager answer: HTTP {status}")
        try:
            if envelope is None:  # an empty body: parse says how it is not an answer
                envelope = soap.parse(data)
            return envelope.response(operation)
        except soap.MalformedResponse as err:
            why = self._masked(str(err))
            raise KmError("garbled", f"{where}: not a Key Manager answer: {why}") from None

    # -- OAuthAdminService --------------------------------------------------------------

    async def _not_found(self, err: KmError, modern: str, legacy: str, value: str) -> bool:
        """Whether a read's fault says the app does not exist, and nothing else."""
        if err.kind != "fault":
            return False
        if err.reason == modern + value:
            return True
        return err.reason == legacy + value and await self._legacy()

    async def _legacy(self) -> bool:
        """Whether this KM answers an unknown app in 6.0.x's words, which it then also uses
        for a database error (there the two cannot be told apart). Asked once, with a
        consumer key no app has, only when a read answered in those words."""
        if self._legacy_words is None:
            probe = f"obreg-no-such-app-{random.token_hex(8)}"
            try:
                await self._call(OAUTH, "getOAuthApplicationData", [("consumerKey", probe)])
                self._legacy_words = False  # an app for a random key: nothing is known
            except KmError as err:
                if err.kind != "fault":
                    raise
                self._legacy_words = err.reason == _LEGACY_KEY + probe
        return self._legacy_words

    async def get_app(self, client_id: str) -> ObservedApp | None:
        """The app with this consumer key, or None when the KM says it has none (its
        fault for an unknown key); any other fault is raised."""
        try:
            found = await self._call(OAUTH, "getOAuthApplicationData", [("consumerKey", client_id)])
        except KmError as err:
            if await self._not_found(err, _NOT_FOUND_KEY, _LEGACY_KEY, client_id):
                return None
            raise
        return self._app(found)

    async def get_app_by_name(self, name: str) -> ObservedApp | None:
        """The app of this name in the admin user's tenant (whoever owns it; of several,
        the KM returns one), or None when the KM says it has none; any other fault is
        raised, since taking it for "no app" would register a second app of the name.
        Unlike the read by key, this one returns backChannelLogoutUrl."""
        try:
            found = await self._call(OAUTH, "getOAuthApplicationDataByAppName", [("appName", name)])
        except KmError as err:
            if await self._not_found(err, _NOT_FOUND_NAME, _LEGACY_NAME, name):
                return None
            raise
        return self._app(found)

    async def whole_app(self, current: ObservedApp) -> ObservedApp:
        """Every field the KM keeps of the app ``current`` (read by key, which leaves out
        the back-channel logout URL): read again by name, which returns it. Raised when
        the read by name returns another app (names are unique per owner only), since a
        write from a partial read would clear what it left out."""
        whole = await self.get_app_by_name(current.name)
        if whole is None or whole.client_id != current.client_id:
            other = f"the app of client id {whole.client_id}" if whole else "no app"
            raise KmError(
                "unsupported",
                f"{OAUTH}.getOAuthApplicationDataByAppName: the Key Manager returned {other} "
                f"for the name {current.name}, so obreg cannot read every setting of its app "
                "and does not rewrite it (what it cannot read would be cleared)",
            )
        return whole

    @staticmethod
    def _app(found: list[etree._Element]) -> ObservedApp | None:
        if not found:
            return None
        values = soap.fields(found[0], soap.OAUTH_DTO)
        if not values.get("oauthConsumerKey"):
            return None

        def one(name: str) -> str:
            return (values.get(name) or [""])[0]

        return ObservedApp(
            name=one("applicationName"),
            client_id=one("oauthConsumerKey"),
            client_secret=one("oauthConsumerSecret"),
            callback_url=one("callbackUrl"),
            grant_types=tuple(one("grantTypes").split()),
            fields=values,
        )

    async def hash_disabled(self) -> bool:
        """Whether the KM keeps client secrets as they are (the default) rather than
        hashed; with hashing, no read shows the stored secret."""
        found = await self._call(OAUTH, "isHashDisabled", [])
        return bool(found) and (found[0].text or "").strip() == "true"

    async def scope_exists(self, scope: str) -> bool:
        """getScopes does not list a scope without claims; this asks about one."""
        found = await self._call(OAUTH, "isScopeExist", [("scope", scope)])
        return bool(found) and (found[0].text or "").strip() == "true"

    @staticmethod
    def _app_dto(
        app: OAuthApp, keep: ObservedApp | None = None, secret: str | None = None
    ) -> soap.Dto:
        """The DTO of ``app``: the fields obreg manages, and every other field of ``keep``
        as read; the secret is ``secret`` when given (an update sends the stored one)."""
        managed: dict[str, str | tuple[str, ...]] = {
            "OAuthVersion": OAUTH_VERSION,
            "applicationName": app.name,
            "callbackUrl": app.callback_url,
            "grantTypes": " ".join(app.grant_types),
            "oauthConsumerKey": app.client_id,
            "oauthConsumerSecret": app.client_secret if secret is None else secret,
        }
        kept: dict[str, str | tuple[str, ...]] = {}
        for name, values in (keep.fields if keep else {}).items():
            kept[name] = values[0] if len(values) == 1 else tuple(values)
        kept.update(managed)
        return soap.Dto(soap.OAUTH_DTO, tuple(kept.items()))

    async def register_app(self, app: OAuthApp, keep: ObservedApp | None = None) -> None:
        """Register ``app`` with its client id and secret; with ``keep``, every other
        field as read from the app it replaces."""
        await self._call(
            OAUTH, "registerOAuthApplicationData", [("application", self._app_dto(app, keep))]
        )

    async def update_app(self, app: OAuthApp, current: ObservedApp) -> None:
        """Update name, callback and grants. The service replaces rather than merges (a
        field left out is cleared) and the read by key leaves out the back-channel logout
        URL, so every field is read (whole_app) and sent back as read. The secret must
        equal what the read by key returned (the service compares it with the stored
        value: on a hashing KM, the hash), so it is sent exactly as read."""
        dto = self._app_dto(app, await self.whole_app(current), secret=current.client_secret)
        await self._call(OAUTH, "updateConsumerApplication", [("consumerAppDTO", dto)])

    async def replace_app(self, app: OAuthApp, current: ObservedApp) -> None:
        """Give the app a new secret and change nothing else: no call sets a chosen secret
        on an existing app, so every field is read, the app removed, and registered again
        with all of them and the new secret."""
        whole = await self.whole_app(current)
        await self.remove_app(app.client_id)
        await self.register_app(app, whole)

    async def remove_app(self, client_id: str) -> None:
        await self._call(OAUTH, "removeOAuthApplicationData", [("consumerKey", client_id)])

    async def get_scopes(self) -> dict[str, list[str]]:
        scopes: dict[str, list[str]] = {}
        for item in await self._call(OAUTH, "getScopes", []):
            values = soap.fields(item, soap.OAUTH_DTO)
            name = (values.get("name") or [""])[0]
            claims = [c for text in values.get("claim", []) for c in text.split(",") if c]
            scopes[name] = claims
        return scopes

    async def update_scope(self, scope: str, add: Sequence[str], delete: Sequence[str]) -> None:
        await self._call(
            OAUTH,
            "updateScope",
            [("scope", scope), ("addClaims", tuple(add)), ("deleteClaims", tuple(delete))],
        )

    # -- ClaimMetadataManagementService -------------------------------------------------

    async def get_external_claims(self, dialect: str) -> list[ExternalClaim]:
        claims = []
        for item in await self._call(
            CLAIMS, "getExternalClaims", [("externalClaimDialectURI", dialect)]
        ):
            values = soap.fields(item, soap.CLAIM_DTO)
            claims.append(
                ExternalClaim(
                    dialect=(values.get("externalClaimDialectURI") or [dialect])[0],
                    uri=(values.get("externalClaimURI") or [""])[0],
                    mapped_local=(values.get("mappedLocalClaimURI") or [""])[0],
                )
            )
        return claims

    @staticmethod
    def _claim_dto(claim: ExternalClaim) -> soap.Dto:
        return soap.Dto(
            soap.CLAIM_DTO,
            (
                ("externalClaimDialectURI", claim.dialect),
                ("externalClaimURI", claim.uri),
                ("mappedLocalClaimURI", claim.mapped_local),
            ),
        )

    async def add_external_claim(self, claim: ExternalClaim) -> None:
        await self._call(CLAIMS, "addExternalClaim", [("externalClaim", self._claim_dto(claim))])

    async def update_external_claim(self, claim: ExternalClaim) -> None:
        await self._call(CLAIMS, "updateExternalClaim", [("externalClaim", self._claim_dto(claim))])

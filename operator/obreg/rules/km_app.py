"""What the Key Manager's database must hold for the store's login, and the fewest
admin calls that get it there from what the KM reports.

Pure: the desired state comes from the OBServiceProvider and its resolved credentials,
the plan from comparing it with what was read. Nothing here talks to the KM, so every
rule (when to update, when to re-register, when to leave alone) is unit-tested.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..api.kinds import SERVICE_PROVIDER
from ..api.service_provider import OBServiceProviderSpec
from ..render.credentials import ClientCredentials
from ..render.site_json import redirect_uri

OIDC_DIALECT = "http://wso2.org/oidc/claim"
OPENID_SCOPE = "openid"
OAUTH_VERSION = "OAuth-2.0"


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth application behind the store's service provider."""

    name: str
    client_id: str
    client_secret: str = field(repr=False)
    callback_url: str
    grant_types: tuple[str, ...]


@dataclass(frozen=True)
class ExternalClaim:
    dialect: str
    uri: str
    mapped_local: str


@dataclass(frozen=True)
class Desired:
    app: OAuthApp
    claim: ExternalClaim
    scope: str  # the OIDC scope that must release the claim

    def fingerprint(self) -> str:
        """A digest of the whole desired state, secret included, so a rotated secret is a
        change; kept in memory only, never written anywhere."""
        app = self.app
        parts = [
            app.name,
            app.client_id,
            app.client_secret,
            app.callback_url,
            " ".join(app.grant_types),
            self.claim.dialect,
            self.claim.uri,
            self.claim.mapped_local,
            self.scope,
        ]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def desired(spec: OBServiceProviderSpec, credentials: ClientCredentials) -> Desired:
    return Desired(
        app=OAuthApp(
            name=spec.application_name,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            callback_url=redirect_uri(spec),
            grant_types=tuple(spec.grant_types),
        ),
        claim=ExternalClaim(
            OIDC_DIALECT, spec.oidc_claim.claim_uri, spec.oidc_claim.mapped_local_claim
        ),
        scope=OPENID_SCOPE,
    )


@dataclass(frozen=True)
class ObservedApp:
    """The app as getOAuthApplicationData returned it; ``fields`` keeps every field, so
    an update sends back what obreg does not manage (token lifetimes, PKCE) unchanged."""

    name: str
    client_id: str
    client_secret: str = field(repr=False)
    callback_url: str
    grant_types: tuple[str, ...]
    fields: Mapping[str, Sequence[str]] = field(repr=False)


@dataclass(frozen=True)
class Observed:
    app: ObservedApp | None
    claims: Sequence[ExternalClaim]  # of the OIDC dialect
    scopes: Mapping[str, Sequence[str]]  # scope -> claims (a claimless scope: [])
    # Asked only when no app has the client id: the client id of an app that has the
    # name already (app names are unique per owner, so registering would be refused).
    name_taken_by: str | None = None


@dataclass(frozen=True)
class Blocked:
    """Why the KM cannot be brought to the desired state by obreg; ``retry`` says
    whether trying again later can help (a missing scope may be added by someone;
    a configuration such as secret hashing will not change by itself)."""

    reason: str
    retry: bool


StepKind = Literal[
    "register_app", "replace_app", "update_app", "add_claim", "update_claim", "add_scope_claim"
]


@dataclass(frozen=True)
class Step:
    kind: StepKind
    description: str  # for status and events: names only, never a secret


# Java's MessageDigest names (case-insensitive there) and hashlib's for the same digest:
# what identity.xml's <HashAlgorithm> may name (SHA-256 by default).
_JAVA_DIGESTS = {
    "MD5": "md5",
    "SHA": "sha1",
    "SHA1": "sha1",
    "SHA-1": "sha1",
    "SHA-224": "sha224",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
    "SHA-512/224": "sha512_224",
    "SHA-512/256": "sha512_256",
    "SHA3-224": "sha3_224",
    "SHA3-256": "sha3_256",
    "SHA3-384": "sha3_384",
    "SHA3-512": "sha3_512",
}
SecretCheck = Literal["same", "differs", "unverifiable"]


def wso2_hash(stored: str) -> tuple[str, str] | None:
    """(algorithm, hex digest) when ``stored`` is how a hashing KM keeps a client secret:
    HashingPersistenceProcessor stores the JSON object {"algorithm": A, "hash": H}, H the
    lower-case hex of MessageDigest A over the secret's UTF-8 bytes, unsalted. None for
    anything else (a KM without hashing returns the secret itself)."""
    if not stored.startswith("{"):
        return None
    try:
        found = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(found, dict) or set(found) != {"algorithm", "hash"}:
        return None
    algorithm, digest = found["algorithm"], found["hash"]
    if not isinstance(algorithm, str) or not isinstance(digest, str):
        return None
    return algorithm, digest


def check_secret(want: Desired, seen: ObservedApp) -> SecretCheck:
    """Whether the KM holds obreg's secret. A KM without hashing returns it as stored; a
    hashing one returns its hash (or, in 6.7+, the plaintext from its cache right after a
    register), and since that hash is a plain digest of the secret, obreg computes the
    same digest and compares. Only a digest obreg cannot compute is "unverifiable"."""
    ours = want.app.client_secret.encode()
    if hmac.compare_digest(seen.client_secret.encode(), ours):
        return "same"
    hashed = wso2_hash(seen.client_secret)
    if hashed is None:
        return "differs"
    algorithm, digest = hashed
    name = _JAVA_DIGESTS.get(algorithm.upper())
    try:
        computed = hashlib.new(name, ours).hexdigest() if name else None
    except ValueError:  # a digest this Python's OpenSSL lacks
        computed = None
    if computed is None:
        return "unverifiable"
    return "same" if hmac.compare_digest(computed, digest.lower()) else "differs"


def plan(want: Desired, seen: Observed) -> list[Step] | Blocked:
    """The writes that bring ``seen`` to ``want``, in order; or why it cannot be done."""
    steps: list[Step] = []
    app = want.app
    if seen.app is None and seen.name_taken_by is not None:
        # Maybe obreg's own app of credentials since lost (its OBServiceProvider deleted
        # and made again), maybe someone else's: nothing in the KM tells, and taking it
        # over would cut off whoever uses it. Retrying cannot help; a person decides.
        return Blocked(
            f"an OAuth app named {app.name} exists already with another client id "
            f"({seen.name_taken_by}); obreg does not take over an app it cannot tell is its "
            f"own: delete that app in the Key Manager, or give this {SERVICE_PROVIDER.kind} its "
            "credentials (spec.clientCredentials)",
            retry=False,
        )
    if seen.app is None:
        steps.append(Step("register_app", f"registered OAuth app {app.name}"))
    elif (secret := check_secret(want, seen.app)) != "same":
        if secret == "unverifiable":
            hashed = wso2_hash(seen.app.client_secret)
            assert hashed is not None  # only a stored hash is unverifiable
            return Blocked(
                f"the Key Manager keeps client secrets hashed with {hashed[0]}, a digest "
                "obreg cannot compute, so it cannot check the OAuth app's secret; "
                "set <HashAlgorithm> to SHA-256 in identity.xml, or manage the OAuth app by "
                "hand and remove keyManagerAdmin",
                retry=False,
            )
        # No call sets a chosen secret on an existing app (updateConsumerApplication
        # refuses one other than the stored one; updateOauthSecretKey makes its own), so
        # a new secret means registering the app again, with every setting it held.
        steps.append(Step("replace_app", f"re-registered OAuth app {app.name} (new secret)"))
    else:
        changed = [
            label
            for label, differs in (
                ("name", seen.app.name != app.name),
                ("callback URL", seen.app.callback_url != app.callback_url),
                ("grant types", set(seen.app.grant_types) != set(app.grant_types)),
            )
            if differs
        ]
        if changed:
            steps.append(Step("update_app", f"updated OAuth app {app.name}: {', '.join(changed)}"))
    claim = want.claim
    current = next((c for c in seen.claims if c.uri == claim.uri), None)
    if current is None:
        steps.append(Step("add_claim", f"added OIDC claim {claim.uri} -> {claim.mapped_local}"))
    elif current.mapped_local != claim.mapped_local:
        steps.append(
            Step(
                "update_claim",
                f"mapped OIDC claim {claim.uri} to {claim.mapped_local} "
                f"(was {current.mapped_local})",
            )
        )
    if want.scope not in seen.scopes:
        return Blocked(
            f"the Key Manager has no OIDC scope {want.scope!r} to add {claim.uri} to",
            retry=True,
        )
    if claim.uri not in seen.scopes[want.scope]:
        steps.append(Step("add_scope_claim", f"added {claim.uri} to scope {want.scope}"))
    return steps

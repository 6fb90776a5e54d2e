"""What the Key Manager's database must hold for the store's login, and the fewest
admin calls that get it there from what the KM reports.

Pure: the desired state comes from the OBServiceProvider and its resolved credentials,
the plan from comparing it with what was read. Nothing here talks to the KM, so every
rule (when to update, when to re-register, when to leave alone) is unit-tested.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

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
    # Asked only when the app's secret differs: whether the KM keeps secrets unhashed.
    secrets_readable: bool = True
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


def secret_differs(want: Desired, seen: ObservedApp) -> bool:
    return not hmac.compare_digest(seen.client_secret.encode(), want.app.client_secret.encode())


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
            "own: delete that app in the Key Manager, or give this OBServiceProvider its "
            "credentials (spec.clientCredentials)",
            retry=False,
        )
    if seen.app is None:
        steps.append(Step("register_app", f"registered OAuth app {app.name}"))
    elif secret_differs(want, seen.app):
        if not seen.secrets_readable:
            # The read shows a hash: obreg cannot tell a rotated secret from the same
            # one, and re-registering on every pass would cut the store's login each time.
            return Blocked(
                "the Key Manager hashes client secrets (client secret hashing is on), so "
                "obreg cannot check or update the OAuth app's secret; turn hashing off, or "
                "manage the OAuth app by hand and remove keyManagerAdmin",
                retry=False,
            )
        # updateConsumerApplication refuses a secret other than the stored one, so a new
        # secret means registering the app again.
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

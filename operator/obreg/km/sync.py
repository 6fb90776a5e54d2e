"""Bring the Key Manager's database to the desired state: read all three items, plan,
then write only what differs. A second run over an unchanged KM sends reads only.

The KM's own texts are masked by the client (see redaction.py) as soon as they arrive, so
a KM that echoes a request value in a fault cannot put a secret into a status or event.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..rules.km_app import OIDC_DIALECT, Blocked, Desired, Observed, plan
from .client import AdminClient, KmError


async def observe(client: AdminClient, want: Desired) -> Observed:
    """Three reads, and two more only when they decide something: whether the scope
    exists without claims (getScopes does not list it) and whether an app has the name
    (none has the id). A hashing KM needs no question of its own: the secret it returns
    is checked as it is (rules/km_app.check_secret)."""
    app = await client.get_app(want.app.client_id)
    claims = await client.get_external_claims(OIDC_DIALECT)
    scopes: dict[str, Sequence[str]] = dict(await client.get_scopes())
    if want.scope not in scopes and await client.scope_exists(want.scope):
        scopes[want.scope] = []
    named = await client.get_app_by_name(want.app.name) if app is None else None
    return Observed(
        app=app,
        claims=claims,
        scopes=scopes,
        name_taken_by=named.client_id if named is not None else None,
    )


async def converge(client: AdminClient, want: Desired) -> list[str]:
    """Make the KM hold ``want``; returns what was done (empty: it already did). A
    failure carries what this pass had done before it (``KmError.done``).

    Each write is sent once per pass: one whose answer was lost may have been applied,
    so the client raises (``unavailable``, retried on a timer) rather than send it again,
    and the next pass observes first: a register that landed is then an app in place."""
    seen = await observe(client, want)
    steps = plan(want, seen)
    if isinstance(steps, Blocked):
        raise KmError("fault" if steps.retry else "unsupported", steps.reason)
    done: list[str] = []
    try:
        for step in steps:
            if step.kind == "register_app":
                await client.register_app(want.app)
            elif step.kind == "replace_app":
                assert seen.app is not None  # planned only for an existing app
                await client.replace_app(want.app, seen.app)
            elif step.kind == "update_app":
                assert seen.app is not None  # planned only for an existing app
                await client.update_app(want.app, seen.app)
            elif step.kind == "add_claim":
                await client.add_external_claim(want.claim)
            elif step.kind == "update_claim":
                await client.update_external_claim(want.claim)
            else:
                await client.update_scope(want.scope, [want.claim.uri], [])
            done.append(step.description)
    except KmError as err:
        err.done = done
        raise
    return done

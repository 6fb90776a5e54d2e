"""The store service provider's OAuth client credentials: referenced by the spec, or
generated once and kept in a Secret obreg owns (``obreg-<name>-client``).

Generation is the only non-deterministic step, so it happens outside rendering: the
operator creates the Secret, the CLI writes it next to its output, and rendering then
reads it like any other referenced Secret.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..api.common import SecretKeyRef
from ..api.resource import Resource
from ..api.service_provider import OBServiceProviderSpec
from ..errors import Where
from .inputs import Inputs

CLIENT_ID_KEY = "client-id"
CLIENT_SECRET_KEY = "client-secret"


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret=***)"


def generated_secret_name(sp_name: str) -> str:
    return f"obreg-{sp_name}-client"


def generate() -> dict[str, bytes]:
    """Fresh credentials as Secret data. The id is not secret but is unguessable too, so
    it cannot collide with another application's."""
    return {
        CLIENT_ID_KEY: secrets.token_urlsafe(24).encode(),
        CLIENT_SECRET_KEY: secrets.token_urlsafe(32).encode(),
    }


def references(sp: Resource[OBServiceProviderSpec]) -> tuple[SecretKeyRef, SecretKeyRef]:
    """Where the credentials are read from: the spec's references or the generated Secret."""
    given = sp.spec.client_credentials
    if given.client_id_ref is not None and given.client_secret_ref is not None:
        return given.client_id_ref, given.client_secret_ref
    name = generated_secret_name(sp.name)
    return SecretKeyRef(name=name, key=CLIENT_ID_KEY), SecretKeyRef(
        name=name, key=CLIENT_SECRET_KEY
    )


def resolve(sp: Resource[OBServiceProviderSpec], inputs: Inputs) -> ClientCredentials:
    id_ref, secret_ref = references(sp)
    where = Where(sp.label, "spec.clientCredentials")
    return ClientCredentials(
        inputs.secret_text(sp.namespace, id_ref, where.child("clientIdRef")),
        inputs.secret_text(sp.namespace, secret_ref, where.child("clientSecretRef")),
    )

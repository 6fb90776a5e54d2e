"""The store's site.json: oidcConfiguration, OBDirectoryIntegrated and
UseSoftwareIdAsApplicationName. It holds the client secret, so it belongs in a Secret.

Keys of the base's oidcConfiguration that the runbook does not set are kept; the ones it
sets are overwritten, in the base's order, with new ones appended.
"""

from __future__ import annotations

from ..api.service_provider import OBServiceProviderSpec
from ..errors import Where
from . import json_text

PATH = "repository/deployment/server/jaggeryapps/store/site/conf/site.json"
ACS_PATH = "/store/jagg/jaggery_oidc_acs_ob.jag"


def redirect_uri(spec: OBServiceProviderSpec) -> str:
    """The store's login callback: site.json's redirectURI and the OAuth app's callback
    URL on the Key Manager, which must be the same string."""
    return spec.store_url.rstrip("/") + ACS_PATH


def oidc_configuration(
    spec: OBServiceProviderSpec, client_id: str, client_secret: str
) -> dict[str, object]:
    km = spec.key_manager_url.rstrip("/")
    store = spec.store_url.rstrip("/")
    return {
        # A string, not a boolean: the store's Jaggery code compares it with "true".
        "enabled": "true",
        "issuer": spec.issuer,
        "identityProviderURI": spec.token_url,
        "authorizationEndpointURI": f"{km}/oauth2/authorize",
        "tokenEndpointURI": f"{km}/oauth2/token",
        "userInfoURI": f"{km}/oauth2/userinfo",
        "jwksURI": f"{km}/oauth2/jwks",
        "logoutEndpointURI": f"{km}/oidc/logout",
        "authHttpMethod": spec.auth_http_method,
        "usernameClaim": spec.username_claim,
        "roleParameter": spec.role_parameter,
        "role": spec.role,
        "clientConfiguration": {
            "clientId": client_id,
            "clientSecret": client_secret,
            "responseType": "code",
            "authorizationType": "authorization_code",
            "scope": spec.scope,
            "redirectURI": redirect_uri(spec),
            "postLogoutRedirectURI": f"{store}/store/",
            "clientAlgorithm": spec.signature_algorithm,
        },
    }


def _merge(base: object, ours: dict[str, object]) -> dict[str, object]:
    merged: dict[str, object] = dict(base) if isinstance(base, dict) else {}
    for key, value in ours.items():
        if isinstance(value, dict):
            merged[key] = _merge(merged.get(key), value)
        else:
            merged[key] = value
    return merged


def patch(
    base: bytes, spec: OBServiceProviderSpec, client_id: str, client_secret: str, where: Where
) -> bytes:
    text = json_text.decode(base, where)
    current = json_text.load_object(text, where)
    values = {
        "oidcConfiguration": _merge(
            current.get("oidcConfiguration"), oidc_configuration(spec, client_id, client_secret)
        ),
        "OBDirectoryIntegrated": spec.ob_directory_integrated,
        "UseSoftwareIdAsApplicationName": spec.use_software_id_as_application_name,
    }
    return json_text.set_members(text, values, where, loaded=True).encode("utf-8")

"""The key of the published digest, kept in a Secret of the operator's own namespace.

Only who may read that Secret can compute a digest (render/digest.py), so whoever may
create an obreg resource but not read Secrets learns nothing of a Secret value from it.
The key must outlive the process: a new key changes every digest and so rolls every
workload once. Hence it is read at start, and made only when it does not exist yet; of
several replicas starting together one creates it and the others read that one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import kubernetes
import urllib3

from ..render.digest import KEY_BYTES
from ..render.objects import MANAGED_BY
from .api import Api, ApiError

log = logging.getLogger(__name__)

DEFAULT_NAME = "obreg-digest-key"
DATA_KEY = "key"
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class DigestKeyError(Exception):
    """The key cannot be had; the operator does not start without it."""


def own_namespace() -> str:
    """The operator's namespace: the chart's POD_NAMESPACE, else the ServiceAccount's,
    else the kubeconfig context's (a process run by hand), else ``default``."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return _SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    except OSError:
        pass
    try:
        _, context = kubernetes.config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
    except (kubernetes.config.ConfigException, OSError):
        return "default"
    namespace = (context or {}).get("context", {}).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def location(setting: str) -> tuple[str, str]:
    """``namespace/name``, ``name`` (in the operator's namespace) or empty (the default
    name there), as ``--digest-key-secret`` takes it."""
    namespace, _, name = setting.rpartition("/")
    return namespace or own_namespace(), name or DEFAULT_NAME


def body(namespace: str, name: str, key: bytes) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {
                "obreg.dev/purpose": "the key of obreg.dev/digest; deleting it rolls every "
                "workload obreg configures once, when obreg next starts"
            },
        },
        "type": "Opaque",
        "data": {DATA_KEY: base64.b64encode(key).decode()},
    }


def decode(secret: dict[str, object], namespace: str, name: str) -> bytes:
    """The key held by the Secret, refused when it is not one obreg could have made."""
    data = secret.get("data")
    encoded = data.get(DATA_KEY) if isinstance(data, dict) else None
    try:
        key = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
    except binascii.Error:
        key = b""
    if len(key) < KEY_BYTES:
        raise DigestKeyError(
            f"Secret {namespace}/{name} key {DATA_KEY!r} does not hold a key of at least "
            f"{KEY_BYTES} bytes; delete the Secret and obreg makes a new one (every "
            "workload it configures then rolls once)"
        )
    return key


# Answers that say the API server is busy or away, not that obreg may not: waited out.
_PASSING = frozenset({408, 429, 500, 502, 503, 504})
# A refusal of who obreg is or what it may do. An API server that has just started
# refuses with these until its authorizer has read the RBAC objects, so they are waited
# out for this long before they are taken at their word.
_REFUSING = frozenset({401, 403})
REFUSAL_GRACE = 60.0
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # the last one repeats


async def load(
    api: Api,
    namespace: str,
    name: str,
    wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> bytes:
    """The key, made first when absent. An API server that is away or throttling is
    waited for, as kopf waits for it (an operator started during an outage must come up
    when it ends, not exit); a refusal (no RBAC, a Secret obreg could not have made)
    stops the start with the reason."""
    what = f"Secret {namespace}/{name}"
    waited = 0.0
    for attempt in itertools.count():
        try:
            return await _get_or_create(api, namespace, name)
        except ApiError as err:
            passing = err.status in _PASSING or (
                err.status in _REFUSING and waited < REFUSAL_GRACE
            )
            if not passing:
                raise DigestKeyError(
                    f"cannot read or create the digest key {what} ({err}); grant obreg get "
                    "and create on Secrets in that namespace, or name another with "
                    "--digest-key-secret"
                ) from None
            reason = str(err)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            reason = type(err).__name__
        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
        log.warning("the digest key %s cannot be read yet (%s); again in %g s", what, reason, delay)
        await wait(delay)
        waited += delay
    raise AssertionError("unreachable")  # itertools.count() never ends


async def _get_or_create(api: Api, namespace: str, name: str) -> bytes:
    for _ in range(3):  # absent, created by a peer meanwhile, read
        found = await api.get("Secret", namespace, name)
        if found is not None:
            return decode(found, namespace, name)
        key = secrets.token_bytes(KEY_BYTES)
        if await api.create(body(namespace, name, key)):
            return key
    raise DigestKeyError(
        f"Secret {namespace}/{name} was created and deleted again while obreg read it"
    )

"""The digest of a workload's files: what decides its rollouts, and why it is keyed.

The digest is published: the workload's ``obreg.dev/digest`` annotation, the ConfigMap's
and Secret's annotations, each resource's status, events, logs and ``obreg render``'s
output. Files made from a Secret (the IdP file with the directory's client secret, a
truststore with its password) are part of what it covers, so a plain hash would let
anyone who may create a resource but not read a Secret name that Secret as a password,
read the digest, and test guesses offline. The rule: nothing published is a function of
Secret bytes that a reader without the Secret can compute.

So the digest is an HMAC-SHA256 under a key the operator keeps in a Secret of its own
namespace (kube/digest_key.py): same files, same digest, for as long as the key is kept,
and unpredictable to anyone who cannot read that Secret. Without a key (``obreg render``
with no ``--digest-key-file``) the digest covers where each file goes and the content of
every file that is not Secret-derived, and only the path of the others: a preview stays
deterministic and still says nothing of a Secret value, and the CLI says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Protocol

# The key the operator generates; a key given to `obreg render` must be at least this
# long, so that a short guessable key cannot bring the offline attack back.
KEY_BYTES = 32


class Fingerprinted(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def secret(self) -> bool: ...
    @property
    def fingerprint(self) -> str: ...


def of(files: Iterable[Fingerprinted], key: bytes | None) -> str:
    """The digest of ``files`` (sorted by path already) under ``key``; see the module."""
    if key is None:
        manifest = [[f.path, f.secret, None if f.secret else f.fingerprint] for f in files]
        payload = json.dumps(["unkeyed", manifest]).encode()
        return hashlib.sha256(payload).hexdigest()
    manifest = [[f.path, f.secret, f.fingerprint] for f in files]
    return hmac.new(key, json.dumps(manifest).encode(), hashlib.sha256).hexdigest()

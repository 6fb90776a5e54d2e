"""The operator's settings: parsed once from ``obreg run``'s flags into this typed object,
which reaches the handlers in kopf's memo (cli.py). The identity is fixed here, once per
process, so that kopf started again by kube/serving.py holds the Lease under the same
name."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any


def _identity() -> str:
    return f"obreg@{socket.gethostname()}/{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Settings:
    settle_seconds: float = 1.0
    resync_seconds: float = 300.0
    km_resync_seconds: float = 3600.0
    # The holder's name in the Lease; a restarted container that keeps it (the chart
    # gives the pod's name) takes its Lease back at once instead of waiting it out.
    identity: str = field(default_factory=_identity)
    namespaces: tuple[str, ...] = ()  # empty: cluster-wide
    metrics_port: int = 0  # 0: no metrics endpoint
    readiness_port: int = 0  # 0: no readiness endpoint
    # The Lease instances elect their leader with, in the operator's namespace (the flag
    # keeps kopf's word, --peering-name, which the chart passes).
    peering_name: str = "obreg"
    standalone: bool = False  # no election: this instance always leads
    lease_duration: float = 15.0  # controller-runtime's defaults (rules/leader.py)
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    # Where the key of the published digest lives: namespace/name, name, or empty for
    # the default (kube/digest_key.py).
    digest_key_secret: str = ""

    @classmethod
    def given(cls, **values: Any) -> Settings:
        """The settings with the values given (``obreg run``'s flags); None keeps the
        default."""
        return cls(**{name: value for name, value in values.items() if value is not None})

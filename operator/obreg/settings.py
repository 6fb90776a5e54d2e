"""The operator's settings, from the environment (which ``obreg run`` flags set), so the
same values reach kopf's import-time decorators and the runtime."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field


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
    def from_environment(cls) -> Settings:
        default = cls()
        env = os.environ.get
        return cls(
            settle_seconds=float(env("OBREG_SETTLE_SECONDS", default.settle_seconds)),
            resync_seconds=float(env("OBREG_RESYNC_SECONDS", default.resync_seconds)),
            km_resync_seconds=float(env("OBREG_KM_RESYNC_SECONDS", default.km_resync_seconds)),
            identity=env("OBREG_IDENTITY", default.identity),
            namespaces=tuple(n for n in env("OBREG_NAMESPACES", "").split(",") if n),
            metrics_port=int(env("OBREG_METRICS_PORT", default.metrics_port)),
            readiness_port=int(env("OBREG_READINESS_PORT", default.readiness_port)),
            peering_name=env("OBREG_PEERING_NAME", default.peering_name),
            standalone=env("OBREG_STANDALONE", "") == "true",
            lease_duration=float(env("OBREG_LEASE_DURATION", default.lease_duration)),
            renew_deadline=float(env("OBREG_RENEW_DEADLINE", default.renew_deadline)),
            retry_period=float(env("OBREG_RETRY_PERIOD", default.retry_period)),
            digest_key_secret=env("OBREG_DIGEST_KEY_SECRET", default.digest_key_secret),
        )

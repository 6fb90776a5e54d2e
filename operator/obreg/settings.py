"""The operator's settings, from the environment (which ``obreg run`` flags set), so the
same values reach kopf's import-time decorators and the runtime."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    settle_seconds: float = 1.0
    resync_seconds: float = 300.0
    priority: int = 0
    peering_mandatory: bool = False

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            settle_seconds=float(os.environ.get("OBREG_SETTLE_SECONDS", cls.settle_seconds)),
            resync_seconds=float(os.environ.get("OBREG_RESYNC_SECONDS", cls.resync_seconds)),
            priority=int(os.environ.get("OBREG_PRIORITY", cls.priority)),
            peering_mandatory=os.environ.get("OBREG_PEERING_MANDATORY", "") == "true",
        )

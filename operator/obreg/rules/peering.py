"""Whether this instance leads among obreg's kopf peers, for work kopf does not pause.

kopf pauses event handling of an instance that sees a live peer of higher priority, or
of equal priority (then every such peer pauses). obreg's periodic resync runs outside
kopf's handlers, so it applies the same rule to the same peering object before acting:
a paused instance's indexes are stale, and acting on them would revert the leader's work.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any


def leads(
    status: Mapping[str, Any] | None, identity: str, priority: int, now: datetime.datetime
) -> bool:
    """True unless another live peer has a priority at least ours."""
    for peer, info in (status or {}).items():
        if peer == identity or not isinstance(info, Mapping):
            continue
        lastseen = info.get("lastseen")
        if lastseen is None:
            continue
        seen = datetime.datetime.fromisoformat(str(lastseen))
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=datetime.UTC)
        alive = seen + datetime.timedelta(seconds=int(info.get("lifetime", 60))) > now
        if alive and int(info.get("priority", 0)) >= priority:
            return False
    return True

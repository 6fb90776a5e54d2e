"""The one backoff rule of every retry loop in obreg: the n-th consecutive failure waits
the n-th delay of its table, and the last delay repeats for as long as failures go on.
Each loop keeps its own table (an API server away, a Key Manager down and a kopf restart
want different paces); only the rule is shared."""

from __future__ import annotations

from collections.abc import Sequence


def delay(delays: Sequence[float], failures: int) -> float:
    """The wait after ``failures`` consecutive failures (0: after the first)."""
    return delays[min(max(failures, 0), len(delays) - 1)]

"""Coalescing: the requests for one thing that come within the settle time make one pass.

Every request takes a ticket and waits; only the newest ticket goes on, and it checks
again once it holds the thing's lock, since a newer request may have come while it
waited its turn. One ``kubectl apply`` touching three resources of one workload
therefore makes one reconcile and at most one rollout; a burst of Secret edits makes
one Key Manager pass. A retry is a request too: it waits its backoff delay instead of
the settle time, and a newer request replaces it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from . import backoff

K = TypeVar("K", bound=Hashable)


class Tickets(Generic[K]):
    """The newest ticket per key. Tickets only grow while a request holds one of the key,
    so a stale one never matches again."""

    def __init__(self) -> None:
        self._newest: dict[K, int] = {}

    def take(self, key: K) -> int:
        ticket = self._newest[key] = self._newest.get(key, 0) + 1
        return ticket

    def newest(self, key: K, ticket: int) -> bool:
        """Whether ``ticket`` is the newest one of ``key``: only then does its pass run."""
        return self._newest.get(key) == ticket

    def drop(self, key: K) -> None:
        """Forget ``key``, once no request holds a ticket of it (none can match again):
        keys come and go, and their counters must not stay behind."""
        self._newest.pop(key, None)


def wait(attempt: int, settle_seconds: float, retry_delays: Sequence[float]) -> float:
    """Before a pass: the settle time for a request (attempt 0), the backoff delay of
    its table for the n-th retry."""
    return settle_seconds if attempt == 0 else backoff.delay(retry_delays, attempt - 1)

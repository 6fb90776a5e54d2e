"""The one work queue both of obreg's reconcilers run on: the workload reconciles
(controller.py) and the Key Manager passes (key_manager.py) are each a ``work(key,
attempt)`` function that says whether to retry; the queue owns everything around it.

- Requests for a key coalesce (rules/coalescing.py): each waits the settle time, and only
  the newest goes on, checking again once it holds the key's lock.
- A key's passes never overlap (a lock per key); at most ``at_once`` passes of all keys
  run together, when a cap is set (each holds a namespace's snapshot while it waits for
  a render thread or an API call: without a cap, a start's 1,000 requests held 1,000).
- A pass that asks for it is retried after the backoff delay of its table, up to
  ``max_retries`` times (None: for as long as it asks), as a request that a newer one
  replaces.
- Nothing runs on a standby: the leader gate (None: always leading) is asked just
  before the pass.

A request returns at once: the watch that called must not wait for a reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from ..rules import coalescing
from ..rules.coalescing import Tickets
from .tasks import spawn

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """Coalesced, serialised, capped, retried and leader-gated passes per key."""

    def __init__(
        self,
        work: Callable[[K, int], Awaitable[bool]],
        settle_seconds: float,
        retry_delays: tuple[float, ...],
        *,
        max_retries: int | None,
        at_once: int | None = None,
        leading: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.work, self.settle_seconds, self.retry_delays = work, settle_seconds, retry_delays
        self.max_retries, self.leading = max_retries, leading
        self._cap = asyncio.Semaphore(at_once) if at_once is not None else None
        self._tickets: Tickets[K] = Tickets()
        self._locks: dict[K, asyncio.Lock] = {}
        self._users: dict[K, int] = {}  # passes holding or awaiting each key's lock
        self._holders: dict[K, int] = {}  # requests holding a ticket of each key
        self.tasks: set[asyncio.Task[None]] = set()

    def request(self, key: K, attempt: int = 0) -> None:
        """A pass of ``key`` after the settle time (or, for a retry, its delay)."""
        spawn(self.tasks, self._run(key, attempt))

    async def idle(self) -> None:
        """Wait until no pass is waiting, running or due to be retried (a retry is
        requested before the pass that asks for it ends, so the set is never empty
        between them)."""
        while self.tasks:
            await asyncio.wait(set(self.tasks))

    async def stop(self) -> None:
        """Cancel every waiting and running pass, and wait until they are gone."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, key: K, attempt: int) -> None:
        ticket = self._tickets.take(key)
        self._holders[key] = self._holders.get(key, 0) + 1
        try:
            retry = await self._turn(key, attempt, ticket)
        finally:
            # A key's ticket counter lives while some request holds a ticket of it: only
            # then could a stale ticket match a new counter's.
            self._holders[key] -= 1
            if not self._holders[key]:
                del self._holders[key]
                self._tickets.drop(key)
        if retry and (self.max_retries is None or attempt < self.max_retries):
            self.request(key, attempt + 1)

    async def _turn(self, key: K, attempt: int, ticket: int) -> bool:
        """Wait, and run the pass if ``ticket`` is still the newest; whether to retry."""
        await asyncio.sleep(coalescing.wait(attempt, self.settle_seconds, self.retry_delays))
        if not self._tickets.newest(key, ticket):
            return False  # a newer request of this key will do the work
        if self.leading is not None and not await self.leading():
            return False  # a standby; the leader's own watches request the same
        lock = self._locks.get(key) or asyncio.Lock()
        self._locks[key] = lock
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock, self._cap or contextlib.nullcontext():
                if not self._tickets.newest(key, ticket):
                    return False  # a newer request came while this one waited its turn
                return await self.work(key, attempt)
        finally:
            # A key's lock lives while some pass holds or awaits it: keys come and go
            # (namespaces, resources), and their locks must not stay behind.
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

"""This instance's part in leader election over a Lease of the operator's namespace
(rules/leader.py has the rules). Only the leader writes: every API write and every Key
Manager pass asks ``leading()``, which is answered from the last successful renew (no
API call), so a stale leader stops within the renew deadline, before any other instance
may take the Lease.

Its calls run on a thread of their own with a short timeout: behind a start's queue of
reads in the shared pool, a renew would miss its deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

from ..rules import leader
from .api import Api, ApiError

log = logging.getLogger(__name__)

LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


class Elector:
    """Takes and renews the Lease; ``on_started`` and ``on_stopped`` are called on the
    event loop when this instance starts or stops leading."""

    def __init__(
        self,
        api: Api,
        namespace: str,
        name: str,
        identity: str,
        timing: leader.Timing,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
    ) -> None:
        self.api, self.namespace, self.name, self.identity = api, namespace, name, identity
        self.timing, self.on_started, self.on_stopped = timing, on_started, on_stopped
        self._valid_until = 0.0  # monotonic: the last successful renew + renew deadline
        self._was_leading = False
        self._lease: dict[str, Any] | None = None  # as last read or written
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lease")

    def leading(self) -> bool:
        return time.monotonic() < self._valid_until

    async def run(self) -> None:
        """Try to take or renew the Lease every retry period, for ever (cancel to end)."""
        told = ""
        while True:
            started = time.monotonic()
            try:
                if await self._try():
                    self._valid_until = started + self.timing.renew_deadline
            except Exception as err:  # the API server away: keep the claim until the deadline
                log.warning("leader election: %s", err)
            self._changed()
            waiting = "" if self.leading() else leader.holder(self._spec())
            if waiting != told and waiting:
                log.info("leader election: %s leads; standing by", waiting)
            told = waiting
            await asyncio.sleep(self._pause())

    def _changed(self) -> None:
        now_leading = self.leading()
        if now_leading and not self._was_leading:
            log.info("leader election: became the leader (Lease %s/%s)", self.namespace, self.name)
            self.on_started()
        elif self._was_leading and not now_leading:
            log.warning("leader election: lost the Lease %s/%s", self.namespace, self.name)
            self.on_stopped()
        self._was_leading = now_leading

    def _pause(self) -> float:
        """A retry period; a standby wakes when the holder's claim runs out instead, so
        it takes over within the lease duration of the holder's last renew."""
        pause = self.timing.retry_period
        until = leader.expires(self._spec())
        if not self.leading() and until is not None:
            left = (until - datetime.datetime.now(datetime.UTC)).total_seconds() + 0.05
            pause = min(pause, max(left, 0.05))
        return pause

    def _spec(self) -> dict[str, Any] | None:
        return (self._lease or {}).get("spec")

    async def _try(self) -> bool:
        """One attempt; whether this instance holds the Lease now."""
        found = await self._call("GET", self._url(self.name), None)
        now = datetime.datetime.now(datetime.UTC)
        if found is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": leader.claim(None, self.identity, self.timing, now),
            }
            self._lease = await self._call("POST", self._url(), body)
            return self._lease is not None
        self._lease = found
        if not leader.may_take(found.get("spec"), self.identity, now):
            return False
        return await self._write(leader.claim(found.get("spec"), self.identity, self.timing, now))

    async def release(self) -> None:
        """Give the Lease up (SIGTERM): stop leading first, then leave it to a standby."""
        if not self.leading() or self._lease is None:
            return
        self._valid_until = 0.0
        self._was_leading = False
        now = datetime.datetime.now(datetime.UTC)
        try:
            if await self._write(leader.released(self._lease["spec"], now)):
                log.info("leader election: released the Lease %s/%s", self.namespace, self.name)
        except Exception as err:  # it runs out by itself
            log.warning("leader election: could not release the Lease: %s", err)
        finally:
            self._thread.shutdown(wait=False)

    async def _write(self, spec: dict[str, Any]) -> bool:
        """Replace the Lease read last with ``spec``; False if someone wrote it since."""
        assert self._lease is not None
        body = {**self._lease, "spec": spec}
        written = await self._call("PUT", self._url(self.name), body)
        if written is not None:
            self._lease = written
        return written is not None

    def _url(self, name: str = "") -> str:
        collection = LEASES.format(namespace=self.namespace)
        return f"{collection}/{name}" if name else collection

    async def _call(self, method: str, url: str, body: object) -> dict[str, Any] | None:
        """The answer; None on 404 (no Lease) and 409 (another instance wrote first)."""
        what = f"Lease {self.namespace}/{self.name}"
        timeout = self.timing.retry_period
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._thread,
                lambda: self.api.read(method.lower(), what, method, url, body, timeout=timeout),
            )
        except ApiError as err:
            if err.status in (404, 409):
                return None
            raise

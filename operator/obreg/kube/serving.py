"""obreg serves its resources only while their CRDs are served.

obreg watches each of its kinds (api/kinds.py; kube/resources.py) and treats an HTTP 404 on
one as the end of a run of kopf (cli.py stops it). That 404 is what a watch gets once its
CRD is deleted (``helm uninstall``, a GitOps prune, an operator upgrade that re-creates
the CRDs), and obreg does not watch CRDs (that would need cluster-wide read of every CRD, and a CRD
watch still races the resource watches).

The rule here: run kopf only once all of them are served (discovery lists them), and when
a run stops on a 404, wait for them again and start it anew in the same process. A new
run lists everything again, which is what a restarted process does (and a restart
writes nothing when nothing changed). Any other failure ends the process as before.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from ..api.common import GROUP, VERSION
from ..api.kinds import KINDS
from ..rules import backoff

log = logging.getLogger(__name__)

RESOURCES = frozenset(kind.plural for kind in KINDS)
DISCOVERY = f"/apis/{GROUP}/{VERSION}"
POLL_SECONDS = (0.5, 1.0, 2.0, 5.0)  # then every 5 s
# A run shorter than this that stops on a 404 is followed by a growing pause, so that a
# 404 of something other than obreg's CRDs cannot spin kopf's start-up in a loop.
STEADY_SECONDS = 60.0
RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)


class Discovery(Protocol):
    async def served(self, group_version_path: str) -> frozenset[str] | None:
        """The resource names the API server serves under the path, or None when the
        answer is not known (the server unreachable or erring)."""


class NotServed(Exception):
    """A watch of obreg's resources answered 404: its CRD is gone (kube/resources.py)."""

    status = 404


def missing(served: frozenset[str] | None) -> frozenset[str]:
    """Which of obreg's resources a discovery answer lacks (all of them when unknown)."""
    return RESOURCES if served is None else RESOURCES - served


def lost_a_crd(error: BaseException) -> bool:
    """The run stopped because an API call answered 404 (NotServed, or one of kopf's API
    errors, which carry the status): a kind it watched is no longer served."""
    return getattr(error, "status", None) == 404


def restart_pause(short_runs: int) -> float:
    """The pause before kopf's next start after ``short_runs`` consecutive short runs."""
    return backoff.delay(RESTART_PAUSES, short_runs)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def until_served(discovery: Discovery, stop: asyncio.Event) -> bool:
    """Poll discovery until every one of obreg's kinds is served (True), or ``stop`` is
    set (False). Says once what it waits for, and again when that changes."""
    told = ""
    attempt = 0
    while True:
        served = await discovery.served(DISCOVERY)
        lacking = missing(served)
        if not lacking:
            if told:
                log.info("obreg's CRDs are served: serving their resources")
            return True
        waiting = (
            f"waiting for the API server to answer discovery of {DISCOVERY}"
            if served is None
            else f"waiting for obreg's CRDs: {', '.join(sorted(lacking))} not served under "
            f"{DISCOVERY} (the chart installs them; or kubectl apply -f crds/)"
        )
        if waiting != told:
            log.warning("%s", waiting)
            told = waiting
        pause = backoff.delay(POLL_SECONDS, attempt)
        attempt += 1
        if await _stopped_within(stop, pause):
            return False


async def serve(discovery: Discovery, run_kopf: Callable[[], Awaitable[None]]) -> None:
    """Run kopf while obreg's CRDs are served; see the module's docstring. SIGTERM and
    SIGINT end a wait at once (kopf installs its own handlers while it runs, and leaves
    them behind, bound to its finished run, when it stops)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    short_runs = -1  # no pause before the first run
    while True:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if short_runs >= 0 and await _stopped_within(stop, restart_pause(short_runs)):
            return
        if not await until_served(discovery, stop):
            log.info("stopping: a signal came while obreg waited for its CRDs")
            return
        started = time.monotonic()
        try:
            await run_kopf()
            return
        except Exception as err:
            if not lost_a_crd(err):
                raise
            log.warning("kopf stopped: a watch answered HTTP 404 (%s); starting again", err)
        short_runs = 0 if time.monotonic() - started >= STEADY_SECONDS else short_runs + 1

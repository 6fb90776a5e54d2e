"""The periodic resync: a slow safety net that reconciles every targeted workload again,
which writes nothing when nothing changed, and, less often, re-checks every Key
Manager's database items (reads only, unless someone changed them there).

Not a kopf timer (those put a finalizer on every resource). Only the leader's passes
request anything (kube/lease.py).
"""

from __future__ import annotations

import asyncio
import logging

from ..settings import Settings
from .controller import Controller

log = logging.getLogger(__name__)


async def forever(controller: Controller, config: Settings) -> None:
    """Every ``resync_seconds``, when leading, request every targeted workload; every
    ``km_resync_seconds``, force every Key Manager check."""
    km_due = asyncio.get_running_loop().time() + config.km_resync_seconds
    while True:
        await asyncio.sleep(config.resync_seconds)
        if not await controller.leading():
            continue
        indexes = controller.indexes
        if indexes is None:
            continue
        check_km = asyncio.get_running_loop().time() >= km_due
        if check_km:
            km_due += config.km_resync_seconds
        log.info("resync: every targeted workload of %d namespaces", len(controller.namespaces()))
        for namespace in controller.namespaces():
            controller.request(namespace, controller.targeted(namespace))
            if check_km:
                snap = indexes.snapshot(namespace)
                for ref in controller.targeted(namespace):
                    controller.key_manager.request_for(snap, ref, force=True)

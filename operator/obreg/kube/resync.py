"""The periodic resync: a slow safety net that reconciles every targeted workload again,
which writes nothing when nothing changed, and, less often, re-checks every Key
Manager's database items (reads only, unless someone changed them there).

Not a kopf timer (those put a finalizer on every resource), so kopf's peering does not
pause it: it checks itself that this instance leads before acting.
"""

from __future__ import annotations

import asyncio
import datetime
import logging

from ..rules import peering, state
from ..settings import Settings
from .api import Api
from .controller import Controller

log = logging.getLogger(__name__)


async def leads_now(api: Api, config: Settings) -> bool:
    """Whether this instance leads its peers in every scope it serves, read now."""
    now = datetime.datetime.now(datetime.UTC)
    for scope in config.namespaces or (None,):
        found = await api.get_peering(config.peering_name, scope)
        if found is not None and not peering.leads(
            found.get("status"), config.identity, config.priority, now
        ):
            return False
    return True


async def forever(controller: Controller, api: Api, config: Settings) -> None:
    """Every ``resync_seconds``, when leading, request every targeted workload; every
    ``km_resync_seconds``, force every Key Manager check."""
    km_due = asyncio.get_running_loop().time() + config.km_resync_seconds
    while True:
        await asyncio.sleep(config.resync_seconds)
        try:
            if not await leads_now(api, config):
                continue
        except Exception as err:  # an API server away must not end the loop
            # Not only ApiError: with the API server down the client raises its own
            # connection errors, and one escaping here ended the resync for good.
            log.warning("resync skipped: %s", err)
            continue
        indexes = controller.indexes
        if indexes is None:
            continue
        check_km = asyncio.get_running_loop().time() >= km_due
        if check_km:
            km_due += config.km_resync_seconds
        for namespace in controller.namespaces():
            controller.request(namespace, controller.targeted(namespace), indexes)
            if check_km:
                snap = state.snapshot(namespace, indexes.custom_objects(namespace))
                for ref in controller.targeted(namespace):
                    controller.key_manager.request_for(snap, ref, indexes, force=True)

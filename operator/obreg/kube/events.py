"""Events on obreg's resources (RolledOut, KeyManagerUpdated, Warning), posted through
obreg's own API client.

kopf.event() works only inside kopf's own handler tasks (it reads a context variable
they set): from the periodic resync, a retry or a Key Manager pass it raised LookupError
and the event was lost. Posting here works from any task. An event that cannot be
posted is logged and dropped, never retried: it must not hold up a reconcile.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import bounded
from .api import Api, ApiError

log = logging.getLogger(__name__)

COMPONENT = "obreg"


def event(
    involved: Mapping[str, Any], type_: str, reason: str, message: str, now: datetime.datetime
) -> dict[str, Any]:
    """A core/v1 Event about ``involved`` (a resource as the index keeps it)."""
    meta = involved["metadata"]
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "type": type_,
        "reason": reason,
        "message": bounded(message),
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
    }


async def post(
    api: Api, involved: Iterable[Mapping[str, Any]], type_: str, reason: str, message: str
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    for body in involved:
        try:
            await api.create(event(body, type_, reason, message, now))
        except ApiError as err:
            log.warning("could not post the %s event: %s", reason, err)

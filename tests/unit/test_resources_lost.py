"""A kind no longer served (its CRD deleted: kube/resources.py): what obreg held of it is
reported as deleted before kopf is told to stop, so the reconciles that take the
resources' files away run (handlers.cleanup waits for them). A watch broken while the
CRD went would otherwise leave the last resources held, their CAs still trusted."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from obreg.kube.api import Api, ApiError
from obreg.kube.resources import ResourceWatch
from obreg.rules.resources import ResourceKey


def _anchor(namespace: str, name: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name, "resourceVersion": "7"},
        "spec": {"targets": [{"name": "wso2-km"}], "certificates": []},
    }


def test_a_kind_not_served_is_forgotten_before_obreg_waits_for_its_crd() -> None:
    told: list[object] = []

    async def run() -> None:
        watch = ResourceWatch(
            cast(Api, None), (), told.append, lambda: told.append("lost")
        )
        watch._loop = asyncio.get_running_loop()
        held = [("OBTrustAnchor", "bank", "directory"), ("OBTrustAnchor", "uat", "partner")]
        for _, namespace, name in held:
            watch.resources.event("OBTrustAnchor", "ADDED", _anchor(namespace, name))
        watch.resources.event(
            "OBIdentityProvider", "ADDED", {"metadata": {"namespace": "bank", "name": "ob"}}
        )
        (stream,) = [
            s for s in watch.streams if s.kind == "OBTrustAnchor"  # type: ignore[attr-defined]
        ]
        assert stream.lost(ApiError("watch", "obtrustanchors *", 404, "Not Found"))
        await asyncio.sleep(0)  # the handed-over calls run, in order
        keys: list[ResourceKey] = list(watch.resources.versions)
        assert keys == [("OBIdentityProvider", "bank", "ob")]
        assert sorted(told[:-1], key=str) == sorted(held)
        assert told[-1] == "lost"

    asyncio.run(run())

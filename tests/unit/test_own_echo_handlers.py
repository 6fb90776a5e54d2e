"""The handlers' side of obreg's own writes coming back (handlers.py, kube/api.py's
own_echo): the versions obreg wrote are forgotten when their object goes, whatever
targets it by then."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from obreg import handlers
from obreg.kube.api import Api

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"namespace": "ns", "name": "km"},
}


def _written_by_obreg() -> Api:
    """An Api that applied the Deployment ns/km, answered with version 6."""
    api = Api(cast(Any, None))

    async def call(*_: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "6"}}

    api._call = call  # type: ignore[method-assign]
    asyncio.run(api.apply(DEPLOYMENT))
    assert api.own_echo("Deployment", "ns", "km", "6")
    return api


def test_a_workload_no_longer_targeted_forgets_its_version_when_deleted() -> None:
    """A resource stopped targeting the workload, then the workload was deleted: the
    version obreg wrote of it stayed for the life of the process, one entry per such
    workload, without bound."""
    api = _written_by_obreg()
    controller = SimpleNamespace(api=api, indexes=object(), targeted=lambda _: set())
    workloads = SimpleNamespace(held={})  # deleted: nothing held
    memo = SimpleNamespace(controller=controller, data=SimpleNamespace(workloads=workloads))
    handlers._workload_changed(memo, ("ns", "Deployment", "km"))
    assert not api._written

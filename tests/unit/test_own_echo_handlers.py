"""The handlers' side of obreg's own writes coming back (handlers.py, kube/api.py's
own_echo): the versions obreg wrote are forgotten when their object goes, whatever
targets it by then."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from obreg import handlers
from obreg.kube.api import Api
from obreg.kube.datawatch import DataStream, DataWatch, WorkloadStream
from obreg.rules.holdings import Holdings

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


def test_an_object_read_by_a_list_is_never_taken_for_obregs_own_write() -> None:
    """A list (after a watch gap) may show someone else's change merged into the
    version obreg's own write made, its own event lost: listed objects forget what
    obreg wrote, so the change is reconciled (and drift reverted) as any change is. A
    watch event at that version is still obreg's echo."""
    seen: list[Any] = []
    for kind, make in (
        ("ConfigMap", lambda owner: DataStream(owner, "ConfigMap", None, full=True)),
        ("Deployment", lambda owner: WorkloadStream(owner, "Deployment", None)),
    ):
        api = Api(cast(Any, None))
        api._wrote(kind, "ns", "km", {"metadata": {"resourceVersion": "6"}})
        owner = SimpleNamespace(
            api=api,
            holdings=Holdings(),
            workloads=SimpleNamespace(event=lambda *_: None),
            on_change=seen.append,
            on_workload=seen.append,
        )
        obj = {
            "kind": kind,
            "metadata": {"namespace": "ns", "name": "km", "resourceVersion": "6"},
            "data": {},
        }
        stream = make(owner)
        stream.on_event("MODIFIED", obj)  # a watch event: still an echo candidate
        assert api.own_echo(kind, "ns", "km", "6")
        stream.on_page([obj])  # a list's item
        assert not api.own_echo(kind, "ns", "km", "6"), kind


def test_an_object_read_by_a_get_is_never_taken_for_obregs_own_write() -> None:
    """The same rule for a fetch (a GET of an object a resource starts reading, or of
    obreg's own object gone from its labelled watch): it may hold merged writes."""
    api = Api(cast(Any, None))
    api._wrote("Secret", "ns", "km", {"metadata": {"resourceVersion": "6"}})
    obj = {"kind": "Secret", "metadata": {"namespace": "ns", "name": "km", "resourceVersion": "6"}}

    async def get(*_: Any) -> dict[str, Any]:
        return obj

    api.get = get  # type: ignore[method-assign]
    watch = DataWatch(api, (), lambda _: None, lambda _: None)
    asyncio.run(watch._fetch(("Secret", "ns", "km")))
    assert not api.own_echo("Secret", "ns", "km", "6")

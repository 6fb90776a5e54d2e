"""obreg's own writes coming back as watch events (kube/api.py's own_echo): an event
that shows the version obreg's last write of that object made needs no reconcile;
anyone else's version, an older one of obreg's, or the object made again, does."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

from obreg.kube.api import Api
from obreg.rules import workload

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "ns", "name": "km"}}


def writer(versions: list[str]) -> Api:
    """An Api whose writes are answered with these resourceVersions, in turn."""
    made = Api(cast(Any, None))
    answers = iter(versions)

    async def call(*_: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": next(answers)}}

    made._call = call  # type: ignore[method-assign]
    return made


def test_only_the_version_of_obregs_last_write_is_its_echo() -> None:
    api = writer(["7", "9"])
    asyncio.run(api.apply(CM))
    assert api.own_echo("ConfigMap", "ns", "km", "7")
    assert not api.own_echo("ConfigMap", "ns", "km", "8")  # someone else's, after it
    assert not api.own_echo("Secret", "ns", "km", "7")  # another object
    assert not api.own_echo("ConfigMap", "ns", "km", "")  # no version: never an echo
    asyncio.run(api.remove_keys("ConfigMap", "ns", "km", ["stray"]))
    assert api.own_echo("ConfigMap", "ns", "km", "9")
    assert not api.own_echo("ConfigMap", "ns", "km", "7")  # an older one of its own
    api.forget_written("ConfigMap", "ns", "km")
    assert not api.own_echo("ConfigMap", "ns", "km", "9")


def test_a_workloads_version_is_kept_but_not_compared() -> None:
    """The summary carries its version for own_echo, yet two summaries of the same
    content are equal whatever their versions: a status update is still no change."""
    body = {
        "kind": "Deployment",
        "metadata": {"name": "km", "namespace": "ns", "uid": "u", "resourceVersion": "5"},
        "spec": {"template": {"spec": {"containers": [{"name": "km"}]}}},
    }
    first = workload.summarize(body)
    assert first.resource_version == "5"
    later = workload.summarize({**body, "metadata": {**body["metadata"], "resourceVersion": "6"}})
    assert later == first and later.resource_version == "6"
    assert dataclasses.replace(first, digest="d") != first


def test_an_event_before_its_writes_answer_is_judged_by_the_answer() -> None:
    """The watch often hands over a write's event before the write's answer: it is held
    and judged when the answer names the version, so obreg's own write needs no
    reconcile, while anyone else's change seen meanwhile still makes one, as does every
    event held over a write that failed."""
    api = Api(cast(Any, None))
    answer: asyncio.Future[dict[str, Any]]
    changed: list[str] = []

    async def call(*_: Any) -> dict[str, Any]:
        return await answer

    api._call = call  # type: ignore[method-assign]

    async def scenario(outcome: dict[str, Any] | Exception, events: list[str]) -> None:
        nonlocal answer
        answer = asyncio.get_running_loop().create_future()
        write = asyncio.create_task(api.apply(CM))
        await asyncio.sleep(0)  # the write is sent
        for version in events:
            api.judge("ConfigMap", "ns", "km", version, lambda v=version: changed.append(v))
        assert changed == []  # held, not yet judged
        if isinstance(outcome, Exception):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)
        await asyncio.gather(write, return_exceptions=True)

    asyncio.run(scenario({"metadata": {"resourceVersion": "7"}}, ["7"]))
    assert changed == []  # its own write
    asyncio.run(scenario({"metadata": {"resourceVersion": "9"}}, ["8", "9"]))
    assert changed == ["8"]  # someone else's, just before obreg's
    changed.clear()
    asyncio.run(scenario(RuntimeError("HTTP 500"), ["10"]))
    assert changed == ["10"]
    changed.clear()
    api.judge("ConfigMap", "ns", "km", "9", lambda: changed.append("9"))  # no write
    api.judge("ConfigMap", "ns", "km", "11", lambda: changed.append("11"))
    assert changed == ["11"]

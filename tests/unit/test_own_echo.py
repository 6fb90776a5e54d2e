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

"""Status writes of one resource from two workloads' reconciles, offline: the last status
written is the one computed from the latest results, whatever order the API calls end in
(a stale write landing last left a resource Blocked for good)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from obreg.api.common import TargetResult, WorkloadRef
from obreg.kube.controller import Controller, TargetOutcome
from obreg.rules import state

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
KM, APIM = WorkloadRef(name="wso2-km"), WorkloadRef(name="wso2-apim")
RID = ("obreg-demo", "OBTrustAnchor", "ob-directory-cas")


class SlowFirstPatch:
    """An Api whose first status patch waits until released, so a later one can pass it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0
        self.patched: list[str] = []  # Ready's reason of each patch, in the order they land

    async def patch_status(self, *args: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            await self.release.wait()
        self.patched.append(args[-1]["conditions"][0]["reason"])

    async def create(self, obj: Any) -> bool:
        return True


def outcome(state_: str) -> TargetOutcome:
    return TargetOutcome(TargetResult(kind="Deployment", name="x", state=state_))


def test_the_newest_status_lands_last() -> None:
    docs = [
        d for p in sorted(SAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]
    snap = state.snapshot(
        "obreg-demo", [d for d in docs if d["apiVersion"] == "obreg.dev/v1alpha1"]
    )

    async def scenario() -> list[str]:
        api = SlowFirstPatch()
        controller = Controller(api, 0.0)  # type: ignore[arg-type]
        only = [("OBTrustAnchor", "ob-directory-cas")]
        controller.results[RID] = {KM: outcome("Applied"), APIM: outcome("Blocked")}
        older = asyncio.create_task(controller.write_statuses(snap, only))
        await asyncio.sleep(0)  # the older write is now waiting on its API call
        controller.results[RID] = {KM: outcome("Applied"), APIM: outcome("Applied")}
        newer = asyncio.create_task(controller.write_statuses(snap, only))
        await asyncio.sleep(0)
        api.release.set()
        await asyncio.gather(older, newer)
        return api.patched

    assert asyncio.run(scenario())[-1] == "Applied"

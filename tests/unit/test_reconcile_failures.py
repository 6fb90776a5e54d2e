"""How a workload's reconcile ends when rendering fails, offline: a refused input and an
unexpected error both become a result the status shows (Stalled), never an exception
that would leave the resource without status in a retry loop; nothing is written."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.api.common import WorkloadRef
from obreg.kube import reconcile
from obreg.manifests import load
from obreg.rules import reconcile as decide
from obreg.rules import state, status

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
KM = WorkloadRef(name="wso2-km")


class NoWrites:
    """An Api that fails the test if anything is written."""

    async def apply(self, obj: Any) -> dict[str, Any]:
        raise AssertionError(f"wrote {obj['kind']}")

    async def create(self, obj: Any) -> bool:
        raise AssertionError(f"created {obj['kind']}")


def outcome(monkeypatch: pytest.MonkeyPatch, failure: Exception) -> decide.Outcome:
    def broken(*_: object) -> None:
        raise failure

    monkeypatch.setattr(decide.bundles, "render", broken)
    docs = [
        d for p in sorted(SAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]
    ours = [d for d in docs if d["apiVersion"] == "obreg.dev/v1alpha1"]
    snap = state.snapshot("obreg-demo", ours)
    inputs = load([SAMPLES]).inputs()
    target = {"kind": "Deployment", "name": "wso2-km", "namespace": "obreg-demo", "uid": "u"}
    return asyncio.run(
        reconcile.reconcile(KM, snap, inputs, target, {}, NoWrites(), NOW)  # type: ignore[arg-type]
    )


def test_an_unexpected_error_is_reported_as_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    found = outcome(monkeypatch, RuntimeError("holding some-secret-value"))
    results = list(found.results.values())
    assert results and all(r.state == "Failed" for r in results)
    assert all(r.message == decide.INTERNAL_ERROR for r in results)
    built = status.build(1, results, [], None, NOW)
    stalled = next(c for c in built["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and "internal error" in stalled["message"]
    assert "some-secret-value" not in str(built)
    assert "Traceback" in caplog.text  # the operator's log has it, for the report


def test_a_refused_input_names_the_resource_and_blocks_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from obreg.errors import InvalidInput, Label, Problem

    anchor = Label("OBTrustAnchor", "obreg-demo", "ob-directory-cas")
    refusal = InvalidInput([Problem(anchor, "spec", "bad")])
    found = outcome(monkeypatch, refusal)
    assert found.results[("OBTrustAnchor", "ob-directory-cas")].state == "Failed"
    others = [r for k, r in found.results.items() if k[0] != "OBTrustAnchor"]
    assert others and all(r.state == "Blocked" for r in others)

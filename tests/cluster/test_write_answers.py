"""obreg's writes ask the API server for the written object's metadata only
(kube/api.py, WRITE_ANSWER): a real kube-apiserver answers an apply, a create and a
status patch of obreg's own kind with a PartialObjectMetadata, so no Secret's data or
truststore comes back to be parsed for nothing."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from obreg.kube import api
from tests.bad_inputs import sample_documents
from tests.kubetools import Kubectl

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


class Recording(api.Api):
    """The Api, keeping each answer that ``read`` parsed."""

    def __init__(self, kubeconfig: Path) -> None:
        super().__init__(kubernetes.config.new_client_from_config(str(kubeconfig)))  # type: ignore[no-untyped-call]
        self.answers: list[dict[str, Any]] = []

    def read(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        found = super().read(*args, **kwargs)
        self.answers.append(found)
        return found


def test_writes_get_metadata_only(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "obreg.dev.yaml"))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    recording = Recording(kubectl.kubeconfig)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "held", "namespace": namespace},
        "stringData": {"truststore": "x" * 4096},
    }
    created = copy.deepcopy(secret)
    created["metadata"]["name"] = "made"
    anchor = copy.deepcopy(next(d for d in sample_documents() if d["kind"] == "OBTrustAnchor"))
    anchor["metadata"] = {"name": "a", "namespace": namespace}
    anchor.pop("status", None)

    async def writes() -> None:
        await recording.apply(secret)
        assert await recording.create(created)
        await recording.apply(anchor)
        await recording.patch_status(
            anchor["apiVersion"], anchor["kind"], namespace, "a", {"observedGeneration": 1}
        )

    asyncio.run(writes())
    assert [a.get("kind") for a in recording.answers] == ["PartialObjectMetadata"] * 4
    assert all(set(a) == {"kind", "apiVersion", "metadata"} for a in recording.answers)
    # What was written landed whole.
    shown = kubectl("get", "secret", "made", "-n", namespace, "-o", "jsonpath={.data.truststore}")
    assert len(shown.stdout) > 4096
    status = kubectl("get", "obta", "a", "-n", namespace, "-o", "jsonpath={.status}")
    assert "observedGeneration" in status.stdout

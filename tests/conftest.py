"""Shared fixtures. ``cluster`` starts one real control plane for the whole session."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator

import pytest

from controlplane.launcher import ControlPlane
from tests.kubetools import Kubectl


@pytest.fixture(scope="session")
def cluster() -> Iterator[ControlPlane]:
    # SIGTERM (CI's timeout, a killed job) would end Python without running finalisers;
    # turning it into KeyboardInterrupt lets pytest tear the plane down.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    plane = ControlPlane(tie_to_parent=True)
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def kubectl(cluster: ControlPlane) -> Kubectl:
    return Kubectl(cluster.kubeconfig, cluster.binaries["kubectl"])


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace per test, so tests never see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")

"""Shared fixtures. ``cluster`` starts one real control plane for the whole session.

Hypothesis profiles: ``ci`` (the default) is bounded and derandomized, so CI runs the
same examples every time; ``make fuzz`` selects ``fuzz``, which runs many more, new ones
each run, and keeps what it found in Hypothesis' example database."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from controlplane.launcher import ControlPlane
from tests.kubetools import Kubectl

_COMMON = {
    "deadline": None,  # a render's time varies with the machine's load; speed is benched
    # capsys is read (and so emptied) by every example.
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
}
settings.register_profile("ci", max_examples=120, derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz", max_examples=4000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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

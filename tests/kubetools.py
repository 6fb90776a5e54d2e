"""Test helpers for talking to the local control plane through kubectl."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.controlplane.kind import KindCluster
from testbed.controlplane.launcher import ControlPlane, token_kubeconfig


class Kubectl:
    """kubectl against the test plane; ``run`` fails the test with kubectl's stderr."""

    def __init__(self, kubeconfig: Path, binary: Path) -> None:
        self.kubeconfig = kubeconfig
        self.binary = binary

    def as_token(self, cluster: ControlPlane, token: str, path: Path) -> Kubectl:
        """The same kubectl acting as whoever ``token`` belongs to."""
        return Kubectl(token_kubeconfig(cluster.kubeconfig, token, path), self.binary)

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
        )
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result


def helm(
    cluster: ControlPlane | KindCluster, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """helm against the test cluster; fails the test with helm's stderr when ``check``."""
    result = subprocess.run(
        [str(cluster.binaries["helm"]), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed: {result.stderr}")
    return result


def poll(check: Callable[[], bool], timeout: float, what: str | Callable[[], str]) -> None:
    """Wait for a condition with a deadline; fail the test naming what never happened
    (``what`` may be a function, to tell what was seen last)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            told = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout}s waiting for {told}")
        time.sleep(0.2)

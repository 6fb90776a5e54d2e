"""The Flux tier's fixtures: Flux's own controllers on the session's plane, a Git server
of ours, and the samples' scenario in a namespace that Flux deploys from Git."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.controlplane.launcher import ControlPlane
from testbed.gitops import flux
from testbed.gitops.gitserver import GitServer
from tests.e2e.harness import Operator, Scenario, scenario_in_new_namespace
from tests.gitops.fluxrepo import Deployed, deploy
from tests.kubetools import Kubectl


@pytest.fixture(scope="session")
def flux_controllers(
    cluster: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """source-controller and kustomize-controller running; returns their work folder
    (their logs are there)."""
    work = tmp_path_factory.mktemp("flux")
    with flux.running(lambda *a: kubectl(*a).stdout, cluster.kubeconfig, work):
        yield work


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("git")).serving() as server:
        yield server


@pytest.fixture(scope="module")
def flux_scenario(kubectl: Kubectl, operator: Operator) -> Iterator[Scenario]:
    """The samples' scenario, with a KM double, in a namespace of its own; Flux applies
    its documents."""
    with scenario_in_new_namespace(kubectl, operator, "flux") as found:
        yield found


@pytest.fixture(scope="module")
def deployed(
    flux_controllers: Path, git_server: GitServer, flux_scenario: Scenario
) -> Iterator[Deployed]:
    """The module's scenario, deployed by Flux from a repository of its own."""
    with deploy(flux_scenario, git_server, flux_controllers) as result:
        yield result

"""Flux's source-controller and kustomize-controller as processes against the local plane,
each as a ServiceAccount of its own (bound to cluster-admin, as Flux's install binds
them), so the API server's audit log names which controller made each write."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from testbed.controlplane.launcher import token_kubeconfig

from .build import KUSTOMIZE, SOURCE, Controller, build

NAMESPACE = "flux-system"
# How long a controller is given to answer its readiness probe once started.
STARTUP = 60


def user(controller: Controller) -> str:
    """The controller's name in the audit log."""
    return f"system:serviceaccount:{NAMESPACE}:{controller.name}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _address() -> str:
    return f"127.0.0.1:{_free_port()}"


@contextmanager
def running(kubectl: Callable[..., str], admin_kubeconfig: Path, work: Path) -> Iterator[None]:
    """CRDs installed, both controllers started, both stopped on leaving."""
    for controller in (SOURCE, KUSTOMIZE):
        build(controller)
        kubectl("apply", "--server-side", "-f", str(controller.crds()))
    kubectl("create", "namespace", NAMESPACE)
    storage = _address()
    (work / "storage").mkdir(exist_ok=True)  # source-controller refuses a missing one
    flags = {
        SOURCE: [
            f"--storage-path={work / 'storage'}",
            f"--storage-addr={storage}",
            f"--storage-adv-addr={storage}",
        ],
        KUSTOMIZE: [],
    }
    with ExitStack() as stack:
        for controller, extra in flags.items():
            kubectl("create", "serviceaccount", controller.name, "-n", NAMESPACE)
            kubectl(
                "create", "clusterrolebinding", f"flux-{controller.name}",
                "--clusterrole=cluster-admin", f"--serviceaccount={NAMESPACE}:{controller.name}",
            )  # fmt: skip
            token = kubectl("create", "token", controller.name, "-n", NAMESPACE, "--duration=24h")
            kubeconfig = token_kubeconfig(
                admin_kubeconfig, token.strip(), work / f"{controller.name}.kubeconfig"
            )
            health = _address()
            log = stack.enter_context((work / f"{controller.name}.log").open("wb"))
            process = subprocess.Popen(
                [
                    str(controller.binary()),
                    "--enable-leader-election=false",
                    f"--metrics-addr={_address()}",
                    f"--health-addr={health}",
                    "--log-encoding=console",
                    *extra,
                ],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                # controller-runtime reads the kubeconfig from the environment only.
                env={
                    "RUNTIME_NAMESPACE": NAMESPACE,
                    "HOME": str(work),
                    "KUBECONFIG": str(kubeconfig),
                },
            )  # fmt: skip
            stack.callback(_stop, process)
            _await_healthy(process, health, work / f"{controller.name}.log")
        yield


def _await_healthy(process: subprocess.Popen[bytes], health: str, log: Path) -> None:
    """Until the controller's /readyz answers; a controller that exits (a refused flag,
    no API server) fails here with its log, not later as a Kustomization never Ready."""
    deadline = time.monotonic() + STARTUP
    while True:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"{log.stem} exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"http://{health}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log.stem} not ready within {STARTUP} s")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

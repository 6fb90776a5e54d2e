"""A kind cluster for ``make e2e-kind`` (people with a Docker engine): the same tier as
``make e2e-real`` (tests/real), on kind's node instead of the local plane's real node.

It offers what tests/real asks of a cluster (as launcher.ControlPlane does with
``node="real"``): a kubeconfig, kubectl and helm, images loaded into the node's
containerd (through ``docker exec``, by node.import_image, so also under their digest),
the node's name and the address where its pods reach this machine (the Docker network's
gateway, where the KM double listens). Not run on this project's CI machines, which have
no Docker engine.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import build, node

CONFIG = Path(__file__).resolve().parents[2] / "kind-config.yaml"
NAME = "obreg-e2e"  # kind-config.yaml's name


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@dataclass
class KindCluster:
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="obreg-kind-")))
    binaries: dict[str, Path] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def node_name(self) -> str:
        return f"{NAME}-control-plane"

    def start(self) -> None:
        self.binaries = build.build_all()  # kubectl and helm of the plane's versions
        _run("kind", "create", "cluster", f"--config={CONFIG}", f"--kubeconfig={self.kubeconfig}",
             "--wait=120s")  # fmt: skip

    def stop(self) -> None:
        subprocess.run(["kind", "delete", "cluster", f"--name={NAME}"], check=False)

    def _ctr(self) -> list[str]:
        return ["docker", "exec", "-i", self.node_name, "ctr", "-n", "k8s.io"]

    def load_image(self, archive: Path) -> None:
        node.import_image(self._ctr(), archive)

    def image_digest(self, ref: str) -> str:
        return node.image_digest(self._ctr(), ref)

    @property
    def host_address(self) -> str:
        """The IPv4 gateway of kind's Docker network: this machine, as its pods see it."""
        (network,) = json.loads(_run("docker", "network", "inspect", "kind"))
        for config in network["IPAM"]["Config"]:
            gateway = config.get("Gateway", "")
            if gateway and ipaddress.ip_address(gateway).version == 4:
                return str(gateway)
        raise LookupError("kind's Docker network has no IPv4 gateway")


def build_image(tag: str, context: Path, archive: Path) -> Path:
    """``docker build`` of a Dockerfile, saved as an archive for ``load_image``."""
    _run("docker", "build", "-t", tag, str(context))
    _run("docker", "save", "-o", str(archive), tag)
    return archive

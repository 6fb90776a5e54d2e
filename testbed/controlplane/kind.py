"""A kind cluster for ``make e2e-kind``: the same tier as ``make e2e-real`` (tests/real), on
kind's node instead of the local plane's real node.

It offers what tests/real asks of a cluster (as launcher.ControlPlane does with
``node="real"``): a kubeconfig, kubectl and helm, images loaded into the node's
containerd (``kind load image-archive``, then also tagged under their digest, as
node.import_image does for the real node), the node's name and the address where its pods
reach this machine (the kind network's gateway, where the KM double listens).

The cluster is made by the README's own command (the first of its kind block, run as
written: testbed/kind/readme.py), so the path users follow is the one tested.

It runs on the tier's own Docker engine (testbed/kind/engine.py), from inside that
engine's network namespace, where the API server's published port and kind's network
exist: ``python -m testbed.kind e2e`` (``make e2e-kind``) starts the engine, makes the
node image kind-config.yaml names, and runs pytest there.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from testbed.kind import engine, readme

from . import build, node

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "kind-config.yaml"
NAME = str(yaml.safe_load(CONFIG.read_text())["name"])
NETWORK = "kind"  # the Docker network kind makes for its nodes


def _run(*argv: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, env=env or engine.env(), cwd=ROOT, capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


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
        if os.stat("/proc/self/ns/net").st_ino != os.stat(engine.NETNS_PATH).st_ino:
            raise RuntimeError(
                "the kind cluster is reachable in the engine's network namespace only: "
                "run make e2e-kind (python -m testbed.kind e2e)"
            )
        self.binaries = build.build_all()  # kubectl and helm of the plane's versions
        create = readme.commands()[0]
        if not create.startswith("kind create cluster "):
            raise LookupError(f"the README's kind block starts with {create!r}, not the cluster")
        _run("bash", "-euc", create, env=self.env())

    def env(self) -> dict[str, str]:
        """Where the README's commands find the engine, kind, kubectl and helm by name, and
        this cluster's kubeconfig (which ``kind create`` writes, as a user's, to
        ``$KUBECONFIG``); run in the clone, as the README runs them."""
        tools = os.pathsep.join(str(self.binaries[name].parent) for name in ("kubectl", "helm"))
        base = engine.env()
        return {**base, "KUBECONFIG": str(self.kubeconfig), "PATH": f"{tools}:{base['PATH']}"}

    def stop(self) -> None:
        """The cluster and its network, which ``kind delete`` keeps for the next cluster."""
        subprocess.run(["kind", "delete", "cluster", f"--name={NAME}"], env=engine.env(),
                       check=False)  # fmt: skip
        engine.docker("network", "rm", NETWORK, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _ctr(self) -> list[str]:
        return [str(engine.DOCKER), "exec", "-i", self.node_name, "ctr", "-n", "k8s.io"]

    def load_image(self, archive: Path) -> None:
        """``kind load image-archive`` (a docker-archive or an OCI archive), then every image
        also under its digest reference, as a pull from a registry records it, so that a
        pod may name it by digest (the chart of a release pins obreg's image so)."""
        _run("kind", "load", "image-archive", str(archive), f"--name={NAME}")
        listed = [line.split() for line in _run(*self._ctr(), "images", "ls").splitlines()[1:]]
        names = {fields[0] for fields in listed}
        for name, _, digest, *_ in listed:
            by_digest = f"{name.rsplit(':', 1)[0]}@{digest}"
            if "@" not in name and not name.startswith("sha256:") and by_digest not in names:
                _run(*self._ctr(), "images", "tag", "--force", name, by_digest)

    def image_digest(self, ref: str) -> str:
        return node.image_digest(self._ctr(), ref)

    @property
    def host_address(self) -> str:
        """The IPv4 gateway of kind's Docker network: this machine, as its pods see it."""
        (network,) = json.loads(engine.docker("network", "inspect", NETWORK))
        for config in network["IPAM"]["Config"]:
            gateway = config.get("Gateway", "")
            if gateway and ipaddress.ip_address(gateway).version == 4:
                return str(gateway)
        raise LookupError("kind's Docker network has no IPv4 gateway")

"""The Go programs the e2e-kind tier needs beyond the plane's, built from the Go module
proxy as the plane's binaries are (testbed/controlplane/build.py: the version named once
in each module's go.mod beside this file, one cache entry per version and recipe, built
into a temporary sibling and renamed into place).

- kind itself, which makes and deletes the cluster;
- what the node image holds that the plane does not build: kubeadm (kind runs it in the
  node), CoreDNS and local-path-provisioner (their images, which kind's own node image
  carries pulled from a registry that this machine cannot reach).
"""

from __future__ import annotations

import functools
from pathlib import Path

from testbed.controlplane import build

HERE = Path(__file__).resolve().parent
# Each module in the folder of its name beside this file, cached in <cache>/kind.
Tool = functools.partial(build.Tool, home=HERE, shelf="kind")

KIND = Tool("kind", "sigs.k8s.io/kind", ("sigs.k8s.io/kind",), ("kind",))
KUBEADM = Tool(
    "kubeadm", "k8s.io/kubernetes", ("k8s.io/kubernetes/cmd/kubeadm",), ("kubeadm",)
)
COREDNS = Tool("coredns", "github.com/coredns/coredns", ("github.com/coredns/coredns",),
               ("coredns",))  # fmt: skip
LOCAL_PATH = Tool(
    "local-path-provisioner",
    "github.com/rancher/local-path-provisioner",
    ("github.com/rancher/local-path-provisioner",),
    ("local-path-provisioner",),
)
NODE_IMAGE_TOOLS = (KUBEADM, COREDNS, LOCAL_PATH)


if __name__ == "__main__":
    for tool in (KIND, *NODE_IMAGE_TOOLS):
        print(f"{tool.name}={tool.path()}")

"""The release's Go tools (syft), built from the Go module proxy into the per-machine cache.

Each tool is a Go module under hack/tools/ whose go.mod names its version (refreshed with
``go get -tool``); it is built the way the control plane's binaries are
(controlplane.build), into ``$OBREG_CACHE/tools/<name>-<version>-<hash>/``, the hash
covering go.mod, go.sum and the Go toolchain, so a change of any of them rebuilds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from testbed.controlplane import build

TOOLS = Path(__file__).resolve().parents[1] / "tools"


@dataclasses.dataclass(frozen=True)
class Tool(build.Family):
    """A family whose module is under hack/tools/ and whose binaries go to tools/."""

    @property
    def dir(self) -> Path:
        return TOOLS / self.name

    def ldflags(self, version: str) -> str:
        # syft reports this in its SBOMs' tool metadata; unstamped it says "[not provided]".
        return f"-X main.version={version.lstrip('v')}" if self.name == "syft" else ""

    def bin_dir(self) -> Path:
        return build.cache_root() / "tools" / self.key()


SYFT = Tool("syft", "github.com/anchore/syft", ("github.com/anchore/syft/cmd/syft",), ("syft",))


def syft() -> Path:
    """The syft binary, built once per machine and version."""
    return build.build(SYFT) / "syft"

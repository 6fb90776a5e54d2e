"""Go tools the tests run on the chart, built from the Go module proxy as the control
plane's binaries are (controlplane/build.py: the version named once in each tool's
go.mod, a cache entry per version and recipe), but cached under ``<cache>/tools`` since
the plane does not use them: promtool checks the chart's PrometheusRule and runs its
alert unit tests, kube-score reviews the rendered manifests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from testbed.controlplane import build

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Tool(build.Family):
    """A family whose module is hack/tools/<name>/go.mod, cached in <cache>/tools."""

    @property
    def dir(self) -> Path:
        return HERE / self.name

    def bin_dir(self) -> Path:
        return build.cache_root() / "tools" / self.key()

    def path(self) -> Path:
        """The binary, built first if the cache has none of this version and recipe."""
        return build.build(self) / self.binaries[0]


PROMTOOL = Tool(
    "promtool",
    "github.com/prometheus/prometheus",
    ("github.com/prometheus/prometheus/cmd/promtool",),
    ("promtool",),
)
KUBE_SCORE = Tool(
    "kube-score",
    "github.com/zegl/kube-score",
    ("github.com/zegl/kube-score/cmd/kube-score",),
    ("kube-score",),
)
TOOLS = (PROMTOOL, KUBE_SCORE)

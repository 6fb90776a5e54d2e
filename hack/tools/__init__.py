"""Go tools the tests run on the chart, built from the Go module proxy as the control
plane's binaries are (controlplane/build.py: the version named once in each tool's
go.mod, a cache entry per version and recipe), but cached under ``<cache>/tools`` since
the plane does not use them: promtool checks the chart's PrometheusRule and runs its
alert unit tests, kube-score reviews the rendered manifests."""

from __future__ import annotations

import functools
from pathlib import Path

from testbed.controlplane import build

HERE = Path(__file__).resolve().parent
# Each module in the folder of its name beside this file, cached in <cache>/tools.
Tool = functools.partial(build.Tool, home=HERE, shelf="tools")

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

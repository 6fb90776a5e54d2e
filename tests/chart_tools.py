"""The chart rendered without a cluster, for the tests that review what it renders with
tools of their own (promtool, kube-score): helm from the control plane's cache (built
if missing, as `make controlplane` builds it)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from testbed.controlplane import build

CHART = Path(__file__).resolve().parents[1] / "charts" / "obreg"
KUBE_VERSION = "1.34.4"


def helm() -> Path:
    family = next(f for f in build.FAMILIES if f.name == "helm")
    return build.build(family) / "helm"


def template(*args: str, release: str = "rel", namespace: str = "obreg-system") -> str:
    """``helm template`` of the chart with ``args`` (e.g. --set pairs); fails with helm's
    message."""
    result = subprocess.run(
        [
            str(helm()),
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--kube-version",
            KUBE_VERSION,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"helm template {' '.join(args)}: {result.stderr}"
    return result.stdout


def documents(*args: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(template(*args)) if d]

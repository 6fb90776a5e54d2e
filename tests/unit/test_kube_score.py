"""kube-score (built from the Go module proxy, hack/tools) on ``helm template`` of the
chart: with its defaults and with every optional object on, it finds nothing but what
tests/kube_score_ignores.txt keeps with a reason, and each of those lines still hides a
finding (a stale reason is removed, not kept)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

import tools
from tests.chart_tools import documents, template

IGNORES = Path(__file__).resolve().parents[1] / "kube_score_ignores.txt"
RENDERINGS = {
    "defaults": [],
    "everything": [
        "--set", "replicas=2",
        "--set", "networkPolicy.enabled=true",
        "--set", "podDisruptionBudget.enabled=true",
        "--set", "serviceMonitor.enabled=true",
        "--set", "prometheusRule.enabled=true",
    ],
    "namespaced": [
        "--set", "clusterWide=false",
        "--set", "watchNamespaces={bank-a,bank-b}",
        "--set", "networkPolicy.enabled=true",
    ],
}  # fmt: skip
FINDING = re.compile(r"^\[(WARNING|CRITICAL)\] .*$", re.M)


def ignores() -> list[tuple[str, list[str], str]]:
    """(renderings, flag and its value, reason) of each line of the ignore list."""
    lines = []
    for line in IGNORES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        flags, _, reason = line.partition("#")
        where, *flag = flags.split()
        lines.append((where, flag, reason.strip()))
    return lines


def applies(where: str, rendering: str) -> bool:
    return where == "all" or rendering in where.split(",")


@pytest.fixture(scope="module")
def kube_score() -> Path:
    return tools.KUBE_SCORE.path()


def findings(kube_score: Path, rendering: str, leave_out: int | None = None) -> list[str]:
    flags = [
        part
        for i, (where, flag, _) in enumerate(ignores())
        if applies(where, rendering) and i != leave_out
        for part in flag
    ]
    result = subprocess.run(
        [
            str(kube_score),
            "score",
            "--output-format=ci",
            "--kubernetes-version=v1.34",
            # The list above is the only place a finding is kept: no annotation in the
            # chart may hide one.
            "--disable-ignore-checks-annotations",
            *flags,
            "-",
        ],
        input=template(*RENDERINGS[rendering]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "[OK]" in result.stdout, result.stdout + result.stderr  # it scored something
    return [m[0] for m in FINDING.finditer(result.stdout)]


def test_every_ignore_line_has_a_reason_and_a_known_rendering() -> None:
    lines = ignores()
    assert lines
    for where, flag, reason in lines:
        assert where == "all" or set(where.split(",")) <= set(RENDERINGS), where
        assert flag and flag[0].startswith("--ignore-"), flag
        assert len(reason) > 40, f"{flag}: say why"


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_kube_score_finds_nothing_unjustified(kube_score: Path, rendering: str) -> None:
    assert findings(kube_score, rendering) == []


@pytest.mark.parametrize("line", range(len(ignores())), ids=[" ".join(f) for _, f, _ in ignores()])
def test_each_ignore_still_hides_a_finding(kube_score: Path, line: int) -> None:
    where = ignores()[line][0]
    hidden = [f for r in RENDERINGS if applies(where, r) for f in findings(kube_score, r, line)]
    assert hidden, f"{ignores()[line][1]} hides nothing any more: remove its line"


def test_replicas_prefer_different_nodes_unless_affinity_is_set() -> None:
    def affinity(*args: str) -> object:
        (deployment,) = [d for d in documents(*args) if d["kind"] == "Deployment"]
        return deployment["spec"]["template"]["spec"].get("affinity")

    assert affinity() is None  # one replica: nothing to spread
    spread = affinity("--set", "replicas=2")
    (term,) = spread["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]  # type: ignore[index]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "obreg",
        "app.kubernetes.io/instance": "rel",
    }
    own = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}
    assert affinity("--set", "replicas=2", "--set-json", f"affinity={json.dumps(own)}") == own

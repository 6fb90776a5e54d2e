"""The Kubernetes versions obreg claims are the ones its tiers test: the chart's floor is
the oldest plane make test builds, and each plane's modules pin the minor it is named for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from testbed.controlplane import build
from testbed.kind import nodeimage, tools

ROOT = Path(__file__).resolve().parents[2]
NEWEST, OLDEST = list(build.PLANES)[0], list(build.PLANES)[-1]


def test_the_charts_floor_is_the_oldest_plane_tested() -> None:
    chart = yaml.safe_load((ROOT / "charts" / "obreg" / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={OLDEST}.0-0"


@pytest.mark.parametrize("minor", list(build.PLANES))
def test_each_plane_builds_the_minor_it_is_named_for(minor: str) -> None:
    """Read from the module's go.mod as the build reads it (``go list -m``), not from the
    directory's name: a go.mod bumped to another minor would otherwise pass unnoticed."""
    (k8s,) = (f for f in build.families(minor) if f.name == "k8s")
    assert k8s.version().startswith(f"v{minor}.")


def test_the_setting_selects_a_plane_or_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(build.VERSION_SETTING, raising=False)
    assert build.selected_version() == NEWEST
    assert build.selected_version("v1.29.15") == "1.29"
    monkeypatch.setenv(build.VERSION_SETTING, "oldest")
    assert build.selected_version() == OLDEST
    monkeypatch.setenv(build.VERSION_SETTING, "1.27")
    with pytest.raises(SystemExit, match="OBREG_K8S_VERSION=1.27"):
        build.selected_version()


def test_each_version_is_a_cache_entry_of_its_own() -> None:
    """The families that follow the minor are cached apart; kwok and helm, clients that
    serve every minor, are one entry shared by both planes."""
    oldest = {f.name: f.bin_dir() for f in build.families(OLDEST)}
    for family in build.families(NEWEST):
        if family.name in build.PLANES[OLDEST]:
            assert family.bin_dir() != oldest[family.name]
        else:
            assert family.bin_dir() == oldest[family.name]


def test_the_real_node_is_refused_where_it_is_not_built() -> None:
    with pytest.raises(SystemExit, match="real node"):
        build.node_family(OLDEST)
    assert build.node_family(NEWEST).version().startswith(f"v{NEWEST}.")


def test_kind_runs_the_version_the_plane_builds() -> None:
    """kind-config.yaml names the node image of the newest plane's exact version, and the
    node image's kubeadm and kubelet are of that version too (testbed/kind/nodeimage.py
    builds the image under that name: what the file names is what make e2e-kind tests)."""
    (k8s,) = (f for f in build.families(NEWEST) if f.name == "k8s")
    version = k8s.version()
    assert nodeimage.configured_image() == f"kindest/node:{version}"
    assert tools.KUBEADM.version() == build.node_family().version() == version

"""``make release VERSION=0.2.0`` whole, into a temporary DIST: what a bank receives is
consistent. The image archive's digest is the one the packaged chart pins, SHA256SUMS
verify, the SBOM lists obreg, kopf and Debian's python3, and the wheel installs into a
fresh venv whose ``obreg --version`` names 0.2.0 and the commit built. Root (buildah), as
the rest of this tier; needs no cluster."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from testbed.controlplane import images
from tests.real.conftest import VERSION

ROOT = Path(__file__).resolve().parents[2]
WHEEL = f"obreg-{VERSION}-py3-none-any.whl"


def test_the_chart_pins_the_archives_digest(dist: Path) -> None:
    with tarfile.open(dist / f"obreg-image-{VERSION}.oci.tar") as archive:
        index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
    (manifest,) = index["manifests"]
    assert manifest["annotations"]["org.opencontainers.image.ref.name"] == (
        f"ghcr.io/obreg/obreg:{VERSION}"
    )
    assert (dist / f"obreg-image-{VERSION}.digest").read_text().strip() == manifest["digest"]
    with tarfile.open(dist / f"obreg-{VERSION}.tgz") as chart:
        values = yaml.safe_load(chart.extractfile("obreg/values.yaml"))  # type: ignore[arg-type]
        meta = yaml.safe_load(chart.extractfile("obreg/Chart.yaml"))  # type: ignore[arg-type]
    assert values["image"]["digest"] == manifest["digest"]
    assert values["image"]["tag"] == VERSION
    assert (meta["version"], meta["appVersion"]) == (VERSION, VERSION)


def test_sha256sums_cover_and_verify_every_artifact(dist: Path) -> None:
    listed = dict(
        reversed(line.split("  ", 1)) for line in (dist / "SHA256SUMS").read_text().splitlines()
    )
    assert set(listed) == {p.name for p in dist.iterdir()} - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name


def test_the_sbom_lists_python_and_debian_packages(dist: Path) -> None:
    sbom = json.loads((dist / f"obreg-image-{VERSION}.cdx.json").read_text())
    purls = {c.get("purl", "").split("@")[0] for c in sbom["components"]}
    assert {"pkg:pypi/obreg", "pkg:pypi/kopf", "pkg:deb/debian/python3"} <= purls
    (obreg,) = (c for c in sbom["components"] if c.get("purl", "").startswith("pkg:pypi/obreg@"))
    assert obreg["version"] == VERSION


def test_the_release_notes_are_the_changelogs(dist: Path) -> None:
    notes = (dist / "RELEASE-NOTES.md").read_text()
    assert notes.startswith(f"# obreg {VERSION}\n")
    assert "Rendered files: " in notes


def test_the_wheel_installs_and_names_version_and_commit(
    dist: Path, built: dict[str, str], tmp_path: Path
) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_dir = tmp_path / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", str(dist / WHEEL)], check=True)
    printed = subprocess.run(
        [str(bin_dir / "obreg"), "--version"], cwd=tmp_path, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    assert printed == f"obreg {VERSION} (commit {built['commit']})\n"


def test_the_images_obreg_names_version_and_commit(dist: Path, built: dict[str, str]) -> None:
    """The archive as a bank's registry or containerd gets it: its obreg runs (every
    locked dependency imports) and names the version and commit."""
    archive = f"oci-archive:{dist / f'obreg-image-{VERSION}.oci.tar'}"
    container = images.buildah("from", "--pull=never", archive).split()[-1]
    try:
        printed = images.buildah("run", "--isolation=chroot", container, "--", "obreg", "--version")
        imported = images.buildah(
            "run", "--isolation=chroot", container, "--", "python3", "-c",
            "import obreg.cli, obreg.handlers, jks, lxml.etree; print('imported')",
        )  # fmt: skip
    finally:
        images.buildah("rm", container)
    assert printed == f"obreg {VERSION} (commit {built['commit']})\n"
    assert imported == "imported\n"

"""``python -m release --version x.y.z [--dist DIR] [--commit REF]`` (``make release``).

Writes into DIST, for the commit (HEAD by default) with the version stamped (stage.py):

- obreg-image-<v>.oci.tar: the operator image (the project's Dockerfile, built with
  buildah on the debootstrapped Debian base, as the real-node tier builds it), an OCI
  archive tagged ghcr.io/obreg/obreg:<v>; obreg-image-<v>.digest: its manifest digest;
- obreg-<v>.tgz: the chart, version and appVersion <v>, image.tag <v>, image.digest pinned;
- obreg-<v>-py3-none-any.whl and obreg-<v>.tar.gz: the CLI (and operator) package;
- obreg-image-<v>.cdx.json: the image's SBOM (CycloneDX, by syft: Debian's packages and
  the Python packages of /venv);
- RELEASE-NOTES.md: CHANGELOG.md's section of <v>; SHA256SUMS: of every file above.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from testbed.controlplane import build, images

from . import changelog, stage, tools

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "ghcr.io/obreg/obreg"  # the chart's default image.repository
SUMS = "SHA256SUMS"


def _step(what: str, started: float) -> None:
    print(f"release: {what} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)


def python_package(source: stage.Source, work: Path, dist: Path) -> list[Path]:
    """Wheel and sdist with setuptools' own build hooks, in a venv of build.lock's
    hash-checked setuptools: nothing unpinned is fetched."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
         "-r", str(source.root / "requirements" / "build.lock")],
        check=True,
    )  # fmt: skip
    out = work / "python"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(source.epoch)}
    for hook in ("build_wheel", "build_sdist"):  # each in a process of its own
        subprocess.run(
            [python, "-c", f"import sys, setuptools.build_meta as b; b.{hook}(sys.argv[1])",
             str(out)],
            cwd=source.root, env=env, check=True, capture_output=True,
        )  # fmt: skip
    names = [p.name for p in sorted(out.iterdir())]
    if len(names) != 2:
        raise RuntimeError(f"setuptools built {names}, not a wheel and an sdist")
    return [Path(shutil.copy2(out / name, dist / name)) for name in names]


def image(source: stage.Source, version: str, dist: Path) -> tuple[Path, str]:
    """The image built from the staged source, pushed into an OCI archive; its digest."""
    reference = f"{REPOSITORY}:{version}"
    images.build_dockerfile(reference, source.root)
    archive = dist / f"obreg-image-{version}.oci.tar"
    digest_file = source.root.parent / "image.digest"
    archive.unlink(missing_ok=True)
    try:
        target = f"oci-archive:{archive}:{reference}"
        images.buildah("push", "--digestfile", str(digest_file), reference, target)
    finally:  # the archive is the artifact: the storage keeps no image per version
        images.buildah("rmi", reference)
    return archive, digest_file.read_text().strip()


def chart(source: stage.Source, version: str, digest: str, dist: Path) -> Path:
    stage.pin_image(source, version, digest)
    helm = next(f for f in build.FAMILIES if f.name == "helm")
    subprocess.run(
        [str(build.build(helm) / "helm"), "package", str(source.root / "charts" / "obreg"),
         "--destination", str(dist)],
        check=True, capture_output=True,
    )  # fmt: skip
    return dist / f"obreg-{version}.tgz"


def sbom(archive: Path, version: str, dist: Path) -> Path:
    """syft's catalogue of the image's files: dpkg's database and /venv's dist-info."""
    target = dist / f"obreg-image-{version}.cdx.json"
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    subprocess.run(
        [str(tools.syft()), "scan", f"oci-archive:{archive}", "--quiet",
         "--source-name", "obreg", "--source-version", version,
         "-o", f"cyclonedx-json={target}"],
        env=env, check=True,
    )  # fmt: skip
    return target


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def clear_previous(dist: Path) -> None:
    """Remove what an earlier release wrote here (the files its SHA256SUMS lists), and
    nothing else: DIST may be a directory of the user's."""
    sums = dist / SUMS
    if sums.is_file():
        for line in sums.read_text().splitlines():
            (dist / line.split("  ", 1)[1]).unlink(missing_ok=True)
        sums.unlink()


def release(version: str, dist: Path, ref: str) -> list[Path]:
    started = time.monotonic()
    stage.check_semver(version)
    commit_changelog = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:CHANGELOG.md"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    notes, _ = changelog.notes(commit_changelog, version)
    work = ROOT / "build" / "release"
    shutil.rmtree(work, ignore_errors=True)
    source = stage.export(ROOT, ref, work / "src")
    stage.stamp_version(source, version)
    dist.mkdir(parents=True, exist_ok=True)
    clear_previous(dist)
    _step(f"{source.commit} staged", started)
    artifacts = python_package(source, work, dist)
    _step("wheel and sdist built", started)
    archive, digest = image(source, version, dist)
    digest_file = dist / f"obreg-image-{version}.digest"
    digest_file.write_text(digest + "\n")
    artifacts += [archive, digest_file]
    _step(f"image built: {digest}", started)
    artifacts.append(chart(source, version, digest, dist))
    artifacts.append(sbom(archive, version, dist))
    _step("chart packaged, SBOM written", started)
    release_notes = dist / "RELEASE-NOTES.md"
    release_notes.write_text(notes)
    artifacts.append(release_notes)
    (dist / SUMS).write_text("".join(f"{sha256(a)}  {a.name}\n" for a in artifacts))
    _step(f"obreg {version} in {dist}", started)
    return [*artifacts, dist / SUMS]


def main() -> None:
    parser = argparse.ArgumentParser(prog="make release", description=__doc__)
    parser.add_argument("--version", required=True, help="the release's version (semver)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--commit", default="HEAD", help="what to build (default HEAD)")
    args = parser.parse_args()
    try:
        for path in release(args.version, args.dist.resolve(), args.commit):
            print(path)
    except (stage.StampError, changelog.ChangelogError) as err:
        sys.exit(f"make release: {err}")


if __name__ == "__main__":
    main()

"""Container images for the real node, made without a Docker engine or an image registry.

- The Debian base: debootstrap's minbase of Debian's packages, the way Debian's official
  image is made (debuerreotype runs debootstrap too), imported into buildah's storage
  under the name Dockerfiles use, ``debian:bookworm-slim``, so they build unchanged.
- The pod sandbox (pause) image: kubernetes' own pause.c from the module the plane
  already builds, compiled static, the only file of the image.
- Dockerfiles (the project's own, the WSO2 stand-in's) built with ``buildah bud`` on that
  base, then written as archives that ``ctr images import`` loads into the node.

Buildah's storage lives in the per-machine cache (the base and pause images are made
once); untagged images are pruned after each build, so it does not grow run by run.
The steps of a Dockerfile that download (apt from Debian, pip from PyPI) use the host's
network and its CA bundle, mounted at build time only (never into the image).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from . import build
from .node import SANDBOX_IMAGE

SUITE = "bookworm"
BASE = f"docker.io/library/debian:{SUITE}-slim"
MIRROR = "http://deb.debian.org/debian"
PAUSE_VERSION = "3.10"
# Names how the base is made; a change of the recipe makes the next run remake it.
BASE_RECIPE = "debootstrap minbase, without apt lists and downloaded packages"
BASE_LABEL = "dev.obreg.base-recipe"
BUILD_CA = "/run/obreg-build-ca.crt"


def _storage() -> list[str]:
    cache = build.cache_root() / "images"
    return ["--root", str(cache / "storage"), "--runroot", str(cache / "run")]


def buildah(*args: str, quiet: bool = True) -> str:
    """buildah on the project's own storage; its output on failure."""
    result = subprocess.run(
        ["buildah", *_storage(), *args], capture_output=quiet, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args)} failed:\n{result.stderr or ''}")
    return result.stdout or ""


def exists(image: str) -> bool:
    return (
        subprocess.run(
            ["buildah", *_storage(), "inspect", "--type", "image", image],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def base() -> str:
    """The Debian base image, made once per machine (and again when its recipe changes)."""
    if exists(BASE) and _label(BASE, BASE_LABEL) == BASE_RECIPE:
        return BASE
    print(f"making {BASE} with debootstrap from {MIRROR}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="obreg-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), MIRROR],
            check=True,
            capture_output=True,
        )
        # What Debian's image leaves out too: package lists and the downloaded packages.
        for pattern in (
            "var/lib/apt/lists/*",
            "var/cache/apt/*.bin",
            "var/cache/apt/archives/*.deb",
        ):
            for leftover in rootfs.glob(pattern):
                if leftover.is_file():
                    leftover.unlink()
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", f"{tmp}/rootfs.tar", "."],
            check=True,
        )
        (Path(tmp) / "Containerfile").write_text(
            f'FROM scratch\nADD rootfs.tar /\nLABEL {BASE_LABEL}="{BASE_RECIPE}"\nCMD ["bash"]\n'
        )
        buildah("bud", "--pull=never", "-t", BASE, "-f", f"{tmp}/Containerfile", tmp)
    return BASE


def _label(image: str, name: str) -> str | None:
    config = json.loads(buildah("inspect", "--type", "image", image))["OCIv1"]["config"]
    found = (config.get("Labels") or {}).get(name)
    return str(found) if found is not None else None


def pause() -> str:
    """The sandbox image every pod starts with (containerd's ``sandbox_image``)."""
    if exists(SANDBOX_IMAGE):
        return SANDBOX_IMAGE
    source = Path(
        subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes"],
            cwd=build.HERE / "node",
            env=build.go_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="obreg-pause-") as tmp:
        subprocess.run(
            ["gcc", "-Os", "-static", f"-DVERSION=v{PAUSE_VERSION}-obreg", "-o", f"{tmp}/pause",
             str(source / "build" / "pause" / "linux" / "pause.c")],
            check=True,
        )  # fmt: skip
        (Path(tmp) / "Containerfile").write_text(
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
        )
        buildah("bud", "--pull=never", "-t", SANDBOX_IMAGE, "-f", f"{tmp}/Containerfile", tmp)
    return SANDBOX_IMAGE


def build_dockerfile(tag: str, context: Path) -> str:
    """``buildah bud`` of a Dockerfile on the local base (never pulled)."""
    base()
    with tempfile.TemporaryDirectory(prefix="obreg-bud-") as tmp:
        pip_conf = Path(tmp) / "pip.conf"
        pip_conf.write_text(f"[global]\ncert = {BUILD_CA}\n")
        buildah(
            "bud", "--pull=never", "--network=host", "--isolation=chroot",
            "-v", f"/etc/ssl/certs/ca-certificates.crt:{BUILD_CA}:ro",
            "-v", f"{pip_conf}:/etc/pip.conf:ro",
            "-t", tag, "-f", str(context / "Dockerfile"), str(context),
        )  # fmt: skip
    # What the tag replaced and the build stages: a cache that would grow by a gigabyte
    # per change of the source, for a reuse that saves only the apt steps.
    buildah("rmi", "--prune")
    return tag


def archive(image: str, target: Path) -> Path:
    """The image as a docker-archive, named, for ``ctr images import``."""
    target.unlink(missing_ok=True)
    buildah("push", image, f"docker-archive:{target}:{image}")
    return target

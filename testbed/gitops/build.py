"""Build Flux's source-controller and kustomize-controller from the Go module proxy.

Each controller's go.mod replaces its ``api`` module with the ``./api`` folder of its own
repository, which the proxy ships as a module of its own (a nested module is left out of
its parent's zip). So the controller is built as the main module, from a copy of its
source with the api module of the same version laid in ``api/``; its own go.mod and go.sum
then decide every dependency, as in Flux's releases. The CRDs come from the same module
(``config/crd/bases``), so binaries and CRDs always match.

The versions are Flux 2.9's (source-controller and kustomize-controller v1.9.6): the
proxy withholds seven of the modules the v1.10 controllers need (fluxcd/pkg's spiffe and
masktoken have no version there at all), and one of source-controller v1.9.6's, fluxcd/pkg
artifact v0.18.3, for which the build takes v0.18.1 (``replaces``: its go.mod is edited
in the copy, and go.sum completed from the checksum database). Output lands in
``$OBREG_CACHE/tools/<controller>-<version>-<hash>/``, the hash covering the recipe (the
controller, its version and stand-ins, RECIPE, and the Go toolchain), built into a
temporary sibling and renamed into place, as testbed/controlplane/build.py does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed.controlplane.build import cache_root, go_env

# Changed by hand when the steps of build() change, so older entries are not reused.
RECIPE = "copy with api/ laid in; go build -trimpath; config/crd/bases"


@dataclasses.dataclass(frozen=True)
class Controller:
    """One Flux controller: its module, the version built, the binary's name."""

    name: str
    version: str
    # Module versions the proxy does not serve, as (module@version, stand-in version).
    replaces: tuple[tuple[str, str], ...] = ()

    @property
    def module(self) -> str:
        return f"github.com/fluxcd/{self.name}"

    def key(self) -> str:
        toolchain = subprocess.run(["go", "version"], capture_output=True, text=True, check=True)
        recipe = f"{self!r} {RECIPE} {toolchain.stdout}"
        digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
        return f"{self.name}-{self.version}-{digest}"

    def dir(self) -> Path:
        return cache_root() / "tools" / self.key()

    def binary(self) -> Path:
        return self.dir() / self.name

    def crds(self) -> Path:
        return self.dir() / "crds"


SOURCE = Controller(
    "source-controller", "v1.9.6", (("github.com/fluxcd/pkg/artifact@v0.18.3", "v0.18.1"),)
)
KUSTOMIZE = Controller("kustomize-controller", "v1.9.6")
CONTROLLERS = (SOURCE, KUSTOMIZE)


def _env(*, complete_sums: bool = False) -> dict[str, str]:
    env = go_env()
    if complete_sums:  # a replaced module's sums are not in the controller's go.sum
        env["GOFLAGS"] = env["GOFLAGS"].replace("-mod=readonly", "-mod=mod")
    return env


def _download(module: str, version: str, cwd: Path) -> Path:
    """The module's unpacked source in the module cache (read-only)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=cwd, env=_env(), check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Path(json.loads(out.stdout)["Dir"])


def build(controller: Controller) -> Path:
    """The controller's directory (binary and CRDs), built unless already cached."""
    target = controller.dir()
    if controller.binary().is_file() and controller.crds().is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {controller.name} {controller.version} into {target}", file=sys.stderr)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{controller.name}-") as tmp:
        work = Path(tmp)
        source = _download(controller.module, controller.version, work)
        api = _download(f"{controller.module}/api", controller.version, work)
        copy = work / "src"
        shutil.copytree(source, copy)
        shutil.rmtree(copy / "api", ignore_errors=True)
        shutil.copytree(api, copy / "api")
        for path in [copy, *copy.rglob("*")]:  # the module cache's copies are read-only
            path.chmod(0o755 if path.is_dir() else 0o644)
        for old, new in controller.replaces:
            module = old.split("@")[0]
            subprocess.run(
                ["go", "mod", "edit", f"-replace={old}={module}@{new}"],
                cwd=copy, env=_env(), check=True,
            )  # fmt: skip
        staging = work / "out"
        staging.mkdir()
        subprocess.run(
            ["go", "build", "-o", str(staging / controller.name), "."],
            cwd=copy, env=_env(complete_sums=bool(controller.replaces)), check=True,
        )  # fmt: skip
        shutil.copytree(copy / "config" / "crd" / "bases", staging / "crds")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    print(f"built {controller.name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return target


LUA_HEALTH = Path(__file__).resolve().parent / "lua-health"


def lua_health() -> Path:
    """testbed/gitops/lua-health built (Argo CD's health script runner on gopher-lua),
    cached by the hash of its source, go.mod, go.sum and the Go toolchain."""
    toolchain = subprocess.run(["go", "version"], capture_output=True, text=True, check=True)
    digest = hashlib.sha256(toolchain.stdout.encode())
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((LUA_HEALTH / name).read_bytes())
    version = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Version}}", "github.com/yuin/gopher-lua"],
        cwd=LUA_HEALTH, env=go_env(), check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    entry = f"lua-health-{version}-{digest.hexdigest()[:10]}"
    binary = cache_root() / "tools" / entry / "lua-health"
    if not binary.is_file():
        binary.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=binary.parent.parent, prefix=".lua-health-") as tmp:
            built = Path(tmp) / "lua-health"
            subprocess.run(
                ["go", "build", "-o", str(built), "."], cwd=LUA_HEALTH, env=go_env(), check=True
            )
            built.rename(binary)
    return binary


def build_all() -> dict[str, Path]:
    return {c.name: build(c) for c in CONTROLLERS}


if __name__ == "__main__":
    for name, path in build_all().items():
        print(f"{name}={path}")

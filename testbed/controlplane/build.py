"""Build the control plane's binaries from the Go module proxy into a per-machine cache.

Each tool family is a Go module beside this file (k8s/, etcd/, kwok/, helm/,
trust-manager/) whose go.mod
is the one place that names its version; this script reads the version back from go.mod
with ``go list -m`` rather than repeating it. Binaries land in
``$OBREG_CACHE/controlplane/<family>-<version>-<hash>/`` (outside the checkout), where the
hash covers go.mod, go.sum and the Go toolchain, so a change of any of them rebuilds and
anything already built is reused. A cold build on 2 cores takes minutes, so skipping is
the common case.

The plane builds for each Kubernetes version in ``PLANES`` (``OBREG_K8S_VERSION`` picks
one, ``oldest`` and ``newest`` name the ends; docs/kubernetes-versions.md says why these):
a version names the module directories of the families that change with it, so each
version's binaries are a cache entry of their own and several versions coexist.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cache_root() -> Path:
    """Where built binaries live: per machine, shared by every clone of the project."""
    explicit = os.environ.get("OBREG_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "obreg"


def go_env() -> dict[str, str]:
    """The proxy only (no direct fallback), so an unreachable module fails fast and clearly;
    the local toolchain only, so a go directive never triggers a toolchain download."""
    env = dict(os.environ)
    env.update(
        GOPROXY="https://proxy.golang.org",
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        GOFLAGS="-mod=readonly -buildvcs=false -trimpath",
    )
    return env


def _go(args: list[str], cwd: Path) -> str:
    return subprocess.run(
        ["go", *args], cwd=cwd, env=go_env(), check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclasses.dataclass(frozen=True)
class Family:
    """One Go module of tools: its directory, main module, packages and binary names."""

    name: str
    module: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    # Edits to the module's own source for this build, as (file, old, new): applied to a
    # copy made at build time, so nothing of the module is kept in this repository.
    edits: tuple[tuple[str, str, str], ...] = ()
    variant: str = ""  # names the cache entry of an edited build
    # The module's directory beside this file when it is not the family's name (one of
    # several versions of the family).
    directory: str = ""

    @property
    def dir(self) -> Path:
        return HERE / (self.directory or self.name)

    def version(self) -> str:
        return _go(["list", "-m", "-f", "{{.Version}}", self.module], self.dir)

    def ldflags(self, version: str) -> str:
        """Stamp the version the binaries report: an unstamped kube-apiserver says
        v0.0.0-master, which kubectl, kwok and helm treat as a broken server."""
        if self.module == "k8s.io/kubernetes":
            major, minor = version.lstrip("v").split(".")[:2]
            flags = []
            for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
                flags += [
                    f"-X {pkg}.gitVersion={version}",
                    f"-X {pkg}.gitMajor={major}",
                    f"-X {pkg}.gitMinor={minor}",
                    f"-X {pkg}.gitTreeState=clean",
                ]
            return " ".join(flags)
        if self.name == "helm":
            return f"-X helm.sh/helm/v3/internal/version.version={version}"
        return ""

    def key(self) -> str:
        digest = hashlib.sha256()
        for name in ("go.mod", "go.sum"):
            digest.update((self.dir / name).read_bytes())
        digest.update(_go(["version"], self.dir).encode())
        if self.edits:  # (not hashed when absent: existing cache entries stay valid)
            digest.update(repr(self.edits).encode())
        name = f"{self.name}-{self.variant}" if self.variant else self.name
        return f"{name}-{self.version()}-{digest.hexdigest()[:10]}"

    def bin_dir(self) -> Path:
        return cache_root() / "controlplane" / self.key()


@dataclasses.dataclass(frozen=True)
class Tool(Family):
    """A family the plane does not run, kept beside the code that uses it (its module in
    ``home``/<name>) and cached on a shelf of its own (``<cache>/<shelf>``); ``path``
    builds it on first use. The shelf and home are not in the cache key, which is the
    module's alone."""

    home: Path = HERE
    shelf: str = "tools"

    @property
    def dir(self) -> Path:
        return self.home / (self.directory or self.name)

    def bin_dir(self) -> Path:
        return cache_root() / self.shelf / self.key()

    def path(self) -> Path:
        """The binary, built first if the cache has none of this version and recipe."""
        return build(self) / self.binaries[0]


FAMILIES = (
    Family(
        "k8s",
        "k8s.io/kubernetes",
        (
            "k8s.io/kubernetes/cmd/kube-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            "k8s.io/kubernetes/cmd/kube-scheduler",
            # A client of the server's own minor: the machine's kubectl may be older than
            # the supported skew of one minor version.
            "k8s.io/kubernetes/cmd/kubectl",
        ),
        ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
    ),
    Family("etcd", "go.etcd.io/etcd/server/v3", ("go.etcd.io/etcd/server/v3",), ("etcd",)),
    Family("kwok", "sigs.k8s.io/kwok", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",)),
    Family("helm", "helm.sh/helm/v3", ("helm.sh/helm/v3/cmd/helm",), ("helm",)),
)

# Not part of the plane, so built only when asked for: the peer `make bench` runs obreg
# against on the same plane, as released and with client-go's default client-side limit
# of 5 requests/s lifted (a negative QPS turns it off; trust-manager has no flag for it).
TRUST_MANAGER = Family(
    "trust-manager",
    "github.com/cert-manager/trust-manager",
    ("github.com/cert-manager/trust-manager/cmd/trust-manager",),
    ("trust-manager",),
)
TRUST_MANAGER_UNTHROTTLED = dataclasses.replace(
    TRUST_MANAGER,
    variant="unthrottled",
    edits=(
        (
            "cmd/trust-manager/app/options/options.go",
            "\to.RestConfig, err = o.kubeConfigFlags.ToRESTConfig()\n\tif err != nil {\n"
            '\t\treturn fmt.Errorf("failed to build kubernetes rest config: %s", err)\n\t}\n',
            "\to.RestConfig, err = o.kubeConfigFlags.ToRESTConfig()\n\tif err != nil {\n"
            '\t\treturn fmt.Errorf("failed to build kubernetes rest config: %s", err)\n\t}\n'
            "\to.RestConfig.QPS = -1\n",
        ),
    ),
)
PEERS = (TRUST_MANAGER, TRUST_MANAGER_UNTHROTTLED)

# Not part of the default plane, so built only for the opt-in real node (NODE=real): the
# kubelet that runs real containers through containerd, and kube-proxy for Service IPs.
NODE = Family(
    "node",
    "k8s.io/kubernetes",
    ("k8s.io/kubernetes/cmd/kubelet", "k8s.io/kubernetes/cmd/kube-proxy"),
    ("kubelet", "kube-proxy"),
)

# Not part of the plane, so built only when asked for: kustomize, whose `build` output
# tests/unit/test_render_gitops.py pipes into `obreg render -f -` (it wraps long values).
KUSTOMIZE = Family(
    "kustomize",
    "sigs.k8s.io/kustomize/kustomize/v5",
    ("sigs.k8s.io/kustomize/kustomize/v5",),
    ("kustomize",),
)

# kwok's standalone binary needs stage definitions; these ship in its module source.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


def _install_kwok_stages(family: Family, staging: Path) -> None:
    source = Path(_go(["list", "-m", "-f", "{{.Dir}}", family.module], family.dir))
    if not source.is_dir():
        _go(["mod", "download", family.module], family.dir)
        source = Path(_go(["list", "-m", "-f", "{{.Dir}}", family.module], family.dir))
    stages = staging / "stages"
    stages.mkdir()
    for stage in KWOK_STAGES:
        shutil.copyfile(source / "kustomize" / "stage" / stage, stages / Path(stage).name)


def _edited_source(family: Family, tmp: Path) -> Path:
    """A writable copy of the module's source with its edits applied, to build as the
    main module (Go refuses overlays of files in its module cache); an edit that no
    longer applies fails the build."""
    _go(["mod", "download", family.module], family.dir)
    source = Path(_go(["list", "-m", "-f", "{{.Dir}}", family.module], family.dir))
    copy = tmp / "src"
    shutil.copytree(source, copy)
    for file, old, new in family.edits:
        target = copy / file
        text = target.read_text()
        if old not in text:
            raise SystemExit(f"{family.module} {file}: the edit no longer applies")
        target.chmod(0o644)
        target.write_text(text.replace(old, new, 1))
    return copy


def build(family: Family) -> Path:
    """Build one family unless its cache entry exists; return the directory of binaries.

    The build goes to a temporary sibling that is renamed into place at the end, so an
    interrupted build never leaves a half-filled entry that a later run would trust. It
    holds a lock on the entry meanwhile: make test's tiers run side by side and may ask
    for the same family at once, and the second waits for the first's build rather than
    building it again and replacing it under the first's running tests.
    """
    target = family.bin_dir()
    if all((target / b).is_file() for b in family.binaries):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all((target / b).is_file() for b in family.binaries):
            return target
        _build_into(family, target)
    return target


def _build_into(family: Family, target: Path) -> None:
    print(f"building {family.name} {family.version()} into {target}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{family.name}-") as tmp:
        staging = Path(tmp) / "out"
        staging.mkdir()
        # One package: name its binary; several: a directory, so they share compiled code.
        output = staging / family.binaries[0] if len(family.binaries) == 1 else staging
        args = ["build", "-o", f"{output}/" if output == staging else str(output)]
        flags = family.ldflags(family.version())
        if flags:
            args += ["-ldflags", flags]
        cwd, packages = family.dir, list(family.packages)
        if family.edits:
            cwd = _edited_source(family, Path(tmp))
            packages = ["./" + p.removeprefix(family.module).lstrip("/") for p in packages]
        subprocess.run(["go", *args, *packages], cwd=cwd, env=go_env(), check=True)
        if family.name == "kwok":
            _install_kwok_stages(family, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)


# The Kubernetes minors the plane builds, newest first, each as the module directories of
# the families that follow it: the API server's own etcd minor (1.29 was released and
# tested with etcd 3.5) and, for the newest only, the real node. kwok and helm are
# clients that serve every minor here, so one build of each is shared.
PLANES: dict[str, dict[str, str]] = {
    "1.34": {"k8s": "k8s", "etcd": "etcd", "node": "node"},
    "1.29": {"k8s": "k8s-1.29", "etcd": "etcd-3.5"},
}
VERSION_SETTING = "OBREG_K8S_VERSION"


def selected_version(asked: str | None = None) -> str:
    """The minor ``asked`` (else ``$OBREG_K8S_VERSION``, else the newest) as a key of
    PLANES; ``oldest`` and ``newest`` name the ends, so callers never repeat a number."""
    value = asked or os.environ.get(VERSION_SETTING) or "newest"
    aliases = {"newest": next(iter(PLANES)), "oldest": list(PLANES)[-1]}
    minor = aliases.get(value, ".".join(value.lstrip("v").split(".")[:2]))
    if minor not in PLANES:
        raise SystemExit(
            f"{VERSION_SETTING}={value}: the plane builds Kubernetes {', '.join(PLANES)} "
            "(or oldest, newest)"
        )
    return minor


def families(version: str | None = None) -> tuple[Family, ...]:
    """The plane's families for one Kubernetes minor (see ``selected_version``)."""
    directories = PLANES[selected_version(version)]
    return tuple(
        dataclasses.replace(f, directory=directories[f.name]) if f.name in directories else f
        for f in FAMILIES
    )


def node_family(version: str | None = None) -> Family:
    """The real node's kubelet and kube-proxy, which only the newest minor builds."""
    minor = selected_version(version)
    if "node" not in PLANES[minor]:
        raise SystemExit(f"the real node is built for Kubernetes {next(iter(PLANES))} only")
    return dataclasses.replace(NODE, directory=PLANES[minor]["node"])


def build_all(version: str | None = None) -> dict[str, Path]:
    """Every binary the plane uses, by name, building whatever is missing."""
    paths: dict[str, Path] = {}
    for family in families(version):
        directory = build(family)
        for binary in family.binaries:
            paths[binary] = directory / binary
        if family.name == "kwok":
            paths["kwok-stages"] = directory / "stages"
    return paths


if __name__ == "__main__":
    for name, path in build_all().items():
        print(f"{name}={path}")
    if sys.argv[1:] == ["--kustomize"]:
        print(f"kustomize={build(KUSTOMIZE) / 'kustomize'}")
    if sys.argv[1:] == ["--peers"]:
        for peer in PEERS:
            print(f"{peer.key()}={build(peer) / peer.binaries[0]}")

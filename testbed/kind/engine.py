"""A Docker engine of the tier's own (Debian's docker.io), for machines with none: kind
needs one, and this machine has no Docker engine and reaches no image registry.

It runs in a network namespace of its own (``obreg-kind``), so the host's interfaces,
routes and firewall are untouched: its bridge and kind's network have addresses inside
the benchmarking range 198.18.0.0/15 that the plane uses too, apart from the plane's
(198.19.0.1/24 for the default bridge, 198.19.16.0/20 for networks such as kind's), and
its iptables rules exist only in the namespace. ``ip netns exec`` gives the daemon a
mount namespace of its own, so its overlay and network-namespace mounts never show in
the host's mount table. Its data (images, the node image among them) lives under the
project's cache, so a second run reuses them; its run directory is a short path under
/tmp, for the socket's length limit.

What it changes on the host, each undone by ``stop``: /lib/modules (kind mounts it into
its nodes; made where the host has none), /run/netns (made, and made a mount point, by
``ip netns add`` where it was not one), the containers' cgroups (cgroup v1 hierarchies are the
host's) under a parent of our own, ``/obreg-kind``, and two processes: dockerd and
slirp4netns, which carries the namespace's egress (for image builds' apt and pip) through
a process of the host, without a route or a rule there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from testbed.controlplane import build

NETNS = "obreg-kind"
NETNS_DIR = Path("/run/netns")
NETNS_PATH = NETNS_DIR / NETNS
BRIDGE_IP = "198.19.0.1/24"
ADDRESS_POOL = "198.19.16.0/20"
CGROUP_PARENT = "obreg-kind"
RUN = Path("/tmp/obreg-kind-docker")  # socket, exec root, pid files, logs
SOCKET = RUN / "docker.sock"
DOCKER_HOST = f"unix://{SOCKET}"
DOCKER = Path("/usr/bin/docker")  # Debian's client, of the daemon's API version
BIN = RUN / "bin"  # docker and kind as kind and the tests call them: by name
RUNC_CAPPED = Path(__file__).resolve().parent / "runc-capped"
# Markers of what start made and stop must remove again.
MADE_LIB_MODULES = RUN / "made-lib-modules"
MADE_NETNS_MOUNT = RUN / "made-netns-mount"
MADE_NETNS_DIR = RUN / "made-netns-dir"
DEFAULT_NETWORKS = frozenset({"bridge", "host", "none"})
CGROUPS = Path("/sys/fs/cgroup")
# The cgroup v1 hierarchies the daemon's mount namespace mounts again: ``ip netns exec``
# mounts a fresh /sys for the namespace, which hides the host's.
_MOUNT_CGROUPS = """
mount -t tmpfs cgroup /sys/fs/cgroup
for c in $(awk 'NR>1 && $2!=0 {print $1}' /proc/cgroups); do
    mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/systemd
mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
exec dockerd "$@"
"""


class EngineError(RuntimeError):
    """The engine did not start; the message holds the end of its log."""


def data_root() -> Path:
    return build.cache_root() / "docker"


def env() -> dict[str, str]:
    """The environment in which ``docker`` and ``kind`` reach this engine, by name."""
    return {**os.environ, "DOCKER_HOST": DOCKER_HOST, "PATH": f"{BIN}:{os.environ['PATH']}"}


def docker(*args: str, check: bool = True, **kwargs: object) -> str:
    """Debian's docker client on this engine; its output (stderr in the error)."""
    done = subprocess.run(
        [str(DOCKER), *args], env=env(), capture_output=True, text=True, check=False,
        **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return str(done.stdout)


def label(image: str, name: str) -> str:
    """The image's label ``name`` in this engine: empty when the image or label is missing
    (how the tier's images tell the recipe they were made by)."""
    template = f'{{{{index .Config.Labels "{name}"}}}}'
    return docker("image", "inspect", "--format", template, image, check=False).strip()


def in_netns(argv: Sequence[str]) -> list[str]:
    """``argv`` in the engine's network namespace only: the API server's published port and
    kind's gateway exist there; the mounts (so cgroups) stay the host's, as buildah needs."""
    return ["nsenter", f"--net={NETNS_PATH}", "--", *argv]


def running() -> bool:
    return SOCKET.exists() and subprocess.run(
        [str(DOCKER), "version"], env=env(), capture_output=True, check=False
    ).returncode == 0


def start(kind_binary: Path) -> None:
    """Start the engine, after removing what a killed earlier run left."""
    if RUN.exists() or NETNS_PATH.exists():
        stop()
    data_root().mkdir(parents=True, exist_ok=True)
    BIN.mkdir(parents=True)
    (BIN / "docker").symlink_to(DOCKER)
    (BIN / "kind").symlink_to(kind_binary)
    lib_modules = Path("/lib/modules")
    if not lib_modules.exists():
        lib_modules.mkdir()
        MADE_LIB_MODULES.touch()
    if not NETNS_DIR.exists():
        MADE_NETNS_DIR.touch()
    if not _mounted(NETNS_DIR):
        MADE_NETNS_MOUNT.touch()
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    subprocess.run(["ip", "-n", NETNS, "link", "set", "lo", "up"], check=True)
    _spawn("slirp4netns", ["slirp4netns", "--configure", "--mtu=65520",
                           "--disable-host-loopback", "--netns-type=path", str(NETNS_PATH),
                           "tap0"])  # fmt: skip
    subprocess.run(
        ["ip", "netns", "exec", NETNS, "sysctl", "-q", "net.ipv4.ip_forward=1"], check=True
    )
    _spawn("dockerd", [
        "ip", "netns", "exec", NETNS, "sh", "-c", _MOUNT_CGROUPS, "dockerd",
        "--data-root", str(data_root()), "--exec-root", str(RUN / "exec"),
        "--pidfile", str(RUN / "dockerd.pid"), "--host", DOCKER_HOST,
        "--bip", BRIDGE_IP, "--default-address-pool", f"base={ADDRESS_POOL},size=24",
        "--add-runtime", f"obreg-runc={RUNC_CAPPED}", "--default-runtime", "obreg-runc",
        "--cgroup-parent", f"/{CGROUP_PARENT}", "--oom-score-adjust", "0",
        "--log-level", "warn",
    ])  # fmt: skip
    deadline = time.monotonic() + 60
    while not running():
        if time.monotonic() > deadline:
            log = (RUN / "dockerd.log").read_text()[-3000:]
            stop()
            raise EngineError(f"dockerd did not answer in 60 s:\n{log}")
        time.sleep(0.5)


def _spawn(name: str, argv: list[str]) -> None:
    """A daemon of the engine's, its pid noted for ``stop`` and its output in RUN."""
    with (RUN / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    (RUN / f"{name}.launched").write_text(str(process.pid))


def leftovers_inside() -> list[str]:
    """Containers and networks of the tier's still in the engine (kind's network stays
    after ``kind delete cluster``; the next ``kind create`` would reuse it)."""
    found = [f"container {c}" for c in docker("ps", "-a", "--format", "{{.Names}}").split()]
    networks = docker("network", "ls", "--format", "{{.Name}}").split()
    return found + [f"network {n}" for n in networks if n not in DEFAULT_NETWORKS]


def clear_inside() -> None:
    """Remove every container and every network but the defaults."""
    ids = docker("ps", "-aq").split()
    if ids:
        docker("rm", "-f", *ids)
    for network in docker("network", "ls", "--format", "{{.Name}}").split():
        if network not in DEFAULT_NETWORKS:
            docker("network", "rm", network)


def stop() -> None:
    """Stop the engine and undo all that ``start`` changed on the host; idempotent."""
    if running():
        # A container that will not go is still reported: by the caller's check of the
        # host (its processes, cgroups and mounts), once the daemon has gone.
        with contextlib.suppress(RuntimeError):
            clear_inside()
    for name, grace in (("dockerd", 30.0), ("slirp4netns", 5.0)):
        _end(RUN / f"{name}.launched", grace)
    if NETNS_PATH.exists():
        subprocess.run(["ip", "netns", "del", NETNS], check=False)
    for hierarchy in CGROUPS.iterdir() if CGROUPS.is_dir() else ():
        _remove_cgroup(hierarchy / CGROUP_PARENT)
    if MADE_LIB_MODULES.exists():
        # Not when something of the host's own is in it by now: not ours to remove.
        with contextlib.suppress(OSError):
            Path("/lib/modules").rmdir()
    empty = NETNS_DIR.is_dir() and not any(NETNS_DIR.iterdir())
    if MADE_NETNS_MOUNT.exists() and empty and _mounted(NETNS_DIR):
        subprocess.run(["umount", str(NETNS_DIR)], check=False)
    if MADE_NETNS_DIR.exists() and empty and not _mounted(NETNS_DIR):
        NETNS_DIR.rmdir()
    shutil.rmtree(RUN, ignore_errors=True)


def _mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point (a bind mount of a directory onto itself, as ``ip
    netns`` makes /run/netns, is one, though Path.is_mount cannot tell it)."""
    return any(
        line.split()[4] == str(path)
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    )


def _end(pid_file: Path, grace: float) -> None:
    """SIGTERM to the process started as ``pid_file`` says, SIGKILL after ``grace``."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (reaped here when it is our child and a zombie)."""
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass  # not our child (a run before this one started it)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"


def _remove_cgroup(path: Path) -> None:
    """A cgroup and its children, deepest first (a cgroup is removed with rmdir, once no
    process is left in it)."""
    if not path.is_dir():
        return
    inner = sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for cgroup in (*inner, path):
        with contextlib.suppress(OSError):  # a process is still in it: a leftover to report
            cgroup.rmdir()

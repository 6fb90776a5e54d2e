"""The plane's opt-in real node (``NODE=real``): kubelet and kube-proxy v1.34 built like
the other binaries, Debian's containerd, runc and CNI plugins, running real containers.

The node's network is a network namespace of its own (``obreg-node``): containerd,
kubelet and kube-proxy run in it, so the CNI bridge, the pods' namespaces, kube-proxy's
and kubelet's iptables rules and IPv4 forwarding are all inside it, and the host's own
rules and sysctls are never touched. A veth pair joins it to the host; everything sits
in 198.18.0.0/15, the range reserved for network tests (RFC 2544): the pair's /30 (the
host's end, where the API server and the KM double listen, and the node's address),
pods on a bridge of their own, Services. Pods reach the host masqueraded as the node's
address, so the host needs no route to them, and the host forwards nothing (its
forwarding setting is left alone), so nothing of the node leaves this machine. Deleting
the namespace removes all of it. Names are fixed (one real node per machine at a time),
which lets ``teardown`` find and remove what a killed run left behind (including, on
the host, the chains, the ``lo`` address and the forwarding setting of runs from before
the namespace), and ``start`` begins with it.

Why the settings below, found on this kind of VM:
- it takes CAP_SYS_RESOURCE from every process, so runc cannot set a negative
  ``oom_score_adj``: containerd's ``restrict_oom_score_adj``;
- cgroup v1: kubelet's ``failCgroupV1: false`` and the cgroupfs driver, under a cgroup
  root of our own so teardown removes exactly what the node made;
- no dummy interfaces (veth pairs and network namespaces work).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

NAME = "obreg-node-0"
NODE_IP = "198.18.2.1"  # the node's end of the veth pair, in its namespace
HOST_IP = "198.18.2.2"  # the host's end: the API server and the KM double listen here
LINK_PREFIX = 30
NETNS = "obreg-node"
NETNS_PATH = Path("/run/netns") / NETNS
HOST_VETH = "obreg-host"
NODE_VETH = "obreg-node"  # inside the namespace
POD_CIDR = "198.18.0.0/24"
SERVICE_CIDR = "198.18.1.0/24"
SERVICE_IP = "198.18.1.1"  # the kubernetes Service: the first address of SERVICE_CIDR
TEST_NET = "198.18.0.0/15"
BRIDGE = "obreg0"
# What nodes from before the namespace left on the host, which teardown still removes:
# their firewall chains, and the forwarding setting they kept to put back.
CHAIN = "OBREG-NODE"
FORWARD_CHAIN = "OBREG-NODE-FORWARD"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
FORWARDING_KEPT = Path("/run/obreg-node-ip-forward")
CGROUP_ROOT = "obreg-node"
SANDBOX_IMAGE = "localhost/obreg/pause:3.10"
CGROUPS = Path("/sys/fs/cgroup")
CONTAINERD = Path("/usr/bin/containerd")
CTR = Path("/usr/bin/ctr")
CNI_BIN = Path("/usr/lib/cni")
CNI_CACHE = Path("/var/lib/cni/results")
NETWORK = "obreg"  # the CNI network's name
SHIM_SOCKETS = Path("/run/containerd/s")
# Paths kubelet, containerd's shims and the CNI library use whatever they are told; a
# node removes them after itself when they are empty (children before parents).
FIXED_DIRS = tuple(
    Path(p)
    for p in (
        "/var/lib/kubelet/device-plugins", "/var/lib/kubelet", "/var/log/containers",
        str(CNI_CACHE), "/var/lib/cni", str(SHIM_SOCKETS), "/run/containerd",
    )
)  # fmt: skip
DRAIN_TIMEOUT = 60.0


class HostError(RuntimeError):
    """The machine lacks what a real node needs; the message says what to install."""


def check_host() -> None:
    """Fail early and clearly when a package the node needs is missing."""
    missing = [
        package
        for package, path in (
            ("containerd", CONTAINERD),
            ("runc", Path("/usr/sbin/runc")),
            ("containernetworking-plugins", CNI_BIN / "bridge"),
            ("iptables", Path("/usr/sbin/iptables")),
        )
        if not path.exists()
    ]
    if missing:
        raise HostError(
            f"the real node needs Debian's {', '.join(missing)}: run `make real-node-deps`"
        )
    if os.geteuid() != 0:
        raise HostError("the real node needs root (it makes mounts, interfaces and cgroups)")


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def _iptables(*args: str) -> bool:
    return _run("iptables", "-w", *args, check=False).returncode == 0


def in_netns(argv: Sequence[str]) -> list[str]:
    """``argv`` run in the node's network namespace (and only that: nsenter execs it, so
    the process keeps its pid and shares the host's mounts, which containerd needs)."""
    return ["nsenter", f"--net={NETNS_PATH}", "--", *argv]


def _node_run(*argv: str) -> None:
    _run(*in_netns(argv))


# -- host set-up ---------------------------------------------------------------------


def prepare_host() -> None:
    """The node's network namespace joined to the host by the veth pair, its forwarding
    and masquerade, and the cgroup root (teardown undoes each)."""
    _run("ip", "netns", "add", NETNS)
    _run("ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", NODE_VETH,
         "netns", NETNS)  # fmt: skip
    _run("ip", "addr", "add", f"{HOST_IP}/{LINK_PREFIX}", "dev", HOST_VETH)
    _run("ip", "link", "set", HOST_VETH, "up")
    _node_run("ip", "link", "set", "lo", "up")
    _node_run("ip", "addr", "add", f"{NODE_IP}/{LINK_PREFIX}", "dev", NODE_VETH)
    _node_run("ip", "link", "set", NODE_VETH, "up")
    _node_run("ip", "route", "add", "default", "via", HOST_IP)
    # The namespace routes between its pods' bridge and the pair (the bridge plugin
    # would turn this on too); pods leave it as the node's address, which the host
    # reaches on its own end of the pair, so the host needs no route to the pods.
    _node_run("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
    _node_run("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", POD_CIDR,
              "-o", NODE_VETH, "-j", "MASQUERADE")  # fmt: skip
    for controller in _cgroup_controllers():
        (controller / CGROUP_ROOT).mkdir(exist_ok=True)


def _cgroup_controllers() -> list[Path]:
    return [p for p in CGROUPS.iterdir() if p.is_dir() and not p.is_symlink()]


# -- configuration files -------------------------------------------------------------


def containerd_config(root: Path) -> Path:
    """containerd with its CRI plugin, every path under ``root``."""
    (root / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
    (root / "cni" / "net.d" / "10-obreg.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": NETWORK,
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": BRIDGE,
                        "isGateway": True,
                        "ipMasq": False,  # nothing leaves the machine
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": POD_CIDR}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                            "dataDir": str(root / "cni" / "ipam"),
                        },
                    }
                ],
            },
            indent=2,
        )
    )
    config = root / "containerd.toml"
    config.write_text(
        f"""version = 2
root = "{root / "containerd"}"
state = "{root / "containerd-state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "{socket(root)}"
[ttrpc]
  address = "{root / "containerd.sock.ttrpc"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{SANDBOX_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{root / "cni" / "net.d"}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
      Root = "{root / "runc"}"
"""
    )
    return config


def socket(root: Path) -> Path:
    return root / "containerd.sock"


def kubelet_config(root: Path, ca_cert: Path, port: int, healthz_port: int) -> Path:
    """KubeletConfiguration (JSON is YAML): webhook authn/z, every path under ``root``."""
    config = root / "kubelet.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "kind": "KubeletConfiguration",
                "failCgroupV1": False,
                "cgroupDriver": "cgroupfs",
                "cgroupRoot": f"/{CGROUP_ROOT}",
                "address": NODE_IP,
                "port": port,
                "readOnlyPort": 0,
                "healthzBindAddress": "127.0.0.1",
                "healthzPort": healthz_port,
                "authentication": {
                    "anonymous": {"enabled": False},
                    "webhook": {"enabled": True},
                    "x509": {"clientCAFile": str(ca_cert)},
                },
                "authorization": {"mode": "Webhook"},
                "containerRuntimeEndpoint": f"unix://{socket(root)}",
                "podLogsDir": str(root / "pod-logs"),
                "failSwapOn": False,
                "resolvConf": "/etc/resolv.conf",
                "registerNode": True,
                "serializeImagePulls": False,
                # Images are imported, never pulled: never collect them.
                "imageGCHighThresholdPercent": 100,
                "imageGCLowThresholdPercent": 99,
                # The test machine's disk may be fuller than kubelet's defaults like.
                "evictionHard": {
                    "memory.available": "100Mi",
                    "nodefs.available": "1%",
                    "imagefs.available": "1%",
                },
                "localStorageCapacityIsolation": True,
            },
            indent=2,
        )
    )
    return config


def kube_proxy_config(root: Path, kubeconfig: Path, healthz_port: int, metrics_port: int) -> Path:
    """iptables mode; conntrack sysctls left alone (zeros), NodePorts on the node address
    only (so kube-proxy does not turn on route_localnet)."""
    config = root / "kube-proxy.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                "kind": "KubeProxyConfiguration",
                "mode": "iptables",
                "clientConnection": {"kubeconfig": str(kubeconfig)},
                "hostnameOverride": NAME,
                "bindAddress": NODE_IP,
                "healthzBindAddress": f"127.0.0.1:{healthz_port}",
                "metricsBindAddress": f"127.0.0.1:{metrics_port}",
                "clusterCIDR": POD_CIDR,
                "nodePortAddresses": [f"{NODE_IP}/32"],
                "conntrack": {
                    "maxPerCore": 0,
                    "min": 0,
                    "tcpEstablishedTimeout": "0s",
                    "tcpCloseWaitTimeout": "0s",
                },
            },
            indent=2,
        )
    )
    return config


# -- images ----------------------------------------------------------------------------


def import_image(ctr: Sequence[str], archive: Path) -> None:
    """Load an image archive (docker-archive or OCI) into the CRI's image namespace, also
    under its digest reference (repository@sha256:...), as a pull from a registry would
    record it, so that a pod may name the image by digest. ``ctr`` is the command that
    reaches the node's containerd (``ctr_of`` here; ``docker exec`` for kind's), which
    reads the archive from its standard input."""
    with archive.open("rb") as source:
        imported = subprocess.run(
            [*ctr, "images", "import", "-"], stdin=source, capture_output=True, check=True
        ).stdout.decode()
    for line in imported.splitlines():
        if line.startswith("unpacking "):
            ref = line.split()[1]
            repository = ref.rsplit(":", 1)[0]
            digest = image_digest(ctr, ref)
            _run(*ctr, "images", "tag", "--force", ref, f"{repository}@{digest}")


def image_digest(ctr: Sequence[str], ref: str) -> str:
    """The manifest digest the node knows an image by (what ``image.digest`` names)."""
    for line in _run(*ctr, "images", "ls").stdout.splitlines()[1:]:
        name, _, digest = line.split()[:3]
        if name == ref:
            return digest
    raise LookupError(f"{ref} is not on the node")


def ctr_of(root: Path) -> list[str]:
    """ctr on this node's containerd, in the namespace kubelet's images live in."""
    return [str(CTR), "--address", str(socket(root)), "-n", "k8s.io"]


# -- teardown --------------------------------------------------------------------------


def tasks(root: Path) -> list[str]:
    """The containers containerd still runs (pod sandboxes included)."""
    if not socket(root).exists():
        return []
    result = _run(*ctr_of(root), "tasks", "ls", "-q", check=False)
    return result.stdout.split() if result.returncode == 0 else []


def tasks_ok(root: Path) -> bool:
    """Whether containerd answers on its socket."""
    return _run(str(CTR), "--address", str(socket(root)), "version", check=False).returncode == 0


def await_no_tasks(root: Path, timeout: float = DRAIN_TIMEOUT) -> bool:
    """Poll until kubelet stopped every sandbox (which also undoes its network)."""
    deadline = time.monotonic() + timeout
    while tasks(root):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def teardown(root: Path | None) -> None:
    """Remove everything a real node makes, whether or not it is running: its containers,
    shims, mounts, network namespace (with its pod network, rules and forwarding), veth
    pair and cgroups. Safe to run twice; with no ``root``, it removes what any earlier
    plane's node left (a run killed hard), and what nodes from before the namespace left
    on the host itself: the bridge, iptables chains, ``lo`` address and forwarding.
    """
    _kill_cgroup_tasks()
    _kill_shims(root)
    _unmount(root)
    _run("ip", "link", "del", HOST_VETH, check=False)
    _run("ip", "netns", "del", NETNS, check=False)
    _run("ip", "link", "del", BRIDGE, check=False)
    _remove_cni_cache()
    for family in ("iptables", "ip6tables"):
        _remove_kube_rules(family)
    for builtin, rule in (
        ("INPUT", ["-d", TEST_NET, "-j", CHAIN]),
        ("FORWARD", ["-d", TEST_NET, "-j", FORWARD_CHAIN]),
        ("FORWARD", ["-s", TEST_NET, "-j", FORWARD_CHAIN]),
    ):
        while _iptables("-D", builtin, *rule):
            pass
    for chain in (CHAIN, FORWARD_CHAIN):
        _iptables("-F", chain)
        _iptables("-X", chain)
    if FORWARDING_KEPT.exists():
        IP_FORWARD.write_text(FORWARDING_KEPT.read_text())
        FORWARDING_KEPT.unlink()
    _run("ip", "addr", "del", f"{NODE_IP}/32", "dev", "lo", check=False)
    for controller in _cgroup_controllers():
        _remove_cgroup(controller / CGROUP_ROOT)
    for link in Path("/var/log/containers").glob("*.log"):
        # kubelet's symlinks to pod logs (a fixed path): this node's point under its root.
        if link.is_symlink() and _ours(os.readlink(link), root):
            link.unlink()
    # Shims' sockets sit at a fixed path; one that no process listens on is dead, whoever
    # left it (a shim killed hard cannot remove its own).
    bound = {line.split()[-1] for line in Path("/proc/net/unix").read_text().splitlines()[1:]}
    for shim_socket in SHIM_SOCKETS.glob("*"):
        if str(shim_socket) not in bound:
            shim_socket.unlink(missing_ok=True)
    # kubelet's device-plugin socket: a fixed path whatever its root directory.
    (FIXED_DIRS[0] / "kubelet.sock").unlink(missing_ok=True)
    for directory in FIXED_DIRS:
        with contextlib.suppress(OSError):
            directory.rmdir()  # only when empty, so never what something else still uses


def _remove_cni_cache() -> None:
    """containerd's CNI library keeps each attachment's result at a fixed path until the
    sandbox's network is undone: ours are the network's name and their loopbacks."""
    ours = list(CNI_CACHE.glob(f"{NETWORK}-*"))
    ids = {path.name.removeprefix(f"{NETWORK}-").rsplit("-", 1)[0] for path in ours}
    ours += [p for p in CNI_CACHE.glob("cni-loopback-*") if p.name.split("-")[2] in ids]
    for path in ours:
        path.unlink(missing_ok=True)


def _remove_kube_rules(family: str) -> None:
    """kubelet's and kube-proxy's chains (KUBE-*) and the rules that jump to them, in
    every table, so no rule outlives the node (neither removes them when it stops)."""
    table = ""
    jumps: list[tuple[str, list[str]]] = []
    chains: list[tuple[str, str]] = []
    for line in _run(f"{family}-save", check=False).stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":KUBE-"):
            chains.append((table, line[1:].split()[0]))
        elif (
            line.startswith("-A ")
            and not line.split()[1].startswith("KUBE-")
            and " -j KUBE-" in line
        ):
            jumps.append((table, shlex.split(line)[1:]))
    for table, rule in jumps:
        _run(family, "-w", "-t", table, "-D", *rule, check=False)
    for table, chain in chains:
        _run(family, "-w", "-t", table, "-F", chain, check=False)
    for table, chain in chains:
        _run(family, "-w", "-t", table, "-X", chain, check=False)


def leftovers() -> list[str]:
    """What of a real node is still on this machine: empty once ``teardown`` ran (a check
    of the teardown itself, which ``make e2e-real`` runs after the tier)."""
    found = [f"mount {m}" for m in _mount_points() if _ours(m, None)]
    found += [f"interface {i}" for i in (BRIDGE, HOST_VETH) if Path(f"/sys/class/net/{i}").exists()]
    if NETNS_PATH.exists():
        found.append(f"network namespace {NETNS}")
    if NODE_IP in _run("ip", "-o", "addr", "show", "dev", "lo").stdout:
        found.append(f"address {NODE_IP} on lo")
    for family in ("iptables", "ip6tables"):
        rules = _run(f"{family}-save", check=False).stdout.splitlines()
        found += [f"{family}: {r}" for r in rules if "KUBE-" in r or CHAIN in r]
    cgroups = [c / CGROUP_ROOT for c in _cgroup_controllers()]
    found += [f"cgroup {c}" for c in cgroups if c.exists()]
    found += [f"process {pid}: {' '.join(argv)[:120]}" for pid, argv in _node_processes()]
    found += [f"directory {d}" for d in FIXED_DIRS if d.exists()]
    if FORWARDING_KEPT.exists():
        found.append(f"ip_forward {IP_FORWARD.read_text().strip()}, to be put back")
    return found


def _node_processes() -> list[tuple[int, list[str]]]:
    """Processes of any plane's node (shims, containerd, kubelet, kube-proxy): an
    argument, or a flag's value, under a node's root."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(_ours(a.split("=", 1)[-1], None) for a in argv):
            found.append((int(proc.name), argv))
    return found


def _mount_points() -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def _ours(path: str, root: Path | None) -> bool:
    """Whether ``path`` is under this node's root, or, with none, under any plane's."""
    if root is not None:
        return path.startswith(str(root) + "/")
    return "/obreg-plane-" in path and "/node/" in path


def _kill_cgroup_tasks() -> None:
    """Containers whose shim is gone live on: kill every process in the node's cgroups."""
    for procs in (CGROUPS / "pids" / CGROUP_ROOT).rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def _kill_shims(root: Path | None) -> None:
    """containerd's shims leave its process group on purpose; find ours by address."""
    for pid, argv in _node_processes():
        if argv[0].endswith("containerd-shim-runc-v2") and any(_ours(a, root) for a in argv):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _unmount(root: Path | None) -> None:
    """Every mount below the node's root, deepest first (rootfs overlays, shm, netns)."""
    for point in sorted({m for m in _mount_points() if _ours(m, root)}, key=len, reverse=True):
        _run("umount", "-l", point, check=False)


def _remove_cgroup(path: Path) -> None:
    """A cgroup directory is removed with rmdir, children first, once its tasks are gone."""
    if not path.is_dir():
        return
    children = sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for child in [*children, path]:
        with contextlib.suppress(OSError):
            child.rmdir()

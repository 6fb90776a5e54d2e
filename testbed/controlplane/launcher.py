"""Start and stop a real control plane on loopback: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok with one fake Node; with ``node="real"``
also a real node (containerd, kubelet, kube-proxy: see node.py) that runs containers.

One class serves three callers: ``make cluster-up``/``cluster-down`` (detached, state kept
in a file), the pytest session fixture (tied to the test process, torn down in a
finaliser) and the benchmarks. Every run gets free ports and a fresh temporary directory;
teardown kills every process group it started and removes the directory, so nothing is
left behind even when a test fails. A component that does not come up in time fails the
start with the tail of its own log, because "timed out" alone tells nobody anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import build, images, node, pki

FAKE_NODE = "kwok-node-0"
# Workloads meant for the fake node tolerate this taint; nothing else lands there.
FAKE_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
FAKE_NODE_CAPACITY = {"cpu": "1k", "memory": "1Ti", "pods": "1M", "ephemeral-storage": "1Ti"}
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 40


class StartError(RuntimeError):
    """A component did not become ready; the message carries its log tail."""


# Ports handed out by this process: a component binds its port only once started, so
# the same port must not be handed out twice before that.
_HANDED_OUT: set[int] = set()
_LOWEST_PORT = 10_000


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ports it picks itself (outgoing connections, binds to 0)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def free_port() -> int:
    """A loopback port free now, for a component to bind later. Taken below the kernel's
    ephemeral range: a port the kernel picked (bind to 0) could be picked again for any
    outgoing connection before the component binds it, and a plane started beside
    another busy one failed so ("address already in use"). Chosen at random and probed,
    so two planes starting at once rarely try the same one."""
    low, _ = _ephemeral_range()
    candidates = range(_LOWEST_PORT, low)
    for _ in range(200):
        port = random.choice(candidates) if len(candidates) > 1_000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # someone listens there
            found = int(sock.getsockname()[1])
        if found not in _HANDED_OUT:
            _HANDED_OUT.add(found)
            return found
    raise RuntimeError("no free loopback port below the ephemeral range")


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the parent dies, so a test run killed
    hard (where no finaliser runs) still leaves no component behind."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:])


@dataclass
class ControlPlane:
    """A running plane. Use as a context manager, or ``start()`` / ``stop()``."""

    tie_to_parent: bool = True
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="obreg-plane-")))
    components: list[Component] = field(default_factory=list)
    binaries: dict[str, Path] = field(default_factory=dict)
    apiserver_port: int = 0
    node: str = "kwok"  # or "real": a kubelet node running real containers as well
    # The Kubernetes minor (a key of build.PLANES): $OBREG_K8S_VERSION, else the newest.
    kubernetes: str = field(default_factory=build.selected_version)

    @property
    def real(self) -> bool:
        return self.node == "real"

    @property
    def address(self) -> str:
        """Where the API server listens: loopback, or the host's end of the real node's
        veth pair (which the node reaches, and its pods through the kubernetes Service)."""
        return node.HOST_IP if self.real else "127.0.0.1"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        """Every write request, with who made it (JSON lines; see testbed/audit_log.py)."""
        return self.root / "audit.log"

    @property
    def server(self) -> str:
        return f"https://{self.address}:{self.apiserver_port}"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- start ------------------------------------------------------------------------

    def _audit_policy(self) -> Path:
        """Writes, and obreg's reads, at Metadata level: small, and enough to say who
        wrote what."""
        policy = self.root / "audit-policy.yaml"
        policy.write_text(
            "apiVersion: audit.k8s.io/v1\n"
            "kind: Policy\n"
            "omitStages: [RequestReceived]\n"
            "rules:\n"
            "- level: Metadata\n"
            "  verbs: [create, update, patch, delete, deletecollection]\n"
            # obreg's reads too (its ServiceAccount's namespace), so that a test can see
            # the reads API Priority and Fairness refused.
            "- level: Metadata\n"
            "  userGroups: [system:serviceaccounts:obreg-system]\n"
            "  verbs: [get, list]\n"
            "- level: None\n"
        )
        return policy

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.binaries = build.build_all(self.kubernetes)
        if self.real:
            node.check_host()
            node_binaries = build.build(build.node_family(self.kubernetes))
            self.binaries.update(
                kubelet=node_binaries / "kubelet",
                **{"kube-proxy": node_binaries / "kube-proxy"},
                containerd=node.CONTAINERD,
            )
            node.teardown(None)  # what a killed run left
            node.prepare_host()
        files = pki.generate(self.root / "pki")
        self.pki = files
        etcd_client, etcd_peer = free_port(), free_port()
        self.apiserver_port = free_port()

        etcd_url = f"http://127.0.0.1:{etcd_client}"
        self._spawn(
            "etcd",
            [
                "--name=obreg",
                f"--data-dir={self.root / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=obreg=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._await("etcd", lambda: self._http_ok(f"{etcd_url}/health"))

        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={etcd_url}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                # The real node's pods reach the server through the kubernetes Service,
                # whose endpoint the default reconciler keeps; loopback cannot be one.
                *([] if self.real else ["--endpoint-reconciler-type=none"]),
                # kubelet's address for logs and exec: the node has no name in DNS.
                "--kubelet-preferred-address-types=InternalIP",
                *self._kubelet_client(files),
                f"--secure-port={self.apiserver_port}",
                f"--tls-cert-file={files.serving_cert}",
                f"--tls-private-key-file={files.serving_key}",
                f"--client-ca-file={files.ca_cert}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={files.sa_pub}",
                f"--service-account-signing-key-file={files.sa_key}",
                f"--service-cluster-ip-range={node.SERVICE_CIDR if self.real else '10.0.0.0/24'}",
                "--authorization-mode=Node,RBAC",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                f"--audit-policy-file={self._audit_policy()}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-maxsize=0",
            ],
        )
        write_kubeconfig(self.kubeconfig, self.server, files.ca_cert, files.admin_cert,
                         files.admin_key)  # fmt: skip
        self._await("kube-apiserver", lambda: self._api_ok("/readyz"))

        self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--controllers=*",
                f"--service-account-private-key-file={files.sa_key}",
                f"--root-ca-file={files.ca_cert}",
                "--use-service-account-credentials=true",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                # Garbage collection and rollouts must be prompt in tests.
                "--concurrent-gc-syncs=5",
                # The fake node's lease must outlive the plane's own outages (tests/faults
                # stops the API server for 60 s and etcd for 20 s): once marked NotReady,
                # its pods stay NotReady (kwok does not make them Ready again) until they
                # are evicted minutes later, and every rollout waits for that.
                "--node-monitor-grace-period=180s",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
            ],
        )
        stages = sorted(self.binaries["kwok-stages"].glob("*.yaml"))
        self._spawn(
            "kwok",
            [
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--server-address=127.0.0.1:{free_port()}",
                "--node-ip=127.0.0.1",
                # The heartbeat stage renews a node Lease, which kwok only keeps with this
                # set; without it the node controller misses heartbeats after ~50 s and
                # marks every pod NotReady for good.
                "--node-lease-duration-seconds=40",
                *[f"--config={stage}" for stage in stages],
            ],
        )
        self._create_fake_node()
        self._await("kwok", self._fake_node_ready)
        # Pods cannot be created in a namespace before its default ServiceAccount exists.
        self._await(
            "kube-controller-manager",
            lambda: self._api_ok("/api/v1/namespaces/default/serviceaccounts/default"),
        )
        self._await("kube-scheduler", self._scheduler_ready)
        if self.real:
            self._start_real_node(files)

    def _kubelet_client(self, files: pki.PkiFiles) -> list[str]:
        """The API server's identity towards kubelet (logs, exec, port-forward), which
        kubelet's webhook authorizer asks the server itself about."""
        if not self.real:
            return []
        cert, key = pki.client(files, "apiserver-kubelet", "kube-apiserver-kubelet-client",
                               "system:masters")  # fmt: skip
        return [f"--kubelet-client-certificate={cert}", f"--kubelet-client-key={key}"]

    def _start_real_node(self, files: pki.PkiFiles) -> None:
        """containerd with the sandbox image loaded, then kubelet and kube-proxy, each
        with a client certificate of its own identity; returns once the node is Ready."""
        root = self.node_root
        root.mkdir()
        self._spawn("containerd", [f"--config={node.containerd_config(root)}"], in_node=True)
        self._await("containerd", lambda: node.socket(root).exists() and node.tasks_ok(root))
        node.import_image(node.ctr_of(root), images.archive(images.pause(), root / "pause.tar"))
        identities = {
            "kubelet": (f"system:node:{node.NAME}", "system:nodes"),
            "kube-proxy": ("system:kube-proxy", None),
        }
        kubeconfigs = {}
        for name, (common_name, group) in identities.items():
            cert, key = pki.client(files, name, common_name, group)
            kubeconfigs[name] = write_kubeconfig(
                root / f"{name}.kubeconfig", self.server, files.ca_cert, cert, key
            )
        kubelet = node.kubelet_config(root, files.ca_cert, free_port(), free_port())
        self._spawn(
            "kubelet",
            [
                f"--config={kubelet}",
                f"--kubeconfig={kubeconfigs['kubelet']}",
                f"--hostname-override={node.NAME}",
                f"--node-ip={node.NODE_IP}",
                f"--root-dir={root / 'kubelet'}",
                f"--cert-dir={root / 'kubelet-pki'}",
                "--v=1",
            ],
            in_node=True,
        )
        proxy = node.kube_proxy_config(root, kubeconfigs["kube-proxy"], free_port(), free_port())
        self._spawn("kube-proxy", [f"--config={proxy}", "--v=1"], in_node=True)
        self._await("kubelet", lambda: self._node_ready(node.NAME))

    # -- what tests/real asks of a cluster with a real node (kind.KindCluster too) -----

    def load_image(self, archive: Path) -> None:
        """Make an image archive (images.archive) available to the real node's pods."""
        node.import_image(node.ctr_of(self.node_root), archive)

    def image_digest(self, ref: str) -> str:
        return node.image_digest(node.ctr_of(self.node_root), ref)

    @property
    def node_name(self) -> str:
        return node.NAME

    @property
    def host_address(self) -> str:
        """Where the node's pods reach a server on this machine (the KM double): the
        host's end of the veth pair."""
        return node.HOST_IP

    @property
    def node_root(self) -> Path:
        return self.root / "node"

    def _spawn(self, name: str, args: list[str], in_node: bool = False) -> None:
        """Start a component; ``in_node``: in the real node's network namespace."""
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = [str(self.binaries[name]), *args]
        component = Component(name, node.in_netns(argv) if in_node else argv, log)
        self._run(component)
        self.components.append(component)

    def _run(self, component: Component) -> None:
        # Appended to: a component restarted by a fault test keeps its earlier log.
        with component.log.open("ab") as sink:
            component.process = subprocess.Popen(
                component.argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env={**os.environ, "HOME": str(self.root)},
                start_new_session=True,
                preexec_fn=_die_with_parent if self.tie_to_parent else None,
            )

    def _await(self, name: str, check: Callable[[], bool]) -> None:
        component = next(c for c in self.components if c.name == name)

        def alive_and_ready() -> bool:
            assert component.process is not None
            if component.process.poll() is not None:
                raise StartError(
                    f"{name} exited with code {component.process.returncode}; "
                    f"log {component.log}:\n{component.log_tail()}"
                )
            return check()

        try:
            wait_until(alive_and_ready, START_TIMEOUT, name)
        except TimeoutError as err:
            raise StartError(f"{err}; log {component.log}:\n{component.log_tail()}") from None

    # -- faults (tests/faults) ---------------------------------------------------------

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    def stop_component(self, name: str, hard: bool = False) -> None:
        """Stop one component: SIGTERM with a grace period, or SIGKILL (``hard``)."""
        component = self.component(name)
        assert component.process is not None, f"{name} is not running"
        if hard:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(component.process.pid, signal.SIGKILL)
        else:
            stop_process_group(component.process.pid)
        component.process.wait()
        component.process = None

    def start_component(self, name: str, flags: Mapping[str, str] | None = None) -> None:
        """Start a stopped component again with the same arguments (``flags`` replaces or
        adds ``--flag=value`` ones) and wait until it serves."""
        component = self.component(name)
        assert component.process is None, f"{name} is running"
        for flag, value in (flags or {}).items():
            component.argv = [a for a in component.argv if not a.startswith(f"{flag}=")]
            component.argv.append(f"{flag}={value}")
        self._run(component)
        checks: dict[str, Callable[[], bool]] = {
            "etcd": lambda: self._http_ok(f"{self.etcd_url}/health"),
            "kube-apiserver": lambda: self._api_ok("/readyz"),
        }
        self._await(name, checks.get(name, lambda: True))

    def start_stopped(self) -> None:
        """Start whatever a fault test left stopped (it failed before restarting it)."""
        for component in self.components:
            if component.process is None:
                self.start_component(component.name)

    @property
    def etcd_url(self) -> str:
        etcd = self.component("etcd")
        return next(a.split("=", 1)[1] for a in etcd.argv if a.startswith("--listen-client-urls="))

    # -- probes -----------------------------------------------------------------------

    @staticmethod
    def _http_ok(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return context

    def request(
        self,
        path: str,
        method: str = "GET",
        body: Mapping[str, object] | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        """A request as cluster admin. Kept here so the launcher needs no Kubernetes client
        library."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, context=self._ssl_context(), timeout=5) as response:
            return bytes(response.read())

    def api(
        self, path: str, method: str = "GET", body: Mapping[str, object] | None = None
    ) -> object:
        """Like ``request``, for JSON answers."""
        return json.loads(self.request(path, method, body) or b"null")

    def _api_ok(self, path: str) -> bool:
        try:
            self.request(path)
            return True
        except (urllib.error.URLError, OSError):
            return False

    def _create_fake_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": FAKE_NODE,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"type": "kwok", "kubernetes.io/hostname": FAKE_NODE},
            },
            "spec": {"taints": [FAKE_NODE_TAINT]},
            # kwok's defaults with ephemeral-storage added, which every kubelet reports:
            # without it, a pod that requests local storage is never scheduled.
            "status": {"capacity": FAKE_NODE_CAPACITY, "allocatable": FAKE_NODE_CAPACITY},
        }
        self.api("/api/v1/nodes", "POST", node)

    def _fake_node_ready(self) -> bool:
        return self._node_ready(FAKE_NODE)

    def _node_ready(self, name: str) -> bool:
        try:
            found = self.api(f"/api/v1/nodes/{name}")
        except (urllib.error.URLError, OSError):
            return False
        assert isinstance(found, dict)
        conditions = found.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _scheduler_ready(self) -> bool:
        scheduler = next(c for c in self.components if c.name == "kube-scheduler")
        port = next(a.split("=", 1)[1] for a in scheduler.argv if a.startswith("--secure-port="))
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the scheduler's own self-signed serving cert
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}/healthz", context=context, timeout=2
            ) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    # -- stop -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every component (reverse order), then remove the run directory."""
        if self.real:
            self._drain_real_node()
        for component in reversed(self.components):
            if component.process is not None:
                stop_process_group(component.process.pid)
                component.process.wait()
        self.components.clear()
        if self.real:
            node.teardown(self.node_root)
        shutil.rmtree(self.root, ignore_errors=True)

    def _drain_real_node(self) -> None:
        """Stop what recreates pods, delete the node's pods, and wait for containerd's
        tasks to end: only kubelet stops sandboxes and undoes their network, and an API
        deletion returns before it has (teardown kills whatever is left anyway)."""
        names = [c.name for c in self.components if c.process is not None]
        if "kubelet" not in names or "kube-apiserver" not in names:
            return
        for name in ("kube-controller-manager", "kube-scheduler"):
            if name in names:
                self.stop_component(name)
        with contextlib.suppress(urllib.error.URLError, OSError):
            pods = self.api(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node.NAME}")
            assert isinstance(pods, dict)
            for pod in pods["items"]:
                meta = pod["metadata"]
                self.request(
                    f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                    "DELETE",
                    {"gracePeriodSeconds": 0},
                )
        node.await_no_tasks(self.node_root)

    # -- detached use (make cluster-up / cluster-down) --------------------------------

    def state(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "kubeconfig": str(self.kubeconfig),
            "pids": [c.process.pid for c in self.components if c.process is not None],
            "node": self.node,
            "kubernetes": self.kubernetes,
        }


def stop_process_group(pid: int) -> None:
    """SIGTERM the group, then SIGKILL whatever is still there after the grace period."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        # A child of ours stays a zombie (and killpg keeps seeing it) until reaped.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop_detached(state: dict[str, object]) -> None:
    """Tear down a plane started by ``cluster-up`` in another process."""
    pids = state.get("pids", [])
    assert isinstance(pids, list)
    for pid in reversed(pids):
        stop_process_group(int(pid))
    if state.get("node") == "real":
        node.teardown(Path(str(state["root"])) / "node")
    shutil.rmtree(str(state["root"]), ignore_errors=True)


def token_kubeconfig(admin_kubeconfig: Path, token: str, target: Path) -> Path:
    """A kubeconfig for the same API server that authenticates with ``token`` alone (no
    admin client certificate, which the server would otherwise prefer), to act as
    another identity such as a ServiceAccount."""
    cluster = json.loads(admin_kubeconfig.read_text())["clusters"][0]["cluster"]
    target.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "as-token",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "as-token", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    target.chmod(0o600)
    return target


def write_kubeconfig(target: Path, server: str, ca: Path, cert: Path, key: Path) -> Path:
    """A kubeconfig for one client certificate (JSON is YAML; every reader accepts it)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "obreg", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [
            {"name": "admin", "user": {"client-certificate": str(cert), "client-key": str(key)}}
        ],
        "contexts": [{"name": "obreg", "context": {"cluster": "obreg", "user": "admin"}}],
        "current-context": "obreg",
    }
    target.write_text(json.dumps(config, indent=2))
    target.chmod(0o600)
    return target

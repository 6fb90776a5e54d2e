"""kind's node image for the Kubernetes version the plane builds, assembled here without a
registry, as kind-config.yaml names it, and reused while its recipe is unchanged.

``kind build node-image`` cannot run on this machine: it waits for containerd with ``ctr
info``, which Debian's containerd 1.6 lacks, and it pulls every image the Kubernetes
release archives do not hold (etcd, CoreDNS, pause, kindnetd, local-path-provisioner)
from a registry. So the image is assembled the way kind's build assembles it, from what
this project builds anyway:

- the root file system: debootstrap's minbase of Debian 12 with systemd, containerd,
  runc, the CNI plugins and iptables (Debian's packages), kubelet (the real node's
  build), kubectl (the plane's) and kubeadm (testbed/kind/tools.py), and files of our own
  in the roles of kind's: an entrypoint, the kubelet's unit, containerd's configuration, a
  bridge CNI configuration, /kind/version and /kind/manifests;
- the images kubeadm names for this version (``kubeadm config images list``), built with
  buildah from the plane's binaries: the control plane's components and etcd from
  scratch, kube-proxy on the Debian base with iptables, CoreDNS from the Go module proxy,
  the pause image of the real node; and local-path-provisioner for the default
  StorageClass. They are imported into the node's containerd (namespace k8s.io) without
  unpacking, as kind's build does, in a container of the root file system, which is then
  committed with kind's entrypoint semantics.

Two choices differ from kind's own image. kindnetd, kind's CNI, is on no registry this
machine reaches: a single node needs no routes to others, so the bridge plugin with a
static range (the node's pod CIDR, 10.244.0.0/24 of kind's default 10.244.0.0/16) does,
and the CNI manifest kind applies is a ConfigMap saying so. The node's systemd runs in
the legacy cgroup mode: on this cgroup v1 host, its default (hybrid) mode makes the
kubelet fail at random ("cgroup [kubelet kubepods] has some missing paths") and writes
its own cgroups into the host's cgroup2 root, which no teardown of the container removes.

The recipe's hash (this file, the binaries' cache keys, the Debian base's recipe) is the
image's label: a run finds the image in the engine's data (under the project's cache)
and reuses it unless the label differs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed.controlplane import build, images
from testbed.kind import engine, tools

KIND_CONFIG = Path(__file__).resolve().parents[2] / "kind-config.yaml"
RECIPE_LABEL = "dev.obreg.kind-node-recipe"
SUITE = images.SUITE
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "containerd", "runc", "containernetworking-plugins",
    "iptables", "conntrack", "kmod", "procps", "iproute2", "util-linux", "mount",
    "ca-certificates",
)  # fmt: skip
POD_RANGE = "10.244.0.0/24"  # the single node's pod CIDR of kind's default 10.244.0.0/16
LOCAL_PATH_IMAGE = "localhost/obreg/local-path-provisioner:v0.0.30"
LOCAL_PATH_HELPER = "localhost/obreg/local-path-helper:bookworm"

ENTRYPOINT = """#!/bin/sh
# The kind node's entrypoint (testbed/kind/nodeimage.py): what the container needs before
# systemd runs as its init, in the roles of kind's own entrypoint.
set -eu
# Mounts that the kubelet and containerd make (volumes, the pods' root) must propagate.
mount --make-rshared /
# systemd in a container wants a read-only /sys (it then leaves devices alone); the
# cgroup hierarchies under it are mounts of their own and stay writable.
mount -o remount,ro /sys
# The kubelet's cgroup root (kind's configuration: /kubelet, kubelet.slice with the systemd
# driver) must exist in every hierarchy before the kubelet starts; a cpuset cgroup takes
# a process only once it has CPUs and memory nodes, its parent's.
for root in kubelet kubelet.slice; do
    for hierarchy in /sys/fs/cgroup/*/; do
        if [ -f "${hierarchy}cgroup.procs" ]; then mkdir -p "$hierarchy$root"; fi
    done
    for file in cpuset.cpus cpuset.mems; do
        cat /sys/fs/cgroup/cpuset/$file > /sys/fs/cgroup/cpuset/$root/$file
    done
done
# Docker's embedded DNS, 127.0.0.11 (NAT rules in this namespace lead there), is a loopback
# address in each pod: CoreDNS forwarding to it would ask itself. As kind's entrypoint
# does, the node's resolver becomes the network's gateway, and those rules apply to
# queries for it, the pods' too (PREROUTING; kube-proxy sets route_localnet).
gateway=$(ip -4 route show default | cut -d' ' -f3)
iptables-save | sed -e "s/-d 127\.0\.0\.11/-d $gateway/g" \
    -e 's/^-A OUTPUT \(.*\) -j DOCKER_OUTPUT$/&\n-A PREROUTING \1 -j DOCKER_OUTPUT/' \
    -e "s/--to-source :53/--to-source $gateway:53/g" | iptables-restore
sed "s/^nameserver 127\.0\.0\.11$/nameserver $gateway/" /etc/resolv.conf > /tmp/resolv.conf
cat /tmp/resolv.conf > /etc/resolv.conf  # a file Docker mounts: written in place
# The kubelet's OOM watcher reads /dev/kmsg.
[ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg
# A machine id of the node's own (the image has none).
[ -s /etc/machine-id ] || systemd-machine-id-setup >/dev/null
# kind waits for this line (or systemd's multi-user target) before it runs kubeadm.
echo "INFO: detected cgroup v1"
exec "$@"
"""

KUBELET_UNIT = """[Unit]
Description=kubelet, started by kubeadm's configuration
Wants=containerd.service
After=containerd.service
# It fails until kubeadm has written its configuration, and is retried until then.
StartLimitIntervalSec=0

[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS
Restart=always
RestartSec=1s

[Install]
WantedBy=multi-user.target
"""  # noqa: E501

CONTAINERD_CONFIG = """version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:{pause}"
  # The node has no CAP_SYS_RESOURCE (this VM withholds it): lowering a container's OOM
  # score below the node's own would fail.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
"""

CNI_CONFIG = f"""{{
  "cniVersion": "1.0.0",
  "name": "kind",
  "plugins": [
    {{"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
      "hairpinMode": true,
      "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{POD_RANGE}"}}]],
               "routes": [{{"dst": "0.0.0.0/0"}}]}}}},
    {{"type": "portmap", "capabilities": {{"portMappings": true}}}}
  ]
}}
"""

CNI_MANIFEST = f"""# kind applies this in place of kindnetd's DaemonSet: the node's pods are on
# the bridge CNI configuration in the node image (/etc/cni/net.d/10-kind.conflist),
# {POD_RANGE}.
apiVersion: v1
kind: ConfigMap
metadata:
  name: obreg-kind-cni
  namespace: kube-system
data:
  network: bridge cni0, host-local {POD_RANGE}, in the node image
"""

STORAGE_MANIFEST = f"""# local-path-provisioner, as kind's node image installs it: the default
# StorageClass.
apiVersion: v1
kind: Namespace
metadata:
  name: local-path-storage
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: local-path-provisioner-service-account
  namespace: local-path-storage
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: local-path-provisioner-role
rules:
- apiGroups: [""]
  resources: ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["persistentvolumes", "pods"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["storage.k8s.io"]
  resources: ["storageclasses"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: local-path-provisioner-bind
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: local-path-provisioner-role
subjects:
- kind: ServiceAccount
  name: local-path-provisioner-service-account
  namespace: local-path-storage
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: local-path-provisioner
  namespace: local-path-storage
spec:
  replicas: 1
  selector:
    matchLabels:
      app: local-path-provisioner
  template:
    metadata:
      labels:
        app: local-path-provisioner
    spec:
      serviceAccountName: local-path-provisioner-service-account
      tolerations:
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      containers:
      - name: local-path-provisioner
        image: {LOCAL_PATH_IMAGE}
        imagePullPolicy: IfNotPresent
        command: ["/usr/local/bin/local-path-provisioner", "--debug", "start",
                  "--helper-image", "{LOCAL_PATH_HELPER}",
                  "--config", "/etc/config/config.json"]
        env:
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        volumeMounts:
        - name: config-volume
          mountPath: /etc/config/
      volumes:
      - name: config-volume
        configMap:
          name: local-path-config
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-path-config
  namespace: local-path-storage
data:
  config.json: |-
    {{"nodePathMap": [{{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES",
                       "paths": ["/var/local-path-provisioner"]}}]}}
  setup: |-
    #!/bin/sh
    set -eu
    mkdir -m 0777 -p "$VOL_DIR"
  teardown: |-
    #!/bin/sh
    set -eu
    rm -rf "$VOL_DIR"
  helperPod.yaml: |-
    apiVersion: v1
    kind: Pod
    metadata:
      name: helper-pod
    spec:
      containers:
      - name: helper-pod
        image: {LOCAL_PATH_HELPER}
        imagePullPolicy: IfNotPresent
"""

# Units that have no business in a node container: they would drive the host's devices
# and consoles.
MASKED_UNITS = (
    "systemd-udevd.service", "systemd-udev-trigger.service", "systemd-udev-settle.service",
    "getty.target", "console-getty.service", "systemd-timesyncd.service",
    "systemd-networkd.service", "apt-daily.timer", "apt-daily-upgrade.timer",
)  # fmt: skip
# kind's entrypoint semantics, as a Dockerfile on the committed container (Docker 20.10's
# ``commit --change`` takes no STOPSIGNAL, which systemd as init needs).
FINAL_STEPS = """FROM {committed}
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
ENV container=docker
ENV SYSTEMD_PROC_CMDLINE="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1"
STOPSIGNAL SIGRTMIN+3
LABEL {label}={key}
"""  # noqa: E501


def configured_image() -> str:
    """The node image kind-config.yaml names: the one image this module makes."""
    found = re.findall(r"^\s*image:\s*(\S+)\s*$", KIND_CONFIG.read_text(), re.MULTILINE)
    if len(set(found)) != 1:
        raise SystemExit(f"{KIND_CONFIG}: expected one node image, found {found}")
    return str(found[0])


def _families() -> tuple[build.Family, ...]:
    """The builds whose binaries the image holds: the plane's Kubernetes and etcd, the real
    node's kubelet and kube-proxy, and testbed/kind's."""
    plane = tuple(f for f in build.families() if f.name in ("k8s", "etcd"))
    return (*plane, build.node_family(), *tools.NODE_IMAGE_TOOLS)


def recipe() -> str:
    """The hash that names this recipe: a change of any input makes the image again."""
    digest = hashlib.sha256(Path(__file__).read_bytes())  # the packages among the rest
    digest.update(images.BASE_RECIPE.encode())
    for family in _families():
        digest.update(family.key().encode())
    return digest.hexdigest()[:16]


def ensure() -> str:
    """The node image, made unless the engine holds it with this recipe's label."""
    image, key = configured_image(), recipe()
    if engine.label(image, RECIPE_LABEL) == key:
        return image
    started = time.monotonic()
    print(f"making the kind node image {image} (recipe {key})", file=sys.stderr, flush=True)
    work = build.cache_root() / "kind"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix=".node-image-") as tmp:
        _assemble(image, key, Path(tmp))
    # The image of the recipe before, now untagged: a gigabyte of the cache per change.
    engine.docker("image", "prune", "--force")
    print(f"made {image} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return image


def _binaries() -> dict[str, Path]:
    """Each binary of ``_families`` by name, built first where the cache has none."""
    return {name: build.build(f) / name for f in _families() for name in f.binaries}


def _kubeadm_images(kubeadm: Path, version: str) -> dict[str, str]:
    """The images kubeadm will run for this version, by their repository's last part
    (kube-apiserver, etcd, coredns, pause...)."""
    listed = subprocess.run(
        [str(kubeadm), "config", "images", "list", f"--kubernetes-version={version}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return {ref.rsplit(":", 1)[0].rsplit("/", 1)[-1]: ref for ref in listed}


def _assemble(image: str, key: str, tmp: Path) -> None:
    binaries = _binaries()
    version = subprocess.run(
        [str(binaries["kubeadm"]), "version", "-o", "short"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    wanted = _kubeadm_images(binaries["kubeadm"], version)
    archives = _component_archives(binaries, wanted, tmp / "archives")
    rootfs = tmp / "rootfs"
    _root_file_system(rootfs, binaries, version, wanted["pause"].rsplit(":", 1)[1])
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tmp / "rootfs.tar"), "."],
        check=True,
    )
    shutil.rmtree(rootfs)
    stage = f"localhost/obreg/kind-node-rootfs:{key}"
    engine.docker("import", str(tmp / "rootfs.tar"), stage)
    (tmp / "rootfs.tar").unlink()
    container = f"obreg-kind-node-build-{key}"
    committed = f"localhost/obreg/kind-node-assembled:{key}"
    engine.docker("rm", "-f", container, check=False)
    engine.docker("run", "-d", "--name", container, "--privileged", "--tmpfs", "/run",
                  "--tmpfs", "/tmp", "--entrypoint", "sleep", stage, "infinity")  # fmt: skip
    try:
        _import_images(container, archives)
        engine.docker("commit", container, committed)
        steps = FINAL_STEPS.format(committed=committed, label=RECIPE_LABEL, key=key)
        engine.docker("build", "-q", "-t", image, "-", input=steps)
    finally:
        engine.docker("rm", "-f", container, check=False)
        engine.docker("rmi", stage, committed, check=False)  # untagged; the image's layers


def _import_images(container: str, archives: list[Path]) -> None:
    """The archives into the node's containerd store, pinned and not unpacked (the node's
    /var, where containerd unpacks, is a volume of its own when kind runs it)."""
    engine.docker("exec", container, "sh", "-c", "nohup containerd >/dev/null 2>&1 &")
    deadline = time.monotonic() + 60
    while engine.docker("exec", container, "ctr", "version", check=False).count("Server") == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("containerd did not start in the node image's build container")
        time.sleep(0.5)
    for archive in archives:
        with archive.open("rb") as source:
            engine.docker("exec", "-i", container, "ctr", "--namespace=k8s.io", "images",
                          "import", "--label=io.cri-containerd.pinned=pinned",
                          "--all-platforms", "--no-unpack", "--digests", "-",
                          stdin=source)  # fmt: skip
    engine.docker("exec", container, "pkill", "-x", "containerd")
    # Until it has exited: a zombie then, as the container's init (sleep) reaps no child.
    alive = "ps -C containerd -o stat= | grep -v '^Z' || true"
    while engine.docker("exec", container, "sh", "-c", alive).strip():
        time.sleep(0.2)


def _component_archives(binaries: dict[str, Path], wanted: dict[str, str], out: Path) -> list[Path]:
    """The images of ``wanted`` and local-path-provisioner's, built with buildah and
    written as docker-archives; the built ones are removed from buildah's storage again
    (the archives are all the node needs)."""
    out.mkdir()
    scratch = {
        wanted["kube-apiserver"]: binaries["kube-apiserver"],
        wanted["kube-controller-manager"]: binaries["kube-controller-manager"],
        wanted["kube-scheduler"]: binaries["kube-scheduler"],
        wanted["etcd"]: binaries["etcd"],
        wanted["coredns"]: binaries["coredns"],
        LOCAL_PATH_IMAGE: binaries["local-path-provisioner"],
    }
    built = []
    for ref, binary in scratch.items():
        # CoreDNS runs as root (kubeadm's Deployment gives it NET_BIND_SERVICE for port 53).
        entrypoint = f'ENTRYPOINT ["/usr/local/bin/{binary.name}"]\n' if binary.name == "coredns" else ""  # noqa: E501
        built.append(_buildah_build(ref, out, "FROM scratch\n"
            f"COPY {binary.name} /usr/local/bin/{binary.name}\n"
            "ENV PATH=/usr/local/bin\n" + entrypoint, {binary.name: binary}))  # fmt: skip
    built.append(_buildah_build(wanted["kube-proxy"], out,
        f"FROM {images.base()}\n"
        "RUN apt-get update -q && apt-get install -y -q --no-install-recommends iptables "
        "conntrack && rm -rf /var/lib/apt/lists/*\n"
        "COPY kube-proxy /usr/local/bin/kube-proxy\n", {"kube-proxy": binaries["kube-proxy"]},
        network=True))  # fmt: skip
    # The Debian base as it is (a build of FROM alone would leave buildah 1.28's working
    # container behind, mounted).
    images.buildah("tag", images.base(), LOCAL_PATH_HELPER)
    built.append(LOCAL_PATH_HELPER)
    archives = [out / f"{i}.tar" for i in range(len(built))]
    pause = images.pause()
    images.buildah("tag", pause, wanted["pause"])
    for ref, archive in zip(built, archives, strict=True):
        images.archive(ref, archive)
    archives.append(images.archive(wanted["pause"], out / "pause.tar"))
    images.buildah("rmi", *built, wanted["pause"])
    return archives


def _buildah_build(ref: str, out: Path, containerfile: str, files: dict[str, Path],
                   network: bool = False) -> str:  # fmt: skip
    context = out / f"context-{ref.replace('/', '_').replace(':', '_')}"
    context.mkdir()
    for name, path in files.items():
        shutil.copy2(path, context / name)
    (context / "Containerfile").write_text(containerfile)
    extra = ["--network=host", "--isolation=chroot"] if network else []
    images.buildah("bud", "--pull=never", *extra, "-t", ref, "-f",
                   str(context / "Containerfile"), str(context))  # fmt: skip
    shutil.rmtree(context)
    return ref


def _debootstrapped() -> Path:
    """Debian with the node's packages, as a tar in the cache: the slowest step (minutes),
    made again only when the packages, the suite or the mirror change."""
    recipe = f"{SUITE} {images.MIRROR} {' '.join(PACKAGES)} without apt lists and archives"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    cached = build.cache_root() / "kind" / f"node-rootfs-{SUITE}-{key}.tar"
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    print(f"making the node's root file system with debootstrap ({SUITE})", file=sys.stderr,
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(dir=cached.parent, prefix=".node-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
             str(rootfs), images.MIRROR],
            check=True, capture_output=True,
        )  # fmt: skip
        for leftover in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        partial = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
                       check=True)  # fmt: skip
        partial.rename(cached)
    return cached


def _root_file_system(rootfs: Path, binaries: dict[str, Path], version: str, pause: str) -> None:
    rootfs.mkdir()
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-xf", str(_debootstrapped())], check=True
    )
    for name in ("kubeadm", "kubelet", "kubectl"):
        shutil.copy2(binaries[name], rootfs / "usr/bin" / name)
    _write(rootfs / "usr/local/bin/entrypoint", ENTRYPOINT, 0o755)
    _write(rootfs / "etc/systemd/system/kubelet.service", KUBELET_UNIT)
    _write(rootfs / "etc/containerd/config.toml", CONTAINERD_CONFIG.format(pause=pause))
    _write(rootfs / "etc/cni/net.d/10-kind.conflist", CNI_CONFIG)
    _write(rootfs / "kind/version", f"{version}\n")
    _write(rootfs / "kind/manifests/default-cni.yaml", CNI_MANIFEST)
    _write(rootfs / "kind/manifests/default-storage.yaml", STORAGE_MANIFEST)
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit, target in (("kubelet.service", "/etc/systemd/system/kubelet.service"),
                         ("containerd.service", "/lib/systemd/system/containerd.service")):
        (wants / unit).unlink(missing_ok=True)
        (wants / unit).symlink_to(target)  # fmt: skip
    for unit in MASKED_UNITS:
        masked = rootfs / "etc/systemd/system" / unit
        masked.unlink(missing_ok=True)
        masked.symlink_to("/dev/null")
    # Each node makes its own (the entrypoint); an empty file keeps systemd from a
    # first-boot setup.
    (rootfs / "etc/machine-id").write_text("")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)

"""``make e2e-kind``: the real-node tier (tests/real) on a kind cluster, on a machine with
no Docker engine and no registry, leaving the host as it found it.

    python -m testbed.kind e2e [PYTEST_ARGS...]  # engine, node image, tests, teardown
    python -m testbed.kind image                  # the node image alone (engine started
                                                  # and stopped around it)
    python -m testbed.kind down                   # what a killed run left, removed

``e2e`` snapshots the host, starts the tier's own Docker engine (engine.py), makes or
reuses what a user's engine would pull from Docker Hub (the node image, nodeimage.py; the
Dockerfile's Debian base, baseimage.py), runs pytest in the engine's network namespace
(where the kind cluster's API server and gateway are; tests/conftest.py's ``cluster``
makes and deletes the cluster, tests/real/conftest.py loads the images), then stops the
engine and fails, naming each, on anything left: a container or network in the engine,
and on the host a firewall rule, forwarding setting, package, address or route (as
tests/real checks for the real node: testbed/controlplane/hoststate.py), a network
namespace, a mount, a cgroup or a process of the engine's.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from testbed.controlplane import build, hoststate
from testbed.kind import baseimage, engine, nodeimage, tools

ROOT = Path(__file__).resolve().parents[2]


def _mount_points() -> str:
    """The host's mount table as mount points and types (ids and options vary run by run
    without a change of what is mounted). Less one: buildah's storage driver makes its
    home (``<cache>/images/storage/overlay``) a mount point of its own on first use and
    keeps it so by design; its containers' mounts under it are each listed."""
    home = str(build.cache_root() / "images" / "storage" / "overlay")
    lines = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        if fields[4] != home:
            lines.append(f"{fields[4]} {fields[separator + 1]}")
    return "\n".join(sorted(lines))


def _cgroups() -> str:
    """Every cgroup in the host's hierarchies, two levels deep: the engine's parent and
    the containers' cgroups under it, and what a node's systemd might write beside it."""
    found = []
    for hierarchy in sorted(engine.CGROUPS.iterdir()) if engine.CGROUPS.is_dir() else ():
        if hierarchy.is_dir() and not hierarchy.is_symlink():
            for child in hierarchy.iterdir():
                if child.is_dir():
                    found.append(str(child))
                    found += [str(c) for c in child.iterdir() if c.is_dir()]
    return "\n".join(sorted(found))


def _processes() -> str:
    """Processes whose command line names the engine's data, run directory or namespace:
    dockerd, containerd's shims, slirp4netns, a node's systemd."""
    marks = (str(engine.data_root()), str(engine.RUN), engine.NETNS)
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if any(mark in argv for mark in marks):
                found.append(argv.strip())
    return "\n".join(sorted(found))


CGROUPS_SOURCE = "cgroups (/sys/fs/cgroup/*/*/*)"


def _plain(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def snapshot() -> hoststate.Snapshot:
    """hoststate's sources, and what the engine itself might leave."""
    state = hoststate.snapshot()
    state["network namespaces (ip netns list)"] = _plain(
        subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    )
    state["mounts (/proc/self/mountinfo)"] = _plain(_mount_points())
    state[CGROUPS_SOURCE] = _plain(_cgroups())
    state["processes of the engine"] = _plain(_processes())
    state["directories made for the engine"] = [
        f"{path} exists: {path.exists()}" for path in (Path("/lib/modules"), engine.NETNS_DIR)
    ]
    return state


def differences(before: hoststate.Snapshot, after: hoststate.Snapshot) -> list[str]:
    """hoststate's differences, less the cgroups that went away: other processes' cgroups
    come and go (this machine's own agents make one per command), and the engine removes
    its own only (under /obreg-kind), so a cgroup that is gone is none of the tier's."""
    return [
        found
        for found in hoststate.differences(before, after)
        if not found.startswith(f"{CGROUPS_SOURCE}: -")
    ]


def check_machine() -> None:
    if os.geteuid() != 0:
        raise SystemExit("make e2e-kind needs root: it runs a Docker engine of its own")


def e2e(pytest_args: list[str]) -> int:
    check_machine()
    # SIGTERM (a CI timeout, a killed job) would end Python without its finally blocks:
    # as KeyboardInterrupt, it still stops the engine and checks the host.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    kind = tools.KIND.path()
    engine.stop()  # what a killed earlier run left, before the snapshot
    before = snapshot()
    status = 1
    left: list[str] = []
    engine.start(kind)
    try:
        nodeimage.ensure()
        baseimage.ensure()
        env = {**engine.env(), "OBREG_NODE": "kind"}
        status = subprocess.run(
            engine.in_netns([sys.executable, "-m", "pytest", "tests/real", *pytest_args]),
            cwd=ROOT, env=env, check=False,
        ).returncode  # fmt: skip
    finally:
        if engine.running():
            left = [f"in the engine: {found}" for found in engine.leftovers_inside()]
        engine.stop()
        left += differences(before, snapshot())
        if left:
            print("make e2e-kind left the host changed (- before, + after):\n  "
                  + "\n  ".join(left), file=sys.stderr)  # fmt: skip
        else:
            print("e2e-kind: the host is as it was (engine, cluster, namespace, mounts, "
                  "cgroups, processes, firewall, addresses, routes)", file=sys.stderr)  # fmt: skip
    return status or (1 if left else 0)


def image() -> int:
    check_machine()
    engine.start(tools.KIND.path())
    try:
        print(nodeimage.ensure())
    finally:
        engine.stop()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m testbed.kind")
    parser.add_argument("command", choices=("e2e", "image", "down"))
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    arguments = parser.parse_args()
    if arguments.command == "e2e":
        sys.exit(e2e(arguments.pytest_args))
    if arguments.command == "image":
        sys.exit(image())
    check_machine()
    engine.stop()


if __name__ == "__main__":
    main()

"""trust-manager and obreg doing the comparable job on the same plane: one CA source to a
JKS target in each of N namespaces. Per target: the time from the CA change to the
target written (from a watch, not polling), the process's peak RSS, and its writes while
idle. trust-manager runs as released (client-go's 5 requests/s) and with that limit
lifted (testbed/controlplane/build.py), as a local process like obreg.

Per target, trust-manager writes one ConfigMap (PEM and JKS keys). obreg writes a
ConfigMap (the JKS), a Secret (empty here), the workload's digest annotation (a
rollout), a RolledOut event and the anchor's status.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.arrivals import Arrivals
from bench.common import summary
from testbed.apiserver_metrics import WRITES, delta
from testbed.controlplane import build
from testbed.controlplane.launcher import free_port
from tests.pki import issue

TRUST_NAMESPACE = "tm-trust"
MARK = "bench.obreg.dev/peer"


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if "VmHWM:" in line) / 1024


def namespaces(cluster: Any, prefix: str, count: int, labels: dict[str, str]) -> list[str]:
    names = [f"{prefix}-{i:04d}" for i in range(count)]
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}
        for n in names
    ]
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    return names


def _source(cluster: Any, pem: str) -> None:
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "bench-ca", "namespace": TRUST_NAMESPACE},
                "data": {"ca.crt": pem},
            }
        ),
    )


def trust_manager(
    cluster: Any, work: Path, unthrottled: bool, targets: int, changes: int, idle: float
) -> dict[str, Any]:
    family = build.TRUST_MANAGER_UNTHROTTLED if unthrottled else build.TRUST_MANAGER
    binary = build.build(family) / "trust-manager"
    source = Path(
        subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", family.module],
            cwd=family.dir,
            env=build.go_env(),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for crd in sorted((source / "deploy" / "crds").glob("*.yaml")):
        cluster.kubectl("apply", "--server-side", "-f", str(crd))
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TRUST_NAMESPACE}}
        ),
    )
    label = f"n{targets}"
    names = namespaces(cluster, "tm", targets, {MARK: "true", f"{MARK}-{label}": "true"})
    _source(cluster, issue("trust-manager CA 0").pem.decode())
    bundle = f"bench-{label}{'-u' if unthrottled else ''}"
    arrivals = Arrivals(cluster.plane, "/api/v1/configmaps", bundle)
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump(
            {
                "apiVersion": "trust.cert-manager.io/v1alpha1",
                "kind": "Bundle",
                "metadata": {"name": bundle},
                "spec": {
                    "sources": [{"configMap": {"name": "bench-ca", "key": "ca.crt"}}],
                    "target": {
                        "configMap": {"key": "ca.pem"},
                        "additionalFormats": {"jks": {"key": "truststore.jks"}},
                        "namespaceSelector": {"matchLabels": {f"{MARK}-{label}": "true"}},
                    },
                },
            }
        ),
    )
    tls = work / f"tm-tls-{bundle}"
    tls.mkdir()
    serving = issue("trust-manager webhook", ca=False)
    (tls / "tls.crt").write_bytes(serving.pem)
    (tls / "tls.key").write_bytes(serving.key_pem)
    start = time.perf_counter()
    process = subprocess.Popen(
        [
            str(binary),
            f"--kubeconfig={cluster.plane.kubeconfig}",
            f"--trust-namespace={TRUST_NAMESPACE}",
            "--leader-elect=false",
            f"--webhook-certificate-dir={tls}",
            "--webhook-host=127.0.0.1",
            f"--webhook-port={free_port()}",
            f"--metrics-port={free_port()}",
            f"--readiness-probe-port={free_port()}",
        ],
        stdout=(work / f"{bundle}.log").open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        written = arrivals.wait(start, names, lambda _: True, 900)
        to_all_written = max(written.values()) - start
        latencies = []
        for change in range(changes):
            pem = issue(f"trust-manager CA {change + 1}").pem.decode()
            marker = pem.splitlines()[1]
            began = time.perf_counter()
            _source(cluster, pem)
            seen = arrivals.wait(began, names, _holds(marker), 900)
            latencies += [t - began for t in seen.values()]
        writes = idle_writes(cluster, idle)
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        cluster.kubectl("delete", "bundle", bundle, "--wait=false")
    return figures(targets, to_all_written, latencies, rss, idle, writes)


def figures(
    targets: int,
    to_all_written: float,
    latencies: list[float],
    rss: float,
    idle: float,
    idle_writes: float,
) -> dict[str, Any]:
    """One peer's row, the same for trust-manager and obreg."""
    return {
        "targets": targets,
        "start_to_all_written_seconds": to_all_written,
        "change_to_target": summary(latencies),
        "peak_rss_mb": rss,
        "idle_seconds": idle,
        "idle_configmap_writes": idle_writes,
    }


def _holds(marker: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: marker in (obj.get("data") or {}).get("ca.pem", "")


def idle_writes(cluster: Any, idle: float) -> float:
    before = cluster.metrics()
    time.sleep(idle)  # the window being measured, not a wait for a condition
    return sum(
        n
        for (verb, resource, _), n in delta(cluster.metrics(), before).items()
        if verb in WRITES and resource == "configmaps"
    )

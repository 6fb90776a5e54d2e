"""The operator on the local control plane, as the chart's ServiceAccount:

- reaction: successive CA changes, each awaited; time from the apply to obreg's ConfigMap
  updated and to the workload's rollout annotation updated;
- scale: N OBTrustAnchors across M namespaces, each with its own workload (replicas 0, so
  rollouts create ReplicaSets but no pods): time from operator start to all Ready, the
  operator's peak RSS and CPU seconds, API requests per resource, then an idle window in
  which obreg's write requests are counted (target zero).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from tests.pki import issue

import apiserver_metrics
import install_obreg
from bench.common import summary, table, write
from controlplane.launcher import ControlPlane, free_port

ROOT = Path(__file__).resolve().parents[1]
SETTLE = 1.0  # the operator's default


def _pem(name: str) -> str:
    return issue(name).pem.decode()


class Cluster:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(self.plane.binaries["kubectl"]), f"--kubeconfig={self.plane.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr}")
        return result.stdout

    def get(self, path: str) -> Any:
        return self.plane.api(path)

    def metrics(self) -> apiserver_metrics.Counts:
        return apiserver_metrics.requests(self.plane.request("/metrics").decode())


def wait(check: Callable[[], bool], timeout: float, what: str, every: float = 0.01) -> float:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(every)
    return time.perf_counter()


class Operator:
    def __init__(self, kubeconfig: Path, log: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "obreg.cli", "run", *args],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        )

    def usage(self) -> tuple[float, float]:
        """Peak RSS in MB and CPU seconds so far, from /proc."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        peak_kb = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")
        )
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return peak_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _changed(read: Callable[[], tuple[str, str]], before: tuple[str, str], which: int) -> bool:
    return read()[which] != before[which]


def reaction(
    cluster: Cluster, operator_kubeconfig: Path, work: Path, changes: int
) -> dict[str, Any]:
    docs = [
        d
        for p in sorted((ROOT / "samples").glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text())
        if d
    ]
    for doc in docs:  # what is timed is files and rollouts, not the KM's admin services
        if doc["kind"] == "OBServiceProvider":
            doc["spec"].pop("keyManagerAdmin", None)
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    operator = Operator(operator_kubeconfig, work / "reaction.log", "--priority", "100")
    ns = "obreg-demo"
    try:
        cluster.kubectl(
            "wait", "--for=condition=Ready", "obta,obidp,obsp", "--all", "-n", ns, "--timeout=120s"
        )
        anchor_path = f"/apis/obreg.dev/v1alpha1/namespaces/{ns}/obtrustanchors/ob-directory-cas"
        cm_path = f"/api/v1/namespaces/{ns}/configmaps/obreg-wso2-km"
        deploy_path = f"/apis/apps/v1/namespaces/{ns}/deployments/wso2-km"

        def digests() -> tuple[str, str]:
            cm = cluster.get(cm_path)["metadata"]["annotations"]["obreg.dev/digest"]
            template = cluster.get(deploy_path)["spec"]["template"]["metadata"]
            return cm, (template.get("annotations") or {}).get("obreg.dev/digest", "")

        to_files, to_rollout = [], []
        for i in range(changes):
            before = digests()
            change = {
                "spec": {"certificates": [{"alias": "tpproot", "inline": _pem(f"Reaction CA {i}")}]}
            }
            # Timed from the write itself (one merge patch), not from a kubectl start.
            start = time.perf_counter()
            cluster.plane.request(anchor_path, "PATCH", change, "application/merge-patch+json")
            files = wait(functools.partial(_changed, digests, before, 0), 30, "files")
            rolled = wait(functools.partial(_changed, digests, before, 1), 30, "rollout")
            to_files.append(files - start)
            to_rollout.append(rolled - start)
    finally:
        operator.stop()
    return {
        "settle_seconds": SETTLE,
        "changes": changes,
        "to_configmap": summary(to_files),
        "to_rollout_annotation": summary(to_rollout),
    }


def scale(
    cluster: Cluster,
    operator_kubeconfig: Path,
    work: Path,
    anchors: int,
    namespaces: int,
    idle: float,
) -> dict[str, Any]:
    per = anchors // namespaces
    for n in range(namespaces):
        ns = f"scale-{n:03d}"
        docs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        ]
        for a in range(per):
            name = f"w{a:03d}"
            docs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {"containers": [{"name": "c", "image": "example.invalid/x"}]},
                        },
                    },
                }
            )
            docs.append(
                {
                    "apiVersion": "obreg.dev/v1alpha1",
                    "kind": "OBTrustAnchor",
                    "metadata": {"name": f"ca-{a:03d}", "namespace": ns},
                    "spec": {
                        "targets": [{"name": name}],
                        "certificates": [{"alias": "tpproot", "inline": _pem(f"{ns} CA {a}")}],
                    },
                }
            )
        cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

    def ready() -> int:
        items = cluster.get("/apis/obreg.dev/v1alpha1/obtrustanchors")["items"]
        return sum(
            1
            for i in items
            if i["metadata"]["namespace"].startswith("scale-")
            for c in i.get("status", {}).get("conditions", [])
            if c["type"] == "Ready" and c["status"] == "True"
        )

    before = cluster.metrics()
    start = time.perf_counter()
    # Its own priority: an earlier instance's peering entry may linger a while, and peers
    # of equal priority all pause (kopf's rule).
    operator = Operator(
        operator_kubeconfig,
        work / "scale.log",
        "--priority",
        "200",
        "--metrics-port",
        str(free_port()),
    )
    try:
        converged = wait(lambda: ready() == anchors, 900, "all Ready", every=0.5) - start
        rss, cpu = operator.usage()
        after = cluster.metrics()
        used = apiserver_metrics.delta(after, before)
        idle_start = cluster.metrics()
        time.sleep(idle)  # the window being measured, not a wait for a condition
        idle_writes = apiserver_metrics.delta(cluster.metrics(), idle_start)
        rss, cpu_total = operator.usage()
    finally:
        operator.stop()
    total = sum(used.values())
    writes = apiserver_metrics.obreg_writes(used)
    return {
        "anchors": anchors,
        "namespaces": namespaces,
        "seconds_to_all_ready": converged,
        "operator_peak_rss_mb": rss,
        "operator_cpu_seconds_to_ready": cpu,
        "operator_cpu_seconds_total": cpu_total,
        "requests_per_resource": total / anchors,
        "write_requests_per_resource": writes / anchors,
        "requests_by_verb_resource": {" ".join(k): v for k, v in sorted(used.items())},
        "idle_seconds": idle,
        "idle_write_requests": apiserver_metrics.obreg_writes(idle_writes),
        "idle_writes_by_verb_resource": {
            " ".join(k): v
            for k, v in sorted(idle_writes.items())
            if k[0] in apiserver_metrics.WRITES
        },
    }


def main() -> None:
    quick = "--quick" in sys.argv
    figures: dict[str, Any] = {}
    with ControlPlane() as plane, tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(plane)
        install_obreg.install(cluster.kubectl, plane.binaries["helm"])
        kubeconfig = install_obreg.service_account_kubeconfig(
            cluster.kubectl, plane.kubeconfig, Path(tmp) / "operator.kubeconfig"
        )
        figures["reaction"] = reaction(cluster, kubeconfig, Path(tmp), 10 if quick else 100)
        figures["scale"] = scale(
            cluster,
            kubeconfig,
            Path(tmp),
            anchors=100 if quick else 1000,
            namespaces=10 if quick else 50,
            idle=20 if quick else 300,
        )
    r, s = figures["reaction"], figures["scale"]
    print(
        table(
            [
                ["reaction (settle 1 s)", "p50", "p95", "max"],
                [
                    "apply -> ConfigMap",
                    *(f"{r['to_configmap'][k] * 1000:.0f} ms" for k in ("median", "p95", "max")),
                ],
                [
                    "apply -> rollout",
                    *(
                        f"{r['to_rollout_annotation'][k] * 1000:.0f} ms"
                        for k in ("median", "p95", "max")
                    ),
                ],
            ]
        )
    )
    print(
        table(
            [
                ["scale", "value"],
                ["anchors / namespaces", f"{s['anchors']} / {s['namespaces']}"],
                ["start -> all Ready", f"{s['seconds_to_all_ready']:.1f} s"],
                ["operator peak RSS", f"{s['operator_peak_rss_mb']:.0f} MB"],
                ["operator CPU to Ready", f"{s['operator_cpu_seconds_to_ready']:.1f} s"],
                ["API requests / resource", f"{s['requests_per_resource']:.1f}"],
                ["obreg writes / resource", f"{s['write_requests_per_resource']:.1f}"],
                [f"writes in {s['idle_seconds']:.0f} s idle", f"{s['idle_write_requests']:.0f}"],
            ]
        )
    )
    print(f"results: {write('operator', 'quick' if quick else 'full', figures)}")


if __name__ == "__main__":
    main()

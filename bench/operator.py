"""The operator on the local control plane, as the chart's ServiceAccount:

- reaction: successive CA changes, each awaited; time from the apply to obreg's ConfigMap
  updated and to the workload's rollout annotation updated;
- scale: N OBTrustAnchors across M namespaces, each with its own workload (replicas 0, so
  rollouts create ReplicaSets but no pods): time from operator start to all Ready, the
  operator's peak RSS and CPU seconds, API requests per resource, then an idle window in
  which obreg's write requests are counted (target zero).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from bench import peer as peer_module
from bench.arrivals import Arrivals
from bench.common import summary, table, write
from testbed import apiserver_metrics, audit_log, install_obreg
from testbed.controlplane.launcher import ControlPlane, free_port
from tests.pki import issue

ROOT = Path(__file__).resolve().parents[1]
SETTLE = 1.0  # the operator's default
# One Lease holder across the benchmark's instances: each takes the Lease at once, even
# when the one before it was killed (leader election, obreg/kube/lease.py).
BENCH_IDENTITY = ("--identity", "obreg@bench")


def _pem(name: str) -> str:
    pem: bytes = issue(name).pem
    return pem.decode()


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
    def __init__(
        self, kubeconfig: Path, log: Path, *args: str, profile: Path | None = None
    ) -> None:
        """``profile``: run under cProfile (its event loop's thread), stats written there."""
        wrap = ["-m", "cProfile", "-o", str(profile)] if profile else []
        self.process = subprocess.Popen(
            [sys.executable, *wrap, "-m", "obreg.cli", "run", *args],
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
    operator = Operator(operator_kubeconfig, work / "reaction.log", *BENCH_IDENTITY)
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


def _unrelated(cluster: Cluster, namespaces: list[str], count: int, tag: str) -> None:
    """``count`` Secrets of 100 KB and ``count`` ConfigMaps that no resource reads, spread
    over ``namespaces``: what a bank's cluster holds besides obreg's inputs (Helm keeps
    every release revision in such a Secret)."""
    blob = base64.b64encode(os.urandom(75 * 1024)).decode()  # 100 KB encoded
    for start in range(0, count, 50):
        docs = []
        for i in range(start, min(start + 50, count)):
            ns = namespaces[i % len(namespaces)]
            meta = {"name": f"unrelated-{tag}-{i:05d}", "namespace": ns}
            docs.append(
                {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"release": blob}}
            )
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": meta,
                    "data": {"k": "v" * 512},
                }
            )
        # Created as Helm creates its release Secrets: no kubectl last-applied annotation
        # (which would copy the 100 KB into the metadata obreg does watch).
        cluster.kubectl("create", "-f", "-", stdin=yaml.safe_dump_all(docs))


def _obregs(requests: list[audit_log.Request]) -> list[audit_log.Request]:
    """obreg's requests, without its Lease renewals."""
    return [
        r for r in requests if r.user == install_obreg.USER and r.resource != "leases"
    ]


def _by_verb(requests: list[audit_log.Request]) -> dict[str, int]:
    counts = collections.Counter(f"{r.verb} {r.resource}" for r in requests)
    return dict(sorted(counts.items()))


def scale(
    cluster: Cluster,
    operator_kubeconfig: Path,
    work: Path,
    anchors: int,
    namespaces: int,
    idle: float,
    prefix: str = "scale",
    background: int = 0,
    profile: Path | None = None,
) -> dict[str, Any]:
    """With ``background``: that many unrelated Secrets and ConfigMaps, half before the
    start and half while it converges."""
    per = anchors // namespaces
    names = [f"{prefix}-{n:03d}" for n in range(namespaces)]
    for n in range(namespaces):
        ns = names[n]
        docs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        ]
        for a in range(per):
            certificates = [{"alias": "tpproot", "inline": _pem(f"{ns} CA {a}")}]
            docs += _workload_and_anchor(ns, f"w{a:03d}", certificates, f"ca-{a:03d}")
        cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

    def ready() -> int:
        items = cluster.get("/apis/obreg.dev/v1alpha1/obtrustanchors")["items"]
        return sum(
            1
            for i in items
            if i["metadata"]["namespace"].startswith(f"{prefix}-")
            for c in i.get("status", {}).get("conditions", [])
            if c["type"] == "Ready" and c["status"] == "True"
        )

    if background:
        _unrelated(cluster, names, background // 2, "before")
    audit = cluster.plane.audit_log
    before = audit_log.end(audit)
    start = time.perf_counter()
    operator = Operator(
        operator_kubeconfig,
        work / f"{prefix}.log",
        *BENCH_IDENTITY,
        "--metrics-port",
        str(free_port()),
        profile=profile,
    )
    try:
        if background:
            _unrelated(cluster, names, background - background // 2, "during")
        converged = wait(lambda: ready() == anchors, 900, "all Ready", every=0.5) - start
        rss, cpu = operator.usage()
        # obreg's own requests, from the audit log (its reads and writes; watches are
        # not logged): the API server's counters would add the benchmark's own.
        used = _obregs(audit_log.requests(audit, before))
        idle_start = audit_log.end(audit)
        if idle:
            time.sleep(idle)  # the window being measured, not a wait for a condition
        idle_writes = _obregs(audit_log.writes(audit, idle_start))
        rss, cpu_total = operator.usage()
    finally:
        operator.stop()
    writes = [r for r in used if r.verb in audit_log.WRITE_VERBS]
    return {
        "anchors": anchors,
        "namespaces": namespaces,
        "unrelated_secrets_and_configmaps": background,
        "seconds_to_all_ready": converged,
        "operator_peak_rss_mb": rss,
        "operator_cpu_seconds_to_ready": cpu,
        "operator_cpu_seconds_total": cpu_total,
        "requests_per_resource": len(used) / anchors,
        "write_requests_per_resource": len(writes) / anchors,
        "requests_by_verb_resource": _by_verb(used),
        "idle_seconds": idle,
        "idle_write_requests": len(idle_writes),
        "idle_writes_by_verb_resource": _by_verb(idle_writes),
    }


def _gone(cluster: Cluster, prefix: str) -> None:
    """Delete a run's namespaces and wait until they are gone, so the next run's operator
    holds only its own."""
    names = [
        n["metadata"]["name"]
        for n in cluster.get("/api/v1/namespaces")["items"]
        if n["metadata"]["name"].startswith(f"{prefix}-")
    ]
    if not names:
        return
    cluster.kubectl("delete", "namespace", *names, "--wait=false")

    def left() -> bool:
        items = cluster.get("/api/v1/namespaces")["items"]
        return not any(n["metadata"]["name"].startswith(f"{prefix}-") for n in items)

    wait(left, 600, f"{prefix} namespaces deleted", every=1.0)


def _workload_and_anchor(
    ns: str, name: str, certificates: list[dict[str, Any]], anchor: str = "ca"
) -> list[Any]:
    return [
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
        },
        {
            "apiVersion": "obreg.dev/v1alpha1",
            "kind": "OBTrustAnchor",
            "metadata": {"name": anchor, "namespace": ns},
            "spec": {"targets": [{"name": name}], "certificates": certificates},
        },
    ]


def _digest(obj: dict[str, Any]) -> str:
    return str((obj["metadata"].get("annotations") or {}).get("obreg.dev/digest", ""))


def _digest_differs(old: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: _digest(obj) != old


def isolation(
    cluster: Cluster, operator_kubeconfig: Path, work: Path, heavy: int, changes: int
) -> dict[str, Any]:
    """Reaction in a quiet namespace while another renders ``heavy`` certificates: one
    workload per 1,000 (a truststore of more would pass the 1 MiB ConfigMap limit, which
    obreg refuses), each anchor changed just before each quiet change."""
    per = 1000
    docs: list[Any] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
        for n in ("iso-heavy", "iso-quiet")
    ]
    heavy_certs = []
    for j in range(heavy // per):
        pems = [issue(f"heavy CA {j}-{i}").pem.decode() for i in range(per)]
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cas-{j}", "namespace": "iso-heavy"},
                "data": {"bundle.pem": "".join(pems)},
            }
        )
        heavy_certs.append([{"configMapKeyRef": {"name": f"cas-{j}", "key": "bundle.pem"}}])
        docs += _workload_and_anchor("iso-heavy", f"w{j}", heavy_certs[j], f"ca-{j}")
    docs += _workload_and_anchor(
        "iso-quiet", "w", [{"alias": "tpproot", "inline": _pem("quiet CA")}]
    )
    # Server-side: kubectl's last-applied copy of these would pass the 256 KiB limit.
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(docs))
    operator = Operator(operator_kubeconfig, work / "isolation.log", *BENCH_IDENTITY)
    arrivals = Arrivals(cluster.plane, "/api/v1/configmaps", "obreg-w")
    anchors = "/apis/obreg.dev/v1alpha1/namespaces/{}/obtrustanchors/{}"
    ready = ["wait", "--for=condition=Ready", "obta", "--all", "--timeout=300s", "-n"]
    try:
        cluster.kubectl(*ready, "iso-heavy")
        cluster.kubectl(*ready, "iso-quiet")
        reactions = []
        for i in range(changes):
            # The heavy anchors change first, so their renders are under way (longer
            # than the settle time) when the quiet one's request comes due.
            for j, certs in enumerate(heavy_certs):
                extra = {"alias": "extra", "inline": _pem(f"heavy extra {i}")}
                change = {"spec": {"certificates": [*certs, extra]}}
                cluster.plane.request(
                    anchors.format("iso-heavy", f"ca-{j}"),
                    "PATCH",
                    change,
                    "application/merge-patch+json",
                )
            quiet = {"spec": {"certificates": [{"alias": "tpproot", "inline": _pem(f"q {i}")}]}}
            began = time.perf_counter()
            old = _digest(arrivals.last("iso-quiet", began) or {"metadata": {}})
            cluster.plane.request(
                anchors.format("iso-quiet", "ca"), "PATCH", quiet, "application/merge-patch+json"
            )
            seen = arrivals.wait(began, ["iso-quiet"], _digest_differs(old), 60)
            reactions.append(seen["iso-quiet"] - began)
            # The heavy renders end before the next round, so each round is alike.
            cluster.kubectl(*ready, "iso-heavy")
    finally:
        operator.stop()
    return {
        "heavy_certificates": heavy,
        "heavy_workloads": len(heavy_certs),
        "settle_seconds": SETTLE,
        "quiet_reaction": summary(reactions),
    }


def peer(
    cluster: Cluster, operator_kubeconfig: Path, work: Path, targets: int, changes: int, idle: float
) -> dict[str, Any]:
    """obreg's side of bench/peer.py's job: one OBTrustAnchor and workload per namespace;
    a CA change is one patch per namespace. Settle 0, as trust-manager does not wait."""
    names = [f"obpeer-{targets}-{i:04d}" for i in range(targets)]
    for first in range(0, targets, 100):
        docs: list[Any] = []
        for ns in names[first : first + 100]:
            docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            docs += _workload_and_anchor(ns, "w", [{"alias": "ca", "inline": _pem(f"{ns} 0")}])
        cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    arrivals = Arrivals(cluster.plane, "/api/v1/configmaps", "obreg-w")
    start = time.perf_counter()
    operator = Operator(
        operator_kubeconfig,
        work / f"peer-{targets}.log",
        *BENCH_IDENTITY,
        "--settle-seconds",
        "0",
    )
    try:
        written = arrivals.wait(start, names, lambda _: True, 900)
        to_all_written = max(written.values()) - start
        latencies = []
        for change in range(changes):
            began: dict[str, float] = {}
            for ns in names:
                path = f"/apis/obreg.dev/v1alpha1/namespaces/{ns}/obtrustanchors/ca"
                body = {
                    "spec": {
                        "certificates": [{"alias": "ca", "inline": _pem(f"{ns} {change + 1}")}]
                    }
                }
                began[ns] = time.perf_counter()
                cluster.plane.request(path, "PATCH", body, "application/merge-patch+json")
            for ns in names:
                old = _digest(arrivals.last(ns, began[ns]) or {"metadata": {}})
                seen = arrivals.wait(began[ns], [ns], _digest_differs(old), 300)
                latencies.append(seen[ns] - began[ns])
        idle_writes = peer_module.idle_writes(cluster, idle)
        rss, _ = operator.usage()
    finally:
        operator.stop()
    return peer_module.figures(targets, to_all_written, latencies, rss, idle, idle_writes)


def _ms(figures: dict[str, float], key: str) -> str:
    return f"{figures[key] * 1000:.0f} ms"


def _peer_rows(name: str, f: dict[str, Any]) -> list[str]:
    c = f["change_to_target"]
    return [
        name,
        str(f["targets"]),
        f"{f['start_to_all_written_seconds']:.1f} s",
        _ms(c, "median"),
        _ms(c, "p95"),
        _ms(c, "max"),
        f"{f['peak_rss_mb']:.0f} MB",
        f"{f['idle_configmap_writes']:.0f}",
    ]


@contextlib.contextmanager
def _installed() -> Iterator[tuple[Cluster, Path, Path]]:
    """A plane with obreg's cluster side installed as the chart would; the operator's
    kubeconfig (its ServiceAccount) and a work folder."""
    with ControlPlane() as plane, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster = Cluster(plane)
        install_obreg.install(cluster.kubectl, plane.binaries["helm"])
        yield (
            cluster,
            install_obreg.service_account_kubeconfig(
                cluster.kubectl, plane.kubeconfig, work / "operator.kubeconfig"
            ),
            work,
        )


def scale_alone(profiled: bool) -> None:
    """The scale step alone (no idle window), its operator under cProfile when
    ``profiled`` (the event loop's thread): where obreg's memory and CPU go. Run it with
    another checkout's operator first on PYTHONPATH to compare two versions."""
    with _installed() as (cluster, kubeconfig, work):
        stats = work / "operator.prof"
        figures = scale(
            cluster, kubeconfig, work, 1000, 50, idle=0, profile=stats if profiled else None
        )
        print(
            f"to all Ready {figures['seconds_to_all_ready']:.1f} s, operator CPU "
            f"{figures['operator_cpu_seconds_to_ready']:.1f} s, "
            f"peak RSS {figures['operator_peak_rss_mb']:.0f} MB"
        )
        if profiled:
            pstats.Stats(str(stats)).sort_stats("tottime").print_stats(30)


def footprint_alone() -> None:
    """obreg's side of the peers step at 1,000 namespaces of one anchor each, alone: its
    peak RSS, the footprint that grows with namespaces rather than anchors."""
    with _installed() as (cluster, kubeconfig, work):
        figures = peer(cluster, kubeconfig, work, 1000, 1, idle=0)
        print(json.dumps(figures))


def main() -> None:
    if "--profile" in sys.argv or "--scale" in sys.argv:
        scale_alone("--profile" in sys.argv)
        return
    if "--footprint" in sys.argv:
        footprint_alone()
        return
    quick = "--quick" in sys.argv
    figures: dict[str, Any] = {}
    anchors, spread = (100, 10) if quick else (1000, 50)
    with _installed() as (cluster, kubeconfig, work):

        def step(name: str, figure: Any) -> None:
            # Each step's figures as soon as it ends: a later step's failure loses none.
            figures[name] = figure
            print(json.dumps({name: figure}), flush=True)

        step("reaction", reaction(cluster, kubeconfig, work, 10 if quick else 100))
        step(
            "scale",
            scale(cluster, kubeconfig, work, anchors, spread, idle=20 if quick else 300),
        )
        _gone(cluster, "scale")
        step(
            "background",
            scale(
                cluster,
                kubeconfig,
                work,
                anchors,
                spread,
                idle=0,
                prefix="bg",
                background=200 if quick else 2000,
            ),
        )
        _gone(cluster, "bg")
        step(
            "isolation",
            isolation(cluster, kubeconfig, work, 1000 if quick else 3000, 5 if quick else 20),
        )
        # Its 3,000 certificates stay referenced otherwise, and later steps' operators
        # would hold and render them.
        _gone(cluster, "iso")
        peers = []
        for targets, changes in ((10, 2), (50, 2)) if quick else ((50, 5), (1000, 2)):
            idle = 10 if quick else 30
            for unthrottled in (False, True):
                run = peer_module.trust_manager(cluster, work, unthrottled, targets, changes, idle)
                run["name"] = f"trust-manager{' (no 5/s limit)' if unthrottled else ''}"
                peers.append(run)
            run = peer(cluster, kubeconfig, work, targets, changes, idle)
            run["name"] = "obreg (settle 0)"
            peers.append(run)
        step("peers", peers)
    r, s, b, i = figures["reaction"], figures["scale"], figures["background"], figures["isolation"]
    print(
        table(
            [
                ["reaction (settle 1 s)", "p50", "p95", "max"],
                [
                    "apply -> ConfigMap",
                    *(_ms(r["to_configmap"], k) for k in ("median", "p95", "max")),
                ],
                [
                    "apply -> rollout",
                    *(_ms(r["to_rollout_annotation"], k) for k in ("median", "p95", "max")),
                ],
                [
                    f"quiet ns, other renders {i['heavy_certificates']} certs",
                    *(_ms(i["quiet_reaction"], k) for k in ("median", "p95", "max")),
                ],
            ]
        )
    )
    print(
        table(
            [
                ["scale", "alone", "with unrelated objects"],
                ["anchors / namespaces", *(f"{x['anchors']} / {x['namespaces']}" for x in (s, b))],
                [
                    "unrelated Secrets (100 KB) + ConfigMaps",
                    "0",
                    "{0} + {0}".format(b["unrelated_secrets_and_configmaps"]),
                ],
                ["start -> all Ready", *(f"{x['seconds_to_all_ready']:.1f} s" for x in (s, b))],
                ["operator peak RSS", *(f"{x['operator_peak_rss_mb']:.0f} MB" for x in (s, b))],
                [
                    "operator CPU to Ready",
                    *(f"{x['operator_cpu_seconds_to_ready']:.1f} s" for x in (s, b)),
                ],
                [
                    "obreg requests / resource (no watches)",
                    *(f"{x['requests_per_resource']:.1f}" for x in (s, b)),
                ],
                [
                    "obreg writes / resource",
                    *(f"{x['write_requests_per_resource']:.1f}" for x in (s, b)),
                ],
                [
                    f"writes in {s['idle_seconds']:.0f} s idle",
                    f"{s['idle_write_requests']:.0f}",
                    "-",
                ],
            ]
        )
    )
    print(
        table(
            [
                [
                    "one CA to N targets",
                    "N",
                    "start -> all",
                    "p50",
                    "p95",
                    "max",
                    "peak RSS",
                    "idle writes",
                ],
                *(_peer_rows(f["name"], f) for f in figures["peers"]),
            ]
        )
    )
    print(f"results: {write('operator', 'quick' if quick else 'full', figures)}")


if __name__ == "__main__":
    main()

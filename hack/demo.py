"""``make demo``: the runbook's scenario on the local control plane, end to end.

Brings the plane up (or reuses it), installs the CRDs and the chart's ServiceAccount and
RBAC, starts ``obreg run`` in the background as that ServiceAccount, starts
the Key Manager double (testbed/kmdouble.py) in place of the KM's admin services, applies
samples/ pointed at the double, waits for Ready and shows what obreg wrote, which
rollouts it caused and what it made in the KM database. Everything keeps running for a
look around; ``make cluster-down`` stops it all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from obreg.km.destination import ALLOWED_HOSTS_ANNOTATION, authority
from testbed import install_obreg
from testbed.controlplane import __main__ as plane
from testbed.controlplane import build
from testbed.controlplane.launcher import free_port

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "obreg-demo"
BINARIES = build.build_all()  # resolved once: each lookup asks go for versions


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    binary = BINARIES["kubectl"]
    result = subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def main() -> None:
    plane.up()
    state = json.loads(plane.STATE.read_text())
    kubeconfig = state["kubeconfig"]

    def run(*args: str, stdin: str | None = None) -> str:
        return kubectl(kubeconfig, *args, stdin=stdin)

    install_obreg.install(run, BINARIES["helm"])
    operator_kubeconfig = install_obreg.service_account_kubeconfig(
        run, Path(kubeconfig), plane.STATE.parent / "operator.kubeconfig"
    )

    if not state.get("operator_pid"):
        log = plane.STATE.parent / "operator.log"
        with log.open("ab") as sink:
            operator = subprocess.Popen(
                [sys.executable, "-m", "obreg.cli", "run"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "KUBECONFIG": str(operator_kubeconfig)},
            )
        state["operator_pid"] = operator.pid
        state["pids"].append(operator.pid)
        plane.STATE.write_text(json.dumps(state))
        print(f"obreg run started as ServiceAccount obreg-system/obreg; log {log}")

    km_url, km_ca = _km_double(state)
    docs = [
        d
        for p in sorted((ROOT / "samples").glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text())
        if d
    ]
    for doc in docs:  # point the samples at the double
        if doc["kind"] == "OBServiceProvider":
            doc["spec"]["keyManagerAdmin"]["url"] = km_url
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "km-tls-ca":
            doc["data"]["ca.crt"] = km_ca
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == "km-admin":
            doc["metadata"]["annotations"][ALLOWED_HOSTS_ANNOTATION] = authority(km_url)
        if doc["kind"] == "Deployment":  # WSO2's images are not here: the fake node only,
            # also on a plane with a real node (make cluster-up NODE=real)
            doc["spec"]["template"]["spec"]["nodeSelector"] = {"type": "kwok"}
    kubectl(kubeconfig, "apply", "-f", str(ROOT / "samples" / "00-namespace.yaml"))
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    started = time.monotonic()
    kubectl(
        kubeconfig,
        "wait",
        "--for=condition=Ready",
        "obta,obidp,obsp",
        "--all",
        "-n",
        NAMESPACE,
        "--timeout=120s",
    )
    print(f"\nAll three resources Ready after {time.monotonic() - started:.1f}s:\n")
    print(kubectl(kubeconfig, "get", "ob", "-n", NAMESPACE))
    for kind in ("configmap", "secret"):
        for workload in ("wso2-km", "wso2-apim"):
            obj = json.loads(
                kubectl(kubeconfig, "get", kind, f"obreg-{workload}", "-n", NAMESPACE, "-o", "json")
            )
            keys = sorted({**obj.get("data", {}), **obj.get("binaryData", {})})
            print(f"{kind} obreg-{workload} (mounted into {workload}):")
            for key in keys:
                print(f"  {key.replace('__', '/')}")
    print("\nRollouts (ReplicaSets; obreg's carry its digest):")
    for rs in json.loads(kubectl(kubeconfig, "get", "rs", "-n", NAMESPACE, "-o", "json"))["items"]:
        digest = (rs["spec"]["template"]["metadata"].get("annotations") or {}).get(
            "obreg.dev/digest", "-"
        )
        print(f"  {rs['metadata']['name']:28} digest {digest[:16]}")
    print("\nEvents obreg posted:")
    print(
        kubectl(
            kubeconfig,
            "get",
            "events",
            "-n",
            NAMESPACE,
            "--field-selector",
            "reason=RolledOut",
            "-o",
            "custom-columns=OBJECT:.involvedObject.name,MESSAGE:.message",
        )
    )
    print("Key Manager database (the double standing in for the KM's admin services):")
    print(
        kubectl(
            kubeconfig,
            "get",
            "obsp",
            "apim-store",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.status.keyManagerDatabase.message}",
        )
    )
    print(f"\nExplore with: kubectl --kubeconfig {kubeconfig} get ob -n {NAMESPACE}")
    print("Stop everything with: make cluster-down")
    print(f"KUBECONFIG={kubeconfig}")


def _km_double(state: dict[str, Any]) -> tuple[str, str]:
    """Start the KM double in the background (once per plane); its URL and CA PEM. It
    accepts the sample's admin password, so the samples' Secret works unchanged."""
    directory = plane.STATE.parent / "km-double"
    if not state.get("km_double_url"):
        directory.mkdir(exist_ok=True)
        sample = next(
            d
            for d in yaml.safe_load_all((ROOT / "samples" / "key-manager-admin.yaml").read_text())
            if d["kind"] == "Secret"
        )
        (directory / "password").write_text(sample["stringData"]["password"])
        (directory / "ca.crt").unlink(missing_ok=True)
        port = free_port()
        with (directory / "double.log").open("ab") as sink:
            double = subprocess.Popen(
                [sys.executable, "-m", "testbed.kmdouble", "--port", str(port),
                 "--dir", str(directory), "--password-file", str(directory / "password")],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (directory / "ca.crt").exists():
            if double.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the KM double did not start; see {directory / 'double.log'}")
            time.sleep(0.2)
        state["km_double_url"] = f"https://127.0.0.1:{port}"
        state["pids"].append(double.pid)
        plane.STATE.write_text(json.dumps(state))
        print(f"KM double at {state['km_double_url']}; log {directory / 'double.log'}")
    return str(state["km_double_url"]), (directory / "ca.crt").read_text()


if __name__ == "__main__":
    main()

"""``make demo``: the runbook's scenario on the local control plane, end to end.

Brings the plane up (or reuses it), installs the CRDs and the chart's ServiceAccount, RBAC
and peering object, starts ``obreg run`` in the background as that ServiceAccount,
applies samples/, waits for Ready and shows what obreg wrote and which rollouts it
caused. Everything keeps running for a look around; ``make cluster-down`` stops it all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import install_obreg
from controlplane import __main__ as plane
from controlplane import build

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

    kubectl(kubeconfig, "apply", "-f", str(ROOT / "samples" / "00-namespace.yaml"))
    kubectl(kubeconfig, "apply", "-R", "-f", str(ROOT / "samples"))
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
    print(f"Explore with: kubectl --kubeconfig {kubeconfig} get ob -n {NAMESPACE}")
    print("Stop everything with: make cluster-down")
    print(f"KUBECONFIG={kubeconfig}")


if __name__ == "__main__":
    main()

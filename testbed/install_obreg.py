"""Install obreg's cluster side on a local control plane the way a user without Helm
would: its CRDs (crds/, what ``obreg crds`` prints) and its ServiceAccount and RBAC
(rendered by helm from charts/obreg, so everything that runs obreg locally holds exactly
the chart's privileges, the Lease's Role among them), and return a kubeconfig that acts
as that ServiceAccount. Used by ``make demo``, the e2e suite and the benchmarks.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from testbed.controlplane.launcher import token_kubeconfig

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "obreg"
CRDS = ROOT / "crds" / "obreg.dev.yaml"
NAMESPACE = "obreg-system"
SERVICE_ACCOUNT = "obreg"
USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"  # as the audit log names it

Kubectl = Callable[..., str]  # kubectl(*args, stdin=None) -> stdout, raising on failure


def install(kubectl: Kubectl, helm: Path, release: str = "obreg") -> None:
    kubectl("apply", "--server-side", "-f", str(CRDS))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=kubectl("create", "namespace", NAMESPACE, "--dry-run=client", "-o", "yaml"),
    )
    rendered = subprocess.run(
        [
            str(helm),
            "template",
            release,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            "1.34.4",
            "--show-only",
            "templates/serviceaccount.yaml",
            "--show-only",
            "templates/rbac.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kubectl("apply", "-f", "-", stdin=rendered)


def service_account_kubeconfig(kubectl: Kubectl, admin_kubeconfig: Path, target: Path) -> Path:
    """A kubeconfig that acts as obreg's ServiceAccount."""
    token = kubectl("create", "token", SERVICE_ACCOUNT, "-n", NAMESPACE, "--duration=24h").strip()
    config = token_kubeconfig(admin_kubeconfig, token, target)
    # Its namespace, as a pod's: where obreg keeps its digest key and its Lease.
    found = json.loads(config.read_text())
    found["contexts"][0]["context"]["namespace"] = NAMESPACE
    config.write_text(json.dumps(found))
    return config

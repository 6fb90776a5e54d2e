"""The Roles obreg needs in its own namespace, for ``obreg crds --namespace``: what an
install without Helm needs beside the CRDs so that several replicas coordinate (the
Lease they elect their leader with) and share one digest key (the Secret the first
start makes). Both are namespaced, so only the installer knows where; the chart renders
the same Roles (charts/obreg/templates/rbac.yaml; tests/e2e/test_chart_values.py holds
the two to each other). What obreg may do in the namespaces it serves is not here: that
is a choice (a ClusterRole, or Roles in some namespaces) the chart's values make."""

from __future__ import annotations

from typing import Any

import yaml

from .digest_key import DEFAULT_NAME as DIGEST_KEY

Manifest = dict[str, Any]


def _role_and_binding(
    name: str, namespace: str, service_account: str, rules: list[Manifest]
) -> list[Manifest]:
    metadata = {"name": name, "namespace": namespace}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata,
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": dict(metadata),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [
                {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
            ],
        },
    ]


def manifests(namespace: str, service_account: str, lease: str) -> list[Manifest]:
    """Get and create of the digest key's Secret; get and update of the Lease ``lease``
    (``obreg run --peering-name``), and create of Leases: RBAC cannot name the object of
    a create. Named as the chart names them for a release whose full name is ``lease``."""

    def leases() -> Manifest:
        return {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]}

    def secrets() -> Manifest:
        return {"apiGroups": [""], "resources": ["secrets"]}

    return [
        *_role_and_binding(
            f"{lease[:52].rstrip('-')}-digest-key",
            namespace,
            service_account,
            [
                {**secrets(), "resourceNames": [DIGEST_KEY], "verbs": ["get"]},
                {**secrets(), "verbs": ["create"]},
            ],
        ),
        *_role_and_binding(
            f"{lease[:46].rstrip('-')}-leader-election",
            namespace,
            service_account,
            [
                {**leases(), "resourceNames": [lease], "verbs": ["get", "update"]},
                {**leases(), "verbs": ["create"]},
            ],
        ),
    ]


def render(namespace: str, service_account: str, lease: str) -> str:
    return yaml.safe_dump_all(manifests(namespace, service_account, lease), sort_keys=False)

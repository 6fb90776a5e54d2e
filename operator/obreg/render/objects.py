"""The ConfigMap and Secret that carry a workload's bundle, as Kubernetes objects.

Pure: the operator applies exactly these with server-side apply, and ``obreg render``
writes exactly these, so a pull request review of the CLI's output is a review of what
the cluster will get. Files embedding a secret go to the Secret and only there.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..api.common import WorkloadRef
from .bundle import Bundle
from .inputs import INPUT_LABEL

MANAGED_BY = {"app.kubernetes.io/managed-by": "obreg"}
DIGEST_ANNOTATION = "obreg.dev/digest"
WORKLOAD_LABEL = "obreg.dev/workload"
WORKLOAD_KIND_LABEL = "obreg.dev/workload-kind"


def managed(labels: Mapping[str, str]) -> bool:
    """Whether an object's labels say obreg manages it."""
    return all(labels.get(k) == v for k, v in MANAGED_BY.items())


def output_name(workload: WorkloadRef) -> str:
    """The name of obreg's ConfigMap and Secret for a workload."""
    return f"obreg-{workload.name}"


def object_name(bundle: Bundle) -> str:
    return output_name(bundle.workload)


def _metadata(bundle: Bundle) -> dict[str, Any]:
    return {
        "name": object_name(bundle),
        "namespace": bundle.namespace,
        "labels": {
            **MANAGED_BY,
            WORKLOAD_LABEL: bundle.workload.name,
            WORKLOAD_KIND_LABEL: bundle.workload.kind,
        },
        "annotations": {DIGEST_ANNOTATION: bundle.digest},
    }


def config_map(bundle: Bundle) -> dict[str, Any]:
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for item in bundle.files:
        if item.secret:
            continue
        try:
            data[item.key] = item.content.decode("utf-8")
        except UnicodeDecodeError:
            binary[item.key] = base64.b64encode(item.content).decode()
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(bundle),
    }
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


def secret(bundle: Bundle) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _metadata(bundle),
        "data": {
            item.key: base64.b64encode(item.content).decode()
            for item in bundle.files
            if item.secret
        },
    }


def credentials_secret(namespace: str, name: str, data: dict[str, bytes]) -> dict[str, Any]:
    """The Secret holding generated client credentials of an OBServiceProvider."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        # An input of obreg as any other Secret its resources read (render/inputs.py).
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**MANAGED_BY, INPUT_LABEL: "true"},
        },
        "data": {key: base64.b64encode(value).decode() for key, value in sorted(data.items())},
    }

"""What obreg writes on a workload: the digest annotation that rolls its pods, and, for a
workload that opts in, the projected volume and mounts that carry its files.

Pure: from the workload as indexed and the bundle to a server-side apply body. Applying
the same body again changes nothing, so the rollout happens exactly when the digest
changes. A workload that opts out of injection mounts ``obreg-<name>`` itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..render.bundle import Bundle
from ..render.objects import DIGEST_ANNOTATION, object_name

INJECT_LABEL = "obreg.dev/inject"
MOUNT_ROOT_ANNOTATION = "obreg.dev/mount-root"
DEFAULT_MOUNT_ROOT = "/home/wso2carbon/wso2-config-volume"
VOLUME = "obreg-files"


@dataclass(frozen=True, slots=True)
class Rollout:
    """Whether the workload's pods all run its current template, and how many are
    ready: a Key Manager whose ready count dropped and came back may have restarted with
    a new database."""

    complete: bool
    ready: int


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload as the index keeps it: what obreg compares and checks, nothing more.
    Compared whole, so that only a change of one of these is passed on."""

    kind: str
    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str]
    # Only obreg's own (obreg.dev/...).
    annotations: Mapping[str, str]
    # Of obreg's digest annotation on the pod template; None before obreg's first apply.
    digest: str | None
    containers: tuple[str, ...]
    # Per container: mount path -> volume name.
    mounts: Mapping[str, Mapping[str, str]]
    # obreg's injected volume as the workload has it, if it has one.
    volume: Mapping[str, Any] | None
    fs_group: int | None
    # Per volume: the ConfigMaps and Secrets it reads.
    volume_objects: Mapping[str, tuple[str, ...]]
    rollout: Rollout
    # Not compared: which version this is says nothing about what it holds, but it tells
    # obreg's own write coming back (kube/api.py's own_echo) from anyone else's.
    resource_version: str = field(default="", compare=False)


def injects(workload: Workload) -> bool:
    return workload.labels.get(INJECT_LABEL) == "true"


def mount_root(workload: Workload) -> str:
    return workload.annotations.get(MOUNT_ROOT_ANNOTATION, DEFAULT_MOUNT_ROOT).rstrip("/")


def file_mode(workload: Workload) -> int:
    """The mode of the mounted files: readable by the product whatever UID it runs as.

    kubelet makes projected files owned by root, and by the pod's fsGroup when it sets
    one (every container's process is then in that group): group-readable is enough
    then. Without one, the files are root's, and WSO2's images run as wso2carbon (802),
    which only the "other" bits let read them (found by the real-node tier: a stand-in
    running as 802 could not read 0440 files). Kubernetes' own default is 0644.
    """
    return 0o440 if workload.fs_group is not None else 0o444


def _projected_volume(workload: Workload, bundle: Bundle) -> dict[str, Any]:
    name = object_name(bundle)
    mode = file_mode(workload)
    sources: list[dict[str, Any]] = []
    plain = [{"key": f.key, "path": f.path} for f in bundle.files if not f.secret]
    secret = [{"key": f.key, "path": f.path, "mode": mode} for f in bundle.files if f.secret]
    if plain:
        sources.append({"configMap": {"name": name, "items": plain}})
    if secret:
        sources.append({"secret": {"name": name, "items": secret}})
    return {"name": VOLUME, "projected": {"sources": sources, "defaultMode": mode}}


def apply_body(workload: Workload, bundle: Bundle) -> dict[str, Any]:
    """The server-side apply body obreg owns on the workload."""
    template: dict[str, Any] = {"metadata": {"annotations": {DIGEST_ANNOTATION: bundle.digest}}}
    if injects(workload) and bundle.files:
        root = mount_root(workload)
        template["spec"] = {
            "volumes": [_projected_volume(workload, bundle)],
            "containers": [
                {
                    "name": name,
                    "volumeMounts": [{"name": VOLUME, "mountPath": root, "readOnly": True}],
                }
                for name in workload.containers
            ],
        }
    return {
        "apiVersion": "apps/v1",
        "kind": workload.kind,
        # The uid is a precondition: an apply never creates a workload someone deleted
        # meanwhile (a half object of obreg's fields), nor lands on a new one of the same
        # name that obreg has not read yet; the API server answers 409 instead.
        "metadata": {
            "name": workload.name,
            "namespace": workload.namespace,
            "uid": workload.uid,
        },
        "spec": {"template": template},
    }


def needs_apply(workload: Workload, bundle: Bundle) -> bool:
    """Whether the workload differs from what obreg would apply: the digest, or (when
    injecting) the volume and mounts, which someone may have edited by hand."""
    if workload.digest != bundle.digest:
        return True
    if not (injects(workload) and bundle.files):
        return False
    body = apply_body(workload, bundle)["spec"]["template"]["spec"]
    if workload.volume != body["volumes"][0]:
        return True
    root = mount_root(workload)
    return any(workload.mounts.get(c, {}).get(root) != VOLUME for c in workload.containers)


def rolls(workload: Workload, bundle: Bundle) -> bool:
    """Whether applying the bundle restarts the workload's pods: only a new digest
    changes the pod template's annotation. Re-applied mounts that someone edited
    restore the template obreg owns, which rolls nothing new in (the digest, and so the
    files, are the same)."""
    return workload.digest != bundle.digest


def hidden_files(workload: Workload, bundle: Bundle) -> list[str]:
    """Mounts of other volumes that sit under obreg's root and so hide some of its files
    (the container sees the deeper mount's content there, not obreg's)."""
    root = _obreg_root(workload, bundle)
    if root is None:
        return []
    found = []
    for container, mounts in sorted(workload.mounts.items()):
        for mount_path, volume in sorted(mounts.items()):
            if volume == VOLUME or _is_ours(workload, volume, bundle):
                continue
            hidden = [
                f.path
                for f in bundle.files
                if f"{root}/{f.path}".startswith(mount_path.rstrip("/") + "/")
            ]
            if mount_path.rstrip("/") == root or hidden:
                found.append(
                    f"container {container}: volume {volume} mounted at {mount_path} hides "
                    + (", ".join(hidden) if hidden else "obreg's whole mount")
                )
    return found


def _is_ours(workload: Workload, volume: str, bundle: Bundle) -> bool:
    return object_name(bundle) in workload.volume_objects.get(volume, ())


def _obreg_root(workload: Workload, bundle: Bundle) -> str | None:
    """Where obreg's files are mounted: the injected volume, or the user's own mount of
    a volume that reads obreg-<name>."""
    if injects(workload):
        return mount_root(workload)
    for mounts in workload.mounts.values():
        for mount_path, volume in mounts.items():
            if _is_ours(workload, volume, bundle):
                return str(mount_path).rstrip("/")
    return None


def rollout(body: Mapping[str, Any]) -> Rollout:
    """The workload's rollout by kubectl rollout status's rule."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    observed = int(status.get("observedGeneration") or 0) >= int(
        (body.get("metadata") or {}).get("generation") or 0
    )
    updated = int(status.get("updatedReplicas") or 0) == wanted
    if body.get("kind") == "StatefulSet":
        settled = status.get("currentRevision") == status.get("updateRevision")
        running = int(status.get("readyReplicas") or 0) == wanted
    else:
        settled = int(status.get("replicas") or 0) == wanted  # no pods of old templates
        running = int(status.get("availableReplicas") or 0) == wanted
    return Rollout(
        complete=observed and updated and settled and running,
        ready=int(status.get("readyReplicas") or 0),
    )


def summarize(body: Mapping[str, Any]) -> Workload:
    """The workload as the index keeps it."""
    meta = body.get("metadata", {})
    template = body.get("spec", {}).get("template", {})
    pod = template.get("spec", {})
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    volume_objects: dict[str, tuple[str, ...]] = {}
    for name, volume in volumes.items():
        names = [
            (volume.get("configMap") or {}).get("name"),
            (volume.get("secret") or {}).get("secretName"),
        ]
        for projected in (volume.get("projected") or {}).get("sources") or []:
            names += [
                (projected.get(source) or {}).get("name") for source in ("configMap", "secret")
            ]
        volume_objects[name] = tuple(n for n in names if n)
    containers = pod.get("containers") or []
    annotations = meta.get("annotations") or {}
    return Workload(
        kind=str(body.get("kind")),
        name=str(meta.get("name")),
        namespace=str(meta.get("namespace")),
        uid=str(meta.get("uid")),
        labels=dict(meta.get("labels") or {}),
        annotations={k: v for k, v in annotations.items() if k.startswith("obreg.dev/")},
        digest=(template.get("metadata", {}).get("annotations") or {}).get(DIGEST_ANNOTATION),
        containers=tuple(c.get("name") for c in containers),
        mounts={
            c.get("name"): {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
            for c in containers
        },
        volume=volumes.get(VOLUME),
        fs_group=(pod.get("securityContext") or {}).get("fsGroup"),
        volume_objects=volume_objects,
        rollout=rollout(body),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


WorkloadKey = tuple[str, str, str]  # (namespace, kind, name)
KINDS = ("Deployment", "StatefulSet")


def key(kind: str, metadata: Mapping[str, Any]) -> WorkloadKey:
    # Interned: the same namespace names repeat across every workload of a cluster.
    return sys.intern(str(metadata["namespace"])), kind, str(metadata["name"])


class Workloads:
    """The summary of every workload in scope, kept from a list-then-watch
    (kube/datawatch.py). Only a change of a summary is passed on, so the status updates of a
    rollout that change nothing obreg reads stop here, before any handler runs."""

    def __init__(self) -> None:
        self.held: dict[WorkloadKey, Workload] = {}

    def event(self, kind: str, kind_of_event: str, obj: Mapping[str, Any]) -> WorkloadKey | None:
        """Apply a watch event (a listed item comes as ADDED); the key if the summary
        appeared, changed or went."""
        item = key(kind, obj["metadata"])
        if kind_of_event == "DELETED":
            return item if self.held.pop(item, None) is not None else None
        new = summarize({**obj, "kind": kind})
        if self.held.get(item) == new:
            return None
        self.held[item] = new
        return item

    def relisted(
        self, kind: str, namespace: str | None, seen: Iterable[WorkloadKey]
    ) -> list[WorkloadKey]:
        """A complete list of ``kind`` in ``namespace`` (None: every namespace) came:
        forget and return what it no longer has (deleted while no watch was open)."""
        present = set(seen)
        gone = [
            item
            for item in self.held
            if item[1] == kind and namespace in (None, item[0]) and item not in present
        ]
        for item in gone:
            del self.held[item]
        return gone

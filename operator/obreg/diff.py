"""``obreg diff``: what the given manifests would change in a live cluster, per workload.

The manifests are rendered as ``obreg render`` renders them, and each workload's files
are compared with those in its live objects ``obreg-<workload>`` (ConfigMap and Secret):
files, not digests, since the published digest is keyed (render/digest.py) and diff has
no need of the key. A text file from the ConfigMap is shown as a unified diff; a
truststore as the diff of its certificate listing (render/listing.py); a file the
Secret carries only as "changed", never its content. A workload rolls when any of its
files changes (the digest annotation covers every file). The Key Manager's state is read
from each OBServiceProvider's status, as the operator last recorded it.

Reads only: get on configmaps and secrets named obreg-<workload>, on the targeted
deployments and statefulsets, and on observiceproviders. Exit codes follow kubectl diff:
0 no difference, 1 differences, 2 refused input or an unreachable or refusing cluster,
3 internal error.
"""

from __future__ import annotations

import base64
import difflib
import sys
from dataclasses import dataclass, field
from typing import Any

from .api import names
from .api.common import API_VERSION
from .api.kinds import SERVICE_PROVIDER
from .api.trust_anchor import DEFAULT_PASSWORD
from .errors import printable
from .render import bundle, listing, objects

EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2


@dataclass
class WorkloadDiff:
    label: str
    lines: list[str] = field(default_factory=list)
    changed: bool = False


def _live_files(api: Any, namespace: str, name: str) -> tuple[dict[str, bytes], set[str], bool]:
    """The live obreg-<workload> objects' files by path, which came from the Secret,
    and whether either object exists."""
    from .kube.api import ApiError, path

    files: dict[str, bytes] = {}
    secret_paths: set[str] = set()
    found = False
    for kind in ("ConfigMap", "Secret"):
        try:
            obj = api.read(
                "get", f"{kind} {namespace}/{name}", "GET", path("v1", kind, namespace, name)
            )
        except ApiError as err:
            if err.status == 404:
                continue
            raise
        found = True
        encoded = obj.get("binaryData", {}) if kind == "ConfigMap" else obj.get("data", {})
        for key, value in (encoded or {}).items():
            files[key.replace(names.KEY_SEPARATOR, "/")] = base64.b64decode(value)
            if kind == "Secret":
                secret_paths.add(key.replace(names.KEY_SEPARATOR, "/"))
        if kind == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                files[key.replace(names.KEY_SEPARATOR, "/")] = str(value).encode()
    return files, secret_paths, found


def _text_diff(path: str, old: bytes, new: bytes) -> list[str]:
    try:
        before, after = old.decode("utf-8"), new.decode("utf-8")
    except UnicodeDecodeError:
        return [f"    {path}: changed (binary)"]
    return [
        "    " + printable(line.rstrip("\n"))
        for line in difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"live/{path}",
            f"rendered/{path}",
        )
    ]


def compare(item: bundle.Bundle, live: dict[str, bytes], live_secret: set[str]) -> list[str]:
    """Each file that would change, with what a reader may see of it."""
    lines: list[str] = []
    rendered = {f.path: f for f in item.files}
    for path in sorted(set(rendered) | set(live)):
        file = rendered.get(path)
        before = live.get(path)
        secret = (file is not None and file.secret) or path in live_secret
        if file is None:
            lines.append(f"  removed {path}")
            continue
        if before == file.content:
            continue
        if item.placeholders.get(path):
            lines.append(
                f"  unknown {path}: rendered with placeholders for "
                + ", ".join(item.placeholders[path])
            )
            continue
        verb = "added" if before is None else "changed"
        if secret:  # never a Secret-derived byte, nor a diff of one
            lines.append(f"  {verb} {path} (from a Secret: content not shown)")
        elif path in item.listings:
            old = listing.of_keystore(before, DEFAULT_PASSWORD) if before is not None else ""
            lines.append(f"  {verb} {path} (certificates):")
            lines += _text_diff(
                path + listing.SUFFIX, (old or "").encode(), item.listings[path].encode()
            )
        else:
            lines.append(f"  {verb} {path}:")
            lines += _text_diff(path, before or b"", file.content)
    return lines


def _workload(api: Any, item: bundle.Bundle) -> str:
    from .kube.api import ApiError, path

    kind = item.workload.kind
    try:
        obj = api.read(
            "get",
            f"{kind} {item.namespace}/{item.workload.name}",
            "GET",
            path("apps/v1", kind, item.namespace, item.workload.name),
        )
    except ApiError as err:
        if err.status == 404:
            return "absent"
        raise
    annotations = (
        obj.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations")
        or obj.get("metadata", {}).get("annotations")
        or {}
    )
    return (
        "present"
        if objects.DIGEST_ANNOTATION in annotations
        else "present, not yet rolled by obreg"
    )


def _key_manager(
    api: Any, item: bundle.Bundle, namespace: bundle.Namespace, rolls: bool
) -> list[str]:
    from .kube.api import ApiError, path

    lines = []
    for sp in namespace.service_providers:
        if sp.spec.key_manager_admin is None or sp.spec.key_manager != item.workload:
            continue
        try:
            obj = api.read(
                "get",
                f"{SERVICE_PROVIDER.kind} {sp.namespace}/{sp.name}",
                "GET",
                path(API_VERSION, SERVICE_PROVIDER.kind, sp.namespace, sp.name),
            )
            result = (obj.get("status") or {}).get("keyManagerDatabase") or {}
        except ApiError as err:
            if err.status != 404:
                raise
            result = {}
        state = result.get("state", "not recorded (new)")
        steps = (
            f"OAuth app {sp.spec.application_name}, OIDC claim {sp.spec.oidc_claim.claim_uri}, "
            "openid scope"
        )
        would = "checked again after the roll" if rolls or not result else "unchanged"
        lines.append(
            f"  Key Manager, {SERVICE_PROVIDER.kind} {sp.name}: live {printable(str(state))}; "
            f"{steps}: {would}"
        )
    return lines


def run(api: Any, rendered: Any, manifests: Any) -> int:
    """Print each workload's differences; the exit code as kubectl diff's."""
    different = False
    for item in rendered.bundles:
        name = objects.object_name(item)
        live, live_secret, found = _live_files(api, item.namespace, name)
        changes = compare(item, live, live_secret)
        rolls = bool(changes)
        workload = _workload(api, item)
        header = f"{item.namespace}/{item.workload.kind}/{item.workload.name}"
        if not found:
            changes.insert(0, f"  ConfigMap and Secret {name} would be created")
        km = _key_manager(api, item, manifests.namespaces[item.namespace], rolls)
        if changes:
            different = True
            roll = "would roll" if workload != "absent" else "workload absent: nothing rolls"
            count = sum(1 for line in changes if not line.startswith("    "))
            print(f"{header}: {count} file(s) would change, {roll}")
            for line in changes:
                print(line)
        else:
            print(f"{header}: no difference, would not roll")
        for line in km:
            print(line)
    return EXIT_DIFFERENT if different else EXIT_SAME


def error(message: str) -> int:
    print(f"obreg: {message}", file=sys.stderr)
    return EXIT_ERROR

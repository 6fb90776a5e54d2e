"""The few API calls obreg makes, over the official client, run off the event loop.

Kept thin on purpose: server-side apply of whole objects under one field manager, a
create for generated credentials, and status patches. Everything else (what to write,
whether anything changed) is decided before a call is made. Errors keep the API's
reason and the object's name, never the body (which may hold secrets).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import kubernetes
import urllib3
from kubernetes.client import ApiClient

from ..api.common import API_VERSION
from ..api.kinds import KINDS

FIELD_MANAGER = "obreg"
# What a write asks back: the object's metadata only (a server that cannot transform
# answers with the whole object, the second choice). obreg reads nothing of a write's
# answer, and the whole object would be a Secret's data or a truststore sent back and
# parsed for nothing: a third of the bytes a cold start moves.
WRITE_ANSWER = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"

_PLURALS = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Secret"): "secrets",
    ("v1", "Event"): "events",
    ("apps/v1", "Deployment"): "deployments",
    ("apps/v1", "StatefulSet"): "statefulsets",
    **{(API_VERSION, kind.kind): kind.plural for kind in KINDS},
}


ObjectKey = tuple[str, str, str]  # (kind, namespace, name)


class ApiError(RuntimeError):
    """A failed call: the verb, the object and the API's status and reason only."""

    def __init__(self, verb: str, what: str, status: int, reason: str) -> None:
        super().__init__(f"{verb} {what}: HTTP {status} {reason}")
        self.status = status


def client() -> ApiClient:
    """In a pod, the ServiceAccount; elsewhere, the kubeconfig (KUBECONFIG or default).
    Always direct: HTTPS_PROXY is for the Key Manager's calls (km/proxy.py, the chart's
    ``proxy`` value), and kubernetes' client would otherwise send the API server's
    traffic through it too (kopf's does not: its trust_env is off)."""
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    configuration = kubernetes.client.Configuration.get_default_copy()
    configuration.proxy = None
    return ApiClient(configuration)


def path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    """An object's URL, or its collection's (no name) in a namespace or, with no
    namespace, in every namespace (what a cluster-wide list or watch asks for)."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"{prefix}/namespaces/{namespace}" if namespace else prefix
    collection = f"{scope}/{_PLURALS[(api_version, kind)]}"
    return f"{collection}/{name}" if name else collection


# How a request is retried by urllib3 itself: only when the connection could not be made,
# so nothing was sent. A connection dropped after the request left, or an answer asking to
# retry later (Retry-After), is obreg's failure to handle: urllib3's default re-sends a PUT
# or DELETE then, and a Lease renewal re-sent after it landed would come back 409 (tests/
# unit/test_api_writes_sent_once.py). obreg's loops retry with what they read again.
SENT_ONCE = urllib3.Retry(
    total=2, connect=2, read=0, redirect=0, status=0, other=0,
    respect_retry_after_header=False, raise_on_redirect=False, raise_on_status=False,
)  # fmt: skip


class NotLeading(RuntimeError):
    """A write refused before it was sent: this instance does not lead (kube/lease.py)."""


class Api:
    def __init__(self, api_client: ApiClient) -> None:
        self._client = api_client
        # Asked before every write: only the leader writes (set by handlers.py).
        self.leading: Callable[[], bool] = lambda: True
        # (kind, namespace, name) -> the resourceVersion obreg's last apply (or key
        # removal) of that object made, from the write's answer (own_echo).
        self._written: dict[ObjectKey, str] = {}
        # Writes of an object sent and not yet answered, and the events of it seen
        # meanwhile: (their version, what to do unless it is obreg's own) (judge).
        self._in_flight: collections.Counter[ObjectKey] = collections.Counter()
        self._held: dict[ObjectKey, list[tuple[str, Callable[[], None]]]] = {}

    @functools.cached_property
    def _pool(self) -> urllib3.HTTPConnectionPool:
        """The client's connection pool for the API server (send)."""
        manager = self._client.rest_client.pool_manager
        pool: urllib3.HTTPConnectionPool = manager.connection_from_url(
            self._client.configuration.host
        )
        return pool

    @functools.cached_property
    def _prefix(self) -> str:
        """The path of a host behind a proxy (https://proxy/k8s/clusters/x), kept before
        each request's path."""
        return str(urlsplit(self._client.configuration.host).path).rstrip("/")

    def _may_write(self, verb: str, what: str) -> None:
        if not self.leading():
            raise NotLeading(f"{verb} {what}: this instance does not lead")

    def send(
        self,
        method: str,
        url: str,
        *,
        body: object = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
        accept: str = "application/json",
        timeout: float | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """One request, its response not yet read (so a watch can be streamed).

        Sent on the client's own connection pool (its TLS settings; retried only when no
        connection could be made: SENT_ONCE), past its generated request path: that path
        cost about 0.4 ms of CPU per request more than the pool itself (bench/, the scale
        step's five writes per anchor), for parameter and header handling obreg does
        not need. The Authorization header is asked of the configuration each time, so
        a refreshed token (a ServiceAccount's, an exec plugin's) is used at once."""
        configuration = self._client.configuration
        headers = {
            **self._client.default_headers,
            "Content-Type": content_type,
            "Accept": accept,
        }
        for auth in configuration.auth_settings().values():
            if auth["in"] == "header" and auth["value"]:
                headers[auth["key"]] = auth["value"]
        target = self._prefix + url + (f"?{urlencode(query)}" if query else "")
        return self._pool.urlopen(
            method,
            target,
            body=None if body is None else json.dumps(body).encode(),
            headers=headers,
            timeout=urllib3.Timeout(total=timeout) if timeout else urllib3.Timeout.DEFAULT_TIMEOUT,
            redirect=False,  # the token goes to the API server only
            retries=SENT_ONCE,
            preload_content=False,
        )

    def read(
        self,
        verb: str,
        what: str,
        method: str,
        url: str,
        body: object = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
        accept: str = "application/json",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One request and its JSON answer, blocking; an ApiError unless 2xx."""
        response = self.send(
            method,
            url,
            body=body,
            content_type=content_type,
            query=query,
            accept=accept,
            timeout=timeout,
        )
        try:
            content = response.read()
        finally:
            response.release_conn()
        if not 200 <= response.status < 300:
            raise ApiError(verb, what, response.status, str(response.reason))
        data: dict[str, Any] = json.loads(content or b"{}")
        return data

    async def _call(
        self,
        verb: str,
        what: str,
        method: str,
        url: str,
        body: object,
        content_type: str,
        query: list[tuple[str, str]],
    ) -> dict[str, Any]:
        accept = WRITE_ANSWER if method in ("PATCH", "POST") else "application/json"
        return await asyncio.to_thread(
            self.read, verb, what, method, url, body, content_type, query, accept
        )

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A core object (Secret, ConfigMap) as it is now, or None when absent."""
        try:
            return await self._call(
                "get",
                f"{kind} {namespace}/{name}",
                "GET",
                path("v1", kind, namespace, name),
                None,
                "application/json",
                [],
            )
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def own_echo(self, kind: str, namespace: str, name: str, version: str) -> bool:
        """Whether an object's event shows exactly the version obreg's own last write of
        it made: the write coming back, which needs no reconcile (the one that wrote it
        left it so). Anyone else's change, even one made just after, has another version.
        An event that comes before its write's answer is judged by ``judge``."""
        return bool(version) and self._written.get((kind, namespace, name)) == version

    def judge(
        self, kind: str, namespace: str, name: str, version: str, changed: Callable[[], None]
    ) -> None:
        """Call ``changed`` unless an object's event at ``version`` is obreg's own write
        coming back (own_echo). While a write of the object is under way, its answer
        decides: the event of a write often arrives before the answer that names its
        version, and judged at once it looked like anyone else's change (a reconcile
        that changed nothing, for most workloads at a start)."""
        key = (kind, namespace, name)
        if self._in_flight[key]:
            self._held.setdefault(key, []).append((version, changed))
        elif not self.own_echo(kind, namespace, name, version):
            changed()

    async def _write(self, kind: str, namespace: str, name: str, call: Awaitable[Any]) -> None:
        """Make one write of an object; then judge the events of it held meanwhile (a
        failed write leaves every one of them a change, unless it shows an earlier
        write of obreg's)."""
        key = (kind, namespace, name)
        self._in_flight[key] += 1
        try:
            self._wrote(kind, namespace, name, await call)
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]
            for version, changed in self._held.pop(key, ()):
                if not self.own_echo(kind, namespace, name, version):
                    changed()

    def forget_written(self, kind: str, namespace: str, name: str) -> None:
        """The object is gone: no version of it is obreg's any more."""
        self._written.pop((kind, namespace, name), None)

    def _wrote(self, kind: str, namespace: str, name: str, answer: Mapping[str, Any]) -> None:
        version = (answer.get("metadata") or {}).get("resourceVersion")
        if version:
            self._written[(kind, namespace, name)] = str(version)

    async def apply(self, obj: Mapping[str, Any]) -> None:
        """Server-side apply of ``obj`` as obreg, taking over conflicting fields (obreg
        is the only writer of what it applies; drift is reverted)."""
        meta = obj["metadata"]
        what = f"{obj['kind']} {meta['namespace']}/{meta['name']}"
        url = path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        self._may_write("apply", what)
        await self._write(
            obj["kind"],
            meta["namespace"],
            meta["name"],
            self._call(
                "apply",
                what,
                "PATCH",
                url,
                dict(obj),
                "application/apply-patch+yaml",
                [("fieldManager", FIELD_MANAGER), ("force", "true")],
            ),
        )

    async def create(self, obj: Mapping[str, Any]) -> bool:
        """Create ``obj``; False when it already exists (someone, maybe we, was first)."""
        meta = obj["metadata"]
        what = f"{obj['kind']} {meta['namespace']}/{meta.get('name') or meta['generateName']}"
        self._may_write("create", what)
        try:
            await self._call(
                "create",
                what,
                "POST",
                path(obj["apiVersion"], obj["kind"], meta["namespace"]),
                dict(obj),
                "application/json",
                [("fieldManager", FIELD_MANAGER)],
            )
        except ApiError as err:
            if err.status == 409:
                return False
            raise
        return True

    async def served(self, group_version_path: str) -> frozenset[str] | None:
        """The resource names discovery lists under a group version (empty when the
        group version is not served at all), or None when the server did not answer."""
        try:
            found = await self._call(
                "discover",
                group_version_path,
                "GET",
                group_version_path,
                None,
                "application/json",
                [],
            )
        except ApiError as err:
            return frozenset() if err.status == 404 else None
        except (OSError, urllib3.exceptions.HTTPError):  # the server away or unreachable
            return None
        return frozenset(str(item.get("name")) for item in found.get("resources") or [])

    async def remove_keys(self, kind: str, namespace: str, name: str, keys: list[str]) -> None:
        """Remove data keys someone else added to obreg's ConfigMap or Secret: a
        server-side apply leaves the fields of other managers alone, so it cannot."""
        fields = ("data", "binaryData") if kind == "ConfigMap" else ("data",)
        self._may_write("patch", f"{kind} {namespace}/{name}")
        await self._write(
            kind,
            namespace,
            name,
            self._call(
                "patch",
                f"{kind} {namespace}/{name}",
                "PATCH",
                path("v1", kind, namespace, name),
                {field: dict.fromkeys(keys) for field in fields},
                "application/merge-patch+json",
                [("fieldManager", FIELD_MANAGER)],
            ),
        )

    async def patch_status(
        self, api_version: str, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        what = f"{kind} {namespace}/{name} status"
        self._may_write("patch", what)
        await self._call(
            "patch",
            what,
            "PATCH",
            path(api_version, kind, namespace, name) + "/status",
            {"status": dict(status)},
            "application/merge-patch+json",
            # Without it the API server names the client's User-Agent as the status'
            # manager (OpenAPI-Generator), and a GitOps tool reading managedFields cannot
            # tell obreg's status from anyone's (tests/gitops/test_flux.py found it).
            [("fieldManager", FIELD_MANAGER)],
        )

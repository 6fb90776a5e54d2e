"""The kubelet's probes of ``obreg run``, served by the process, not by kopf.

Readiness (``--readiness-port``, ``/readyz``): 503 until the first lists of workloads,
Secrets and ConfigMaps are in (before that a reconcile could not see what it needs), and
while obreg waits for its CRDs (kube/serving.py); 200 while serving; 503 again once
shutting down. A rollout of obreg itself waits for the new pod, and a
PodDisruptionBudget counts only pods that can act or take over.

Liveness (``--liveness``, e.g. ``http://0.0.0.0:8080/healthz``): 200 while the event
loop answers. kopf has an endpoint of its own, but it exists only while kopf runs, and
kopf does not run while obreg waits for its CRDs: the kubelet would restart a pod that
is only waiting. Readiness must not restart anything either: a pod that waits for the
API server is alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

PATH = "/readyz"


class _Endpoint:
    """One path on one port, answered by ``_answer``."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None

    async def _answer(self, _: web.Request) -> web.Response:
        raise NotImplementedError

    async def _serve(self, host: str, port: int, path: str) -> None:
        app = web.Application()
        app.router.add_get(path, self._answer)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Readiness(_Endpoint):
    def __init__(self) -> None:
        super().__init__()
        self.ready = False

    async def _answer(self, _: web.Request) -> web.Response:
        if self.ready:
            return web.Response(text="ok\n")
        return web.Response(status=503, text="not ready\n")

    async def serve(self, port: int) -> None:
        await self._serve("0.0.0.0", port, PATH)

    async def stop(self) -> None:
        self.ready = False
        await super().stop()


class Liveness(_Endpoint):
    async def _answer(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def serve(self, address: Address) -> None:
        await self._serve(address.host, address.port, address.path)


@dataclass(frozen=True)
class Address:
    """Where the liveness endpoint listens: ``--liveness http://host:port/path``, the
    form kopf's own flag took, so that existing manifests keep working."""

    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Address:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or port is None or parts.query or parts.fragment:
            raise ValueError(f"want http://host:port/path, not {url!r}")
        return cls(parts.hostname or "0.0.0.0", port, parts.path or "/")

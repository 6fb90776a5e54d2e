"""The readiness endpoint (``obreg run --readiness-port``): 503 until the first lists of
workloads, Secrets and ConfigMaps are in (before that a reconcile could not see what it
needs), 200 while running, 503 again once shutting down, so a rollout of obreg itself
waits for the new pod and a PodDisruptionBudget counts only pods that can act or take
over. Liveness stays kopf's own endpoint: readiness must not restart a pod that is only
waiting for the API server."""

from __future__ import annotations

from aiohttp import web

PATH = "/readyz"


class Readiness:
    def __init__(self) -> None:
        self.ready = False
        self._runner: web.AppRunner | None = None

    async def _answer(self, _: web.Request) -> web.Response:
        if self.ready:
            return web.Response(text="ok\n")
        return web.Response(status=503, text="not ready\n")

    async def serve(self, port: int) -> None:
        app = web.Application()
        app.router.add_get(PATH, self._answer)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "0.0.0.0", port).start()

    async def stop(self) -> None:
        self.ready = False
        if self._runner is not None:
            await self._runner.cleanup()

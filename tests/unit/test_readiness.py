"""obreg run's readiness endpoint: what a kubelet probe sees before, during and after."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from obreg.readiness import PATH, Readiness


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _status(url: str) -> int | str:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return "refused"


def test_not_ready_until_the_first_lists_then_ready_then_gone_when_stopping() -> None:
    async def scenario() -> list[int | str]:
        port = _free_port()
        url = f"http://127.0.0.1:{port}{PATH}"
        readiness = Readiness()
        await readiness.serve(port)
        seen = [await _status(url)]  # serving, the lists not in yet
        readiness.ready = True
        seen.append(await _status(url))
        await readiness.stop()
        seen.append(await _status(url))
        assert readiness.ready is False
        return seen

    assert asyncio.run(scenario()) == [503, 200, "refused"]

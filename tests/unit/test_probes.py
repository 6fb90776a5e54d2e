"""obreg run's probe endpoints: what a kubelet probe sees before, during and after."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from obreg.cli import EXIT_USAGE, main
from obreg.probes import PATH, Address, Liveness, Readiness


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


def test_liveness_answers_at_its_path_while_the_loop_runs() -> None:
    async def scenario() -> list[int | str]:
        port = _free_port()
        liveness = Liveness()
        await liveness.serve(Address("127.0.0.1", port, "/healthz"))
        seen = [
            await _status(f"http://127.0.0.1:{port}/healthz"),
            await _status(f"http://127.0.0.1:{port}/readyz"),
        ]
        await liveness.stop()
        seen.append(await _status(f"http://127.0.0.1:{port}/healthz"))
        return seen

    assert asyncio.run(scenario()) == [200, 404, "refused"]


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://0.0.0.0:8080/healthz", Address("0.0.0.0", 8080, "/healthz")),
        ("http://127.0.0.1:9/", Address("127.0.0.1", 9, "/")),
        ("http://[::1]:8080/live", Address("::1", 8080, "/live")),
        ("http://:8080", Address("0.0.0.0", 8080, "/")),
    ],
)
def test_a_liveness_url_as_kopf_took_it(url: str, address: Address) -> None:
    assert Address.parse(url) == address


@pytest.mark.parametrize(
    "url",
    [
        "https://0.0.0.0:8080/healthz",  # no TLS is served
        "http://0.0.0.0/healthz",  # no port
        "http://0.0.0.0:99999/healthz",  # not a port
        "http://0.0.0.0:8080/healthz?x=1",
        "0.0.0.0:8080",
    ],
)
def test_a_liveness_url_obreg_cannot_serve_is_a_usage_error(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError):
        Address.parse(url)
    with pytest.raises(SystemExit) as exited:
        main(["run", "--liveness", url])
    assert exited.value.code == EXIT_USAGE
    assert "--liveness" in capsys.readouterr().err

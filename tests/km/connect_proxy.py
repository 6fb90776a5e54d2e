"""A small forwarding proxy for the KM tests: HTTP CONNECT only, on 127.0.0.1, in a
thread of its own, counting the tunnels it opened. It relays bytes and never sees inside
them, so TLS through it is made between the client and the KM double, as through a real
corporate proxy. With ``credentials`` it wants them in Proxy-Authorization (407 else)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading


class ConnectProxy:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.tunnels: list[str] = []  # CONNECT targets, in the order they were opened
        self.refused = 0
        self.port = 0
        token = base64.b64encode(":".join(credentials).encode()).decode() if credentials else ""
        self._wanted = f"Basic {token}" if credentials else None
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConnectProxy:
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._tunnel, "127.0.0.1", 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        if not started.wait(10):
            raise RuntimeError("the test proxy did not start")
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(close(), self._loop)

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            if self._wanted and headers.get("Proxy-Authorization") != self._wanted:
                self.refused += 1
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(
                host.strip("[]"), int(port)
            )
            self.tunnels.append(target)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_relay(reader, upstream_writer), _relay(upstream_reader, writer))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes from one side to the other until the sender closes."""
    try:
        while piece := await reader.read(65536):
            writer.write(piece)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()

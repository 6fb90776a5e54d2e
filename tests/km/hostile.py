"""A hostile HTTP server on 127.0.0.1 for the real AdminClient: whatever a broken or
compromised Key Manager (or what stands in front of it) could send.

It runs in the test's own event loop (no thread), reads each request whole, records its
operation (from SOAPAction) in ``received``, then does what the ``Reply`` for that
request says: close before or after reading it, or answer with any status, headers and
body, framed by Content-Length, chunks or the connection's end, optionally without end
or a byte at a time."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

from obreg.km import soap

# What an endless answer repeats until the client hangs up, up to ENDLESS bytes: far past
# any budget, yet a client that lost its budget fails its test by memory rather than
# taking the machine's.
FILLER = b"<x>" + b"a" * 65_533
ENDLESS = 64 * 2**20


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    framing: Literal["length", "chunked", "close"] = "length"
    endless: bool = False  # after the body, FILLER until the client hangs up (or ENDLESS)
    drip: float = 0.0  # seconds between bytes: an answer that trickles
    disconnect: Literal["no", "before-reading", "after-reading"] = "no"


@dataclass
class Hostile:
    """``reply`` picks the answer to each request, given its operation and its number
    (from 0): the same operation asked again may get another. It is first asked with
    the operation "" (not read yet), whether to close before reading the request."""

    reply: Callable[[str, int], Reply]
    received: list[str] = field(default_factory=list)
    port: int = 0
    _serving: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        try:
            # One request per connection: every answer ends with a close.
            index = len(self.received)
            if self.reply("", index).disconnect == "before-reading":
                self.received.append("")  # a connection, no request read
                return
            head = await reader.readuntil(b"\r\n\r\n")
            headers = _headers(head)
            await reader.readexactly(int(headers.get("content-length", "0")))
            operation = headers.get("soapaction", "").strip('"').removeprefix("urn:")
            self.received.append(operation)
            chosen = self.reply(operation, index)
            if chosen.disconnect == "after-reading":
                return
            await _answer(writer, chosen)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client hung up: what an endless answer waits for
        except asyncio.CancelledError:
            pass  # the server stops: end quietly (Python 3.11 logs a cancelled handler)
        finally:
            self._serving.discard(task)
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Hostile]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in self._serving:  # an answer still trickling to no one
                task.cancel()
            await asyncio.gather(*self._serving, return_exceptions=True)
            await server.wait_closed()


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines)}


async def _answer(writer: asyncio.StreamWriter, reply: Reply) -> None:
    head = [f"HTTP/1.1 {reply.status} X", "Connection: close"]
    head += [f"{name}: {value}" for name, value in reply.headers]
    if reply.framing == "length":
        size = len(reply.body) + (2**31 if reply.endless else 0)  # promises more than sent
        head.append(f"Content-Length: {size}")
    elif reply.framing == "chunked":
        head.append("Transfer-Encoding: chunked")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))

    async def send(data: bytes) -> None:
        if not data:
            return
        if reply.framing == "chunked":
            data = b"%x\r\n%s\r\n" % (len(data), data)
        writer.write(data)
        await writer.drain()

    if reply.drip:
        for byte in itertools.repeat(ord("a"), ENDLESS) if reply.endless else reply.body:
            await send(bytes([byte]))
            await asyncio.sleep(reply.drip)
    else:
        await send(reply.body)
    for _ in range(ENDLESS // len(FILLER) if reply.endless else 0):
        await send(FILLER)
    if reply.framing == "chunked":
        writer.write(b"0\r\n\r\n")
    await writer.drain()


def response(operation: str, returned: bytes = b"") -> bytes:
    """A SOAP response wrapper of ``operation`` holding ``returned`` (raw XML)."""
    return (
        (
            f'<soapenv:Envelope xmlns:soapenv="{soap.SOAP11}"><soapenv:Body>'
            f'<ns:{operation}Response xmlns:ns="{soap.AXIS2}">'
        ).encode()
        + returned
        + f"</ns:{operation}Response></soapenv:Body></soapenv:Envelope>".encode()
    )


def fault(reason: str) -> bytes:
    """A SOAP fault with this faultstring (XML-escaped as a KM would send it)."""
    text = reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        f'<soapenv:Envelope xmlns:soapenv="{soap.SOAP11}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>soapenv:Server</faultcode><faultstring>{text}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode("utf-8", "surrogatepass")

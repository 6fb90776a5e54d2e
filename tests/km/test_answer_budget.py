"""Every Key Manager answer is read within budgets.KM_ANSWER_BYTES, on the wire and after
decompression, and within the call's total timeout: an answer without end, a gzip or
deflate bomb or one that trickles is a status naming the limit, never memory or a hang.
Answers come from a hostile server (tests/km/hostile.py) to the real AdminClient."""

from __future__ import annotations

import asyncio
import functools
import gzip
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from obreg.budgets import KM_ANSWER_BYTES
from obreg.km.client import AdminClient, Connection, KmError
from tests.km.hostile import Hostile, Reply, response

# What one call may hold at its peak: the budget's bytes as read, as joined, and the
# allocator's slack; an answer read whole (or inflated without a cap) is 16 times it.
PEAK_BOUND = 4 * KM_ANSWER_BYTES
# How far past the budget a bomb or an endless answer goes: enough that a client without
# the budget fails on its peak, not so far that it takes the machine's memory.
BEYOND = 16 * KM_ANSWER_BYTES
SCOPES = response(
    "getScopes",
    b'<ns:return xmlns:d="http://dto.oauth.identity.carbon.wso2.org/xsd">'
    b"<d:claim>email</d:claim><d:name>openid</d:name></ns:return>",
)


@functools.cache
def bomb(coding: str) -> bytes:
    """BEYOND bytes of zeros, compressed: a few tens of KiB on the wire."""
    zeros = bytes(BEYOND)
    return gzip.compress(zeros, 9) if coding == "gzip" else zlib.compress(zeros, 9)


def call(
    reply: Reply,
    use: Callable[[AdminClient], Awaitable[Any]] = lambda c: c.get_scopes(),
    timeout: float = 5.0,
) -> tuple[Any, int]:
    """What ``use`` returned or raised against a server sending ``reply`` to every
    request, and the peak of memory allocated meanwhile."""

    async def go() -> Any:
        async with Hostile(lambda _op, _n: reply).running() as server:
            connection = Connection(server.url, "admin", "pw", None, None, timeout)
            async with aiohttp.ClientSession() as session:
                client = AdminClient(connection, session, retry_delays=())
                try:
                    return await use(client)
                except KmError as err:
                    return err

    async def bounded() -> Any:  # a client that hangs fails the test, not the run
        return await asyncio.wait_for(go(), timeout * 4 + 10)

    tracemalloc.start()
    try:
        outcome = asyncio.run(bounded())
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def too_large(outcome: Any) -> None:
    assert isinstance(outcome, KmError), outcome
    assert (outcome.kind, str(outcome)) == (
        "garbled",
        "OAuthAdminService.getScopes: answer larger than 4 MiB",
    )


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_an_answer_without_end_stops_at_the_budget(framing: str) -> None:
    outcome, peak = call(Reply(body=b"<a>", framing=framing, endless=True))  # type: ignore[arg-type]
    too_large(outcome)
    assert peak < PEAK_BOUND


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compression_bomb_is_inflated_only_up_to_the_budget(coding: str) -> None:
    reply = Reply(headers=(("Content-Encoding", coding),), body=bomb(coding))
    assert len(reply.body) < KM_ANSWER_BYTES / 16, "small on the wire"
    outcome, peak = call(reply)
    too_large(outcome)
    assert peak < PEAK_BOUND


def test_an_answer_just_within_the_budget_is_read() -> None:
    padding = b" " * (KM_ANSWER_BYTES - len(SCOPES))
    gzipped = Reply(headers=(("Content-Encoding", "gzip"),), body=gzip.compress(SCOPES + padding))
    outcome, _ = call(gzipped)
    assert outcome == {"openid": ["email"]}
    outcome, _ = call(Reply(body=SCOPES + padding + b" "))
    too_large(outcome)


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "identity", "GZIP"])
def test_a_compressed_answer_is_read_like_a_plain_one(coding: str) -> None:
    body = {"gzip": gzip.compress, "x-gzip": gzip.compress, "deflate": zlib.compress}.get(
        coding.lower(), lambda b: b
    )(SCOPES)
    outcome, _ = call(Reply(headers=(("Content-Encoding", coding),), body=body))
    assert outcome == {"openid": ["email"]}


@pytest.mark.parametrize(
    ("coding", "body", "told"),
    [
        ("br", SCOPES, "an answer in a content coding obreg does not read (Content-Encoding: br)"),
        (
            "gzip, gzip",
            gzip.compress(gzip.compress(SCOPES)),
            "an answer in a content coding obreg does not read (Content-Encoding: gzip, gzip)",
        ),
        ("gzip", SCOPES, "a compressed answer that does not inflate"),
        ("gzip", gzip.compress(SCOPES)[:-12], "a compressed answer that ends before its end"),
        ("deflate", zlib.compress(SCOPES)[2:], "a compressed answer that does not inflate"),
    ],
    ids=["unknown", "twice", "not gzip", "cut short", "raw deflate"],
)
def test_an_encoding_obreg_does_not_read_is_a_garbled_answer(
    coding: str, body: bytes, told: str
) -> None:
    outcome, _ = call(Reply(headers=(("Content-Encoding", coding),), body=body))
    assert isinstance(outcome, KmError)
    assert (outcome.kind, str(outcome)) == ("garbled", f"OAuthAdminService.getScopes: {told}")


def test_an_answer_that_trickles_is_bounded_by_the_total_timeout() -> None:
    """A byte every 10 ms: no single read waits long, so only a timeout on the whole
    call ends it."""
    started = time.monotonic()
    outcome, _ = call(Reply(framing="chunked", endless=True, drip=0.01), timeout=0.5)
    elapsed = time.monotonic() - started
    assert isinstance(outcome, KmError) and outcome.kind == "unavailable"
    assert str(outcome) == "OAuthAdminService.getScopes: no answer within 0.5 s"
    assert elapsed < 3.0

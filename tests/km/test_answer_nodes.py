"""A Key Manager answer's parse is bounded in nodes, not only in bytes: at most
budgets.KM_ANSWER_NODES elements and attributes (soap.parse counts them as it parses),
each answer parsed once (its fault and its response from the one tree), off the event
loop. 4 MiB of tiny elements or attributes (4 KB gzip'd) otherwise built 95 to 135 MB
of tree and blocked the loop for up to 2.5 s."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from obreg.budgets import KM_ANSWER_BYTES, KM_ANSWER_NODES
from obreg.km import soap
from obreg.km.client import AdminClient, Connection, KmError
from tests.km.hostile import Hostile, Reply, fault, response

OPERATION = "getScopes"
# Envelope, Body and getScopesResponse: three elements (namespace declarations are not
# attributes).
WRAPPING = 3
TOO_MANY = (
    f"OAuthAdminService.getScopes: an answer of more than {KM_ANSWER_NODES:,} elements "
    "and attributes"
)


def returns(count: int) -> bytes:
    return response(OPERATION, b"<ns:return/>" * count)


def with_attributes(count: int) -> bytes:
    """One return element with ``count`` attributes."""
    names = b" ".join(b'a%x=""' % i for i in range(count))
    return response(OPERATION, b"<ns:return " + names + b"/>")


def test_an_answer_of_exactly_the_budget_parses_and_one_more_node_is_refused() -> None:
    found = soap.parse(returns(KM_ANSWER_NODES - WRAPPING)).response(OPERATION)
    assert len(found) == KM_ANSWER_NODES - WRAPPING
    with pytest.raises(soap.TooManyNodes, match=f"more than {KM_ANSWER_NODES:,} elements"):
        soap.parse(returns(KM_ANSWER_NODES - WRAPPING + 1))


def test_attributes_count_as_nodes() -> None:
    budget = 1_000
    under = budget - WRAPPING - 1  # the return element itself
    [found] = soap.parse(with_attributes(under), budget).response(OPERATION)
    assert len(found.attrib) == under
    with pytest.raises(soap.TooManyNodes, match="more than 1,000 elements and attributes"):
        soap.parse(with_attributes(under + 1), budget)


def test_one_tag_with_more_attributes_than_the_budget_is_refused_before_it_is_built() -> None:
    """libxml2 builds a start tag whole before reporting it; its '=' are counted first."""
    budget = 1_000
    data = with_attributes(budget + 1)
    assert len(data) < 16 * 1024  # one piece: counting start events alone would build it

    class Watching(soap.etree.XMLPullParser):  # type: ignore[misc,name-defined]
        fed = 0

        def feed(self, piece: bytes) -> None:
            Watching.fed += len(piece)
            super().feed(piece)

    real = soap.etree.XMLPullParser  # type: ignore[attr-defined]
    soap.etree.XMLPullParser = Watching  # type: ignore[attr-defined]
    try:
        with pytest.raises(soap.TooManyNodes):
            soap.parse(data, budget)
    finally:
        soap.etree.XMLPullParser = real  # type: ignore[attr-defined]
    assert Watching.fed == 0


def test_dtds_and_entities_stay_refused() -> None:
    doctype = b'<!DOCTYPE e [<!ENTITY x "y">]>'
    with pytest.raises(soap.MalformedResponse, match="declares a DTD"):
        soap.parse(doctype + returns(1))
    external = b'<!DOCTYPE e SYSTEM "http://127.0.0.1:9/x.dtd">'
    with pytest.raises(soap.MalformedResponse, match="declares a DTD"):
        soap.parse(external + returns(1))
    with pytest.raises(soap.MalformedResponse, match="not well-formed"):
        soap.parse(response(OPERATION, b"<ns:return>&x;</ns:return>"))


def call(reply: Reply) -> Any:
    """What get_scopes returned or raised against a server sending ``reply``."""

    async def go() -> Any:
        async with Hostile(lambda _op, _n: reply).running() as server:
            connection = Connection(server.url, "admin", "pw", None, None, 5.0)
            async with aiohttp.ClientSession() as session:
                client = AdminClient(connection, session, retry_delays=())
                try:
                    return await client.get_scopes()
                except KmError as err:
                    return err

    return asyncio.run(asyncio.wait_for(go(), 30))


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("shape", ["returns", "attributes"])
def test_the_client_calls_an_answer_over_the_node_budget_garbled(status: int, shape: str) -> None:
    body = returns(KM_ANSWER_NODES) if shape == "returns" else with_attributes(KM_ANSWER_NODES)
    assert len(body) <= KM_ANSWER_BYTES
    squeezed = gzip.compress(body)
    outcome = call(Reply(status=status, headers=(("Content-Encoding", "gzip"),), body=squeezed))
    assert isinstance(outcome, KmError), outcome
    assert (outcome.kind, str(outcome)) == ("garbled", TOO_MANY)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, response(OPERATION), {}),
        (500, fault("no such scope store"), "fault"),
        (200, b"<not-soap/>", "garbled"),
    ],
)
def test_each_answer_is_parsed_once_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, status: int, body: bytes, expected: Any
) -> None:
    threads: list[int] = []
    real = soap.parse

    def parse(data: bytes, budget: int = KM_ANSWER_NODES) -> soap.Envelope:
        threads.append(threading.get_ident())
        return real(data, budget)

    monkeypatch.setattr(soap, "parse", parse)
    loop_thread: list[int] = []

    async def go() -> Any:
        loop_thread.append(threading.get_ident())
        async with Hostile(lambda _op, _n: Reply(status=status, body=body)).running() as server:
            connection = Connection(server.url, "admin", "pw", None, None, 5.0)
            async with aiohttp.ClientSession() as session:
                client = AdminClient(connection, session, retry_delays=())
                try:
                    return await client.get_scopes()
                except KmError as err:
                    return err.kind

    assert asyncio.run(asyncio.wait_for(go(), 30)) == expected
    assert len(threads) == 1, "one parse per answer"
    assert threads[0] != loop_thread[0], "parsed on the event loop"


# Peak RSS a child process gains parsing one worst-shaped answer of KM_ANSWER_BYTES
# through soap.parse, response and fields, as the client does (libxml2 allocates outside
# Python's allocator, so tracemalloc does not see the tree; the child's high-water mark
# does). Before the node budget these took 95 to 135 MB; within it about 10 MB.
PEAK_MB = 32
_CHILD = """
import json, resource, sys
from obreg.km import soap
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    for item in soap.parse(data).response("getScopes"):
        soap.fields(item, soap.OAUTH_DTO)
    outcome = "parsed"
except soap.TooManyNodes:
    outcome = "refused"
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "mb": (after - before) / 1024}))
"""


def worst(shape: str) -> bytes:
    room = KM_ANSWER_BYTES - len(response(OPERATION, b"<ns:return></ns:return>"))
    if shape == "returns":
        return returns(room // len(b"<ns:return/>"))
    if shape == "children":
        return response(OPERATION, b"<ns:return>" + b"<a/>" * (room // 4) + b"</ns:return>")
    names = b" ".join(b'a%x=""' % i for i in range(room // 9))[: room - 2]
    names = names[: names.rfind(b" ")]
    return response(OPERATION, b"<ns:return " + names + b"/>")


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
@pytest.mark.parametrize("shape", ["returns", "children", "attributes"])
def test_the_worst_shapes_within_the_byte_budget_take_little_memory(
    tmp_path: Path, shape: str
) -> None:
    data = worst(shape)
    assert len(data) <= KM_ANSWER_BYTES
    (tmp_path / "answer.xml").write_bytes(data)
    operator = Path(soap.__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "answer.xml")],
        env={"PYTHONPATH": str(operator)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    measured = json.loads(done.stdout)
    assert measured["outcome"] == "refused"
    assert measured["mb"] < PEAK_MB, measured

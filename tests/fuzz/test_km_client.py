"""The real AdminClient and sync.converge against a hostile Key Manager (tests/km/hostile.py
on 127.0.0.1): bodies of any size up to past the budget, any bytes, gzip and deflate
bombs, a Content-Encoding that lies, control characters in faults, any status, and
connections closed before or after the request was read. For every example:

- nothing but KmError escapes (or converge succeeds);
- memory stays bounded (tracemalloc's peak around the call);
- no write is received twice by the server within one converge;
- every failure message is printable, bounded, and masks the admin password.

``make fuzz`` runs many more examples (HYPOTHESIS_PROFILE=fuzz)."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections import Counter
from typing import Any

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st

from obreg.budgets import KM_ANSWER_BYTES, KM_ANSWER_NODES
from obreg.errors import MESSAGE_MAX, printable
from obreg.km import client, sync
from obreg.km.client import AdminClient, Connection, KmError
from tests.km.calls import WANT
from tests.km.hostile import Hostile, Reply, fault, response
from tests.km.test_answer_budget import PEAK_BOUND, bomb

PASSWORD = "km-Admin pw"  # the admin password every message must mask

# What an honest KM answers to the reads of a first converge (no app, no claim, the
# openid scope): a converge that gets these goes on to its writes.
HONEST = {
    "getOAuthApplicationData": Reply(
        500,
        body=fault(
            f"Error while retrieving the app information using consumerKey: {WANT.app.client_id}"
        ),
    ),
    "getOAuthApplicationDataByAppName": Reply(500, body=fault("no such app")),
    "getExternalClaims": Reply(body=response("getExternalClaims")),
    "getScopes": Reply(
        body=response(
            "getScopes",
            b'<ns:return xmlns:d="http://dto.oauth.identity.carbon.wso2.org/xsd">'
            b"<d:claim>email</d:claim><d:name>openid</d:name></ns:return>",
        )
    ),
}

# Any character XML carries (C1 controls, direction overrides, any script) and some it
# cannot (a fault that is then not well-formed), short or far past a status message.
# Characters XML 1.0 cannot carry, even escaped.
NOT_XML = "".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])) + "\ufffe\uffff"
xml_text = st.text(st.characters(codec="utf-8", exclude_characters=NOT_XML), max_size=100)
texts = st.one_of(
    xml_text,
    xml_text.map(lambda t: t * 40),
    st.text(max_size=50),
    st.sampled_from(
        [
            "Access Denied. Please login first.",
            f"login {PASSWORD} failed",
            "\x80\x9b[2J\u202e\x85 refused",
            "User account is locked for user : admin. cannot login until the account is unlocked",
        ]
    ),
)
sizes = st.sampled_from([KM_ANSWER_BYTES - 1, KM_ANSWER_BYTES, KM_ANSWER_BYTES + 1])
plain_bodies = st.one_of(
    st.binary(max_size=2_000),
    texts.map(fault),
    st.sampled_from([r.body for r in HONEST.values()]),
    sizes.map(lambda n: b"<" + b"a" * (n - 1)),
    # Many tiny elements (the envelope's three and the returns): just within and just past
    # budgets.KM_ANSWER_NODES, a few hundred KB that gzip to a few KB.
    st.builds(
        lambda operation, extra: response(
            operation, b"<ns:return/>" * (KM_ANSWER_NODES - 3 + extra)
        ),
        st.sampled_from(sorted(HONEST)),
        st.sampled_from([0, 1]),
    ),
)


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    coding = draw(
        st.sampled_from(["", "identity", "gzip", "x-gzip", "deflate", "br", "gzip, gzip"])
    )
    if draw(st.integers(0, 9)) == 0:
        body = bomb(draw(st.sampled_from(["gzip", "deflate"])))
    elif draw(st.integers(0, 2)) == 0:  # a fault as sent: its text is what is read
        coding, body = "", fault(draw(texts))
    else:
        body = draw(plain_bodies)
        # Compressed as its header says, in another way, or not at all (a header that lies).
        squeeze = draw(st.sampled_from(["as said", "gzip", "deflate", "none"]))
        squeeze = coding if squeeze == "as said" else squeeze
        if squeeze in ("gzip", "x-gzip"):
            body = gzip.compress(body, 1)
        elif squeeze == "deflate":
            body = zlib.compress(body, 1)
    return Reply(
        status=draw(
            st.sampled_from([200, 202, 401, 403, 404, 500, 502, 503, 504]) | st.integers(100, 599)
        ),
        headers=(("Content-Encoding", coding),) if coding else (),
        body=body,
        framing=draw(st.sampled_from(["length", "chunked", "close"])),
        endless=draw(st.integers(0, 9)) == 0,
        disconnect=draw(st.sampled_from(["no", "no", "no", "before-reading", "after-reading"])),
    )


def converge(honest_reads: bool, hostile: list[Reply]) -> tuple[Any, Counter[str], int]:
    """What converge returned or raised, the operations the server received, and the peak
    of memory allocated meanwhile. Request n gets hostile[n] (cycled); with
    ``honest_reads``, reads get an honest KM's answer, so the writes are reached."""

    def reply(operation: str, index: int) -> Reply:
        if honest_reads and operation in HONEST:
            return HONEST[operation]
        chosen = hostile[index % len(hostile)]
        if operation == "" and honest_reads and chosen.disconnect == "before-reading":
            return Reply()  # read it first: it may be one of the honest reads
        return chosen

    server = Hostile(reply)

    async def go() -> Any:
        async with server.running():
            connection = Connection(server.url, "admin", PASSWORD, None, None, 5.0)
            async with aiohttp.ClientSession() as session:
                admin = AdminClient(
                    connection, session, retry_delays=(0.0,), secrets=(WANT.app.client_secret,)
                )
                try:
                    return await asyncio.wait_for(sync.converge(admin, WANT), 30)
                except KmError as err:
                    return err

    tracemalloc.start()
    try:
        outcome = asyncio.run(go())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return outcome, Counter(server.received), peak


# A whole converge holds one answer's bytes and what its parse keeps; an accepted answer of
# 100,000 nodes measures about 16 MB on tracemalloc, so twice PEAK_BOUND leaves room for
# that, while the unbounded reads this guards against took gigabytes.
CONVERGE_PEAK_BOUND = 2 * PEAK_BOUND


# A quarter of the profile's examples: each runs a whole converge over sockets, some with
# megabytes of answer under tracemalloc (the CI profile's 120 took 12 s; 30 take about 3).
@settings(max_examples=max(1, settings.default.max_examples // 4))
@given(honest_reads=st.booleans(), hostile=st.lists(replies(), min_size=1, max_size=4))
def test_a_hostile_km_gets_a_bounded_printable_failure_and_each_write_once(
    honest_reads: bool, hostile: list[Reply]
) -> None:
    outcome, received, peak = converge(honest_reads, hostile)
    assert isinstance(outcome, KmError | list), outcome
    assert peak < CONVERGE_PEAK_BOUND, f"peak {peak} bytes"
    twice = {op: n for op, n in received.items() if op in client.WRITES and n > 1}
    assert not twice, f"writes received more than once: {twice}"
    if isinstance(outcome, KmError):
        message = str(outcome)
        assert message == printable(message)
        assert len(message) <= MESSAGE_MAX
        assert PASSWORD not in message

"""A write that may have reached the KM is never sent again blindly: only a failure known
to come before any byte of it left (no connection) is retried within the call. Any other
failure raises, and the next pass starts over from reads: a register that landed is then
found in place, never registered twice."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest

from obreg.km.client import AdminClient, Connection, KmError
from testbed import kmdouble
from tests.km.calls import WANT, converge, run


@pytest.fixture
def km() -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    double, ca = kmdouble.new(password="km-admin-pw")
    yield double, ca
    double.stop()


def test_a_register_whose_answer_was_lost_is_sent_once_and_found_by_the_next_pass(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    double.drop_after.add("registerOAuthApplicationData")
    with pytest.raises(KmError) as lost:
        converge(km)
    assert lost.value.kind == "unavailable", "retried on a timer: the next pass reads first"
    assert "the change may have been made, so it is not sent again" in str(lost.value)
    assert double.writes() == ["registerOAuthApplicationData"]
    double.drop_after.clear()
    # The next pass: the app is in place, so only the claim and the scope are made.
    assert converge(km) == [
        "added OIDC claim tpp_associated -> http://wso2.org/claims/active",
        "added tpp_associated to scope openid",
    ]
    assert double.writes().count("registerOAuthApplicationData") == 1
    assert list(double.db.apps) == [WANT.app.client_id]


@pytest.mark.parametrize(
    "operation", ["addExternalClaim", "updateScope", "registerOAuthApplicationData"]
)
def test_no_write_is_received_twice_when_every_answer_to_it_is_lost(
    km: tuple[kmdouble.KmDouble, bytes], operation: str
) -> None:
    double, _ = km
    double.drop_after.add(operation)
    with pytest.raises(KmError):
        converge(km)
    assert double.writes().count(operation) == 1


def _client(double: kmdouble.KmDouble, ca: bytes, session: aiohttp.ClientSession) -> AdminClient:
    connection = Connection(double.url, "admin", "km-admin-pw", ca, "localhost", 5.0)
    return AdminClient(connection, session, retry_delays=(0.01, 0.01))


def test_a_write_that_found_no_connection_is_tried_again_at_once(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """Connection refused: nothing was sent, so trying again cannot apply it twice."""
    double, ca = km
    double.stop()

    async def go() -> list[str]:
        async with aiohttp.ClientSession() as session:
            client = _client(double, ca, session)
            with pytest.raises(KmError) as down:
                await client.register_app(WANT.app)
            assert down.value.kind == "unavailable"
            assert "may have been made" not in str(down.value)
            return client.calls

    assert run(go()) == ["registerOAuthApplicationData"] * 3


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxys_gateway_error_retries_a_read_but_not_a_write(
    km: tuple[kmdouble.KmDouble, bytes], status: int
) -> None:
    """A 502 or 504 may come after the KM applied the write (the proxy lost its answer)."""
    double, ca = km
    double.http_status = status

    async def go() -> list[str]:
        async with aiohttp.ClientSession() as session:
            client = _client(double, ca, session)
            with pytest.raises(KmError):
                await client.register_app(WANT.app)
            with pytest.raises(KmError):
                await client.get_scopes()
            return client.calls

    assert run(go()) == ["registerOAuthApplicationData"] + ["getScopes"] * 3

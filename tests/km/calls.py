"""What the KM tests share: the desired state of the runbook's items, and obreg's client
run against a double to reach it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp

from obreg.km import sync
from obreg.km.client import AdminClient, Connection
from obreg.rules.km_app import OIDC_DIALECT, Desired, ExternalClaim, OAuthApp
from testbed import kmdouble

T = TypeVar("T")
SECRET = "s3cret-Value-never-printed"
WANT = Desired(
    app=OAuthApp(
        name="apim_store_ob",
        client_id="store-client-id",
        client_secret=SECRET,
        callback_url="https://apim.bank.example:9443/store/jagg/jaggery_oidc_acs_ob.jag",
        grant_types=("authorization_code",),
    ),
    claim=ExternalClaim(OIDC_DIALECT, "tpp_associated", "http://wso2.org/claims/active"),
    scope="openid",
)


def run(coro: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await coro

    return asyncio.run(wrapped())


def converge(
    km: tuple[kmdouble.KmDouble, bytes],
    want: Desired = WANT,
    password: str = "km-admin-pw",
    timeout: float = 5.0,
    ca: bytes | None = None,
) -> list[str]:
    double, default_ca = km
    connection = Connection(double.url, "admin", password, ca or default_ca, "localhost", timeout)

    async def go() -> list[str]:
        async with aiohttp.ClientSession() as session:
            client = AdminClient(connection, session, retry_delays=(0.1, 0.2))
            return await sync.converge(client, want)

    return run(go())

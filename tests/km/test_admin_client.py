"""obreg's KM admin client and sync against the contract double over real HTTPS: the
runbook's three database items, idempotence, updates, and every failure the issue names."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import ssl
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import aiohttp
import pytest

import kmdouble
from obreg.km import soap, sync
from obreg.km.client import AdminClient, Connection, KmError
from obreg.km.desired import OIDC_DIALECT, Desired, ExternalClaim, OAuthApp

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


@pytest.fixture
def km() -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    double, ca = kmdouble.new(password="km-admin-pw")
    yield double, ca
    double.stop()


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


def test_first_run_creates_the_runbook_items_and_the_second_writes_nothing(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    done = converge(km)
    assert done == [
        "registered OAuth app apim_store_ob",
        "added OIDC claim tpp_associated -> http://wso2.org/claims/active",
        "added tpp_associated to scope openid",
    ]
    app = double.db.apps["store-client-id"]
    assert app["applicationName"] == "apim_store_ob"
    assert app["oauthConsumerSecret"] == SECRET
    assert app["callbackUrl"] == WANT.app.callback_url
    assert app["grantTypes"] == "authorization_code"
    assert double.db.claims["tpp_associated"] == "http://wso2.org/claims/active"
    assert double.db.scopes["openid"][-1] == "tpp_associated"
    writes = len(double.writes())

    assert converge(km) == []
    assert len(double.writes()) == writes, "a second run must only read"


def test_changed_callback_updates_the_app_and_keeps_what_obreg_does_not_manage(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    converge(km)
    double.db.apps["store-client-id"].update(pkceMandatory=True, userAccessTokenExpiryTime=900)
    moved = dataclasses.replace(
        WANT, app=dataclasses.replace(WANT.app, callback_url="https://store.example/cb")
    )
    assert converge(km, moved) == ["updated OAuth app apim_store_ob: callback URL"]
    app = double.db.apps["store-client-id"]
    assert app["callbackUrl"] == "https://store.example/cb"
    assert app["pkceMandatory"] is True and app["userAccessTokenExpiryTime"] == 900
    assert double.writes()[-1] == "updateConsumerApplication"


def test_changed_secret_registers_the_app_again(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    converge(km)
    rotated = dataclasses.replace(WANT, app=dataclasses.replace(WANT.app, client_secret="new-one"))
    assert converge(km, rotated) == ["re-registered OAuth app apim_store_ob (new secret)"]
    assert double.db.apps["store-client-id"]["oauthConsumerSecret"] == "new-one"
    assert double.writes()[-2:] == ["removeOAuthApplicationData", "registerOAuthApplicationData"]


def test_a_claim_mapped_elsewhere_is_remapped(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    double.db.claims["tpp_associated"] = "http://wso2.org/claims/username"
    assert "mapped OIDC claim tpp_associated to http://wso2.org/claims/active" in converge(km)[1]
    assert double.db.claims["tpp_associated"] == "http://wso2.org/claims/active"


def test_km_down_then_up(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    double.stop()
    with pytest.raises(KmError) as down:
        converge(km)
    assert down.value.kind == "unavailable"
    assert f"cannot reach {double.url}" in str(down.value)
    with pytest.raises(KmError) as again:
        converge(km)
    assert str(again.value) == str(down.value), "a stable message: no status rewrite per retry"
    double.start()
    assert len(converge(km)) == 3


def test_wrong_admin_password(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    with pytest.raises(KmError) as refused:
        converge(km, password="wrong-password")
    assert refused.value.kind == "unauthorized"
    assert "refused the admin credentials (HTTP 401)" in str(refused.value)
    assert "wrong-password" not in str(refused.value)


def test_soap_fault_keeps_the_kms_reason(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    double.faults["updateScope"] = "Error while updating OIDC claims for the scope: openid"
    with pytest.raises(KmError) as fault:
        converge(km)
    del double.faults["updateScope"]
    assert fault.value.kind == "fault"
    assert str(fault.value) == (
        "OAuthAdminService.updateScope: the Key Manager answered: "
        "Error while updating OIDC claims for the scope: openid"
    )
    assert converge(km) == ["added tpp_associated to scope openid"]


def test_slow_km_hits_the_timeout(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    double.delay = 1.5
    with pytest.raises(KmError) as slow:
        converge(km, timeout=0.5)
    assert slow.value.kind == "unavailable"
    assert "getOAuthApplicationData: no answer within 0.5 s" in str(slow.value)


def test_a_km_certificate_from_another_ca_is_refused(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    other_ca, _, _ = kmdouble.certificates()
    with pytest.raises(KmError) as untrusted:
        converge(km, ca=other_ca)
    assert untrusted.value.kind == "protocol"
    assert "TLS certificate is not trusted" in str(untrusted.value)


def test_missing_openid_scope_is_a_clear_failure(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    del double.db.scopes["openid"]
    with pytest.raises(KmError) as missing:
        converge(km)
    assert (
        str(missing.value) == "the Key Manager has no OIDC scope 'openid' to add tpp_associated to"
    )
    assert double.writes() == [], "nothing is written when the plan cannot complete"


def _post(double: kmdouble.KmDouble, ca: bytes, body: bytes, action: str) -> tuple[int, bytes]:
    context = ssl.create_default_context(cadata=ca.decode())
    conn = http.client.HTTPSConnection("localhost", double.port, context=context)
    conn.request(
        "POST",
        "/services/OAuthAdminService",
        body,
        {
            "Content-Type": soap.CONTENT_TYPE,
            "SOAPAction": action,
            "Authorization": "Basic YWRtaW46a20tYWRtaW4tcHc=",  # admin:km-admin-pw
        },
    )
    answer = conn.getresponse()
    return answer.status, answer.read()


def test_the_double_refuses_envelopes_off_the_contract(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    """The double is only worth testing against if it refuses what a KM would not take."""
    double, ca = km
    good = soap.request("getOAuthApplicationData", [("consumerKey", "x")])
    assert _post(double, ca, good, soap.action("getOAuthApplicationData"))[0] == 500  # unknown key
    cases = {
        "wrong SOAPAction": (good, soap.action("getScopes")),
        "field outside the DTO namespace": (
            soap.request(
                "registerOAuthApplicationData",
                [("application", soap.Dto(soap.CLAIM_DTO, (("applicationName", "a"),)))],
            ),
            soap.action("registerOAuthApplicationData"),
        ),
        "unknown parameter": (
            soap.request("getOAuthApplicationData", [("clientId", "x")]),
            soap.action("getOAuthApplicationData"),
        ),
        "SOAP 1.2 envelope": (
            good.replace(soap.SOAP11.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
            soap.action("getOAuthApplicationData"),
        ),
    }
    for what, (body, action) in cases.items():
        status, answer = _post(double, ca, body, action)
        found = soap.fault(answer) if status == 500 and b"Fault" in answer else None
        assert found is not None and found.code == "soapenv:Client", what
    assert double.calls == ["getOAuthApplicationData"], "refused envelopes reach no operation"


SPACED = "s3cret with  spaces & <markup>"


@pytest.mark.parametrize(
    "echo",
    [
        SPACED,  # as sent
        "s3cret with spaces & <markup>",  # whitespace collapsed
        "s3cret\twith\n  spaces & <markup>",  # other whitespace
        "s3cret with  spaces &amp; &lt;markup&gt;",  # XML-escaped (escaped again on the wire)
    ],
    ids=["as sent", "collapsed", "other whitespace", "xml-escaped"],
)
def test_a_secret_echoed_in_a_fault_is_masked_in_every_form(
    km: tuple[kmdouble.KmDouble, bytes], echo: str
) -> None:
    double, ca = km
    double.faults["registerOAuthApplicationData"] = f"cannot register with secret {echo} here"
    spaced = dataclasses.replace(WANT, app=dataclasses.replace(WANT.app, client_secret=SPACED))
    connection = Connection(double.url, "admin", "km-admin-pw", ca, "localhost", 5.0)

    async def go() -> list[str]:
        async with aiohttp.ClientSession() as session:
            client = AdminClient(connection, session, retry_delays=(0.1,), secrets=(SPACED,))
            return await sync.converge(client, spaced)

    with pytest.raises(KmError) as raised:
        run(go())
    message = str(raised.value)
    assert "cannot register with secret *** here" in message, message
    assert "spaces" not in message and "markup" not in message


def test_the_admin_password_is_masked_in_a_fault_without_being_named(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    double.faults["getScopes"] = "login km-admin-pw failed"
    with pytest.raises(KmError) as raised:
        converge(km)
    assert "km-admin-pw" not in str(raised.value) and "login *** failed" in str(raised.value)

"""obreg's KM admin client and sync against the contract double over real HTTPS: the
runbook's three database items, idempotence, updates, and every failure the issue names."""

from __future__ import annotations

import copy
import dataclasses
import http.client
import ssl
from collections.abc import Iterator

import aiohttp
import pytest
from lxml import etree

from obreg.km import soap, sync
from obreg.km.client import AdminClient, Connection, KmError
from obreg.rules.km_app import OIDC_DIALECT, ExternalClaim, OAuthApp
from testbed import kmcontract, kmdouble
from tests.km.calls import SECRET, WANT, converge, run


@pytest.fixture
def km() -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    double, ca = kmdouble.new(password="km-admin-pw")
    yield double, ca
    double.stop()


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
    # Set in the console: kept, though the read by key never returns the logout URL
    # and the update overwrites every field it manages.
    kept = {
        "pkceMandatory": True,
        "userAccessTokenExpiryTime": 900,
        "backChannelLogoutUrl": "https://apim.bank.example/logout",
        "audiences": ["store", "portal"],
        "tokenType": "JWT",
        "bypassClientCredentials": True,
        "idTokenExpiryTime": 1200,
    }
    double.db.apps["store-client-id"].update(kept)
    moved = dataclasses.replace(
        WANT, app=dataclasses.replace(WANT.app, callback_url="https://store.example/cb")
    )
    assert converge(km, moved) == ["updated OAuth app apim_store_ob: callback URL"]
    app = double.db.apps["store-client-id"]
    assert app["callbackUrl"] == "https://store.example/cb"
    assert {k: app[k] for k in kept} == kept
    assert double.calls[-2:] == ["getOAuthApplicationDataByAppName", "updateConsumerApplication"]


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
    # The operating system's words for it, not the exception's class.
    assert f"cannot reach {double.url}: Connect call failed" in str(down.value)
    with pytest.raises(KmError) as again:
        converge(km)
    assert str(again.value) == str(down.value), "a stable message: no status rewrite per retry"
    double.start()
    assert len(converge(km)) == 3


def test_wrong_admin_password(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    with pytest.raises(KmError) as refused:
        converge(km, password="wrong-password")
    assert refused.value.kind == "unauthorized"
    assert "refused the admin credentials (Access Denied. Please login first.)" in str(
        refused.value
    )
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


def test_a_failure_carries_what_the_pass_made_before_it(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """The next pass finds those items in place and says nothing of them: the failure is
    the only place where they are told."""
    double, _ = km
    double.faults["updateScope"] = "Error while updating OIDC claims for the scope: openid"
    with pytest.raises(KmError) as fault:
        converge(km)
    assert fault.value.done == [
        "registered OAuth app apim_store_ob",
        "added OIDC claim tpp_associated -> http://wso2.org/claims/active",
    ]
    double.faults["registerOAuthApplicationData"] = "refused first"
    double.db = kmdouble.Database()
    with pytest.raises(KmError) as fault:
        converge(km)
    assert fault.value.done == []


def test_slow_km_hits_the_timeout(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    double.delay = 1.5
    with pytest.raises(KmError) as slow:
        converge(km, timeout=0.5)
    assert slow.value.kind == "unavailable"
    assert "getOAuthApplicationData: no answer within 0.5 s" in str(slow.value)


def test_an_answer_that_is_not_the_kms_is_garbled_and_passes(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """A proxy's maintenance page (HTTP 200, HTML) is not the KM's answer: a kind that is
    retried with backoff, not one that waits for an input to change."""
    double, _ = km
    double.garbage = True
    with pytest.raises(KmError) as garbled:
        converge(km)
    assert garbled.value.kind == "garbled"
    assert "getOAuthApplicationData: not a Key Manager answer" in str(garbled.value)
    double.garbage = False
    assert len(converge(km)) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_load_balancers_error_page_says_its_status(
    km: tuple[kmdouble.KmDouble, bytes], status: int
) -> None:
    """An HTML page with a 5xx (a proxy before a KM that is down) is Unavailable and names
    the status, whatever its body; 502-504 were retried within the call first."""
    double, _ = km
    double.http_status = status
    with pytest.raises(KmError) as down:
        converge(km)
    assert down.value.kind == "unavailable"
    assert f"getOAuthApplicationData: HTTP {status}, not a Key Manager answer" in str(down.value)
    double.http_status = None
    assert len(converge(km)) == 3


EMPTY_ENVELOPE = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body/></soapenv:Envelope>"
)


@pytest.mark.parametrize(
    ("status", "body", "kind", "told"),
    [
        (401, b"", "unauthorized", "the Key Manager refused the admin credentials (HTTP 401)"),
        (403, b"<x/>", "unauthorized", "the Key Manager refused the admin credentials (HTTP 403)"),
        (500, b"", "unavailable", "HTTP 500"),
        (500, EMPTY_ENVELOPE, "unavailable", "HTTP 500"),
        (404, EMPTY_ENVELOPE, "garbled", "not a Key Manager answer: HTTP 404"),
        (302, b"", "garbled", "not a Key Manager answer: HTTP 302"),
        (200, b"", "garbled", "not a Key Manager answer: not well-formed XML (line 1)"),
    ],
)
def test_an_answer_by_its_status_alone(
    km: tuple[kmdouble.KmDouble, bytes], status: int, body: bytes, kind: str, told: str
) -> None:
    """What the client makes of an HTTP status whose body is no SOAP fault: refused
    credentials wait for a change (a retry would lock the admin account), a 5xx is the
    KM away, anything else that is not 200 is not the KM's answer."""
    double, _ = km
    double.http_status, double.http_body = status, body
    with pytest.raises(KmError) as failed:
        converge(km)
    where = "OAuthAdminService.getOAuthApplicationData"
    assert (failed.value.kind, str(failed.value)) == (kind, f"{where}: {told}")


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


def _post(
    double: kmdouble.KmDouble,
    ca: bytes,
    body: bytes,
    action: str,
    service: str = "OAuthAdminService",
) -> tuple[int, bytes]:
    context = ssl.create_default_context(cadata=ca.decode())
    conn = http.client.HTTPSConnection("localhost", double.port, context=context)
    conn.request(
        "POST",
        f"/services/{service}",
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


def test_a_claimless_openid_scope_gets_the_claim(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, _ = km
    double.db.scopes["openid"] = []  # getScopes does not list it
    assert "added tpp_associated to scope openid" in converge(km)
    assert double.db.scopes["openid"] == ["tpp_associated"]


def test_a_read_fault_other_than_an_unknown_key_is_not_taken_for_an_absent_app(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    double.faults["getOAuthApplicationData"] = "Error while retrieving the app information"
    with pytest.raises(KmError) as fault:
        converge(km)
    assert fault.value.kind == "fault"
    assert double.writes() == [], "nothing registered on a read that merely failed"


def test_every_envelope_obreg_sends_fits_the_schema_of_the_services() -> None:
    """Written from the contract (testbed/kmcontract), apart from obreg's client."""
    app = soap.Dto(soap.OAUTH_DTO, tuple(AdminClient._app_dto(WANT.app).fields))
    claim = AdminClient._claim_dto(WANT.claim)
    sent = {
        "getOAuthApplicationData": [("consumerKey", "k")],
        "getOAuthApplicationDataByAppName": [("appName", "n")],
        "registerOAuthApplicationData": [("application", app)],
        "updateConsumerApplication": [("consumerAppDTO", app)],
        "removeOAuthApplicationData": [("consumerKey", "k")],
        "getScopes": [],
        "isScopeExist": [("scope", "openid")],
        "isHashDisabled": [],
        "updateScope": [("scope", "openid"), ("addClaims", ("a", "b")), ("deleteClaims", ())],
        "getExternalClaims": [("externalClaimDialectURI", OIDC_DIALECT)],
        "addExternalClaim": [("externalClaim", claim)],
        "updateExternalClaim": [("externalClaim", claim)],
    }
    assert set(sent) == set(kmcontract.load().operations)
    schema = kmcontract.request_schema()

    def fits(envelope: bytes) -> bool:
        call = etree.fromstring(envelope).find(f"{{{soap.SOAP11}}}Body")[0]
        return bool(schema.validate(etree.ElementTree(copy.deepcopy(call))))

    for operation, parameters in sent.items():
        assert fits(soap.request(operation, parameters)), (operation, schema.error_log)
    # The schema itself refuses what the services do not take.
    assert not fits(
        soap.request(
            "registerOAuthApplicationData",
            [("application", soap.Dto(soap.OAUTH_DTO, (("clientName", "x"),)))],
        )
    )
    assert not fits(soap.request("updateScope", [("scopeName", "openid")]))


@pytest.mark.parametrize("operation", sorted(kmcontract.load().operations))
def test_the_double_replies_as_the_contract_says(
    km: tuple[kmdouble.KmDouble, bytes], operation: str
) -> None:
    """Status codes and response shapes of each operation, on a KM holding the runbook's
    items: 200 with the wrapper (a nil return for register), 202 and no body for
    updateScope, and a fault for a write the service refuses."""
    double, ca = km
    converge(km)
    contract = kmcontract.load().operations[operation]
    app = AdminClient._app_dto(
        dataclasses.replace(WANT.app, client_id="other-id", name="other"), None
    )
    parameters = {
        "getOAuthApplicationData": [("consumerKey", "store-client-id")],
        "getOAuthApplicationDataByAppName": [("appName", "apim_store_ob")],
        "registerOAuthApplicationData": [("application", app)],
        "updateConsumerApplication": [("consumerAppDTO", AdminClient._app_dto(WANT.app))],
        "removeOAuthApplicationData": [("consumerKey", "store-client-id")],
        "isScopeExist": [("scope", "openid")],
        "updateScope": [("scope", "openid"), ("addClaims", ("email",)), ("deleteClaims", ())],
        "getExternalClaims": [("externalClaimDialectURI", OIDC_DIALECT)],
        "addExternalClaim": [
            (
                "externalClaim",
                AdminClient._claim_dto(
                    ExternalClaim(OIDC_DIALECT, "new_claim", "http://wso2.org/claims/active")
                ),
            )
        ],
        "updateExternalClaim": [("externalClaim", AdminClient._claim_dto(WANT.claim))],
    }.get(operation, [])
    status, body = _post(
        double, ca, soap.request(operation, parameters), soap.action(operation), contract.service
    )
    assert status == contract.status, body
    if contract.returns is None:
        assert body == b""
        return
    returned = soap.response(body, operation)
    if contract.returns == "nil":
        assert [r.get(f"{{{soap.XSI}}}nil") for r in returned] == ["true"]
    elif contract.returns == "nothing":
        assert returned == []
    else:
        assert returned
    if operation == "getOAuthApplicationData":
        assert not set(contract.omits) & set(soap.fields(returned[0], soap.OAUTH_DTO))


def test_the_read_by_key_returns_empty_fields_as_nil(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    double, ca = km
    converge(km)
    status, body = _post(
        double,
        ca,
        soap.request("getOAuthApplicationData", [("consumerKey", "store-client-id")]),
        soap.action("getOAuthApplicationData"),
    )
    [returned] = soap.response(body, "getOAuthApplicationData")
    nil = {etree.QName(e).localname for e in returned if e.get(f"{{{soap.XSI}}}nil") == "true"}
    assert {"tokenType", "idTokenEncryptionAlgorithm"} <= nil


def test_names_are_unique_per_owner_and_a_duplicate_key_is_a_generic_fault(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    converge(km)
    renamed = dataclasses.replace(WANT, app=dataclasses.replace(WANT.app, client_id="another"))
    with pytest.raises(KmError, match="An application with the same name already exists"):
        run(_register(km, renamed.app))
    same_key = dataclasses.replace(WANT.app, name="another-name")
    with pytest.raises(KmError, match="Error when executing SQL to create OAuth app another-name"):
        run(_register(km, same_key))


async def _register(km: tuple[kmdouble.KmDouble, bytes], app: OAuthApp) -> None:
    double, ca = km
    connection = Connection(double.url, "admin", "km-admin-pw", ca, "localhost", 5.0)
    async with aiohttp.ClientSession() as session:
        await AdminClient(connection, session, retry_delays=()).register_app(app)

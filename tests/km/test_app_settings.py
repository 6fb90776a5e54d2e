"""The OAuth app against the double as WSO2 keeps it: secret hashing (checked by obreg's
own digest of its secret), a rotation or an update that keeps every setting a console
user made, and names looked up per tenant with "not found" told from any other fault."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from obreg.km.client import KmError
from obreg.rules.km_app import Desired
from testbed import kmdouble
from tests.km.calls import SECRET, WANT, converge

KEY = WANT.app.client_id
RELEASES = ("6.0.53", "6.7.149")
# What obreg sets, and what no read returns (the owner, the state): the rest is the
# console's, and must survive whatever obreg does.
MANAGED = {
    "OAuthVersion",
    "applicationName",
    "callbackUrl",
    "grantTypes",
    "oauthConsumerKey",
    "oauthConsumerSecret",
}
UNREAD = {"username", "state"}
CONSOLE = {
    "applicationAccessTokenExpiryTime": 1800,
    "audiences": ["store", "portal"],
    "backChannelLogoutUrl": "https://apim.bank.example/logout",
    "bypassClientCredentials": True,
    "idTokenEncryptionAlgorithm": "RSA-OAEP",
    "idTokenEncryptionEnabled": True,
    "idTokenEncryptionMethod": "A128GCM",
    "idTokenExpiryTime": 1200,
    "pkceMandatory": True,
    "pkceSupportPlain": True,
    "refreshTokenExpiryTime": 7200,
    "requestObjectSignatureValidationEnabled": True,
    "scopeValidators": ["Role based scope validator"],
    "tokenType": "JWT",
    "userAccessTokenExpiryTime": 900,
}


@pytest.fixture(params=[(h, r) for h in (False, True) for r in RELEASES], ids=str)
def km(request: pytest.FixtureRequest) -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    """A double with hashing off or on, answering in 6.0.53's or 6.7's words."""
    double, ca = kmdouble.new(password="km-admin-pw")
    double.hash_secrets, double.release = request.param
    yield double, ca
    double.stop()


def with_app(**app: Any) -> Desired:
    return dataclasses.replace(WANT, app=dataclasses.replace(WANT.app, **app))


def set_by_hand(double: kmdouble.KmDouble) -> dict[str, Any]:
    """Every optional setting of the app changed, as a console user would; returns the
    app as stored."""
    assert set(CONSOLE) == {f for f, _ in kmdouble.APP.fields} - MANAGED - UNREAD, (
        "a DTO field the test does not set"
    )
    app = double.db.apps[KEY]
    app.update(CONSOLE)
    return dict(app)


def changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_a_km_is_synced_on_every_pass_whether_it_hashes_or_not(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    assert len(converge(km)) == 3
    stored = double.db.apps[KEY]["oauthConsumerSecret"]
    assert stored == double.stored_secret(SECRET)
    assert (stored == SECRET) is not double.hash_secrets
    writes = len(double.writes())
    for _ in range(2):
        assert converge(km) == []
    assert len(double.writes()) == writes, "a KM holding the app's hash gets reads only"
    assert "isHashDisabled" not in double.calls, "nothing to ask: the stored value is checked"


def test_a_rotation_changes_the_secret_and_nothing_else(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    converge(km)
    before = set_by_hand(double)
    rotated = with_app(client_secret="the-next-secret")
    assert converge(km, rotated) == ["re-registered OAuth app apim_store_ob (new secret)"]
    after = double.db.apps[KEY]
    assert changed(before, after) == {"oauthConsumerSecret"}
    assert after["oauthConsumerSecret"] == double.stored_secret("the-next-secret")
    assert double.writes()[-2:] == ["removeOAuthApplicationData", "registerOAuthApplicationData"]
    assert converge(km, rotated) == [], "the new secret is recognised from then on"


def test_an_update_sends_back_every_setting_and_the_secret_as_read(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """The update replaces: a field left out is cleared, and a secret other than what the
    read by key returned (on a hashing KM, the hash) is refused."""
    double, _ = km
    converge(km)
    before = set_by_hand(double)
    moved = with_app(callback_url="https://store.example/cb", grant_types=("implicit",))
    assert converge(km, moved) == ["updated OAuth app apim_store_ob: callback URL, grant types"]
    assert changed(before, double.db.apps[KEY]) == {"callbackUrl", "grantTypes"}


def test_a_secret_changed_behind_obregs_back_is_set_again(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """Someone regenerated the secret in the console: the stored digest is no longer
    obreg's secret's, and obreg's secret (the one the SP file names) is put back."""
    double, _ = km
    converge(km)
    double.db.apps[KEY]["oauthConsumerSecret"] = double.stored_secret("regenerated")
    double.cached_secrets.pop(KEY, None)
    assert converge(km) == ["re-registered OAuth app apim_store_ob (new secret)"]
    assert double.db.apps[KEY]["oauthConsumerSecret"] == double.stored_secret(SECRET)


def test_a_digest_obreg_cannot_compute_stops_without_a_write(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, _ = km
    converge(km)
    double.db.apps[KEY]["oauthConsumerSecret"] = json.dumps({"hash": "00", "algorithm": "MD2"})
    double.cached_secrets.pop(KEY, None)
    writes = len(double.writes())
    with pytest.raises(KmError) as refused:
        converge(km)
    assert refused.value.kind == "unsupported"
    assert "hashed with MD2, a digest obreg cannot compute" in str(refused.value)
    assert len(double.writes()) == writes


def test_an_app_of_the_name_under_another_owner_is_seen(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """The read by name is per tenant: another owner's app of the name is found, so
    obreg does not register a second one (the register would be allowed: names are
    unique per owner only)."""
    double, _ = km
    converge(km)
    app = double.db.apps.pop(KEY)
    double.db.apps["alices-key"] = {**app, "oauthConsumerKey": "alices-key", "username": "alice"}
    writes = len(double.writes())
    with pytest.raises(KmError) as refused:
        converge(km)
    assert refused.value.kind == "unsupported"
    assert "exists already with another client id (alices-key)" in str(refused.value)
    assert len(double.writes()) == writes
    assert list(double.db.apps) == ["alices-key"]


def test_a_rotation_that_cannot_read_every_setting_writes_nothing(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """Another owner's app of the same name registered later is what the read by name
    returns: obreg cannot read its own app's logout URL, so it does not remove it."""
    double, _ = km
    converge(km)
    other = {**double.db.apps[KEY], "oauthConsumerKey": "alices-key", "username": "alice"}
    double.db.apps["alices-key"] = other
    writes = len(double.writes())
    with pytest.raises(KmError) as refused:
        converge(km, with_app(client_secret="the-next-secret"))
    assert refused.value.kind == "unsupported"
    assert "returned the app of client id alices-key" in str(refused.value)
    assert len(double.writes()) == writes and KEY in double.db.apps


@pytest.mark.parametrize(
    "operation", ["getOAuthApplicationData", "getOAuthApplicationDataByAppName"]
)
def test_a_read_that_fails_is_not_taken_for_no_app(
    km: tuple[kmdouble.KmDouble, bytes], operation: str
) -> None:
    """A fault other than "not found" is raised: taken for "no app", it led to a second
    register. 6.7+ uses 6.0.53's words for "not found" for its database errors."""
    double, _ = km
    name = WANT.app.name
    reason = (
        "Error while retrieving the app information "
        + {
            "getOAuthApplicationData": f"using consumerKey: {KEY}",
            "getOAuthApplicationDataByAppName": f"by app name: {name}",
        }[operation]
    )
    if double.release == "6.0.53":  # its "not found" words: use another failure
        reason = f"Error while loading the application {name}"
    double.faults[operation] = reason
    with pytest.raises(KmError) as failed:
        converge(km)
    assert failed.value.kind == "fault"
    assert double.writes() == []
    del double.faults[operation]
    assert len(converge(km)) == 3, "the not-found fault of either release registers"

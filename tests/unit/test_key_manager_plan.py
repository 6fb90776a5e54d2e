"""The Key Manager plan: which admin calls a difference needs, and that a KM already in
the desired state needs none."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from obreg.api import parse
from obreg.render import site_json
from obreg.render.credentials import ClientCredentials
from obreg.rules.km_app import (
    OIDC_DIALECT,
    Blocked,
    Desired,
    ExternalClaim,
    OAuthApp,
    Observed,
    ObservedApp,
    check_secret,
    desired,
    plan,
)
from tests.bad_inputs import find, sample_documents

SP = parse.parse(find(sample_documents(), "OBServiceProvider"))
WANT = desired(SP.spec, ClientCredentials("the-id", "the-secret"))
CLAIM = ExternalClaim(OIDC_DIALECT, "tpp_associated", "http://wso2.org/claims/active")


def seen(**app: object) -> Observed:
    values: dict[str, object] = {
        "name": "apim_store_ob",
        "client_id": "the-id",
        "client_secret": "the-secret",
        "callback_url": WANT.app.callback_url,
        "grant_types": ("authorization_code",),
        "fields": {},
        **app,
    }
    return Observed(
        app=ObservedApp(**values),  # type: ignore[arg-type]
        claims=[CLAIM],
        scopes={"openid": ["sub", "tpp_associated"]},
    )


def kinds(observed: Observed) -> list[str]:
    steps = plan(WANT, observed)
    assert not isinstance(steps, Blocked)
    return [s.kind for s in steps]


def test_desired_state_is_the_runbooks() -> None:
    # Made here, not at import: a constant made while the tests were collected would not
    # show a change of desired() to the mutation run (make mutate).
    want = desired(SP.spec, ClientCredentials("the-id", "the-secret"))
    assert want == Desired(
        app=OAuthApp(
            name="apim_store_ob",
            client_id="the-id",
            client_secret="the-secret",
            callback_url="https://apim.bank.example:9443/store/jagg/jaggery_oidc_acs_ob.jag",
            grant_types=("authorization_code",),
        ),
        claim=CLAIM,
        scope="openid",
    )
    assert want.app.callback_url == site_json.redirect_uri(SP.spec)
    assert "the-secret" not in repr(want)


def test_in_place_needs_no_call() -> None:
    assert kinds(seen()) == []


def test_each_difference_needs_its_own_call() -> None:
    assert kinds(Observed(None, [], {"openid": []})) == [
        "register_app",
        "add_claim",
        "add_scope_claim",
    ]
    assert kinds(seen(client_secret="old")) == ["replace_app"]
    assert kinds(seen(callback_url="https://old/cb", grant_types=("implicit",))) == ["update_app"]
    remapped = Observed(
        seen().app,
        [ExternalClaim(OIDC_DIALECT, "tpp_associated", "x")],
        {"openid": ["tpp_associated"]},
    )
    assert kinds(remapped) == ["update_claim"]


def test_a_km_without_the_openid_scope_cannot_be_planned() -> None:
    assert plan(WANT, Observed(None, [], {})) == Blocked(
        "the Key Manager has no OIDC scope 'openid' to add tpp_associated to", retry=True
    )


def test_a_claimless_openid_scope_gets_the_claim() -> None:
    assert kinds(Observed(seen().app, [CLAIM], {"openid": []})) == ["add_scope_claim"]


def wso2_stored(secret: str, algorithm: str = "SHA-256") -> str:
    """HashingPersistenceProcessor's JSON, written apart from obreg's reader."""
    digest = hashlib.new(algorithm.replace("SHA-", "sha").lower(), secret.encode()).hexdigest()
    return json.dumps({"hash": digest, "algorithm": algorithm}, separators=(",", ":"))


@given(
    secret=st.text(min_size=1, max_size=40),
    other=st.text(min_size=1, max_size=40),
    algorithm=st.sampled_from(["SHA-256", "SHA-384", "SHA-512", "SHA-1"]),
)
def test_a_hashed_secret_is_checked_by_obregs_own_digest(
    secret: str, other: str, algorithm: str
) -> None:
    """WSO2 keeps an unsalted digest of the secret's UTF-8 bytes, so it is a function of
    what obreg holds: the same secret matches, any other differs and is set again."""
    want = dataclasses.replace(WANT, app=dataclasses.replace(WANT.app, client_secret=secret))
    stored = seen(client_secret=wso2_stored(secret, algorithm)).app
    assert stored is not None
    assert check_secret(want, stored) == "same"
    assert kinds(dataclasses.replace(seen(), app=stored)) == (
        [] if secret == "the-secret" else ["replace_app"]
    )
    if other != secret:
        elsewhere = seen(client_secret=wso2_stored(other, algorithm)).app
        assert elsewhere is not None
        assert check_secret(want, elsewhere) == "differs"


def test_a_digest_obreg_cannot_compute_is_not_re_registered_on_every_pass() -> None:
    hashed = seen(client_secret=json.dumps({"hash": "ab12", "algorithm": "MD2"}))
    assert plan(WANT, hashed) == Blocked(
        "the Key Manager keeps client secrets hashed with MD2, a digest obreg cannot "
        "compute, so it cannot check the OAuth app's secret; set <HashAlgorithm> to "
        "SHA-256 in identity.xml, or manage the OAuth app by hand and remove keyManagerAdmin",
        retry=False,
    )
    # Anything else that is not obreg's secret is a secret that differs.
    for stored in ("{not json", '{"hash": "ab"}', "[1]", "5e884898da28047151d0e56f8dc6292773"):
        assert kinds(seen(client_secret=stored)) == ["replace_app"], stored


def test_an_app_of_the_name_with_another_client_id_is_not_taken_over() -> None:
    """No app has the client id, but one has the name: registering would be refused, and
    replacing it could cut off whoever uses it; a person decides, so no timed retry."""
    absent = dataclasses.replace(seen(), app=None)
    assert kinds(absent)[0] == "register_app"
    steps = plan(WANT, dataclasses.replace(absent, name_taken_by="someone-elses-id"))
    assert steps == Blocked(
        "an OAuth app named apim_store_ob exists already with another client id "
        "(someone-elses-id); obreg does not take over an app it cannot tell is its own: "
        "delete that app in the Key Manager, or give this OBServiceProvider its "
        "credentials (spec.clientCredentials)",
        retry=False,
    )


def test_each_changed_field_of_the_app_is_named_in_its_update() -> None:
    renamed = seen(name="old_name")
    steps = plan(WANT, renamed)
    assert not isinstance(steps, Blocked)
    assert [s.description for s in steps if s.kind == "update_app"] == [
        "updated OAuth app apim_store_ob: name"
    ]

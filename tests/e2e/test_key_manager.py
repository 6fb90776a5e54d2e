"""The Key Manager's database steps on the local plane, with the contract double standing
in for the KM's admin services: the runbook's OAuth app, claim and scope; no writes on a
second pass; updates; a KM restarted onto a new database; and every failure ending in a
condition with a clear message that clears by itself once the cause is gone."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from obreg.km.destination import ALLOWED_HOSTS_ANNOTATION, authority
from testbed import kmdouble
from tests.e2e.harness import Operator, Scenario, consistently
from tests.kubetools import poll
from tests.pki import issue

pytestmark = pytest.mark.cluster

CALLBACK = "https://apim.bank.example:9443/store/jagg/jaggery_oidc_acs_ob.jag"
# What a rotation changes: the secret, and what WSO2 lets no caller keep (owner, state).
ROTATED = {"oauthConsumerSecret", "username", "state"}


def client_credentials(scenario: Scenario) -> tuple[str, str]:
    data = scenario.get("secret", "obreg-apim-store-client")["data"]
    return (
        base64.b64decode(data["client-id"]).decode(),
        base64.b64decode(data["client-secret"]).decode(),
    )


def km_condition(scenario: Scenario) -> dict[str, str]:
    return scenario.condition("obsp", "apim-store", "KeyManagerDatabase")


def test_runbook_scenario_ends_with_the_kms_items_and_a_second_pass_only_reads(
    scenario: Scenario, operator: Operator
) -> None:
    scenario.apply()
    scenario.wait_ready(timeout=90)
    client_id, client_secret = client_credentials(scenario)
    km = scenario.km
    assert list(km.db.apps) == [client_id]
    app = km.db.apps[client_id]
    assert app["applicationName"] == "apim_store_ob"
    assert app["oauthConsumerSecret"] == client_secret
    assert app["callbackUrl"] == CALLBACK
    assert app["grantTypes"] == "authorization_code"
    assert km.db.claims["tpp_associated"] == "http://wso2.org/claims/active"
    assert km.db.scopes["openid"].count("tpp_associated") == 1
    condition = km_condition(scenario)
    assert condition["status"] == "True" and condition["reason"] == "Synced"
    assert "registered OAuth app apim_store_ob" in condition["message"]
    events = scenario.kubectl("get", "events", "-n", scenario.namespace, "-o", "json").stdout
    assert "KeyManagerUpdated" in events
    status = json.dumps(scenario.get("obsp", "apim-store")["status"])
    for secret in (client_secret, km.password):
        assert secret not in status and secret not in events and secret not in operator.text()

    # An operator restart re-checks the KM (reads), writes nothing there or to status.
    writes, reads = len(km.writes()), len(km.calls)
    before = scenario.get("obsp", "apim-store")["status"]
    operator.stop()
    operator.start()
    poll(lambda: len(km.calls) >= reads + 3, 60, "the restarted operator re-reads the KM")
    consistently(lambda: len(km.writes()) == writes, 3.0, "a second pass sends no write")
    assert scenario.get("obsp", "apim-store")["status"] == before


def test_a_new_callback_and_a_rotated_secret_update_the_app(scenario: Scenario) -> None:
    scenario.apply()
    scenario.wait_ready(timeout=90)
    client_id, _ = client_credentials(scenario)
    km = scenario.km
    scenario.merge_patch("obsp", "apim-store", {"spec": {"storeUrl": "https://store.bank.example"}})
    poll(
        lambda: (
            km.db.apps[client_id]["callbackUrl"]
            == "https://store.bank.example/store/jagg/jaggery_oidc_acs_ob.jag"
        ),
        60,
        "the app's callback follows storeUrl",
    )
    assert km.writes()[-1] == "updateConsumerApplication"
    rotated = base64.b64encode(b"a-rotated-client-secret-value").decode()
    scenario.merge_patch("secret", "obreg-apim-store-client", {"data": {"client-secret": rotated}})
    poll(
        lambda: (
            km.db.apps.get(client_id, {}).get("oauthConsumerSecret")
            == "a-rotated-client-secret-value"
        ),
        60,
        "the rotated secret reaches the KM",
    )
    poll(
        lambda: (
            "re-registered OAuth app apim_store_ob (new secret)"
            in km_condition(scenario).get("message", "")
        ),
        30,
        "the condition says what was done",
    )


def test_a_km_restarted_onto_a_new_database_is_caught_up(scenario: Scenario) -> None:
    scenario.apply()
    scenario.wait_ready(timeout=90)
    km = scenario.km
    with km.lock:
        km.db = type(km.db)()  # what an embedded H2 database looks like after a restart
    scenario.kubectl("delete", "pod", "-n", scenario.namespace, "-l", "app=wso2-km")
    poll(lambda: bool(km.db.apps), 90, "the OAuth app is made again on the new database")
    poll(lambda: "tpp_associated" in km.db.scopes["openid"], 30, "and the scope")


def wait_for(scenario: Scenario, reason: str, text: str) -> dict[str, str]:
    def shown() -> bool:
        condition = km_condition(scenario)
        return condition.get("reason") == reason and text in condition.get("message", "")

    poll(
        shown,
        90,
        lambda: f"KeyManagerDatabase {reason} with {text!r}; last seen {km_condition(scenario)}",
    )
    return scenario.condition("obsp", "apim-store", "Ready")


def test_pointing_at_another_km_makes_the_items_there(scenario: Scenario) -> None:
    """A new URL, CA and admin password while Synced: the new KM (an empty database) gets
    the app, the claim and the scope; obreg does not take the old one's state for it."""
    scenario.apply()
    scenario.wait_ready(timeout=90)
    other, other_ca = kmdouble.new(password="other-admin-pw")
    try:
        scenario.merge_patch(
            "secret",
            "km-admin",
            {
                "metadata": {"annotations": {ALLOWED_HOSTS_ANNOTATION: authority(other.url)}},
                "stringData": {"password": "other-admin-pw"},
            },
        )
        scenario.merge_patch("configmap", "km-tls-ca", {"data": {"ca.crt": other_ca.decode()}})
        scenario.merge_patch(
            "obsp", "apim-store", {"spec": {"keyManagerAdmin": {"url": other.url}}}
        )
        client_id, _ = client_credentials(scenario)
        poll(lambda: client_id in other.db.apps, 90, "the app registered on the other KM")
        poll(lambda: "tpp_associated" in other.db.scopes["openid"], 30, "the scope there")
        scenario.wait_ready(timeout=90)
    finally:
        other.stop()


def test_km_down_then_up(scenario: Scenario) -> None:
    scenario.km.stop()
    scenario.apply()
    ready = wait_for(scenario, "Unavailable", "cannot reach")
    assert ready["status"] == "False" and ready["reason"] == "KeyManagerUnavailable"
    assert scenario.condition("obsp", "apim-store", "Reconciling")["status"] == "True"
    scenario.km.start()
    scenario.wait_ready(timeout=90)


def test_wrong_credentials_stall_until_fixed(scenario: Scenario) -> None:
    scenario.find("Secret", "km-admin")["stringData"]["password"] = "not-the-password"
    scenario.apply()
    ready = wait_for(scenario, "Failed", "refused the admin credentials (Access Denied")
    assert ready["reason"] == "KeyManagerFailed"
    assert "tries again when the referenced Secret or CA changes" in ready["message"]
    refused = scenario.km.unauthorized
    consistently(
        lambda: scenario.km.unauthorized == refused,
        6.0,
        "no retry on a timer of refused credentials (it could lock the admin account)",
    )
    assert scenario.condition("obsp", "apim-store", "Stalled")["status"] == "True"
    assert "not-the-password" not in json.dumps(scenario.get("obsp", "apim-store"))
    scenario.merge_patch("secret", "km-admin", {"stringData": {"password": scenario.km.password}})
    scenario.wait_ready(timeout=90)


def test_credentials_go_only_to_hosts_their_owner_allows(scenario: Scenario) -> None:
    admin = scenario.find("Secret", "km-admin")
    admin["metadata"]["annotations"][ALLOWED_HOSTS_ANNOTATION] = "km.bank.example:9446"
    scenario.apply()
    ready = wait_for(scenario, "Failed", "does not allow its credentials to be sent to")
    assert ALLOWED_HOSTS_ANNOTATION in ready["message"]
    assert scenario.condition("obsp", "apim-store", "Stalled")["status"] == "True"
    assert scenario.km.calls == [] and scenario.km.unauthorized == 0  # nothing was sent
    # The Secret's owner allows the KM's host: obreg goes on at once.
    patch = {"metadata": {"annotations": {ALLOWED_HOSTS_ANNOTATION: authority(scenario.km.url)}}}
    scenario.merge_patch("secret", "km-admin", patch)
    scenario.wait_ready(timeout=90)


def updates_told(scenario: Scenario) -> str:
    """The messages of the KeyManagerUpdated events, in one string."""
    events = json.loads(
        scenario.kubectl("get", "events", "-n", scenario.namespace, "-o", "json").stdout
    )
    return "; ".join(e["message"] for e in events["items"] if e["reason"] == "KeyManagerUpdated")


def test_a_soap_fault_is_shown_and_retried_and_what_was_made_is_told(scenario: Scenario) -> None:
    """The app is registered, then the claim is refused: the app is in the KM and the
    next pass finds it in place, so the failed pass is the one to tell of it."""
    scenario.km.faults["addExternalClaim"] = "Local claim mapping is locked by the test"
    scenario.apply()
    wait_for(scenario, "Failed", "the Key Manager answered: Local claim mapping is locked")
    poll(
        lambda: "registered OAuth app apim_store_ob" in updates_told(scenario),
        30,
        lambda: f"the app's registration told; told: {updates_told(scenario)!r}",
    )
    del scenario.km.faults["addExternalClaim"]
    scenario.wait_ready(timeout=90)
    poll(
        lambda: "added tpp_associated to scope openid" in updates_told(scenario),
        30,
        "the rest told",
    )
    assert updates_told(scenario).count("registered OAuth app") == 1


def test_a_km_behind_a_load_balancer_answering_5xx_is_unavailable_then_recovers(
    scenario: Scenario,
) -> None:
    """docs/operating.md: a 502/503/504 is retried with backoff within the pass, then shown as
    KeyManagerUnavailable with the status, and the next pass goes on once the KM is back."""
    scenario.km.http_status = 503
    scenario.apply()
    ready = wait_for(scenario, "Unavailable", "HTTP 503")
    assert ready["reason"] == "KeyManagerUnavailable"
    scenario.km.http_status = None
    scenario.wait_ready(timeout=90)


def test_a_slow_km_hits_the_timeout(scenario: Scenario) -> None:
    sp = scenario.find("OBServiceProvider")["spec"]
    sp["keyManagerAdmin"]["timeoutSeconds"] = 1
    scenario.km.delay = 2.5
    scenario.apply()
    wait_for(scenario, "Unavailable", "no answer within 1 s")
    scenario.km.delay = 0
    scenario.wait_ready(timeout=90)


def test_a_missing_credentials_secret_stalls_until_it_is_created(scenario: Scenario) -> None:
    """docs/operating.md: a credentialsSecret that does not exist is a Failed KM step and the
    resource Stalled, naming the Secret; creating it is the change that retries."""
    admin = scenario.find("Secret", "km-admin")
    scenario.apply([d for d in scenario.docs if d is not admin])
    wait_for(scenario, "Failed", f"Secret {scenario.namespace}/km-admin not found")
    assert scenario.condition("obsp", "apim-store", "Stalled")["status"] == "True"
    assert not scenario.km.calls, "no call without credentials"
    scenario.apply()
    scenario.wait_ready(timeout=90)


def test_without_key_manager_admin_the_steps_stay_manual_and_the_status_says_so(
    scenario: Scenario,
) -> None:
    del scenario.find("OBServiceProvider")["spec"]["keyManagerAdmin"]
    scenario.apply()
    scenario.wait_ready()
    warnings = scenario.get("obsp", "apim-store")["status"].get("warnings") or []
    assert any("spec.keyManagerAdmin is unset" in w for w in warnings), warnings
    assert not scenario.km.calls


def test_an_untrusted_km_certificate_fails_and_the_ca_fixed_retries_at_once(
    scenario: Scenario,
) -> None:
    """docs/operating.md: a certificate obreg cannot trust is Failed and waits for a change (no
    timer: the input must change); the CA's change is that change, so the steps run
    again at once, not after a retry delay or the hourly check."""
    ca = scenario.find("ConfigMap", "km-tls-ca")["data"]
    good = ca["ca.crt"]
    ca["ca.crt"] = issue("Not the Key Manager's CA").pem.decode()
    scenario.apply()
    wait_for(scenario, "Failed", "the Key Manager's TLS certificate is not trusted")
    assert not scenario.km.calls, "no request reached the KM's services"
    ca["ca.crt"] = good
    scenario.apply()
    # A Failed of this kind has no timer: only the change can bring Ready this soon
    # (the periodic check is hourly).
    scenario.wait_ready(timeout=30)


def test_the_periodic_check_restores_what_someone_removed_in_the_km(
    scenario: Scenario, operator: Operator, start_operator: Callable[..., Operator]
) -> None:
    """docs/operating.md: the KM's database changed behind obreg's back while Synced is found at the
    next periodic check (``--key-manager-resync-seconds``) and put right."""
    operator.stop()
    checking = start_operator(
        "--resync-seconds", "1", "--key-manager-resync-seconds", "3"
    )
    try:
        scenario.apply()
        scenario.wait_ready(timeout=90)
        client_id, _ = client_credentials(scenario)
        registrations = scenario.km.writes().count("registerOAuthApplicationData")
        del scenario.km.db.apps[client_id]  # removed by hand in the KM's console
        poll(lambda: client_id in scenario.km.db.apps, 30, "the app made again")
        assert scenario.km.writes().count("registerOAuthApplicationData") == registrations + 1
    finally:
        checking.stop()
        operator.start()


def test_a_hashing_km_stays_synced_and_a_rotation_keeps_every_setting(
    scenario: Scenario, operator: Operator
) -> None:
    """A KM with client-secret hashing on keeps only a digest of the secret: the samples
    reach Ready and stay there across resyncs and an operator restart (reads only), and a
    rotated secret replaces the app with every setting set by hand in the console kept."""
    km = scenario.km
    km.hash_secrets = True
    scenario.apply()
    scenario.wait_ready(timeout=90)
    client_id, client_secret = client_credentials(scenario)
    app = km.db.apps[client_id]
    assert app["oauthConsumerSecret"] == km.stored_secret(client_secret) != client_secret
    assert km_condition(scenario)["reason"] == "Synced"

    # Restarted, obreg reads the KM again and finds it in place: no write, no new status.
    writes, reads = len(km.writes()), len(km.calls)
    before = scenario.get("obsp", "apim-store")["status"]
    operator.stop()
    operator.start()
    poll(lambda: len(km.calls) >= reads + 3, 60, "the restarted operator re-reads the KM")
    consistently(lambda: len(km.writes()) == writes, 3.0, "a hashing KM needs no write")
    assert scenario.get("obsp", "apim-store")["status"] == before

    # Settings a console user gave the app survive a rotation of its secret.
    with km.lock:
        km.db.apps[client_id].update(
            pkceMandatory=True, userAccessTokenExpiryTime=600, tokenType="JWT"
        )
        kept = {k: v for k, v in km.db.apps[client_id].items() if k not in ROTATED}
    rotated = base64.b64encode(b"a-rotated-client-secret-value").decode()
    scenario.merge_patch("secret", "obreg-apim-store-client", {"data": {"client-secret": rotated}})
    poll(
        lambda: (
            km.db.apps.get(client_id, {}).get("oauthConsumerSecret")
            == km.stored_secret("a-rotated-client-secret-value")
        ),
        60,
        "the rotated secret reaches the hashing KM",
    )
    with km.lock:
        after = {k: v for k, v in km.db.apps[client_id].items() if k not in ROTATED}
    assert after == kept
    scenario.wait_ready(timeout=60)
    assert km_condition(scenario)["reason"] == "Synced"

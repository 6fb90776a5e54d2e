"""When a Key Manager pass calls the KM, and what it records otherwise (obreg/rules/km_steps.py),
as tables: the gates before a pass, the memo that spares a call, a failure's outcome."""

from __future__ import annotations

import dataclasses

import pytest

from obreg.api.common import TargetResult, WorkloadRef
from obreg.api.service_provider import KeyManagerResult
from obreg.errors import MESSAGE_MAX
from obreg.km.client import Connection, ErrorKind
from obreg.rules.km_app import Desired, ExternalClaim, OAuthApp
from obreg.rules.km_steps import (
    Outcome,
    failed,
    gate,
    memo,
    result,
    runs_its_files,
)
from obreg.rules.workload import Rollout, Workload, summarize

KM = WorkloadRef(kind="Deployment", name="wso2-km")


def files(state: str = "Applied", digest: str = "d1") -> TargetResult:
    return TargetResult.model_validate(
        {"kind": "Deployment", "name": "wso2-km", "state": state, "digest": digest}
    )


KM_WORKLOAD = summarize(
    {"kind": "Deployment", "metadata": {"name": "wso2-km", "namespace": "ns", "uid": "u-1"}}
)


def workload(digest: str | None = "d1", complete: bool = True) -> Workload:
    return dataclasses.replace(KM_WORKLOAD, digest=digest, rollout=Rollout(complete, 1))


ROLLING = "waiting for Deployment/wso2-km to finish rolling out"


@pytest.mark.parametrize(
    ("given_files", "given_workload", "go", "pending", "rollout"),
    [
        # No reconcile of the KM yet in this process: nothing to say, it requests again.
        (None, workload(), False, None, False),
        (
            files("Blocked"),
            workload(),
            False,
            "waiting for the Key Manager's files (Blocked)",
            False,
        ),
        (files("Failed"), workload(), False, "waiting for the Key Manager's files (Failed)", False),
        (
            files("WaitingForWorkload"),
            None,
            False,
            "waiting for the Key Manager's files (WaitingForWorkload)",
            False,
        ),
        (files(), None, False, ROLLING, True),
        (files(), workload(digest=None), False, ROLLING, True),
        (files(), workload(digest="d0"), False, ROLLING, True),
        (files(), workload(complete=False), False, ROLLING, True),
        (files(), workload(), True, None, False),
    ],
)
def test_a_pass_goes_on_only_once_the_km_runs_obregs_files(
    given_files: TargetResult | None,
    given_workload: Workload | None,
    go: bool,
    pending: str | None,
    rollout: bool,
) -> None:
    decided = gate(given_files, given_workload, KM)
    assert decided.go is go
    assert decided.rollout is rollout
    if pending is None:
        assert decided.wait is None
    else:
        assert decided.wait is not None
        assert decided.wait.result == KeyManagerResult(state="Pending", message=pending)
    if given_files is not None and given_files.state == "Applied":
        assert runs_its_files(given_files, given_workload) is go


def outcome(
    state: str,
    fingerprint: str | None = None,
    waits: str | None = None,
    warns: tuple[str, ...] = (),
) -> Outcome:
    return Outcome(KeyManagerResult.model_validate({"state": state}), fingerprint, waits, warns)


@pytest.mark.parametrize(
    ("previous", "read", "force", "decision"),
    [
        (None, (), False, "call"),  # first pass of this process, nothing in status
        (outcome("Synced", "a"), (), False, "skip"),
        (outcome("Synced", "a"), (), True, "call"),  # restart of the KM, periodic check
        (outcome("Synced", "a", warns=("trimmed",)), (), False, "rewarn"),
        (outcome("Synced", "a", warns=("trimmed",)), ("trimmed",), False, "skip"),
        (outcome("Synced", "b"), (), False, "call"),  # another KM or desired state
        # After a restart, from the status: no fingerprint known, so checked.
        (outcome("Synced"), (), False, "call"),
        (outcome("Failed", waits="a"), (), False, "skip"),  # refused: waits for a change
        (outcome("Failed", waits="a"), (), True, "call"),
        # A refused login: not even a forced pass logs in again with the same inputs.
        (dataclasses.replace(outcome("Failed", waits="a"), refused_login=True), (), True, "skip"),
        (dataclasses.replace(outcome("Failed", waits="b"), refused_login=True), (), True, "call"),
        (outcome("Failed", waits="b"), (), False, "call"),
        (outcome("Failed"), (), False, "call"),  # a fault: retried
        (outcome("Unavailable"), (), False, "call"),
        (outcome("Pending"), (), False, "call"),
        # A fingerprint of a Synced outcome does not spare a call when not Synced.
        (outcome("Failed", "a"), (), False, "call"),
    ],
)
def test_a_call_is_spared_only_when_the_last_outcome_covers_the_same_state(
    previous: Outcome | None, read: tuple[str, ...], force: bool, decision: str
) -> None:
    assert memo(previous, "a", read, force) == decision


@pytest.mark.parametrize(
    ("kind", "state", "retry", "suffix"),
    [
        ("unavailable", "Unavailable", True, ""),
        ("garbled", "Unavailable", True, ""),
        ("fault", "Failed", True, ""),
        (
            "unauthorized",
            "Failed",
            False,
            "; obreg tries again when the referenced Secret or CA changes",
        ),
        (
            "protocol",
            "Failed",
            False,
            "; obreg tries again when the referenced Secret or CA changes",
        ),
        (
            "unsupported",
            "Failed",
            False,
            "; obreg checks again when the resource changes and periodically",
        ),
    ],
)
def test_a_failure_is_retried_on_a_timer_only_when_time_can_fix_it(
    kind: ErrorKind, state: str, retry: bool, suffix: str
) -> None:
    recorded, retried = failed(kind, "it went wrong", "a", ("w",))
    assert retried is retry
    assert recorded.result == KeyManagerResult.model_validate(
        {"state": state, "message": "it went wrong" + suffix}
    )
    # One that is not retried waits for its inputs to change (the memo skips until then).
    assert recorded.waits_for_change_of == (None if retry else "a")
    assert recorded.fingerprint is None
    assert recorded.warnings == ("w",)
    assert memo(recorded, "a", ("w",), False) == ("call" if retry else "skip")
    assert recorded.refused_login is (kind == "unauthorized")


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            "denied\x80\x9f\x1b[31m\u202e\x00\ud800",
            "denied\\u0080\\u009f\\u001b[31m\\u202e\\u0000\\ud800",
        ),
        ("x" * 5000, "x" * (MESSAGE_MAX - 16) + " ... (truncated)"),
    ],
)
def test_a_message_of_any_characters_and_length_enters_a_result_escaped_and_bounded(
    given: str, shown: str
) -> None:
    """The status model refuses control characters; a message quotes the KM, which may
    send any: escaped where it enters the result, it is always written."""
    recorded, _ = failed("fault", given, "a", ())
    assert recorded.result.message == shown
    assert result("Pending", given).message == shown


APP = OAuthApp(
    "apim_store_ob", "the-id", "the-secret", "https://store/cb", ("code", "refresh_token")
)
WANT = Desired(
    APP, ExternalClaim("dialect", "tpp_associated", "http://wso2.org/claims/active"), "openid"
)
REACH = Connection("https://km:9443", "admin", "pw", b"-----CA-----", "km.internal", 10.0)


@pytest.mark.parametrize(
    "changed",
    [
        dataclasses.replace(WANT, app=dataclasses.replace(APP, name="other")),
        dataclasses.replace(WANT, app=dataclasses.replace(APP, client_id="other")),
        dataclasses.replace(WANT, app=dataclasses.replace(APP, client_secret="rotated")),
        dataclasses.replace(WANT, app=dataclasses.replace(APP, callback_url="https://x/cb")),
        dataclasses.replace(WANT, app=dataclasses.replace(APP, grant_types=("code",))),
        dataclasses.replace(WANT, claim=dataclasses.replace(WANT.claim, dialect="other")),
        dataclasses.replace(WANT, claim=dataclasses.replace(WANT.claim, uri="other")),
        dataclasses.replace(WANT, claim=dataclasses.replace(WANT.claim, mapped_local="other")),
        dataclasses.replace(WANT, scope="profile"),
        # Parts run together differ from parts apart.
        dataclasses.replace(
            WANT, app=dataclasses.replace(APP, name="apim_store_obthe-id", client_id="")
        ),
    ],
)
def test_every_part_of_the_desired_state_is_in_its_fingerprint(changed: Desired) -> None:
    """The memo spares a call only for the same fingerprint: a part left out of it would
    be a change obreg never makes on the KM (a rotated secret, another callback)."""
    assert WANT.fingerprint() == dataclasses.replace(WANT).fingerprint()
    assert changed.fingerprint() != WANT.fingerprint()


@pytest.mark.parametrize(
    "changed",
    [
        dataclasses.replace(REACH, url="https://other:9443"),
        dataclasses.replace(REACH, username="other"),
        dataclasses.replace(REACH, password="rotated"),
        dataclasses.replace(REACH, ca_pem=b"-----another CA-----"),
        dataclasses.replace(REACH, ca_pem=None),
        dataclasses.replace(REACH, server_name=None),
        dataclasses.replace(REACH, timeout=30.0),
    ],
)
def test_every_setting_of_the_connection_is_in_its_fingerprint(changed: Connection) -> None:
    """Another KM, account or CA is worth a call even for the same desired state; the
    fingerprint is a digest, so the password is not in it."""
    assert REACH.fingerprint() == dataclasses.replace(REACH).fingerprint()
    assert changed.fingerprint() != REACH.fingerprint()
    assert len(REACH.fingerprint()) == 64 and "pw" not in REACH.fingerprint()

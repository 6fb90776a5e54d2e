"""A Key Manager pass (kube/key_manager.py) end to end against the double: what it writes
in status and whether it calls the KM again. A refused login is never tried again with
the same inputs, not even by the forced passes (the periodic check, a KM pod back),
because each refused login counts toward locking the KM's admin account; and whatever a
fault holds, it ends in a written status."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import re
from collections.abc import Iterator
from typing import Any, cast

import pytest

from obreg.api.common import TargetResult, WorkloadRef
from obreg.api.service_provider import KeyManagerResult
from obreg.errors import MESSAGE_MAX
from obreg.km.destination import ALLOWED_HOSTS_ANNOTATION
from obreg.kube.indexes import Indexes
from obreg.kube.key_manager import KeyManagerSteps
from obreg.rules import state, status
from obreg.rules.holdings import Held
from obreg.rules.workload import Rollout, summarize
from testbed import kmdouble
from tests.bad_inputs import INPUT, find, sample_documents

NS, NAME = "obreg-demo", "apim-store"
KM = WorkloadRef(kind="Deployment", name="wso2-km")
FILES = TargetResult(kind="Deployment", name="wso2-km", state="Applied", digest="d1")
NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
DIGEST_KEY = bytes(range(32))
# C1 controls, an escape sequence and a direction override, as a hostile KM may send.
ODD = "Access Denied\x80 for \x9b31m admin\x9f\u202e"


class Events:
    """The API as far as a pass uses it: the events it posts of what it changed."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    async def create(self, body: dict[str, Any]) -> None:
        self.posted.append(body)


@dataclasses.dataclass
class Pass:
    """The pass's inputs, as the watches would hold them, and every status it wrote."""

    double: kmdouble.KmDouble
    ca: bytes
    password: str
    written: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    digest_key: bytes | None = DIGEST_KEY
    # The status the resource shows when the pass starts (a restarted operator reads it).
    status: dict[str, Any] | None = None
    steps: KeyManagerSteps = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.steps = KeyManagerSteps(
            api=cast(Any, Events()),
            settle_seconds=0,
            files=lambda _rid, _ref: FILES,
            written={},
            generated={},
            write_statuses=cast(Any, None),  # set by run(), which knows the indexes
            digest_key=self.digest_key,
        )

    def restarted(self) -> Pass:
        """A new operator process: nothing in memory, the status as last written."""
        shown = self.written[-1] if self.written else self.status
        return Pass(self.double, self.ca, self.password, [], self.digest_key, shown)

    def indexes(self) -> Indexes:
        sp = find(sample_documents(), "OBServiceProvider", NAME)
        sp["spec"]["keyManagerAdmin"]["url"] = self.double.url
        if self.status is not None:
            sp["status"] = self.status
        workload = dataclasses.replace(
            summarize({"kind": "Deployment", "metadata": {"name": KM.name, "namespace": NS}}),
            digest="d1",
            rollout=Rollout(True, 1),
        )
        allowed = {ALLOWED_HOSTS_ANNOTATION: f"127.0.0.1:{self.double.port}"}
        return Indexes(
            custom=[{NS: {NAME: sp}}],
            secrets={
                (NS, "km-admin"): Held(
                    {"username": b"admin", "password": self.password.encode()}, INPUT, allowed, ()
                ),
                (NS, f"obreg-{NAME}-client"): Held(
                    {"client-id": b"store-id", "client-secret": b"store-secret"}, INPUT, {}, ()
                ),
            },
            config_maps={(NS, "km-tls-ca"): Held({"ca.crt": self.ca}, {}, {}, ())},
            workloads={(NS, KM.kind, KM.name): workload},
        )

    def run(self, force: bool) -> bool:
        """One pass; whether it asks to be retried on a timer."""
        indexes = self.indexes()

        async def write_statuses(snap: state.Snapshot, _: Any) -> None:
            sp = snap.namespace.service_providers[0]
            shown = self.steps.result(sp, None, indexes)
            self.written.append(status.build(1, [FILES], [], None, NOW, key_manager=shown))

        self.steps.write_statuses = write_statuses
        return asyncio.run(self.steps._steps((NS, NAME), indexes, force))

    def logins(self) -> int:
        """Requests that carried the admin credentials: refused ones and answered ones."""
        return self.double.unauthorized + len(self.double.calls)


@pytest.fixture
def km() -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    double, ca = kmdouble.new(password="km-admin-pw")
    yield double, ca
    double.stop()


def test_a_refused_login_is_tried_once_until_the_credentials_change(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    double, ca = km
    steps = Pass(double, ca, password="wrong-password")
    assert steps.run(force=False) is False, "not retried on a timer"
    assert steps.logins() == 1
    for force in (True, True, False, True):  # periodic checks, a KM pod back, an event
        assert steps.run(force) is False
    assert steps.logins() == 1, "one login attempt, however many passes"
    shown = steps.written[-1]["keyManagerDatabase"]
    assert shown["state"] == "Failed"
    assert "refused the admin credentials" in shown["message"]
    assert shown["message"].endswith("obreg tries again when the referenced Secret or CA changes")
    # The Secret is fixed: one new attempt, which succeeds.
    steps.password = "km-admin-pw"
    assert steps.run(force=False) is False
    assert steps.logins() > 1 and steps.double.unauthorized == 1
    assert steps.written[-1]["keyManagerDatabase"]["state"] == "Synced"


def test_a_refused_login_is_not_tried_again_by_a_restarted_operator(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """Status keeps an HMAC of the refused attempt under the operator's digest key: a
    crash-looping operator does not lock the admin account one restart at a time, and
    the status says nothing a reader without the key could test a password guess with."""
    double, ca = km
    steps = Pass(double, ca, password="wrong-password")
    steps.run(force=False)
    shown = steps.written[-1]["keyManagerDatabase"]
    assert re.fullmatch("[0-9a-f]{64}", shown["refusedLogin"])
    assert KeyManagerResult.model_validate(shown).refused_login == shown["refusedLogin"]
    for _ in range(3):
        steps = steps.restarted()
        for force in (True, False):  # the KM pod seen anew at start, then an event
            assert steps.run(force) is False
    assert double.unauthorized == 1 and double.calls == [], "one login, however many restarts"
    # Another password is another attempt, tried once; the refusal it replaces is gone.
    steps.password = "still-wrong"
    steps.run(force=False)
    assert double.unauthorized == 2
    steps.password = "km-admin-pw"
    steps.run(force=False)
    assert "refusedLogin" not in steps.written[-1]["keyManagerDatabase"]
    assert steps.written[-1]["keyManagerDatabase"]["state"] == "Synced"


def test_a_refused_login_is_published_only_keyed(km: tuple[kmdouble.KmDouble, bytes]) -> None:
    """Without a digest key the fingerprint is a plain hash of the credentials: it stays
    in memory, and a restart tries the login once more."""
    double, ca = km
    steps = Pass(double, ca, password="wrong-password", digest_key=None)
    steps.run(force=False)
    assert "refusedLogin" not in steps.written[-1]["keyManagerDatabase"]
    steps.restarted().run(force=True)
    assert double.unauthorized == 2
    keyed = Pass(double, ca, password="wrong-password", digest_key=b"another key" * 3)
    keyed.run(force=False)
    other = Pass(double, ca, password="wrong-password")
    other.run(force=False)
    assert (
        keyed.written[-1]["keyManagerDatabase"]["refusedLogin"]
        != other.written[-1]["keyManagerDatabase"]["refusedLogin"]
    ), "keyed: the same inputs under another key give another value"


@pytest.mark.parametrize(
    "reason",
    [ODD, "User account is locked for user : admin. cannot login until the account is unlocked"],
)
def test_a_login_refused_in_any_words_ends_in_a_written_status_and_waits(
    km: tuple[kmdouble.KmDouble, bytes], reason: str
) -> None:
    """The KM's fault may hold any character XML carries: the status shows it escaped,
    and a fault that refuses the login is not retried on a timer either."""
    double, ca = km
    double.faults["getOAuthApplicationData"] = reason
    steps = Pass(double, ca, password="km-admin-pw")
    assert steps.run(force=False) is False
    assert steps.run(force=True) is False
    assert steps.logins() == 1
    shown = steps.written[-1]["keyManagerDatabase"]
    assert shown["state"] == "Failed"
    assert KeyManagerResult.model_validate(shown) is not None, "the status model takes it"
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e]", shown["message"])
    if reason == ODD:
        assert "(Access Denied\\u0080 for \\u009b31m admin\\u009f\\u202e)" in shown["message"]


def test_a_fault_of_any_length_and_characters_is_written_bounded(
    km: tuple[kmdouble.KmDouble, bytes],
) -> None:
    """A fault that is not a refused login is retried on a timer; its status is written
    all the same, printable and no longer than a status message may be."""
    double, ca = km
    double.faults["getOAuthApplicationData"] = "\x80\x9f" * 5000
    steps = Pass(double, ca, password="km-admin-pw")
    assert steps.run(force=False) is True
    shown = steps.written[-1]["keyManagerDatabase"]
    assert shown["state"] == "Failed"
    assert len(shown["message"]) <= MESSAGE_MAX
    assert shown["message"].startswith(
        "OAuthAdminService.getOAuthApplicationData: the Key Manager answered: \\u0080\\u009f"
    )

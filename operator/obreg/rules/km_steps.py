"""When a Key Manager pass calls the KM, what it records when it does not, and what a
failure leads to: the decisions of kube/key_manager.py, which only acts on them.

A pass goes through three gates before it reads an input: the KM workload has obreg's
files (Applied), and runs them (its rollout with their digest is complete), because the
service provider file and the KM's database must describe the same client. It then calls
the KM unless the last outcome already covers the same desired state and connection
(a fingerprint of both): Synced with it, or refused with it in a way that only a change
fixes. Forced passes (a KM pod back from a restart, the periodic check, a retry) call
anyway, except after a refused login: that waits for a change of its inputs, always.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from ..api.common import TargetResult, WorkloadRef
from ..api.service_provider import KeyManagerResult
from ..errors import bounded
from .workload import Workload

# unavailable: no answer; garbled: an answer that is not the KM's (a proxy's error or
# maintenance page): both pass, so they are retried with backoff. unauthorized, protocol
# (TLS) and unsupported wait for a change of input instead.
# KeyManagerResult.state's values.
KmState = Literal["Synced", "Pending", "Unavailable", "Failed"]
ErrorKind = Literal["unavailable", "garbled", "unauthorized", "fault", "protocol", "unsupported"]

# Between attempts after a failure; the last one repeats until the KM answers.
RETRY_DELAYS = (2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
# Failures a retry on a timer may fix. Refused credentials would lock the KM's admin
# account if retried (IS locks a user after failed logins); an untrusted certificate or a
# KM setting obreg cannot work with does not change by itself.
RETRIED: frozenset[ErrorKind] = frozenset({"unavailable", "garbled", "fault"})


def result(state: KmState, message: str) -> KeyManagerResult:
    """The one way a message enters a KeyManagerResult: printable and bounded. The
    model refuses control characters (as in any resource's text), and a message quotes
    the KM, which may send any character: unescaped, one C1 character in a fault made
    the model refuse, so no status was written and the pass was retried as if a bug."""
    return KeyManagerResult(state=state, message=bounded(message))


@dataclass(frozen=True)
class Outcome:
    result: KeyManagerResult
    # Of the desired state reached and the KM it was reached on (URL, CA, credentials),
    # when Synced: pointing obreg at another KM is a change worth a call.
    fingerprint: str | None = None
    # Of the desired state and connection that the KM refused in a way a retry with the
    # same inputs cannot fix (credentials, certificate): only a change is worth a call.
    waits_for_change_of: str | None = None
    # What the Secret-value rule changed in the credentials read (see render/inputs.py).
    warnings: tuple[str, ...] = ()
    # The KM refused the admin login: then even a forced pass (the periodic check, a KM
    # pod back) does not call with the same inputs, since every refused login counts
    # toward locking the admin account; only a change of them is worth one.
    refused_login: bool = False


def pending(message: str) -> Outcome:
    return Outcome(result("Pending", message))


def runs_its_files(files: TargetResult, workload: Workload | None) -> bool:
    """Whether the KM workload's pods all run the files obreg last applied to it."""
    return workload is not None and workload.digest == files.digest and workload.rollout.complete


@dataclass(frozen=True)
class Gate:
    """A pass's first decision: go on (``wait`` None), or record ``wait`` and stop;
    ``rollout`` says the end of the KM's rollout must request the pass again."""

    wait: Outcome | None = None
    go: bool = False
    rollout: bool = False


def gate(files: TargetResult | None, workload: Workload | None, km: WorkloadRef) -> Gate:
    """``files``: the outcome of obreg's last apply to the KM workload, None before this
    process reconciled it once (that reconcile requests the pass again, so there is
    nothing to record yet). Pending is not retried on a timer: the workload event that
    ends the wait requests again."""
    if files is None:
        return Gate()
    if files.state != "Applied":
        return Gate(pending(f"waiting for the Key Manager's files ({files.state})"))
    if not runs_its_files(files, workload):
        return Gate(pending(f"waiting for {km.kind}/{km.name} to finish rolling out"), rollout=True)
    return Gate(go=True)


Memo = Literal["call", "skip", "rewarn"]


def memo(previous: Outcome | None, attempt: str, read: tuple[str, ...], force: bool) -> Memo:
    """Whether the KM needs a call for the desired state and connection ``attempt`` (a
    fingerprint): "skip" when the last outcome covers it, "rewarn" when it does but the
    warnings about the values read changed (the values did not). A refused login is
    covered even when forced."""
    if previous is None:
        return "call"
    if previous.refused_login and previous.waits_for_change_of == attempt:
        return "skip"
    if force:
        return "call"
    if previous.result.state == "Synced" and previous.fingerprint == attempt:
        return "skip" if previous.warnings == read else "rewarn"
    if previous.waits_for_change_of == attempt:
        return "skip"
    return "call"


def failed(
    kind: ErrorKind, message: str, attempt: str, read: tuple[str, ...], keyed: bool = False
) -> tuple[Outcome, bool]:
    """What a failed pass records (its message already redacted), and whether it is
    retried on a timer; one that is not waits for a change of its inputs. A refused
    login's ``attempt`` is published in status when ``keyed`` (an HMAC under the
    operator's digest key, see rules/km_steps.attempt), so a restarted operator finds it
    (remembered()); an unkeyed one is a plain hash of the credentials and stays in memory."""
    retry = kind in RETRIED
    if kind == "unsupported":
        message += "; obreg checks again when the resource changes and periodically"
    elif not retry:
        message += "; obreg tries again when the referenced Secret or CA changes"
    recorded = result("Unavailable" if kind in ("unavailable", "garbled") else "Failed", message)
    refused = kind == "unauthorized"
    if refused and keyed:
        recorded = recorded.model_copy(update={"refused_login": attempt})
    waits = None if retry else attempt
    return Outcome(recorded, None, waits, read, refused_login=refused), retry


def attempt(inputs: str, key: bytes | None) -> str:
    """The fingerprint of a pass's inputs (desired state and connection, both digests
    that cover the secrets): keyed with the operator's digest key when there is one, so
    that it may be published (render/digest.py's rule: nothing published is a function
    of Secret bytes that a reader without the key can compute)."""
    if key is None:
        return hashlib.sha256(inputs.encode()).hexdigest()
    return hmac.new(key, inputs.encode(), hashlib.sha256).hexdigest()


def remembered(shown: KeyManagerResult) -> Outcome:
    """The outcome a status shows, as a restarted operator takes it up: a refused login
    recorded there still waits for a change of its inputs."""
    if shown.refused_login is None:
        return Outcome(shown)
    return Outcome(shown, waits_for_change_of=shown.refused_login, refused_login=True)

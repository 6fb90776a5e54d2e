"""Two instances (a Deployment of two replicas) electing their leader over a Lease: the
acting one is killed in the middle of a reconcile (SIGKILL), or stopped (SIGTERM), and
the standby, which watched everything meanwhile, takes over; and the two replaced one by
one, as a rolling update of the chart's Deployment does, while changes keep coming.

After a SIGKILL the Lease stays the dead one's until it runs out (15 s after its last
renew, every 2 s); after a SIGTERM the stopping one releases it, and the standby takes it
at its next try (every 2 s). The takeover is timed from the dead one's last renew (the
Lease's renewTime), or from the signal, to the standby's log stamp."""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from obreg.kube import faultpoint
from obreg.settings import Settings
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import Operator, Scenario
from tests.faults.conftest import RESYNC
from tests.faults.recovery import (
    ONCE,
    TWICE,
    WORKLOADS,
    Watch,
    add_ca,
    converged,
    live_digests,
    offline_digests,
)
from tests.kubetools import poll

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

LEADS = "leader election: became the leader"
STANDS_BY = "standing by"
HELD = re.compile(r"became the leader \(Lease ([^/]+)/([^)]+)\)")
LEASE_SECONDS = Settings().lease_duration
RETRY_SECONDS = Settings().retry_period
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", re.MULTILINE)


def stamp_of(text: str, needle: str | None = None) -> float:
    """The log stamp (epoch seconds) of the first line holding ``needle``, or of the
    last stamped line when None."""
    lines = [line for line in text.splitlines() if STAMP.match(line)]
    if needle is not None:
        lines = [line for line in lines if needle in line][:1]
    assert lines, f"no log line with {needle!r}"
    found = STAMP.match(lines[-1])
    assert found is not None
    return datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def pair(
    instances: Callable[..., Operator], acting_env: dict[str, str] | None = None
) -> tuple[Operator, Operator]:
    """The acting instance (leading first), then the standby (standing by)."""
    acting = instances({"--identity": "obreg@replica-a"}, env=acting_env, verbose=True)
    poll(lambda: LEADS in acting.since_start(), 60, "the first instance to lead")
    standby = instances({"--identity": "obreg@replica-b"})
    poll(lambda: STANDS_BY in standby.since_start(), 60, "the second instance to stand by")
    return acting, standby


def test_the_acting_instance_killed_mid_reconcile(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    watch = Watch(scenario, cluster, RESYNC)
    point = "workload-applied"
    acting, standby = pair(instances, {faultpoint.KILL: point})
    scenario.apply()
    poll(lambda: not acting.alive(), 90, f"the acting instance to be killed at {point}")
    assert f"killed at {point}" in acting.text()
    acting.process = None
    killed = watch.mark()
    # The dead one's last renew, read before the standby may overwrite it: the takeover
    # is timed from there, as the rule is (an instance's last log line may come up to a
    # retry period after its last renew, or, as the renew is its last act, just with it).
    held = HELD.search(acting.text())
    assert held is not None, "the acting instance's log names no Lease"
    lease = scenario.kubectl("get", "lease", held[2], "-n", held[1], "-o", "json")
    spec = json.loads(lease.stdout)["spec"]
    assert spec["holderIdentity"] == "obreg@replica-a", spec
    renewed = datetime.datetime.fromisoformat(spec["renewTime"]).timestamp()
    poll(lambda: LEADS in standby.since_start(), 30, "the standby to take the Lease")
    took = stamp_of(standby.since_start(), LEADS) - renewed
    # Not before the claim ran out (log stamps are cut to the millisecond), and within a
    # retry period after it.
    assert LEASE_SECONDS - 0.001 <= took < LEASE_SECONDS + RETRY_SECONDS, (
        f"the standby took the Lease {took:.3f} s after the holder's last renew"
    )
    watch.recovered(
        tmp_path,
        ONCE,
        f"the acting one of two instances SIGKILLed at {point}",
        f"the standby took the Lease {took:.1f} s after the dead one's last renew (when it "
        "ran out), finished the reconcile",
        killed,
    )


def test_the_acting_instance_stopped_with_sigterm(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    acting, standby = pair(instances)
    watch = converged(scenario, cluster, RESYNC)
    signalled = time.time()
    acting.stop()  # SIGTERM, and waits for the exit
    stopped = watch.mark()
    assert "leader election: released the Lease" in acting.text()
    poll(lambda: LEADS in standby.since_start(), 30, "the standby to take the Lease")
    took = stamp_of(standby.since_start(), LEADS) - signalled
    assert took < 3, f"the standby took the Lease {took:.1f} s after SIGTERM"
    add_ca(scenario, "aftersigterm")
    watch.recovered(
        tmp_path,
        TWICE,
        "the acting one of two instances stopped (SIGTERM); a CA added",
        f"it released the Lease; the standby took it {took:.1f} s after the signal and rolled once",
        stopped,
    )


def test_a_rolling_update_of_two_replicas_during_a_stream_of_changes(
    scenario: Scenario, cluster: ControlPlane, instances: Callable[..., Operator], tmp_path: Path
) -> None:
    """What `helm upgrade` does to the chart's two replicas (maxSurge 1, maxUnavailable
    0): a new pod starts, an old one gets SIGTERM, again. A CA is added before and right
    after each step, without waiting for it to land, so changes are in flight while the
    Lease moves. None may be lost (the files end as ``obreg render`` makes them from every
    change), and no workload may roll twice to the same files or back to older ones (its
    Deployment's revisions equal the distinct digests its templates carried)."""
    a, b = pair(instances)
    watch = converged(scenario, cluster, RESYNC)
    before = scenario.revisions()
    changes = 0

    def change() -> None:
        nonlocal changes
        add_ca(scenario, f"rolling{changes}")
        changes += 1

    change()
    c = instances({"--identity": "obreg@replica-c"})
    poll(lambda: STANDS_BY in c.since_start(), 60, "the first new replica to stand by")
    change()
    a.stop()  # SIGTERM, as the Deployment controller's scale-down sends
    change()
    d = instances({"--identity": "obreg@replica-d"})
    poll(lambda: STANDS_BY in d.since_start(), 60, "the second new replica to stand by")
    change()
    b.stop()
    change()
    done = watch.mark()
    poll(
        lambda: any(LEADS in new.since_start() for new in (c, d)),
        30,
        "a new replica to take the Lease",
    )
    assert sum(LEADS in new.since_start() for new in (c, d)) == 1, "one new replica leads"
    expected = offline_digests(scenario, tmp_path / "final")
    poll(lambda: live_digests(scenario) == expected, 180, f"the digests {expected}")
    seen = watch.rollouts()
    now = scenario.revisions()
    rolled = {w: now[w] - before[w] for w in WORKLOADS}
    assert rolled == {w: seen[w] - ONCE[w] for w in WORKLOADS}, (
        f"a workload rolled twice to the same files or back to older ones: "
        f"{rolled} rollouts during the update, {seen} distinct digests in all"
    )
    # The first rollout, then at most one per change (coalesced changes roll once).
    assert all(2 <= n <= 1 + changes for n in seen.values()), seen
    row = watch.recovered(
        tmp_path,
        seen,
        f"a rolling update of the two instances (one new started, one old stopped, "
        f"twice) while {changes} CAs were added",
        "a new replica ended up holding the Lease; every change landed, each workload "
        "rolled once per distinct set of files, never back to older ones",
        done,
    )
    after = scenario.revisions()
    assert {w: after[w] - before[w] for w in WORKLOADS} == rolled, (
        "no rollout after recovery"
    )
    assert row.rollouts == seen

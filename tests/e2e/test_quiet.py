"""After convergence the operator is silent: two resync intervals without one write
request by obreg, as the kube-apiserver's audit log records who wrote what."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from testbed import audit_log
from testbed.controlplane.launcher import ControlPlane
from tests.e2e.harness import RESYNC_LINE, Operator, Scenario, consistently, obreg_writes
from tests.kubetools import Kubectl, poll

pytestmark = pytest.mark.cluster

RESYNC = 2.0


def test_no_write_requests_when_nothing_changes(
    cluster: ControlPlane,
    kubectl: Kubectl,
    scenario: Scenario,
    operator: Operator,
    start_operator: Callable[..., Operator],
) -> None:
    operator.stop()
    quick = start_operator("--resync-seconds", str(RESYNC))
    try:
        at_start = audit_log.end(cluster.audit_log)
        scenario.apply()
        scenario.wait_ready()
        poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "the rollouts")
        # Earlier tests' namespaces are still being deleted: obreg rightly reacts there.
        poll(
            lambda: "Terminating" not in kubectl("get", "namespaces").stdout,
            120,
            "earlier namespaces to be gone",
        )
        poll(
            lambda: all(
                c.get("status") == "True"
                for c in (
                    scenario.condition(k, n)
                    for k, n in (
                        ("obta", "ob-directory-cas"),
                        ("obidp", "ob-directory"),
                        ("obsp", "apim-store"),
                    )
                )
            ),
            30,
            "Ready",
        )
        # The last event of the convergence (the KM's items made). obreg posts it before
        # it writes Synced; it used to be lost when the KM pass ran from the resync task
        # (kopf.event raised LookupError there), which made this wait time out.
        poll(
            lambda: (
                "KeyManagerUpdated"
                in kubectl(
                    "get", "events", "-n", scenario.namespace, "-o", "jsonpath={.items[*].reason}"
                ).stdout
            ),
            30,
            "the KeyManagerUpdated event",
        )
        assert obreg_writes(cluster, at_start), "the audit log does see obreg's writes"
        before = audit_log.end(cluster.audit_log)
        resyncs_before = quick.text().count(RESYNC_LINE)

        def quiet() -> bool:
            # obreg may still post an event about an object of an earlier test's
            # namespace, now gone (refused with 404): that reacted to a deletion.
            live = set(kubectl("get", "namespaces", "-o", "name").stdout.split())
            written = [
                w
                for w in obreg_writes(cluster, before)
                if not w.namespace or f"namespace/{w.namespace}" in live
            ]
            if written:
                raise AssertionError(f"obreg wrote while idle: {written}")
            return True

        consistently(quiet, 2 * RESYNC + 2, "no write request in two resync intervals")
        # The resync really ran in the window, as the leader.
        assert quick.text().count(RESYNC_LINE) >= resyncs_before + 2
    finally:
        quick.stop()
        operator.start()

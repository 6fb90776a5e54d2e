"""Rule 5: a render stops once budgets.RENDER_SECONDS of its clock have passed, checked
between steps (each source and certificate, each file), naming the resource it was
rendering. The clock is a test's own: time passes by counting, never by waiting."""

from __future__ import annotations

import itertools

import pytest

from obreg import budgets
from obreg.api.common import WorkloadRef
from obreg.errors import InvalidInput
from obreg.render import bundle, truststore
from obreg.render.bundle import Namespace
from obreg.render.deadline import Deadline
from obreg.render.inputs import Inputs
from tests.pki import NOW, issue
from tests.unit.test_truststore import NS, anchor

BUNDLE = "".join(issue(f"Deadline CA {n}").pem.decode() for n in range(20))


class Clock:
    """A clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.step, self.reads = step, itertools.count()

    def __call__(self) -> float:
        return next(self.reads) * self.step


def test_each_certificate_is_a_step() -> None:
    clock = Clock(0.0)
    truststore.render(
        [anchor({"certificates": [{"inline": BUNDLE}]})], Inputs(), NOW, Deadline.start(clock)
    )
    # The start, one source, and each of the 20 certificates twice (read, summarized).
    assert next(clock.reads) == 1 + 1 + 2 * 20


def test_a_truststore_that_takes_too_long_is_refused_naming_its_anchor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budgets, "RENDER_SECONDS", 10.0)
    clock = Clock(1.0)
    with pytest.raises(InvalidInput) as refused:
        truststore.render(
            [anchor({"certificates": [{"inline": BUNDLE}]}, "slow")],
            Inputs(),
            NOW,
            Deadline.start(clock),
        )
    assert str(refused.value) == (
        f"OBTrustAnchor {NS}/slow: spec: rendering took more than 10 seconds, and was stopped "
        "(no real truststore or product file takes this long; trim the inputs)"
    )
    assert next(clock.reads) == 12  # refused at the first check past the budget


def test_a_bundle_checks_its_clock_before_each_file() -> None:
    namespace = Namespace(NS, [anchor({"certificates": [{"inline": BUNDLE}]}, "late")])
    ref = WorkloadRef(name="km")
    with pytest.raises(InvalidInput, match=f"OBTrustAnchor {NS}/late: spec: rendering took"):
        bundle.render(namespace, ref, Inputs(), NOW, clock=Clock(budgets.RENDER_SECONDS + 1))
    assert bundle.render(namespace, ref, Inputs(), NOW, clock=Clock(0.0)).files

"""The backoff rule every retry loop shares (obreg/rules/backoff.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from obreg.rules.backoff import delay

DELAYS = (0.5, 1.0, 2.0, 5.0)


def test_the_nth_failure_waits_the_nth_delay_and_the_last_repeats() -> None:
    assert [delay(DELAYS, n) for n in range(7)] == [0.5, 1.0, 2.0, 5.0, 5.0, 5.0, 5.0]


@given(st.integers(min_value=-3, max_value=10_000))
def test_every_wait_is_one_of_the_table_and_never_shorter_for_more_failures(n: int) -> None:
    assert delay(DELAYS, n) in DELAYS
    assert delay(DELAYS, n) <= delay(DELAYS, n + 1)

"""Coalescing (obreg/rules/coalescing.py): of the requests for one thing, only the newest
goes on, and a retry waits its backoff delay instead of the settle time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from obreg.rules.coalescing import Tickets, wait

DELAYS = (2.0, 5.0, 15.0)


def test_only_the_newest_ticket_of_a_key_goes_on() -> None:
    tickets: Tickets[str] = Tickets()
    first, second = tickets.take("km"), tickets.take("km")
    assert not tickets.newest("km", first)
    assert tickets.newest("km", second)
    assert not tickets.newest("apim", second)  # a key nobody asked for has no newest


def test_keys_coalesce_apart() -> None:
    tickets: Tickets[tuple[str, str]] = Tickets()
    km, apim = tickets.take(("ns", "km")), tickets.take(("ns", "apim"))
    assert tickets.newest(("ns", "km"), km) and tickets.newest(("ns", "apim"), apim)


@given(st.lists(st.sampled_from("abc"), min_size=1, max_size=30))
def test_after_any_burst_exactly_the_last_request_of_each_key_goes_on(keys: list[str]) -> None:
    tickets: Tickets[str] = Tickets()
    taken = [(key, tickets.take(key)) for key in keys]
    going = [i for i, (key, ticket) in enumerate(taken) if tickets.newest(key, ticket)]
    assert going == sorted(
        max(i for i, (k, _) in enumerate(taken) if k == key) for key in set(keys)
    )


def test_a_request_waits_the_settle_time_and_a_retry_ever_longer_up_to_a_ceiling() -> None:
    assert wait(0, 0.25, DELAYS) == 0.25
    assert [wait(n, 0.25, DELAYS) for n in range(1, 7)] == [2.0, 5.0, 15.0, 15.0, 15.0, 15.0]

"""The work queue both reconcilers run on (kube/workqueue.py): what it promises each of
them, checked on a real event loop with a settle time of zero.

The property test drives random bursts of requests over a few keys, with passes that
yield to the loop a random number of times, and checks the promises that matter to a
bank: no change is lost (after a key's last request, a pass of it starts), a key's
passes never overlap, the cap holds, and no lock is left behind."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from obreg.kube.workqueue import WorkQueue

DEADLINE = 5.0  # seconds an asyncio test waits for the queue to go quiet


@dataclass
class Recorder:
    """A work function that records its passes: when each started (a step counter),
    which keys run now, and the most at once."""

    yields: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)  # key: passes that ask again
    started: list[tuple[str, int]] = field(default_factory=list)
    running: Counter[str] = field(default_factory=Counter)
    most_at_once: int = 0
    overlapped: bool = False
    step: int = 0

    async def __call__(self, key: str, attempt: int) -> bool:
        self.started.append((key, self.step))
        self.running[key] += 1
        self.overlapped |= self.running[key] > 1
        self.most_at_once = max(self.most_at_once, sum(self.running.values()))
        for _ in range(self.yields.get(key, 0)):
            await asyncio.sleep(0)
        self.running[key] -= 1
        if self.retries.get(key, 0) > 0:
            self.retries[key] -= 1
            return True
        return False


async def quiet(queue: WorkQueue[str]) -> None:
    """Until no pass waits or runs (a deadline, not a sleep)."""
    async with asyncio.timeout(DEADLINE):
        await queue.idle()


def test_idle_returns_once_every_retry_ran() -> None:
    """What handlers.cleanup waits for when obreg's CRDs went: the reconciles taking the
    deleted resources' files away, retried after a failure, are not cut short."""

    async def run() -> list[tuple[str, int]]:
        work = Recorder(retries={"a": 3, "b": 1})
        queue = WorkQueue(work, 0.0, (0.01, 0.02), max_retries=5)
        queue.request("a")
        queue.request("b")
        await quiet(queue)
        return work.started

    started = asyncio.run(run())
    assert Counter(key for key, _ in started) == {"a": 4, "b": 2}


def test_a_burst_of_requests_for_one_key_makes_one_pass() -> None:
    async def run() -> Recorder:
        work = Recorder()
        queue = WorkQueue(work, 0.0, (0.0,), max_retries=3)
        for _ in range(10):
            queue.request("km")
        await quiet(queue)
        return work

    assert [key for key, _ in asyncio.run(run()).started] == ["km"]


def test_requests_that_come_while_a_pass_runs_make_one_more_pass_not_one_each() -> None:
    async def run() -> int:
        release, passes = asyncio.Event(), 0

        async def work(_: str, __: int) -> bool:
            nonlocal passes
            passes += 1
            await release.wait()
            return False

        queue = WorkQueue(work, 0.0, (0.0,), max_retries=0)
        queue.request("km")
        async with asyncio.timeout(DEADLINE):
            while passes == 0:
                await asyncio.sleep(0)
            for _ in range(3):  # each waits its settle time, then for the lock
                queue.request("km")
                for _ in range(3):
                    await asyncio.sleep(0)
        release.set()
        await quiet(queue)
        return passes

    assert asyncio.run(run()) == 2


def test_a_pass_that_asks_is_retried_up_to_its_limit_and_no_more() -> None:
    async def run(limit: int | None) -> int:
        work = Recorder(retries={"km": 10})
        queue = WorkQueue(work, 0.0, (0.0,), max_retries=limit)
        queue.request("km")
        await quiet(queue)
        return len(work.started)

    assert asyncio.run(run(3)) == 4  # the pass and three retries
    assert asyncio.run(run(None)) == 11  # until it stops asking


def test_nothing_runs_on_a_standby() -> None:
    async def run(leads: bool) -> int:
        async def leading() -> bool:
            return leads

        work = Recorder()
        queue = WorkQueue(work, 0.0, (0.0,), max_retries=0, leading=leading)
        queue.request("km")
        await quiet(queue)
        return len(work.started)

    assert asyncio.run(run(False)) == 0
    assert asyncio.run(run(True)) == 1


def test_stop_cancels_a_running_pass() -> None:
    async def run() -> bool:
        entered, finished = asyncio.Event(), False

        async def work(_: str, __: int) -> bool:
            nonlocal finished
            entered.set()
            await asyncio.Event().wait()  # for ever, unless cancelled
            finished = True
            return False

        queue = WorkQueue(work, 0.0, (0.0,), max_retries=0)
        queue.request("km")
        async with asyncio.timeout(DEADLINE):
            await entered.wait()
        await queue.stop()
        return finished or bool(queue.tasks)

    assert asyncio.run(run()) is False


@settings(max_examples=150, deadline=None)
@given(
    bursts=st.lists(
        st.lists(st.sampled_from("abcd"), min_size=1, max_size=8), min_size=1, max_size=6
    ),
    yields=st.dictionaries(st.sampled_from("abcd"), st.integers(0, 6)),
    retries=st.dictionaries(st.sampled_from("abcd"), st.integers(0, 2)),
    cap=st.integers(1, 3),
)
def test_no_request_is_lost_passes_of_a_key_never_overlap_and_the_cap_holds(
    bursts: list[list[str]], yields: dict[str, int], retries: dict[str, int], cap: int
) -> None:
    async def run() -> tuple[Recorder, dict[str, int], WorkQueue[str]]:
        work = Recorder(yields=yields, retries=dict(retries))
        queue = WorkQueue(work, 0.0, (0.0,), max_retries=5, at_once=cap)
        last: dict[str, int] = {}
        for burst in bursts:
            for key in burst:
                queue.request(key)
                last[key] = work.step
            # Let some passes start and some still wait between bursts.
            for _ in range(3):
                work.step += 1
                await asyncio.sleep(0)
        await quiet(queue)
        return work, last, queue

    work, last, queue = asyncio.run(run())
    for key, requested in last.items():
        assert any(k == key and at > requested for k, at in work.started), (
            f"no pass of {key} started after its last request (step {requested})"
        )
    assert not work.overlapped, "two passes of one key ran at once"
    assert work.most_at_once <= cap
    assert not queue._locks and not queue._users, "a lock was left behind"
    assert not queue._holders and not queue._tickets._newest, "a ticket was left behind"

"""The work queue (kube/workqueue.py) under the cases a review found or checked: what a
key leaves behind once its passes are over, and a pass cancelled while it waits for its
key's lock or for the cap."""

from __future__ import annotations

import asyncio

from obreg.kube.workqueue import WorkQueue

DEADLINE = 5.0  # seconds a test waits for a condition (polled, never slept)


async def _until(condition: object) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0)


def test_keys_whose_passes_are_over_leave_no_ticket_behind() -> None:
    """Keys come and go (namespaces, service providers): a ticket kept per key ever
    requested grew without bound, like the locks did before they were dropped."""

    async def run() -> int:
        passes = 0

        async def work(_: str, __: int) -> bool:
            nonlocal passes
            passes += 1
            return False

        queue = WorkQueue(work, 0.0, (0.0,), max_retries=0)
        for n in range(200):
            queue.request(f"namespace-{n}")
        await _until(lambda: not queue.tasks)
        assert passes == 200
        return len(queue._tickets._newest)

    assert asyncio.run(run()) == 0


def test_a_key_requested_again_after_its_ticket_went_still_coalesces() -> None:
    """Dropping a key's ticket must not let a stale request match a new one."""

    async def run() -> list[int]:
        release, seen = asyncio.Event(), []

        async def work(_: str, attempt: int) -> bool:
            seen.append(attempt)
            await release.wait()
            return False

        queue = WorkQueue(work, 0.0, (0.0,), max_retries=0)
        queue.request("km")
        await _until(lambda: seen)
        release.set()
        await _until(lambda: not queue.tasks)
        release.clear()
        for _ in range(5):
            queue.request("km")
        await _until(lambda: len(seen) == 2)
        release.set()
        await _until(lambda: not queue.tasks)
        return seen

    assert asyncio.run(run()) == [0, 0]


def test_passes_cancelled_waiting_for_the_lock_or_the_cap_leave_no_lock_or_user() -> None:
    """A stop (or lost Lease) cancels passes that wait for their key's lock and for the
    cap; their count of users must go with them, or the lock stays for ever and the
    next pass of the key finds a count that never reaches zero."""

    async def run() -> tuple[int, int, int, int]:
        release, running = asyncio.Event(), set()

        async def work(key: str, _: int) -> bool:
            running.add(key)
            await release.wait()
            running.discard(key)
            return False

        queue = WorkQueue(work, 0.0, (0.0,), max_retries=0, at_once=1)
        queue.request("a")
        await _until(lambda: "a" in running)
        queue.request("b")  # waits for the cap
        queue.request("a")  # waits for a's lock
        await _until(lambda: queue._users.get("a") == 2 and queue._users.get("b") == 1)
        await queue.stop()
        left = (len(queue._locks), len(queue._users))
        release.set()
        queue.request("a")
        await _until(lambda: not queue.tasks)
        return (*left, len(queue._locks), len(queue._users))

    assert asyncio.run(run()) == (0, 0, 0, 0)

"""Background tasks kept where their owner can cancel them at once on stop.

asyncio keeps only a weak reference to a task, so a task nobody holds may be collected
before it finishes; each owner holds its tasks in a set, and a finished task leaves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def spawn(tasks: set[asyncio.Task[None]], coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task

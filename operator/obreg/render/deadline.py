"""A render's time budget, checked between its steps.

Every budget in budgets.py bounds one reader; ``budgets.RENDER_SECONDS`` stops what none
of them foresaw. Cooperative: checked between steps (each source and certificate of a
truststore, each file of a bundle), never interrupting a library's call, so a refusal
comes at most one step late. The clock is passed in (``time.monotonic`` unless a test
gives another), so a test makes time pass without waiting and a render stays pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import budgets
from ..errors import Label, Where


@dataclass(frozen=True)
class Deadline:
    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def start(cls, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + budgets.RENDER_SECONDS, clock)

    def check(self, resource: Label) -> None:
        """Refuse, naming the resource being rendered, once the budget is spent."""
        if self.clock() > self.at:
            raise Where(resource, "spec").refuse(
                f"rendering took more than {budgets.RENDER_SECONDS:g} seconds, and was stopped",
                "no real truststore or product file takes this long; trim the inputs",
            )

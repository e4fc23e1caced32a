"""Clocks: the engine asks a Clock for the time, so tests can hand it a FakeClock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...


class MonotonicClock:
    """time.perf_counter: monotonic, sub-microsecond."""

    # The function itself, not a method around it: the engine reads the clock twice per request.
    now = staticmethod(time.perf_counter)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds

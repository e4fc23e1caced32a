"""An open run's ramped timetable ([[load.stages]], as k6's ramping-arrival-rate): the rate is piecewise linear
in time, and the k-th send is due when the integral of the rate reaches k (Poisson arrivals: when it reaches
a sum of unit exponentials, the time-rescaled Poisson process). Coordinated-omission correction then runs
from these slots as it does from a constant rate's.

Engine only: the stages arrive as plain (rate, duration_s, shape) values of the plan."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from moetui.config.schema import Stage


@dataclass(frozen=True)
class Segment:
    """A span of linear rate: from `r0` at `t0` to `r1` at `t1`, with `n0` sends due before `t0`."""

    t0: float
    t1: float
    r0: float
    r1: float
    n0: float

    @property
    def count(self) -> float:
        """Sends due within the segment (the area under its rate)."""
        return (self.r0 + self.r1) / 2 * (self.t1 - self.t0)

    def count_at(self, t: float) -> float:
        tau = min(max(t - self.t0, 0.0), self.t1 - self.t0)
        return self.n0 + self.r0 * tau + self._slope * tau * tau / 2

    def time_of(self, n: float) -> float:
        """When the integral reaches `n` (n0 <= n <= n0 + count): the root of r0 t + s t^2 / 2 = n - n0, in the
        form that stays exact when the slope is 0 or negative."""
        due = n - self.n0
        root = math.sqrt(max(self.r0 * self.r0 + 2 * self._slope * due, 0.0))
        below = self.r0 + root
        tau = 2 * due / below if below > 0 else 0.0
        return min(self.t0 + tau, self.t1)

    @property
    def _slope(self) -> float:
        span = self.t1 - self.t0
        return (self.r1 - self.r0) / span if span > 0 else 0.0


class Schedule:
    """The timetable of a run's stages; times in seconds from the start of sending."""

    def __init__(self, stages: tuple[Stage, ...], scale: float = 1.0) -> None:
        """`scale` multiplies every rate (a worker's share when several generators split the load)."""
        self.stages = stages
        self.segments: list[Segment] = []
        self.bounds: list[float] = []
        """Each stage's end, from the start."""
        t = n = rate = 0.0
        for stage in stages:
            start_rate = stage.rate * scale if stage.shape == "step" else rate
            end_rate = stage.rate * scale
            segment = Segment(t, t + stage.duration_s, start_rate, end_rate, n)
            self.segments.append(segment)
            t, n, rate = segment.t1, n + segment.count, end_rate
            self.bounds.append(t)
        self.duration_s = t
        self.total = n
        """Sends due over the whole schedule (a real number: the last one is due only when it is reached)."""
        self._starts = [segment.n0 for segment in self.segments]

    def count_at(self, t: float) -> float:
        """Sends due in [0, t): the integral of the rate."""
        if t >= self.duration_s:
            return self.total
        return self.segments[self.stage_at(t)].count_at(t)

    def time_of(self, n: float) -> float:
        """When the `n`th send (counting from 0) is due; math.inf past the schedule's end."""
        if n >= self.total:
            return math.inf
        index = bisect.bisect_right(self._starts, n) - 1
        while self.segments[index].count <= 0 or n >= self.segments[index].n0 + self.segments[index].count:
            index += 1  # a stage of no duration or no rate holds no send: the next one's first
        return self.segments[index].time_of(n)

    def stage_at(self, t: float) -> int:
        """The index of the stage `t` falls in (the last one at and after the end)."""
        return min(bisect.bisect_right(self.bounds, t), len(self.bounds) - 1)

    def rate_at(self, t: float) -> float:
        segment = self.segments[self.stage_at(t)]
        if segment.t1 <= segment.t0:
            return segment.r1
        return segment.r0 + (segment.r1 - segment.r0) * (min(max(t, segment.t0), segment.t1) - segment.t0) / (
            segment.t1 - segment.t0
        )

    def due_before(self, t: float) -> int:
        """Even arrivals: how many slots (0, 1, ...) fall before `t`, from the same time_of the loop uses."""
        due = math.ceil(self.count_at(t))
        while due > 0 and self.time_of(due - 1) >= t:
            due -= 1
        while self.time_of(due) < t:
            due += 1
        return due

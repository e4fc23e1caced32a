"""LoadPlan: everything a generator needs to run, already resolved (by moetui.session.compose, from the
configuration and the target). Picklable, so a worker process can be handed one. The engine receives a
LoadPlan and nothing from above: no target, session, report or UI."""

from __future__ import annotations

from dataclasses import dataclass, replace

from moetui.config.schema import Mode, Stage
from moetui.config.timing import planned_span_s
from moetui.engine.ramp import Schedule
from moetui.engine.streaming import StreamPlan
from moetui.engine.transport import RequestSpec


@dataclass(frozen=True)
class LoadPlan:
    request: RequestSpec
    payloads: tuple[bytes, ...]
    """Request bodies, used in turn."""
    mode: Mode
    duration_s: float
    warmup_s: float = 0.0
    requests: int | None = None
    """burst: how many at once; closed and open: stop after this many as well."""
    connections: int = 1
    clients: int = 1
    rate: float = 50.0
    arrivals: str = "even"
    stages: tuple[Stage, ...] = ()
    """open: a ramped rate ([[load.stages]]) in place of `rate`; `duration_s` is their sum."""
    stage_scale: float = 1.0
    """The share of each stage's rate this generator sends (1 / workers)."""
    seed: int | None = None
    steps_over: str = "connections"
    steps_levels: tuple[float, ...] = ()
    step_duration_s: float = 30.0
    recent_size: int = 200
    workers: int = 1
    stream: StreamPlan | None = None
    """Read every answer as a stream and time its tokens (generative endpoints); None: whole answers."""
    request_log: str | None = None
    """Where every request is written as it finishes (CSV, or JSON lines for .jsonl); None: nowhere."""

    @property
    def burst_size(self) -> int:
        return self.requests or self.connections

    @property
    def planned_s(self) -> float | None:
        """Planned length of the run, warm-up included; None for a burst."""
        if self.mode == "burst":
            return None
        return planned_span_s(self.mode, self.duration_s, self.warmup_s, self.step_duration_s, len(self.steps_levels))

    @property
    def offered_rate(self) -> float:
        """Open mode's requests per second asked for: `rate`, or a ramp's mean over its stages."""
        if self.stages:
            schedule = Schedule(self.stages)
            return round(schedule.total / schedule.duration_s, 3)
        return self.rate

    @property
    def timetable(self) -> bool:
        """Whether sends follow a timetable (open mode, a sweep over rates), capped by `clients`."""
        return self.mode == "open" or (self.mode == "steps" and self.steps_over == "rate")

    @property
    def pool_size(self) -> int:
        """Connections the transport may need at once."""
        if self.mode == "burst":
            return self.burst_size
        if self.mode == "steps" and self.steps_over == "connections":
            return max(int(level) for level in self.steps_levels)
        return self.clients if self.mode in ("open", "steps") else self.connections

    def share(self, worker: int) -> LoadPlan:
        """This worker's part of the load when `workers` generators split it."""
        if self.workers == 1:
            return self

        def part(total: int) -> int:
            return total // self.workers + (1 if worker < total % self.workers else 0)

        return replace(
            self,
            connections=max(1, part(self.connections)),
            clients=max(1, part(self.clients)),
            rate=self.rate / self.workers,
            stage_scale=self.stage_scale / self.workers,
            requests=part(self.requests) if self.requests else None,
            steps_levels=tuple(
                level / self.workers if self.steps_over == "rate" else max(1, part(int(level)))
                for level in self.steps_levels
            ),
            seed=None if self.seed is None else self.seed + worker,
        )

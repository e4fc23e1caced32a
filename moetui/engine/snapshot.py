"""EngineSnapshot: everything a display or a report reads about a run at one moment. Immutable and
bounded in size however long the run; built at a fixed rate, never per request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from moetui.config.schema import Mode
from moetui.engine.failures import ErrorKind
from moetui.engine.recorder import RequestRecord
from moetui.engine.streaming import StreamSummary

#: Where a run is: its snapshots go through these in order.
Phase = Literal["starting", "warmup", "running", "stopping", "done"]


@dataclass(frozen=True)
class SecondRow:
    """One second of the run."""

    second: int
    ok: int
    failed: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    output_tokens: int = 0
    """A streaming run: output tokens of the streams that finished in this second."""
    p50_corrected_ms: float | None = None
    """Open mode: from the intended sends, coordinated omission corrected."""
    p99_corrected_ms: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    """Requests finished this second by status code ("200", "429") and error kind ("timeout")."""


@dataclass(frozen=True)
class StepRow:
    """One level of a sweep."""

    level: float
    duration_s: float
    ok: int
    failed: int
    rps: float
    percentiles_ms: dict[float, float]
    error_rate: float


@dataclass(frozen=True)
class Health:
    """How well the generator kept up: if it could not, the percentiles describe the client."""

    loop_lag_p99_ms: float | None
    loop_lag_max_ms: float | None
    drift_p99_ms: float | None
    """Open mode: how late sends left against the timetable (those held by the clients cap excluded)."""
    cpu_share: float
    """Generator CPU seconds per wall second, summed over its processes (1.0 = one core)."""
    send_rate_share: float | None
    """Open mode: sends per second over the target rate."""
    valid: bool
    reasons: tuple[str, ...] = ()
    """Why the measurement is invalid: the generator could not keep up."""
    notes: tuple[str, ...] = ()
    """What happened that was not the generator's fault (a target too slow for the rate at this cap)."""
    remedy: str | None = None
    """What to do about a saturated generator: more processes while CPUs are idle, else less load each."""
    process_cpu: tuple[float, ...] = ()
    """Each generator process's CPU seconds per wall second (cpu_share is their sum)."""
    machine_busy: float | None = None
    """Share of all the machine's CPU time that was busy during the run (/proc/stat); None where unknown."""
    machine_cpus: int | None = None
    """The machine's CPUs, when machine_busy is known."""
    header_refreshes: int = 0
    """Times the request headers were replaced during the run (a token refreshed before it expired)."""
    header_refresh_failures: int = 0
    """Header refreshes that raised; the requests kept the headers they had."""
    header_refresh_error: str | None = None
    """The last refresh failure (type and message, without the headers' secrets)."""


@dataclass(frozen=True, eq=False)
class EngineSnapshot:
    """A run at one moment. eq=False: identity comparison is cheap and a new snapshot always differs."""

    taken_at_s: float
    phase: Phase
    """starting, warmup, running, stopping or done."""
    mode: Mode
    planned_s: float | None
    sent: int
    completed: int
    ok: int
    failed: int
    warmup: int
    late: int
    in_flight: int
    statuses: dict[int, int]
    errors: dict[ErrorKind, int]
    throughput_rps: float
    """Successful responses per second over the measured part of the run."""
    last_second_rps: float
    percentiles_ms: dict[float, float]
    """Latency of successful responses, from the actual send."""
    corrected_ms: dict[float, float]
    """Open mode: latency of successful responses from the intended send (coordinated omission corrected)."""
    failed_percentiles_ms: dict[float, float]
    model_ms: dict[float, float]
    """Time inside the scorer's run() (x-ms-run-fn-exec-ms)."""
    mean_ms: float | None
    oldest_in_flight: tuple[tuple[int, float], ...]
    """(request id, age s) of the oldest requests in flight, oldest first; each age as its generator measured
    it in its last delta (at most a delta interval before taken_at_s), never extrapolated."""
    recent: tuple[RequestRecord, ...]
    per_second: tuple[SecondRow, ...]
    health: Health
    capacity: int | None
    """max_concurrent_requests_per_instance x instance_count, when known."""
    steps: tuple[StepRow, ...] = field(default=())
    step_level: float | None = None
    """The level of the sweep running now."""
    outside_ms: dict[float, float] = field(default_factory=dict)
    """Latency outside the scorer's run() (network, gateway, queue): elapsed minus x-ms-run-fn-exec-ms, per
    successful request that carried the header."""
    with_exec_time: int = 0
    """Successful requests that carried x-ms-run-fn-exec-ms (the count behind model_ms and outside_ms)."""
    not_sent: int = 0
    """Open mode: timetable slots that came before the duration ended but never left (every client busy,
    or the generator behind): the load the run did not deliver."""
    sending_s: float = 0.0
    """Open mode: seconds spent sending, per generator (the span the send rate is judged over)."""
    timetable: tuple[tuple[int, int, int, int], ...] = ()
    """A ramped open run: (second, stage, sent, ok) by timetable slot, warm-up included; () otherwise."""
    streaming: StreamSummary | None = None
    """A streaming run: TTFT, inter-token and per-token ladders, token counts, goodput, the verdict."""

"""Engine-level analysis of a run's requests: is a burst served concurrently, where is a sweep's knee. Both
are measurements the report records (moetui.report.build); `moetui check` reads judge_burst. Whether a run
passes its thresholds is moetui.report.judge's (one judge for single, merged and matrix runs)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from moetui.engine.snapshot import StepRow

CONCURRENT = "concurrent"
PARTLY_SERIALIZED = "partly serialized"
SERIALIZED = "serialized"
#: Share of the expected parallelism that still counts as concurrent (start-up jitter, a noisy machine).
CONCURRENT_SHARE = 0.8
#: Parallelism at or below this counts as one request at a time.
SERIAL_CEILING = 1.25


class TimedRecord(Protocol):
    @property
    def elapsed_s(self) -> float: ...
    @property
    def status(self) -> int | None: ...
    @property
    def exec_ms(self) -> float | None: ...


@dataclass(frozen=True)
class BurstVerdict:
    verdict: str
    expected: int
    """Requests that should be in service at once: N, or the deployment's capacity when smaller."""
    served_at_once: float
    """Sum of the time each request spent being served (in the scorer when it says) over the wall time."""
    effective_concurrency: float
    """Sum of request times over wall time (queueing included): N when all overlap, (N+1)/2 when serialized."""
    service_s: float
    """The time one request takes to serve, measured."""
    as_expected: bool
    """Whether the burst reached the expected parallelism (a deployment of capacity 1 is expected to serialize)."""


def judge_burst(records: Sequence[TimedRecord], wall_s: float, capacity: int | None = None) -> BurstVerdict:
    """Judge a burst: concurrent, partly serialized or serialized, and whether that is what its capacity allows.

    Request times include queueing, so their sum over the wall time is (N+1)/2 when requests are served
    one by one, not 1. The verdict uses the service time instead: the scorer's own x-ms-run-fn-exec-ms
    when every response carries it, else the fastest request's time (the one that did not queue). Only
    successful requests count.

    Args:
        records: The burst's requests.
        wall_s: From the first send to the last answer.
        capacity: max_concurrent_requests_per_instance x instance_count, when known.
    """
    count = len(records)
    expected = min(count, capacity) if capacity else count
    # Failed requests (a fast 429, a timeout) say nothing about how long serving takes.
    served = [r for r in records if r.status == 200]
    exec_ms = [r.exec_ms for r in served if r.exec_ms is not None]
    if served and len(exec_ms) == len(served):
        service_s = statistics.median(exec_ms) / 1000
    elif served:
        service_s = min(r.elapsed_s for r in served)
    else:
        service_s = 0.0
    served_at_once = len(served) * service_s / wall_s if wall_s > 0 else 0.0
    effective = sum(r.elapsed_s for r in records) / wall_s if wall_s > 0 else 0.0
    if count <= 1 or served_at_once >= CONCURRENT_SHARE * count:
        verdict = CONCURRENT
    elif served_at_once <= SERIAL_CEILING:
        verdict = SERIALIZED
    else:
        verdict = PARTLY_SERIALIZED
    return BurstVerdict(
        verdict=verdict,
        expected=expected,
        served_at_once=served_at_once,
        effective_concurrency=effective,
        service_s=service_s,
        as_expected=bool(served) and served_at_once >= CONCURRENT_SHARE * expected,
    )


def find_knee(steps: Sequence[StepRow], percentile: float, threshold_ms: float, error_limit: float) -> float | None:
    """The highest level whose `percentile` stays under `threshold_ms` with errors under `error_limit`."""
    passing = [
        step.level
        for step in steps
        if step.ok
        and step.percentiles_ms.get(percentile, _nearest(step.percentiles_ms, percentile)) < threshold_ms
        and step.error_rate < error_limit
    ]
    return max(passing) if passing else None


def _nearest(ladder: dict[float, float], percentile: float) -> float:
    """The ladder's value at the smallest listed percentile at or above `percentile`."""
    above = [p for p in ladder if p >= percentile]
    return ladder[min(above)] if above else float("inf")

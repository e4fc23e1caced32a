"""Verdicts: is a deployment serving a burst concurrently?"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from moetui.engine.modes.burst import BurstResult

CONCURRENT = "concurrent"
PARTLY_SERIALIZED = "partly serialized"
SERIALIZED = "serialized"
#: Share of the expected parallelism that still counts as concurrent (start-up jitter, a noisy machine).
CONCURRENT_SHARE = 0.8
#: Parallelism at or below this counts as one request at a time.
SERIAL_CEILING = 1.25


@dataclass(frozen=True)
class BurstVerdict:
    verdict: str
    expected: int
    """Requests that should be in service at once: N, or the deployment's capacity when smaller."""
    served_at_once: float
    """Sum of the time each request spent being served (in the scorer when it says) over the wall time."""
    service_s: float
    """The time one request takes to serve, measured."""
    as_expected: bool
    """Whether the burst reached the expected parallelism (a deployment of capacity 1 is expected to serialize)."""


def judge_burst(result: BurstResult, capacity: int | None = None) -> BurstVerdict:
    """Judge a burst: concurrent, partly serialized or serialized, and whether that is what its capacity allows.

    Request times include queueing, so their sum over the wall time is (N+1)/2 when requests are served
    one by one, not 1. The verdict uses the service time instead: the scorer's own x-ms-run-fn-exec-ms
    when every response carries it, else the fastest request's time (the one that did not queue). Only
    successful requests count.

    Args:
        result: The burst.
        capacity: max_concurrent_requests_per_instance x instance_count, when known.
    """
    count = len(result.records)
    expected = min(count, capacity) if capacity else count
    # Failed requests (a fast 429, a timeout) say nothing about how long serving takes.
    served = [r for r in result.records if r.status == 200]
    exec_ms = [r.run_fn_exec_ms for r in served if r.run_fn_exec_ms is not None]
    if served and len(exec_ms) == len(served):
        service_s = statistics.median(exec_ms) / 1000
    elif served:
        service_s = min(r.elapsed_s for r in served)
    else:
        service_s = 0.0
    served_at_once = len(served) * service_s / result.wall_s if result.wall_s > 0 else 0.0
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
        service_s=service_s,
        as_expected=served_at_once >= CONCURRENT_SHARE * expected,
    )

"""Judging a run: is a burst served concurrently, where is a sweep's knee, which thresholds held, and what a
finished run comes to (Evaluation: reachability and the exit status). The headless runner and the TUI's
report screen both read an Evaluation; `moetui check` reads judge_burst."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from moetui.config.schema import DEFAULT_ERROR_RATE, Config, Thresholds
from moetui.engine.failures import never_answered
from moetui.engine.run import RunResult
from moetui.engine.snapshot import EngineSnapshot, StepRow
from moetui.engine.streaming import StreamSummary, summarize
from moetui.errors import ExitStatus

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


@dataclass(frozen=True)
class ThresholdCheck:
    name: str
    limit: float
    value: float | None
    passed: bool
    at_least: bool = False
    """True when the value must reach the limit (min_rps, concurrency); else it must stay under it."""
    default: bool = False
    """The configuration did not set this limit: moetui's default applies (error_rate, successes)."""


def check_thresholds(
    thresholds: Thresholds,
    percentiles_ms: dict[float, float],
    error_rate: float,
    rps: float,
    not_sent_share: float | None = None,
    *,
    default_error_rate: float | None = None,
) -> list[ThresholdCheck]:
    """Each threshold that is set, with the run's value and whether it held (a missing value fails);
    `default_error_rate` stands in for an unset error_rate (marked as a default). `not_sent_share` is None
    for load models without a timetable (max_not_sent is then not checked)."""
    checks = []
    for name, percentile in (("p50_ms", 50.0), ("p90_ms", 90.0), ("p99_ms", 99.0)):
        limit = getattr(thresholds, name)
        if limit is not None:
            value = percentiles_ms.get(percentile)
            checks.append(ThresholdCheck(name, limit, value, value is not None and value <= limit))
    limit = thresholds.error_rate if thresholds.error_rate is not None else default_error_rate
    if limit is not None:
        default = thresholds.error_rate is None
        checks.append(ThresholdCheck("error_rate", limit, error_rate, error_rate <= limit, default=default))
    if thresholds.min_rps is not None:
        checks.append(ThresholdCheck("min_rps", thresholds.min_rps, rps, rps >= thresholds.min_rps, at_least=True))
    if thresholds.max_not_sent is not None and not_sent_share is not None:
        limit = thresholds.max_not_sent
        checks.append(ThresholdCheck("max_not_sent", limit, not_sent_share, not_sent_share <= limit))
    return checks


@dataclass(frozen=True)
class Evaluation:
    burst: BurstVerdict | None
    knee: float | None
    checks: tuple[ThresholdCheck, ...]
    error_rate: float
    unreachable: bool
    """Not one HTTP response came back: every request failed to connect or timed out (failures.never_answered)."""
    valid: bool
    """The generator kept up (see Health)."""
    exit_status: ExitStatus

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def not_sent_share(snapshot: EngineSnapshot, config: Config) -> float | None:
    """Share of the timetable's sends that never left (open mode and sweeps over rate; None otherwise)."""
    timetable = config.load.mode == "open" or (config.load.mode == "steps" and config.steps.over == "rate")
    intended = snapshot.sent + snapshot.not_sent
    return snapshot.not_sent / intended if timetable and intended else None


def evaluate(result: RunResult, config: Config, capacity: int | None) -> Evaluation:
    """Judge a finished (or interrupted) run.

    The latency thresholds are checked against the corrected percentiles in open mode (what a user with
    a fixed arrival rate sees), and against the measured ones otherwise. A burst adds a `concurrency`
    check when the deployment's capacity is known: served at once must reach what the capacity allows.
    """
    snapshot = result.snapshot
    aggregator = result.aggregator
    answered = sum(snapshot.statuses.values())
    total = snapshot.ok + snapshot.failed
    error_rate = snapshot.failed / total if total else 0.0
    # Reached-but-broken (resets, garbage, half answers) is not unreachable: the target is there.
    unreachable = never_answered(answered, snapshot.errors)

    burst = None
    if config.load.mode == "burst" and aggregator.recent:
        records = list(aggregator.recent)
        wall_s = max(r.sent_at_s + r.elapsed_s for r in records) - min(r.sent_at_s for r in records)
        burst = judge_burst(records, wall_s, capacity)
    knee = None
    if config.load.mode == "steps":
        steps = config.steps
        knee = find_knee(aggregator.steps, steps.percentile, steps.threshold_ms, steps.error_limit)

    ladder = snapshot.corrected_ms if config.load.mode == "open" and snapshot.corrected_ms else snapshot.percentiles_ms
    default_error_rate = None if config.load.mode == "steps" else DEFAULT_ERROR_RATE  # a sweep has its knee
    checks = check_thresholds(
        config.thresholds,
        ladder,
        error_rate,
        snapshot.throughput_rps,
        not_sent_share(snapshot, config),
        default_error_rate=default_error_rate,
    )
    checks += stream_checks(config.thresholds, snapshot.streaming, config.load.mode == "open")
    if total and not snapshot.ok and not unreachable:
        # A deployment that fails every request does not pass, whatever error_rate allows.
        checks.append(ThresholdCheck("successes", 1, 0, False, at_least=True, default=True))
    if burst is not None and capacity:
        required = CONCURRENT_SHARE * burst.expected
        checks.append(ThresholdCheck("concurrency", required, burst.served_at_once, burst.as_expected, at_least=True))

    valid = snapshot.health.valid
    status = exit_status(result.interrupted, unreachable, valid, checks)
    return Evaluation(burst, knee, tuple(checks), error_rate, unreachable, valid, status)


def exit_status(interrupted: bool, unreachable: bool, valid: bool, checks: Sequence[ThresholdCheck]) -> ExitStatus:
    """What a run comes to, in this order: interrupted, not reached, not measured validly, a check missed, ok.
    One run's and a merged multi-node report's alike."""
    if interrupted:
        return ExitStatus.INTERRUPTED
    if unreachable:
        return ExitStatus.UNREACHABLE
    if not valid:
        return ExitStatus.INVALID_MEASUREMENT
    if not all(check.passed for check in checks):
        return ExitStatus.THRESHOLD_FAILED
    return ExitStatus.OK


def stream_checks(thresholds: Thresholds, summary: StreamSummary | None, open_mode: bool) -> list[ThresholdCheck]:
    """The streaming thresholds that are set ([thresholds] ttft_p99_ms, tpot_p90_ms, itl_p99_ms, goodput,
    output_tokens_per_s), each a ThresholdCheck; TTFT is the corrected one in open mode (as latency is). A
    value the run did not measure fails."""
    checks: list[ThresholdCheck] = []
    if summary is None:
        summary = summarize(lambda name: {}, {}, 0.0, 0, None)
    ttft = summary.ttft_corrected_ms if open_mode and summary.ttft_corrected_ms else summary.ttft_ms
    for name, ladder, percentile in (
        ("ttft_p99_ms", ttft, 99.0),
        ("tpot_p90_ms", summary.tpot_ms, 90.0),
        ("itl_p99_ms", summary.itl_ms, 99.0),
    ):
        limit = getattr(thresholds, name)
        if limit is not None:
            value = ladder.get(percentile)
            checks.append(ThresholdCheck(name, limit, value, value is not None and value <= limit))
    if thresholds.goodput is not None:
        share = summary.goodput_share
        checks.append(
            ThresholdCheck(
                "goodput", thresholds.goodput, share, share is not None and share >= thresholds.goodput, at_least=True
            )
        )
    if thresholds.output_tokens_per_s is not None:
        rate = summary.output_tokens_per_s
        limit = thresholds.output_tokens_per_s
        checks.append(ThresholdCheck("output_tokens_per_s", limit, rate, rate >= limit, at_least=True))
    return checks

"""What a finished run comes to: burst verdict, sweep knee, thresholds, reachability, and the exit status.
The headless runner and the TUI's report screen both read an Evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from moetui.config.schema import DEFAULT_ERROR_RATE, Config
from moetui.engine.errors import CONNECT_KINDS
from moetui.engine.run import RunResult
from moetui.engine.snapshot import EngineSnapshot
from moetui.engine.streaming import stream_checks
from moetui.engine.verdict import (
    CONCURRENT_SHARE,
    BurstVerdict,
    ThresholdCheck,
    check_thresholds,
    find_knee,
    judge_burst,
)
from moetui.errors import ExitStatus


@dataclass(frozen=True)
class Evaluation:
    burst: BurstVerdict | None
    knee: float | None
    checks: tuple[ThresholdCheck, ...]
    error_rate: float
    unreachable: bool
    """Not one HTTP response came back and every request failed to connect (errors.CONNECT_KINDS)."""
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
    unreachable = answered == 0 and bool(snapshot.errors) and set(snapshot.errors) <= CONNECT_KINDS

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
    if result.interrupted:
        status = ExitStatus.INTERRUPTED
    elif unreachable:
        status = ExitStatus.UNREACHABLE
    elif not valid:
        status = ExitStatus.INVALID_MEASUREMENT
    elif not all(check.passed for check in checks):
        status = ExitStatus.THRESHOLD_FAILED
    else:
        status = ExitStatus.OK
    return Evaluation(burst, knee, tuple(checks), error_rate, unreachable, valid, status)

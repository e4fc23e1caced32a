"""The one judge of a report: a single run's, a merged multi-node run's and a matrix probe's alike. It reads
only the report (its histograms decoded, so every percentile is exact) and the thresholds handed in (the
configuration's [thresholds], or a matrix's SLO as thresholds), and gives the Evaluation: each check, whether
the target was reached, whether the measurement is valid, and the exit status."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from moetui.config.schema import DEFAULT_ERROR_RATE, Thresholds
from moetui.engine.failures import never_answered
from moetui.engine.histogram import decode, percentiles_ms
from moetui.engine.judge import CONCURRENT_SHARE
from moetui.errors import ExitStatus
from moetui.report.model import Report, Threshold


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


@dataclass(frozen=True)
class Evaluation:
    checks: tuple[ThresholdCheck, ...]
    error_rate: float
    unreachable: bool
    """Not one HTTP response came back: every request failed to connect or timed out (failures.never_answered)."""
    valid: bool
    """The generator kept up (the report's generator.valid; every node's, for a merged run)."""
    exit_status: ExitStatus

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def write_into(self, report: Report) -> None:
        """Fill the report's verdict keys (placed, unjudged, by moetui.report.build, or by moetui.report.merge),
        in their place."""
        report["thresholds"] = [cast(Threshold, asdict(check)) for check in self.checks]
        report["passed"] = self.passed
        report["valid"] = self.valid
        report["exit_status"] = int(self.exit_status)


def judge(report: Report, thresholds: Thresholds) -> Evaluation:
    """Judge a finished (or interrupted) run's report against `thresholds`.

    Latency thresholds are checked against the corrected percentiles in open mode (what a user with a fixed
    arrival rate sees), the measured ones otherwise; TTFT alike. Outside sweeps (which have their knee) an
    unset error_rate is DEFAULT_ERROR_RATE. A burst adds a `concurrency` check when the deployment's
    capacity is known: served at once must reach what the capacity allows.

    `report` is a run's (moetui.report.build), a merged one (moetui.report.merge) or one read from a file.
    Percentiles and shares come exactly from its histograms and counts; rates (min_rps, output_tokens_per_s)
    are the report's own figures, as a merged report sums them.
    """
    requests = report["requests"]
    histograms = report.get("histograms") or {}

    def ladder(name: str) -> dict[float, float]:
        # Decoded when a check needs it: exact percentiles, as the run's own snapshot had them.
        return percentiles_ms(decode(histograms[name])) if name in histograms else {}

    open_mode = report.get("mode") == "open"
    total = requests["ok"] + requests["failed"]
    error_rate = requests["failed"] / total if total else 0.0
    # Reached-but-broken (resets, garbage, half answers) is not unreachable: the target is there.
    unreachable = never_answered(sum(requests["by_status"].values()), requests["by_error"])
    latency = ladder("ok_corrected") if open_mode else {}
    checks = check_thresholds(
        thresholds,
        latency or ladder("ok"),
        error_rate,
        float(report.get("throughput_rps") or 0.0),
        not_sent_share(report),
        default_error_rate=None if report.get("mode") == "steps" else DEFAULT_ERROR_RATE,
    )
    checks += stage_checks(thresholds, report.get("stages"))
    ttft = ladder("ttft_corrected") if open_mode else {}
    checks += stream_checks(thresholds, report.get("streaming"), ttft or ladder("ttft"), ladder)
    if total and not requests["ok"] and not unreachable:
        # A deployment that fails every request does not pass, whatever error_rate allows.
        checks.append(ThresholdCheck("successes", 1, 0, False, at_least=True, default=True))
    burst = report.get("burst")
    target = report.get("target")
    capacity = target.get("capacity_judged", target["capacity"]) if target else None
    if burst and capacity:
        required = CONCURRENT_SHARE * burst["expected"]
        served = burst["served_at_once"]
        checks.append(ThresholdCheck("concurrency", required, served, bool(burst["as_expected"]), at_least=True))
    generator = report.get("generator")
    valid = generator["valid"] if generator else True
    status = exit_status(bool(report.get("interrupted")), unreachable, valid, checks)
    return Evaluation(tuple(checks), error_rate, unreachable, valid, status)


def not_sent_share(report: Mapping[str, Any]) -> float | None:
    """Share of the timetable's sends that never left (open mode and sweeps over rate; None otherwise)."""
    mode = report.get("mode")
    steps = report.get("steps") or ((report.get("config") or {}).get("steps") or {})
    timetable = mode == "open" or (mode == "steps" and steps.get("over") == "rate")
    requests = report["requests"]
    intended = requests["sent"] + requests["not_sent"]
    return requests["not_sent"] / intended if timetable and intended else None


def stage_checks(thresholds: Thresholds, block: Mapping[str, Any] | None) -> list[ThresholdCheck]:
    """A ramped run: max_not_sent held by each stage's own share, so the top of a ramp cannot hide in the
    run's average (`max_not_sent[stage 2]`)."""
    if block is None or thresholds.max_not_sent is None:
        return []
    limit = thresholds.max_not_sent
    return [
        ThresholdCheck(f"max_not_sent[stage {row['stage']}]", limit, share, share <= limit)
        for row in block["stages"]
        if (share := row.get("not_sent_share")) is not None
    ]


def check_thresholds(
    thresholds: Thresholds,
    percentiles_ms: Mapping[float, float],
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


def stream_checks(
    thresholds: Thresholds,
    block: Mapping[str, Any] | None,
    ttft: Mapping[float, float],
    ladder: Callable[[str], Mapping[float, float]],
) -> list[ThresholdCheck]:
    """The streaming thresholds that are set ([thresholds] ttft_p99_ms, tpot_p90_ms, itl_p99_ms, goodput,
    output_tokens_per_s), each a ThresholdCheck; `ttft` is the ladder to judge (the corrected one in open
    mode), `ladder(name)` a report histogram's. A value the run did not measure (no streaming block) fails."""
    checks: list[ThresholdCheck] = []
    for name, values, percentile in (
        ("ttft_p99_ms", ttft, 99.0),
        ("tpot_p90_ms", ladder("tpot"), 90.0),
        ("itl_p99_ms", ladder("itl"), 99.0),
    ):
        limit = getattr(thresholds, name)
        if limit is not None:
            value = values.get(percentile)
            checks.append(ThresholdCheck(name, limit, value, value is not None and value <= limit))
    block = block or {}
    if thresholds.goodput is not None:
        share = _goodput_share(block)
        limit = thresholds.goodput
        checks.append(ThresholdCheck("goodput", limit, share, share is not None and share >= limit, at_least=True))
    if thresholds.output_tokens_per_s is not None:
        rate = float((block.get("tokens") or {}).get("output_per_s") or 0.0)
        limit = thresholds.output_tokens_per_s
        checks.append(ThresholdCheck("output_tokens_per_s", limit, rate, rate >= limit, at_least=True))
    return checks


def _goodput_share(block: Mapping[str, Any]) -> float | None:
    """Streams within the [slo] over the requests finished, from the counts (exact, not the block's rounding)."""
    goodput = block.get("goodput")
    if not goodput:
        return None
    return goodput["good"] / goodput["of"] if goodput["of"] else None


def exit_status(interrupted: bool, unreachable: bool, valid: bool, checks: Sequence[ThresholdCheck]) -> ExitStatus:
    """What a run comes to, in this order: interrupted, not reached, not measured validly, a check missed, ok."""
    if interrupted:
        return ExitStatus.INTERRUPTED
    if unreachable:
        return ExitStatus.UNREACHABLE
    if not valid:
        return ExitStatus.INVALID_MEASUREMENT
    if not all(check.passed for check in checks):
        return ExitStatus.THRESHOLD_FAILED
    return ExitStatus.OK

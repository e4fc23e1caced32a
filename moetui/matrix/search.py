"""Judging a measurement against [matrix.slo], and the goodput search: the highest open-loop rate at which
the SLO holds, found by doubling the rate from start_rate until a probe fails, then bisecting the bracket
until it is narrower than `precision` of its top. A probe the generator could not keep up with (invalid) is
repeated, never used; a probe that misses the SLO is repeated once, and the rate fails only when both miss.
Every probe is kept for the report. No textual, rich or azure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from moetui.config.schema import Thresholds
from moetui.matrix.config import GoodputSpec, Slo
from moetui.report.judge import ThresholdCheck
from moetui.report.judge import judge as judge_report
from moetui.report.model import Report


@dataclass(frozen=True)
class Verdict:
    passed: bool
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float
    throughput_rps: float
    valid: bool
    reasons: tuple[str, ...] = ()


def slo_thresholds(slo: Slo | None, thresholds: Thresholds) -> Thresholds:
    """The thresholds a cell is judged against: the SLO's p99 and error rate with the run's own max_not_sent
    (an open probe that did not deliver its rate measured nothing), or without an SLO the run's own."""
    if slo is None:
        return thresholds
    return Thresholds(p99_ms=slo.p99_ms, error_rate=slo.error_rate, max_not_sent=thresholds.max_not_sent)


def judge(report: Report, thresholds: Thresholds) -> Verdict:
    """Whether one run's report meets `thresholds` (the SLO as thresholds, slo_thresholds), judged by the one
    judge (moetui.report.judge): corrected latency in open mode, measured otherwise."""
    evaluation = judge_report(report, thresholds)
    open_mode = report.get("mode") == "open"
    latency = (report.get("corrected_latency_ms") if open_mode else None) or report.get("latency_ms")
    requests = report["requests"]
    generator = report.get("generator")
    reasons = []
    if not evaluation.valid:
        reasons.append("invalid measurement: " + "; ".join(generator["reasons"] if generator else []))
    # "successes" is the no-success reason below, said once.
    missed = [check for check in evaluation.checks if not check.passed and check.name != "successes"]
    reasons += [_reason(check, requests) for check in missed]
    if not requests.get("ok"):
        reasons.append("no successful request")
    return Verdict(
        passed=not reasons,
        p50_ms=latency["p50"] if latency else None,
        p99_ms=latency["p99"] if latency else None,
        error_rate=evaluation.error_rate,
        throughput_rps=float(report.get("throughput_rps") or 0.0),
        valid=evaluation.valid,
        reasons=tuple(reasons),
    )


def _reason(check: ThresholdCheck, requests: Mapping[str, Any]) -> str:
    """A missed check in a few words."""
    if check.name == "error_rate":
        return f"error rate {check.value:.2%} > {check.limit:.2%}"
    if check.name == "max_not_sent":
        intended = requests.get("sent", 0) + requests.get("not_sent", 0)
        return (
            f"{requests.get('not_sent', 0)} of {intended} sends never left (over max_not_sent {check.limit:g}: "
            "the endpoint did not take the rate)"
        )
    value = "-" if check.value is None else f"{check.value:g}"
    unit = " ms" if check.name.endswith("_ms") else ""
    relation = "<" if check.at_least else ">"
    return f"{check.name.removesuffix('_ms')} {value}{unit} {relation} {check.limit:g}{unit}"


@dataclass(frozen=True)
class Probe:
    rate_per_s: float
    attempt: int
    """1 for the first try at this rate; more when an invalid probe was repeated or a miss confirmed."""
    verdict: Verdict
    used: bool
    """False for an invalid probe (repeated, never used)."""


@dataclass
class SearchResult:
    goodput_rps: float
    """The highest rate whose probe met the SLO (0 when none did)."""
    bracket: tuple[float, float | None]
    """(highest passed, lowest failed); None when max_rate passed."""
    probes: list[Probe] = field(default_factory=list)
    stopped: str | None = None
    """Why the search ended early (the generator could not keep up), else None."""
    best_report: Report | None = None
    """The full report of the probe at the goodput (the last that passed)."""

    def block(self) -> dict[str, Any]:
        return {
            "goodput_rps": round(self.goodput_rps, 3),
            "bracket": [self.bracket[0], self.bracket[1]],
            "stopped": self.stopped,
            "probes": [asdict(probe) for probe in self.probes],
        }


ProbeRun = Callable[[float], Awaitable[Report]]
"""Runs one open-loop probe at a rate and returns its report."""


async def goodput_search(
    probe: ProbeRun,
    spec: GoodputSpec,
    thresholds: Thresholds,
    on_probe: Callable[[Probe], None] = lambda _p: None,
) -> SearchResult:
    """Search the highest rate that meets `thresholds` (the SLO as thresholds, slo_thresholds).

    Args:
        probe: Runs one probe and returns its JSON report.
        on_probe: Told of every probe as it ends (the progress line).
    """
    result = SearchResult(goodput_rps=0.0, bracket=(0.0, None))
    low, high = 0.0, None
    rate = spec.start_rate
    floor = spec.start_rate / 16  # below this, nothing passes: the goodput is 0
    while True:
        verdict = None
        failures = 0
        attempt = 0
        while attempt < spec.retries + 1 + failures:
            attempt += 1
            report = await probe(rate)
            verdict = judge(report, thresholds)
            found = Probe(rate, attempt, verdict, verdict.valid)
            result.probes.append(found)
            on_probe(found)
            if verdict.valid and verdict.passed:
                result.best_report = report
                break
            if verdict.valid:
                # A miss is confirmed once: on a shared machine one noisy probe would halve the answer.
                failures += 1
                if failures > 1:
                    break
        assert verdict is not None
        if not verdict.valid:
            result.stopped = f"the generator could not keep up at {rate:g} req/s ({spec.retries + 1} tries)"
            break
        if verdict.passed:
            low = rate
        else:
            high = rate
        if high is None:
            if rate >= spec.max_rate:
                break
            rate = min(rate * 2, spec.max_rate)
            continue
        if high - low <= spec.precision * high or (low == 0 and high <= floor):
            break
        rate = (low + high) / 2
    result.goodput_rps = low
    result.bracket = (low, high)
    return result

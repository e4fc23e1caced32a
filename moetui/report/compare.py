"""Two runs side by side: each metric's base and new value, the difference, its 95 % interval and a verdict
(faster, slower, no measurable change), and the regression gate `--fail-on p99=+10%,error_rate=+0.01`.
Reads JSON reports only (moetui.report.json_report's schema), so the TUI can compare with a previous run too.

Uncertainty. Each side's percentiles are bootstrapped over the run's per-second windows in blocks
(moetui.report.bootstrap), so the interval holds the run's own drift as well as its sampling; with several
reports a side, their run-to-run spread widens it too. Two runs of one server still differ by more than
either run's drift shows (a fresh endpoint, another engineer's tests on the machine), so a change is only
called when its whole interval lies beyond a tolerance (moetui.report.tolerance, `--tolerance`): the same rule
as --fail-on's, with the tolerance as its limit.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import decode, new_histogram
from moetui.errors import ConfigError
from moetui.report.bootstrap import MIN_WINDOWS, Quantiles, block_deviations, windows_of
from moetui.report.model import Report, Requests
from moetui.report.tolerance import DEFAULT_TOLERANCE

#: Seed of the resampling: the same reports always give the same intervals.
SEED = 20261130
#: Coverage of the intervals.
CONFIDENCE = 0.95
#: Percentiles compared, with the report's keys.
PERCENTILE_KEYS = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}
#: Latency histograms compared, as (report histogram, metric prefix, label).
LATENCIES = (
    ("ok", "", "latency"),
    ("ok_corrected", "corrected_", "corrected latency"),
    ("model", "model_", "time in the model"),
    ("outside", "outside_", "time outside the model"),
)
FASTER, SLOWER, SAME = "faster", "slower", "no measurable change"
TOO_FEW = "too few samples"
#: A percentile is judged only when each side holds at least this many answers beyond it: a p99 of 500
#: answers rests on 5 of them, and A/A runs on this machine called such tails changed 4 times in 20 (a 6 s
#: run at 50/s: bench/compare_calibration.py), however the interval is drawn.
MIN_TAIL_SAMPLES = 10


@dataclass(frozen=True)
class MetricRow:
    """One metric of the comparison."""

    name: str
    """Key for --fail-on: p99, corrected_p99, model_p50, error_rate, throughput_rps, ..."""
    label: str
    unit: str
    base: float | None
    new: float | None
    diff: float | None
    low: float | None
    """The difference's 95 % interval."""
    high: float | None
    lower_is_better: bool
    verdict: str
    """faster, slower or no measurable change ("" for counts)."""

    @property
    def relative(self) -> float | None:
        """The difference as a share of the base value."""
        if self.diff is None or not self.base:
            return None
        return self.diff / self.base


@dataclass(frozen=True)
class Comparison:
    rows: tuple[MetricRow, ...]
    base_sources: tuple[str, ...]
    new_sources: tuple[str, ...]
    notes: tuple[str, ...] = ()
    tolerance: float = DEFAULT_TOLERANCE
    """The share of the base value a change must clear, whole interval, to be called."""

    def row(self, name: str) -> MetricRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": list(self.base_sources),
            "new": list(self.new_sources),
            "notes": list(self.notes),
            "tolerance": self.tolerance,
            "rows": [{**asdict(row), "relative": row.relative} for row in self.rows],
        }


def _interval(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    tail = (1 - CONFIDENCE) / 2
    return ordered[int(tail * (len(ordered) - 1))], ordered[math.ceil((1 - tail) * (len(ordered) - 1))]


#: Percentiles above the median are called against this multiple of --tolerance. Identical 10 s runs back to
#: back on a loaded 2-core machine moved p90 and p95 by up to 15 % with narrow intervals (a shift of the
#: whole run's tail, which its own windows cannot show) while p50 moved under 4 %: at 5 % for every row, 4 of
#: 20 A/A pairs had a tail called changed; at 10 % for the tails, 1 (bench/compare_calibration.py, README).
TAIL_TOLERANCE_FACTOR = 2.0


def tolerance_for(name: str, tolerance: float) -> float:
    """The tolerance row `name` is called against: --tolerance, TAIL_TOLERANCE_FACTOR times that for the
    percentiles above p50 (p90, corrected_p99, model_p99_9, ...)."""
    for _histogram, prefix, _label in LATENCIES:
        percentile = PERCENTILE_KEYS.get(name.removeprefix(prefix)) if name.startswith(prefix) else None
        if percentile is not None:
            return tolerance * TAIL_TOLERANCE_FACTOR if percentile > 50 else tolerance
    return tolerance


def verdict_for(low: float, high: float, base: float, lower_is_better: bool, tolerance: float) -> str:
    """Slower or faster when the whole interval lies beyond the tolerance, else no measurable change."""
    margin = tolerance * abs(base)
    if low > margin:
        return SLOWER if lower_is_better else FASTER
    if high < -margin:
        return FASTER if lower_is_better else SLOWER
    return SAME


def _spread(values: Sequence[float]) -> float:
    """Variance of the mean of several runs' values (0 for one run)."""
    return statistics.variance(values) / len(values) if len(values) > 1 else 0.0


def merged_histogram(reports: Sequence[Report], name: str) -> HdrHistogram | None:
    merged = new_histogram()
    for report in reports:
        encoded = report.get("histograms", {}).get(name)
        if encoded:
            merged.add(decode(encoded))
    return merged if merged.get_total_count() else None


def compare_reports(
    base: Sequence[Report],
    new: Sequence[Report],
    base_sources: Sequence[str] = (),
    new_sources: Sequence[str] = (),
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Comparison:
    """Compare one or more reports of a base run with one or more of a new run (several: the runs of each
    side are merged, and their spread widens each interval); a change is called only when its whole
    interval lies beyond `tolerance` (a share of the base value)."""
    rng = random.Random(SEED)
    z = statistics.NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
    rows: list[MetricRow] = []
    notes: list[str] = []

    def count(key: Callable[[Requests], int]) -> tuple[int, int]:
        return sum(key(r["requests"]) for r in base), sum(key(r["requests"]) for r in new)

    counted: tuple[tuple[str, str, Callable[[Requests], int]], ...] = (
        ("sent", "requests sent", lambda q: q["sent"]),
        ("ok", "successful", lambda q: q["ok"]),
        ("failed", "failed", lambda q: q["failed"]),
    )
    for key, label, pick in counted:
        b, n = count(pick)
        rows.append(MetricRow(key, label, "", b, n, n - b, None, None, True, ""))

    # Throughput: each side's runs side by side add up (as merge does); the per-second spread is its noise.
    def rps(reports: Sequence[Report]) -> tuple[float, float]:
        total = sum(float(r.get("throughput_rps") or 0.0) for r in reports)
        variance = 0.0
        for r in reports:
            seconds = [row["ok"] + row["failed"] for row in r.get("per_second", [])]
            while seconds and not seconds[0]:  # the warm-up: nothing counted yet
                seconds.pop(0)
            seconds = seconds[1:-1]  # the first and last seconds are partial
            variance += _spread(seconds)
        return total, variance + _spread([float(r.get("throughput_rps") or 0.0) for r in reports])

    (b_rps, b_var), (n_rps, n_var) = rps(base), rps(new)
    half = z * math.sqrt(b_var + n_var)
    diff = n_rps - b_rps
    rows.append(
        MetricRow(
            "throughput_rps",
            "throughput",
            "req/s",
            b_rps,
            n_rps,
            diff,
            diff - half,
            diff + half,
            False,
            verdict_for(diff - half, diff + half, b_rps, False, tolerance),
        )
    )

    # Error rate: a proportion's normal interval on each side.
    (b_ok, n_ok), (b_failed, n_failed) = count(lambda q: q["ok"]), count(lambda q: q["failed"])
    b_total, n_total = b_ok + b_failed, n_ok + n_failed
    b_rate = b_failed / b_total if b_total else 0.0
    n_rate = n_failed / n_total if n_total else 0.0
    variance = (b_rate * (1 - b_rate) / b_total if b_total else 0.0) + (
        n_rate * (1 - n_rate) / n_total if n_total else 0.0
    )
    half = z * math.sqrt(variance)
    diff = n_rate - b_rate
    verdict = SAME if diff - half <= 0 <= diff + half else ("more errors" if diff > 0 else "fewer errors")
    rows.append(
        MetricRow("error_rate", "error rate", "", b_rate, n_rate, diff, diff - half, diff + half, True, verdict)
    )

    sides = ((base, base_sources, "base"), (new, new_sources, "new"))
    for reports, sources, side in sides:
        for i, report in enumerate(reports):
            if report.get("valid") is False:  # the load generator's own delays are in its latencies
                generator = report.get("generator")
                reasons = "; ".join(generator["reasons"] if generator else []) or "see its report"
                source = sources[i] if i < len(sources) else f"the {side} report"
                notes.append(f"{source} is not a valid measurement ({reasons}): its latencies hold the client's delays")
    percentiles = tuple(PERCENTILE_KEYS.values())
    for histogram_name, prefix, label in LATENCIES:
        b_hist, n_hist = merged_histogram(base, histogram_name), merged_histogram(new, histogram_name)
        if b_hist is None or n_hist is None:
            if (b_hist is None) != (n_hist is None):
                notes.append(f"{label}: only the {'new' if b_hist is None else 'base'} run has it; not compared")
            continue
        b_q, n_q = Quantiles(b_hist), Quantiles(n_hist)
        (b_dev, n_dev) = (
            _deviations(reports, sources, side, histogram_name, quantiles, percentiles, rng, notes)
            for (reports, sources, side), quantiles in zip(sides, (b_q, n_q), strict=True)
        )
        fewest = min(b_hist.get_total_count(), n_hist.get_total_count())
        for key, percentile in PERCENTILE_KEYS.items():
            b_value, n_value = b_q.at(percentile), n_q.at(percentile)
            judged = fewest * (100 - percentile) / 100 >= MIN_TAIL_SAMPLES
            diff = n_value - b_value
            low, high = _interval([diff + nd - bd for bd, nd in zip(b_dev[percentile], n_dev[percentile], strict=True)])
            if len(base) > 1 or len(new) > 1:
                runs = _runs_spread(base, histogram_name, percentile) + _runs_spread(new, histogram_name, percentile)
                spread = z * math.sqrt(runs)
                low, high = min(low, diff - spread), max(high, diff + spread)
            rows.append(
                MetricRow(
                    f"{prefix}{key}",
                    f"{label} {key.replace('_', '.')}",
                    "ms",
                    b_value,
                    n_value,
                    diff,
                    low,
                    high,
                    True,
                    verdict_for(low, high, b_value, True, tolerance_for(f"{prefix}{key}", tolerance))
                    if judged
                    else TOO_FEW,
                )
            )
    return Comparison(tuple(rows), tuple(base_sources), tuple(new_sources), tuple(notes), tolerance)


def _deviations(
    reports: Sequence[Report],
    sources: Sequence[str],
    side: str,
    name: str,
    quantiles: Quantiles,
    percentiles: Sequence[float],
    rng: random.Random,
    notes: list[str],
) -> dict[float, list[float]]:
    """One side's bootstrap deviations for histogram `name`: over the runs' windows when each run has
    MIN_WINDOWS of them, else from the merged histogram alone (with a note naming the reports)."""
    runs = [windows_of(report, name) for report in reports]
    if all(len(windows) >= MIN_WINDOWS for windows in runs):
        return block_deviations(runs, percentiles, rng)
    if name == "ok":  # one note a report, on the first histogram compared
        for i, windows in enumerate(runs):
            if len(windows) < MIN_WINDOWS:
                source = sources[i] if i < len(sources) else f"the {side} report"
                how_many = "no per-second histograms" if not windows else f"only {len(windows)} per-second histogram"
                how_many += "s" if len(windows) > 1 else ""
                notes.append(
                    f"{source} holds {how_many} (a report older than them, merged, or under "
                    f"{MIN_WINDOWS} s): its intervals cover sampling within the run, not its drift"
                )
    return quantiles.deviations(percentiles, rng)


def _runs_spread(reports: Sequence[Report], name: str, percentile: float) -> float:
    values = []
    for report in reports:
        encoded = report.get("histograms", {}).get(name)
        if encoded:
            values.append(Quantiles(decode(encoded)).at(percentile))
    return _spread(values)


@dataclass(frozen=True)
class Tolerance:
    """One --fail-on rule: the metric may get worse by at most `limit` (a share of the base when relative)."""

    name: str
    limit: float
    relative: bool
    text: str


_RULE = re.compile(r"^\s*([a-z0-9_]+)\s*=\s*([+-]?)\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$")


def parse_fail_on(text: str, names: Sequence[str] | None = None) -> list[Tolerance]:
    """`p99=+10%,error_rate=+0.01,throughput_rps=-5%`: each metric's allowed worsening, relative with %.
    The sign says which way is worse and must agree with the metric (latency up, throughput down).

    Raises:
        ConfigError: A rule that does not parse or names no metric (the message lists the allowed names).
    """
    rules = []
    for part in (p for p in text.split(",") if p.strip()):
        match = _RULE.match(part)
        if match is None:
            raise ConfigError(f"--fail-on: {part.strip()!r} is not NAME=+N% or NAME=+N (e.g. p99=+10%)")
        name, sign, number, percent = match.groups()
        if names is not None and name not in names:
            import difflib

            close = difflib.get_close_matches(name, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--fail-on: unknown metric {name!r}; allowed: {', '.join(names)}.{hint}")
        limit = float(number) / (100 if percent else 1)
        rules.append(Tolerance(name, limit if sign != "-" else -limit, bool(percent), part.strip()))
    return rules


def regressions(comparison: Comparison, rules: Sequence[Tolerance]) -> list[str]:
    """The rules broken: a metric worse than its tolerance with 95 % confidence (the whole interval beyond
    it), so noise alone never fails a build; and a metric that is not a finite number. Returns one line per
    broken rule."""
    broken = []
    for rule in rules:
        row = comparison.row(rule.name)
        if any(v is not None and not math.isfinite(v) for v in (row.base, row.new, row.diff, row.low, row.high)):
            # NaN compares false with every limit: without this a NaN would pass any gate.
            broken.append(f"{rule.name}: {row.base} -> {row.new} is not a finite number, so {rule.text} cannot pass")
            continue
        if row.verdict == TOO_FEW:  # a gate that cannot judge says so and fails, rather than pass on noise
            broken.append(
                f"{rule.name}: too few answers beyond it (under {MIN_TAIL_SAMPLES} in a run) to judge {rule.text}: "
                "run longer or at a higher rate, or gate on a lower percentile"
            )
            continue
        if row.diff is None or row.low is None or row.high is None or row.base is None:
            continue
        # The bound nearest to "no worse": for lower-is-better metrics the interval's low end.
        worse_by = row.low if row.lower_is_better else -row.high
        if rule.relative:
            if not row.base:
                continue
            worse_by /= abs(row.base)
        if worse_by > abs(rule.limit):
            shown = f"{row.relative:+.1%}" if row.relative is not None else f"{row.diff:+g}"
            broken.append(
                f"{rule.name}: {row.base:g} -> {row.new:g} ({shown}; 95% interval of the difference "
                f"{row.low:+.3g}..{row.high:+.3g}) is worse than {rule.text}"
            )
    return broken


def cell_text(row: MetricRow, value: float | None) -> str:
    """One of a row's figures as the comparison's tables show it: counts whole, ms to 0.01, "-" for none."""
    if value is None:
        return "-"
    if row.name == "error_rate":
        return f"{value:,.4g}"
    return f"{value:,.0f}" if row.unit == "" else f"{value:,.2f}"


def format_comparison(comparison: Comparison) -> str:
    """The comparison as a text table; the first column holds --fail-on's names."""
    lines = [f"{'metric (--fail-on name)':<24} {'base':>12} {'new':>12} {'diff':>12} {'95% interval':>22}  verdict"]
    for row in comparison.rows:
        interval = f"{cell_text(row, row.low)}..{cell_text(row, row.high)}" if row.low is not None else ""
        relative = f" ({row.relative:+.1%})" if row.relative is not None and row.verdict else ""
        name = f"{row.name} ({row.unit})" if row.unit else row.name
        lines.append(
            f"{name:<24} {cell_text(row, row.base):>12} {cell_text(row, row.new):>12} {cell_text(row, row.diff):>12} "
            f"{interval:>22}  {row.verdict}{relative}"
        )
    lines.append(verdict_rule(comparison))
    lines.extend(f"note: {note}" for note in comparison.notes)
    return "\n".join(lines)


def verdict_rule(comparison: Comparison) -> str:
    """What the verdicts mean, under the table."""
    return (
        f"verdict: faster or slower when the whole 95% interval lies beyond {comparison.tolerance * 100:g}% of the "
        f"base (--tolerance; {comparison.tolerance * TAIL_TOLERANCE_FACTOR * 100:g}% above p50), else no measurable "
        "change; too few samples: under "
        f"{MIN_TAIL_SAMPLES} answers beyond the percentile in a run; intervals: a block bootstrap over each run's "
        "per-second histograms (its sampling and its drift)"
    )

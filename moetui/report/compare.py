"""Two runs side by side: each metric's base and new value, the difference, its 95 % interval and a verdict
(faster, slower, no measurable change), and the regression gate `--fail-on p99=+10%,error_rate=+0.01`.
Reads JSON reports only (moetui.report.json_report's schema), so the TUI can compare with a previous run too.

Uncertainty. Within a run, each percentile's bootstrap distribution comes from the histogram itself: the
q-quantile of n values resampled from the histogram is the histogram's quantile function at the k-th smallest
of n uniforms, and that is Beta(k, n - k + 1) (k = ceil(q n)). So each of RESAMPLES resamples costs one
`betavariate` and one bisection, the same as resampling all n counts (a multinomial) and without numpy. With
several reports a side, the run-to-run spread of each report's own value widens the interval too.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import accumulate
from typing import Any

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import decode, new_histogram
from moetui.errors import ConfigError

#: Bootstrap resamples per percentile.
RESAMPLES = 200
#: Seed of the resampling: the same reports always give the same intervals.
SEED = 20261130
#: Coverage of the intervals.
CONFIDENCE = 0.95
#: A change smaller than this share of the base value is "no measurable change" even when the interval
#: leaves out zero: the bootstrap sees one run's sampling noise, not the drift between two runs of the same
#: server (two back-to-back 3 s runs at /sleep?ms=20 differed by 1-3 % at p50 on this 2-core machine).
MIN_RELATIVE_CHANGE = 0.05
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
            "rows": [{**asdict(row), "relative": row.relative} for row in self.rows],
        }


class _Quantiles:
    """A histogram's quantile function over its non-empty buckets (values in ms)."""

    def __init__(self, histogram: HdrHistogram) -> None:
        self.total = int(histogram.get_total_count())
        counts: list[int] = []
        values: list[float] = []
        for item in histogram.get_recorded_iterator():
            counts.append(item.count_added_in_this_iter_step)
            values.append(histogram.get_highest_equivalent_value(item.value_iterated_to) / 1000)
        self.cumulative = list(accumulate(counts))
        self.values = values

    def at_rank(self, rank: float) -> float:
        """The value of the `rank`-th smallest recorded value (1-based, rounded up)."""
        index = bisect_left(self.cumulative, max(1, math.ceil(rank)))
        return self.values[min(index, len(self.values) - 1)]

    def at(self, percentile: float) -> float:
        """As HdrHistogram's value at percentile: the count target rounded half up."""
        return self.at_rank(max(1, int(percentile * self.total / 100 + 0.5)))

    def resamples(self, percentile: float, rng: random.Random) -> list[float]:
        n = self.total
        k = max(1, min(n, int(percentile * n / 100 + 0.5)))
        return [self.at_rank(rng.betavariate(k, n - k + 1) * n) for _ in range(RESAMPLES)]


def _interval(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    tail = (1 - CONFIDENCE) / 2
    return ordered[int(tail * (len(ordered) - 1))], ordered[math.ceil((1 - tail) * (len(ordered) - 1))]


def _verdict(diff: float, low: float, high: float, base: float, lower_is_better: bool) -> str:
    if low <= 0 <= high or (base and abs(diff) < MIN_RELATIVE_CHANGE * abs(base)):
        return SAME
    return SLOWER if (diff > 0) == lower_is_better else FASTER


def _spread(values: Sequence[float]) -> float:
    """Variance of the mean of several runs' values (0 for one run)."""
    return statistics.variance(values) / len(values) if len(values) > 1 else 0.0


def merged_histogram(reports: Sequence[dict[str, Any]], name: str) -> HdrHistogram | None:
    merged = new_histogram()
    for report in reports:
        encoded = report.get("histograms", {}).get(name)
        if encoded:
            merged.add(decode(encoded))
    return merged if merged.get_total_count() else None


def compare_reports(
    base: Sequence[dict[str, Any]],
    new: Sequence[dict[str, Any]],
    base_sources: Sequence[str] = (),
    new_sources: Sequence[str] = (),
) -> Comparison:
    """Compare one or more reports of a base run with one or more of a new run (several: the runs of each
    side are merged, and their spread widens each interval)."""
    rng = random.Random(SEED)
    z = statistics.NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
    rows: list[MetricRow] = []
    notes: list[str] = []

    def count(key: str) -> tuple[int, int]:
        return sum(r["requests"].get(key, 0) for r in base), sum(r["requests"].get(key, 0) for r in new)

    for key, label in (("sent", "requests sent"), ("ok", "successful"), ("failed", "failed")):
        b, n = count(key)
        rows.append(MetricRow(key, label, "", b, n, n - b, None, None, True, ""))

    # Throughput: each side's runs side by side add up (as merge does); the per-second spread is its noise.
    def rps(reports: Sequence[dict[str, Any]]) -> tuple[float, float]:
        total = sum(float(r.get("throughput_rps") or 0.0) for r in reports)
        variance = 0.0
        for r in reports:
            seconds = [row["ok"] + row["failed"] for row in r.get("per_second", [])[1:-1]]
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
            _verdict(diff, diff - half, diff + half, b_rps, False),
        )
    )

    # Error rate: a proportion's normal interval on each side.
    (b_ok, n_ok), (b_failed, n_failed) = count("ok"), count("failed")
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

    for histogram_name, prefix, label in LATENCIES:
        b_hist, n_hist = merged_histogram(base, histogram_name), merged_histogram(new, histogram_name)
        if b_hist is None or n_hist is None:
            if (b_hist is None) != (n_hist is None):
                notes.append(f"{label}: only the {'new' if b_hist is None else 'base'} run has it; not compared")
            continue
        b_q, n_q = _Quantiles(b_hist), _Quantiles(n_hist)
        for key, percentile in PERCENTILE_KEYS.items():
            b_value, n_value = b_q.at(percentile), n_q.at(percentile)
            diffs = [
                nv - bv for bv, nv in zip(b_q.resamples(percentile, rng), n_q.resamples(percentile, rng), strict=True)
            ]
            low, high = _interval(diffs)
            diff = n_value - b_value
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
                    _verdict(diff, low, high, b_value, True),
                )
            )
    return Comparison(tuple(rows), tuple(base_sources), tuple(new_sources), tuple(notes))


def _runs_spread(reports: Sequence[dict[str, Any]], name: str, percentile: float) -> float:
    values = []
    for report in reports:
        encoded = report.get("histograms", {}).get(name)
        if encoded:
            values.append(_Quantiles(decode(encoded)).at(percentile))
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


def _cell(row: MetricRow, value: float | None) -> str:
    if value is None:
        return "-"
    if row.name == "error_rate":
        return f"{value:,.4g}"
    return f"{value:,.0f}" if row.unit == "" else f"{value:,.2f}"


def format_comparison(comparison: Comparison) -> str:
    """The comparison as a text table; the first column holds --fail-on's names."""
    lines = [f"{'metric (--fail-on name)':<24} {'base':>12} {'new':>12} {'diff':>12} {'95% interval':>22}  verdict"]
    for row in comparison.rows:
        interval = f"{_cell(row, row.low)}..{_cell(row, row.high)}" if row.low is not None else ""
        relative = f" ({row.relative:+.1%})" if row.relative is not None and row.verdict else ""
        name = f"{row.name} ({row.unit})" if row.unit else row.name
        lines.append(
            f"{name:<24} {_cell(row, row.base):>12} {_cell(row, row.new):>12} {_cell(row, row.diff):>12} "
            f"{interval:>22}  {row.verdict}{relative}"
        )
    lines.extend(f"note: {note}" for note in comparison.notes)
    return "\n".join(lines)

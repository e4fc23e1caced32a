"""HdrHistogram's percentile-distribution text (`.hgrm`), as Java's `outputPercentileDistribution` writes it:
the format HdrHistogram's plotter (hdrhistogram.github.io/HdrHistogram/plotFiles.html), wrk2 and many
dashboards read. Also the percentile walk the HTML report's "nines" chart draws. No engine state: the input
is a report's encoded histograms (microseconds); the output is in milliseconds (scaling ratio 1000).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import SIGNIFICANT_DIGITS, decode

#: Percentile steps per halving of the distance to 100 %, as HdrHistogram's own default (5).
TICKS_PER_HALF_DISTANCE = 5
#: Report histograms are in microseconds; .hgrm files are read in milliseconds.
US_PER_MS = 1000.0


class PercentilePoint(NamedTuple):
    """One row of the distribution."""

    value_us: int
    """The highest value equivalent to the one reached (as HdrHistogram reports it)."""
    percentile: float
    """The percentile level iterated to, 0-100."""
    total_count: int
    """Requests at or below value_us."""


def percentile_points(histogram: HdrHistogram, ticks: int = TICKS_PER_HALF_DISTANCE) -> list[PercentilePoint]:
    """HdrHistogram's percentile iteration: levels 0, then closer to 100 % by `ticks` steps per halving of
    the distance left, and a last row at 100 %."""
    if not histogram.get_total_count():
        return []
    return [
        PercentilePoint(
            int(item.value_iterated_to), float(item.percentile_level_iterated_to), item.total_count_to_this_value
        )
        for item in histogram.get_percentile_iterator(ticks)
    ]


def format_hgrm(histogram: HdrHistogram, scaling: float = US_PER_MS, ticks: int = TICKS_PER_HALF_DISTANCE) -> str:
    """The text of Java's `histogram.outputPercentileDistribution(out, ticks, scaling)`."""
    digits = SIGNIFICANT_DIGITS
    lines = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    for point in percentile_points(histogram, ticks):
        level = point.percentile / 100.0
        row = f"{point.value_us / scaling:12.{digits}f} {level:2.12f} {point.total_count:10d}"
        if point.percentile != 100.0:
            row += f" {1 / (1 - level):14.2f}"
        lines.append(row)
    total = histogram.get_total_count()
    mean = histogram.get_mean_value() / scaling if total else 0.0
    stddev = histogram.get_stddev() / scaling if total else 0.0
    lines.append(f"#[Mean    = {mean:12.{digits}f}, StdDeviation   = {stddev:12.{digits}f}]")
    lines.append(f"#[Max     = {histogram.get_max_value() / scaling:12.{digits}f}, Total count    = {total:12d}]")
    lines.append(f"#[Buckets = {histogram.bucket_count:12d}, SubBuckets     = {histogram.sub_bucket_count:12d}]")
    return "\n".join(lines) + "\n"


def write_hgrm(report: dict[str, Any], directory: Path) -> list[Path]:
    """One `NAME.hgrm` per histogram of the report (ok, ok_corrected, failed, model, outside: those that
    recorded something) in `directory` (created); returns the files written."""
    directory = directory.expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, encoded in sorted(report.get("histograms", {}).items()):
        path = directory / f"{name}.hgrm"
        path.write_text(format_hgrm(decode(encoded)))
        written.append(path)
    return written

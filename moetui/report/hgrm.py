"""HdrHistogram's percentile-distribution text (`.hgrm`), as Java's `outputPercentileDistribution` writes it:
the format HdrHistogram's plotter (hdrhistogram.github.io/HdrHistogram/plotFiles.html), wrk2 and many
dashboards read. Also the percentile walk the HTML report's "nines" chart draws. No engine state: the input
is a report's encoded histograms (microseconds); the output is in milliseconds (scaling ratio 1000).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import SIGNIFICANT_DIGITS, decode
from moetui.paths import write_atomic
from moetui.report.model import Report

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
    """Java HdrHistogram's PercentileIterator: levels 0, 10, 20, ... 50, 55, ... 75, 77.5, ...: each halving of
    the distance to 100 % in `ticks` steps, a row where the running count first reaches each level, and a
    last row at 100 %. (hdrh's Python iterator drops Java's floor of log2 and so steps 0, 10, 19, 27.1, ...)
    """
    total = histogram.get_total_count()
    if not total:
        return []
    last = min(histogram.get_counts_array_index(histogram.get_max_value()), histogram.counts_len - 1)
    counts = histogram.counts
    points: list[PercentilePoint] = []
    level = 0.0
    running = 0
    value = 0
    for index in range(last + 1):
        count = counts[index]
        if not count:
            continue
        running += count
        value = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
        while 100.0 * running / total >= level:
            points.append(PercentilePoint(value, level, running))
            # (long) Math.log(100 / (100 - level)) / Math.log(2), as Java floors it.
            half_distances = int(math.log(100.0 / (100.0 - level)) / math.log(2))
            level += 100.0 / (ticks * 2 ** (half_distances + 1))
            if running >= total:  # Java's hasNext(): every count is reported; only the 100 % row is left
                break
        if running >= total:
            break
    points.append(PercentilePoint(value, 100.0, running))
    return points


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


def write_hgrm(report: Report, directory: Path) -> list[Path]:
    """One `NAME.hgrm` per histogram of the report (ok, ok_corrected, failed, model, outside and the streaming
    ones: those that recorded something) in `directory` (created); returns the files written. Only those names:
    a file is never named after what a report says (`../../x` would land outside `directory`)."""
    from moetui.report.model import REPORT_HISTOGRAMS

    directory = directory.expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    histograms = report.get("histograms") or {}
    for name in sorted(set(REPORT_HISTOGRAMS) & set(histograms)):
        encoded = histograms[name]
        path = directory / f"{name}.hgrm"
        written.append(write_atomic(path, format_hgrm(decode(encoded))))
    return written

"""The latency distribution of a report, as oha prints it: equal-width buckets from the fastest to the
slowest response, each with its count, computed from the report's HdrHistogram (report["histograms"]).

Shared by the text summary and the TUI's report screen; imports no textual, rich or azure.
"""

from __future__ import annotations

from typing import NamedTuple

from moetui.engine.histogram import decode
from moetui.report.model import Report

#: Buckets drawn (oha draws 11 from the fastest to the slowest).
BUCKETS = 10


class Bucket(NamedTuple):
    """Responses whose latency is at most `upper_ms` (and above the previous bucket's)."""

    upper_ms: float
    responses: int


def latency_buckets(report: Report, name: str = "ok", buckets: int = BUCKETS) -> list[Bucket]:
    """Equal-width latency buckets of one of the report's histograms; [] when it has none.

    Values are the HdrHistogram's (3 significant digits: a bucket of 15 s is 8 ms wide), so responses
    closer together than that share a value; all of them in one value make one bucket.
    """
    encoded = report.get("histograms", {}).get(name)
    if not encoded:
        return []
    histogram = decode(encoded)
    if not histogram.get_total_count():
        return []
    low_us = histogram.get_lowest_equivalent_value(histogram.get_min_value())
    high_us = histogram.get_max_value()
    values = [
        (min(item.value_iterated_to, high_us), item.count_at_value_iterated_to)
        for item in histogram.get_recorded_iterator()
    ]
    if high_us <= low_us or len(values) == 1:
        return [Bucket(high_us / 1000, sum(n for _, n in values))]
    # No bucket narrower than the histogram's resolution at the top: finer ones would print bounds
    # (15,034.78 ms, 15,037.24 ms, ...) that are no response's time.
    top_us = histogram.get_lowest_equivalent_value(high_us)
    resolution_us = histogram.get_highest_equivalent_value(high_us) - top_us + 1
    buckets = max(1, min(buckets, int((high_us - low_us) / resolution_us)))
    width_us = (high_us - low_us) / buckets
    counts = [0] * buckets
    for value_us, n in values:
        counts[min(buckets - 1, max(0, int((value_us - low_us) / width_us)))] += n
    return [Bucket((low_us + width_us * (i + 1)) / 1000, count) for i, count in enumerate(counts)]


def latency_text(ms: float | None) -> str:
    """A latency with no more digits than its HdrHistogram holds (3 significant, so 4 shown), in s from a
    second up: '15.06 s', not '15,056.90' (the last three digits were the bucket's edge, no request's)."""
    if ms is None:
        return "-"
    return f"{ms / 1000:.4g} s" if ms >= 1000 else f"{ms:.4g} ms"


def format_histogram(buckets: list[Bucket], bar_width: int = 32, glyph: str = "■") -> list[str]:
    """oha's picture: `  12.34 ms [  120] |■■■■■` per bucket, bars scaled to the fullest bucket (its upper
    bound with the digits the histogram holds: latency_text)."""
    if not buckets:
        return []
    top = max(b.responses for b in buckets) or 1
    labels = [latency_text(b.upper_ms) for b in buckets]
    label_width = max(len(label) for label in labels)
    count_width = max(len(f"{b.responses:,}") for b in buckets)
    return [
        f"  {label:>{label_width}} [{b.responses:>{count_width},}] |{glyph * round(b.responses / top * bar_width)}"
        for label, b in zip(labels, buckets, strict=True)
    ]

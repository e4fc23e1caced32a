"""The text summary's latency histogram (as oha prints it), computed from the report's ok histogram."""

from __future__ import annotations

import re

from moetui.report.distribution import latency_buckets
from moetui.report.summary import format_summary
from tests.fixtures import canned


def test_the_summary_draws_ten_buckets_from_the_ok_histogram() -> None:
    _, finished = canned.open_finished()
    report = finished.report
    assert report is not None
    buckets = latency_buckets(report)
    assert len(buckets) == 10
    assert sum(b.responses for b in buckets) == report["requests"]["ok"] == report["latency_ms"]["count"]
    # the fixture's tail: one ok response a second takes 0.9 s longer (20 s), far from the other 939
    assert buckets[-1].responses == 20 and buckets[0].responses == report["requests"]["ok"] - 20
    assert abs(buckets[-1].upper_ms - report["latency_ms"]["max"]) < 1.0

    summary = format_summary(report).splitlines()
    start = summary.index("latency histogram (successful responses: bucket upper bound [count])")
    rows = summary[start + 1 : start + 11]
    counts = [int(re.search(r"\[\s*([\d,]+)\]", row).group(1).replace(",", "")) for row in rows]  # type: ignore[union-attr]
    assert counts == [b.responses for b in buckets]
    bars = [row.split("|", 1)[1] for row in rows]
    assert bars[0] == "■" * 32 and bars[1] == "" and 0 < len(bars[-1]) < 32


def test_one_value_makes_one_bucket_and_no_histogram_none() -> None:
    _, finished = canned.burst_finished()  # 3 responses within one HdrHistogram value at 15 s
    report = finished.report
    assert report is not None
    assert [b.responses for b in latency_buckets(report)] == [3]
    assert "latency histogram" not in format_summary({**report, "histograms": {}})


def test_a_bursts_figures_have_the_histograms_digits_and_its_max_is_a_requests_time() -> None:
    """A 15 s burst printed p50 15,015.93 ... max 15,015.93 above requests that took 15.0100 to 15.0120 s:
    the bucket's top, to digits the histogram does not hold. Now 4 significant digits in seconds, and no
    figure above the slowest request's own time (a burst's log holds every request)."""
    _, finished = canned.burst_finished()
    report = finished.report
    assert report is not None and report["latency_ms"]["max"] == 15015.935  # the bucket's top
    slowest = max(r["elapsed_s"] for r in report["request_log"])
    assert round(slowest, 4) == 15.012
    summary = format_summary(report)
    measured = next(line for line in summary.splitlines() if line.startswith("  measured"))
    assert "15,01" not in summary and ".93" not in measured
    assert "p50 15.01 s" in measured and "max 15.01 s" in measured and "mean 15.01 s" in measured, measured
    assert "  15.02 s [3] |" in summary  # the one bucket, its bound to the same digits
    # Other runs keep the histogram's figures, with no more digits either.
    _, open_run = canned.open_finished()
    assert open_run.report is not None
    text = format_summary(open_run.report)
    assert "p50 120.1 ms" in text and "max 1.07 s" in text, text

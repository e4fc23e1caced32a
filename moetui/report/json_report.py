"""The JSON report: stable, documented in the README, free of secrets, mergeable.

Schema "moetui.report/1". Latencies in milliseconds under the keys p50, p90, p95, p99, p99_9, max, mean.
Histograms are HdrHistogram's compressed base64 form (microseconds, 1 µs to 1 h, 3 significant digits),
so that reports from several runs or machines can be merged exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from moetui import __version__
from moetui.engine.histogram import REPORT_PERCENTILES, decode, encode, new_histogram, percentiles_ms, report_key
from moetui.errors import ConfigError
from moetui.report.model import (
    REPORT_HISTOGRAMS,
    SCHEMA,
    Ladder,
    ModelSplit,
    Report,
)
from moetui.report.streaming import merge_streaming

_KEYS = {p: report_key(p) for p in REPORT_PERCENTILES}


def latency_block(ladder: dict[float, float], mean_ms: float | None = None, count: int | None = None) -> Ladder | None:
    """{"p50": ..., ..., "max": ..., "mean": ..., "count": ...} in ms, or None when nothing was measured;
    `count` is how many requests the ladder covers (its histogram's total)."""
    if not ladder:
        return None
    block: dict[str, float] = {key: round(ladder[p], 3) for p, key in _KEYS.items() if p in ladder}
    if mean_ms is not None:
        block["mean"] = round(mean_ms, 3)
    if count is not None:
        block["count"] = count
    return cast(Ladder, block)  # the engine's ladder holds every REPORT_PERCENTILES


def _counted(histograms: dict[str, Any], name: str, mean_ms: float | None = None) -> Ladder | None:
    """The latency block of one of the report's histograms, with its count; None when it is empty."""
    histogram = histograms.get(name)
    if histogram is None or not histogram.get_total_count():
        return None
    return latency_block(percentiles_ms(histogram), mean_ms, int(histogram.get_total_count()))


def model_split(ok: int, with_exec_time: int) -> ModelSplit:
    """How many successful responses carried x-ms-run-fn-exec-ms, the count behind model_latency_ms and
    outside_model_latency_ms: {"ok": ..., "with_exec_time": ..., "share": ... (None without ok responses)}."""
    return {
        "ok": ok,
        "with_exec_time": with_exec_time,
        "share": round(with_exec_time / ok, 6) if ok else None,
    }


def merged_seconds(reports: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The reports' per-second rows on one wall clock: each report's row `second` is counted from its own
    start, so it is shifted by that start's distance from the earliest one (to the nearest second) and
    rows falling on the same second are added: ok and failed summed, max_ms the largest. A second's p50 and
    p99 cannot be merged from rows (no histogram per second): kept when one report alone fills that
    second, else None."""
    if not reports:
        return []
    starts = [datetime.fromisoformat(str(r["started_at"])).timestamp() for r in reports]
    origin = min(starts)
    rows: dict[int, dict[str, Any]] = {}
    for report, start in zip(reports, starts, strict=True):
        shift = round(start - origin)
        for row in report.get("per_second") or []:
            second = int(row["second"]) + shift
            if second not in rows:
                rows[second] = {**row, "second": second}
                continue
            into = rows[second]
            into["ok"] += row["ok"]
            into["failed"] += row["failed"]
            maxes = [m for m in (into.get("max_ms"), row.get("max_ms")) if m is not None]
            into["max_ms"] = max(maxes) if maxes else None
            into["p50_ms"] = into["p99_ms"] = None
    return [rows[second] for second in sorted(rows)]


def merge_reports(reports: Sequence[Mapping[str, Any]], sources: Sequence[str], *, mixed: bool = False) -> Report:
    """One report from several runs (of one machine or several): histograms added exactly, counts summed,
    throughput summed (runs side by side load the endpoint together), per-second rows aligned on the wall
    clock (merged_seconds).

    Args:
        reports: The reports, as moetui.report.codec.read_report returns them.
        sources: Where each came from (its file), for the messages and `merged_from`.
        mixed: Merge runs of different load modes too. An open run's corrected latencies and a closed run's
            measured ones are not like with like, so by default they are refused.

    Raises:
        ConfigError: The runs are of different modes and `mixed` is False (the message names each file
            and its mode).
    """
    modes = {str(report.get("mode")) for report in reports}
    if len(modes) > 1 and not mixed:
        runs = ", ".join(f"{source} ({report.get('mode')})" for source, report in zip(sources, reports, strict=True))
        raise ConfigError(
            f"the reports are of different load modes: {runs}. An open run's latencies are corrected for "
            "coordinated omission and a closed run's are not, so their percentiles do not add up; allowed: "
            "reports of one mode, or --mixed to merge them anyway (each latency row then names the requests "
            "it covers)."
        )
    histograms = {}
    for name in REPORT_HISTOGRAMS:
        merged = new_histogram()
        for report in reports:
            if name in report.get("histograms", {}):
                merged.add(decode(report["histograms"][name]))
        if merged.get_total_count():
            histograms[name] = merged
    requests: dict[str, Any] = {}
    for key in ("sent", "completed", "ok", "failed", "warmup", "late", "not_sent", "in_flight_at_end", "out_of_range"):
        requests[key] = sum(r["requests"].get(key, 0) for r in reports)
    for key in ("by_status", "by_error"):
        counts: dict[str, int] = {}
        for report in reports:
            for name, count in report["requests"].get(key, {}).items():
                counts[name] = counts.get(name, 0) + count
        requests[key] = dict(sorted(counts.items()))
    total = requests["ok"] + requests["failed"]
    means = [(r["requests"]["ok"], (r.get("latency_ms") or {}).get("mean")) for r in reports]
    ok_means = [(n, m) for n, m in means if m is not None]
    mean = sum(n * m for n, m in ok_means) / requests["ok"] if requests["ok"] and ok_means else None
    meanings: dict[str, str] = {}
    for report in reports:
        meanings.update(report.get("meanings", {}))
    # Not every block of a run's report yet (issue 24: one merge); readers take an absent block as None.
    combined: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "moetui", "version": __version__},
        "merged_from": list(sources),
        "started_at": min(r["started_at"] for r in reports),
        "wall_s": max(r["wall_s"] for r in reports),
        "mode": reports[0]["mode"] if len({r["mode"] for r in reports}) == 1 else "mixed",
        "merged_modes": [r["mode"] for r in reports],
        "requests": requests,
        "meanings": meanings,
        "error_rate": round(requests["failed"] / total, 6) if total else 0.0,
        "throughput_rps": round(sum(r["throughput_rps"] for r in reports), 3),
        "latency_ms": _counted(histograms, "ok", mean),
        "corrected_latency_ms": _counted(histograms, "ok_corrected"),
        "failed_latency_ms": _counted(histograms, "failed"),
        "model_latency_ms": _counted(histograms, "model"),
        "outside_model_latency_ms": _counted(histograms, "outside"),
        "model_split": model_split(
            requests["ok"], int(histograms["model"].get_total_count()) if "model" in histograms else 0
        ),
        "streaming": merge_streaming(reports, histograms),
        "per_second": merged_seconds(reports),
        "server_metrics": None,  # each run's own window: not added up
        "local_processes": None,
        "histograms": {name: encode(h) for name, h in histograms.items()},
    }
    return cast(Report, combined)

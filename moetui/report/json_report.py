"""The JSON report: stable, documented in the README, free of secrets, mergeable.

Schema "moetui.report/1". Latencies in milliseconds under the keys p50, p90, p95, p99, p99_9, max, mean.
Histograms are HdrHistogram's compressed base64 form (microseconds, 1 µs to 1 h, 3 significant digits),
so that reports from several runs or machines can be merged exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, cast

from moetui import __version__
from moetui.config.dump import config_to_dict
from moetui.config.schema import Config
from moetui.config.timing import request_timeout_s
from moetui.engine.failures import ERROR_MEANINGS
from moetui.engine.histogram import REPORT_PERCENTILES, decode, encode, new_histogram, percentiles_ms, report_key
from moetui.engine.judge import Evaluation
from moetui.engine.run import RunResult
from moetui.errors import ConfigError
from moetui.redact import shown_config
from moetui.report.model import (
    REPORT_HISTOGRAMS,
    SCHEMA,
    Burst,
    Generator,
    Ladder,
    LocalProcesses,
    LoggedRequest,
    ModelSplit,
    Rate,
    Report,
    SecondRow,
    ServerMetrics,
    Steps,
    TargetInfo,
    Threshold,
    Windows,
)
from moetui.report.statuses import AZURE_STATUS_MEANINGS
from moetui.report.streaming import merge_streaming, streaming_block
from moetui.targets.base import ResolvedTarget

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


def build_report(
    result: RunResult,
    config: Config,
    target: ResolvedTarget,
    evaluation: Evaluation,
    *,
    server_metrics: dict[str, Any] | None = None,
    processes: dict[str, Any] | None = None,
) -> Report:
    """The report of a finished or interrupted run; `server_metrics` is the target's block (Azure Monitor's
    for an Azure deployment, see moetui.azure.metrics), None when the target has none; `processes` the local
    endpoint's processes' CPU and memory during the run (moetui.local_endpoint.usage), None for others."""
    snapshot = result.snapshot
    aggregator = result.aggregator
    totals = aggregator.totals
    seen_statuses = sorted(snapshot.statuses)
    return {
        "schema": SCHEMA,
        "tool": {"name": "moetui", "version": __version__},
        "started_at": result.started_at.isoformat(),
        "wall_s": round(result.wall_s, 3),
        "measured_s": round(aggregator.measured_s, 3),
        "interrupted": result.interrupted,
        "mode": config.load.mode,
        "config": shown_config(config_to_dict(config)),
        "target": cast(TargetInfo, target.public()),
        # The timeout the run used: load.timeout, else the deployment's request_timeout_ms plus a margin.
        "request_timeout_s": request_timeout_s(config.load.timeout_s, target.request_timeout_ms),
        "requests": {
            "sent": snapshot.sent,
            "completed": snapshot.completed,
            "ok": snapshot.ok,
            "failed": snapshot.failed,
            "warmup": snapshot.warmup,
            "late": snapshot.late,
            "not_sent": snapshot.not_sent,
            "in_flight_at_end": snapshot.in_flight,
            "out_of_range": aggregator.out_of_range,
            "by_status": {str(code): snapshot.statuses[code] for code in seen_statuses},
            "by_error": dict(sorted(snapshot.errors.items())),
        },
        "meanings": {
            **{str(code): AZURE_STATUS_MEANINGS[code] for code in seen_statuses if code in AZURE_STATUS_MEANINGS},
            **{kind: ERROR_MEANINGS.get(kind, kind) for kind in sorted(snapshot.errors)},
        },
        "error_rate": round(evaluation.error_rate, 6),
        "throughput_rps": round(snapshot.throughput_rps, 3),
        "received": {  # response bodies, warm-up included: counted as read, never kept
            "bytes": aggregator.body_bytes,
            "bodies": aggregator.bodies,
            "mean_bytes": round(aggregator.body_bytes / aggregator.bodies, 1) if aggregator.bodies else None,
            "max_bytes": aggregator.body_max,
        },
        "rate": _rate(snapshot, aggregator.target_rate, aggregator.clients),
        "latency_ms": latency_block(snapshot.percentiles_ms, snapshot.mean_ms, _count(totals, "ok")),
        "corrected_latency_ms": latency_block(snapshot.corrected_ms, None, _count(totals, "ok_corrected")),
        "failed_latency_ms": latency_block(snapshot.failed_percentiles_ms, None, _count(totals, "failed")),
        "model_latency_ms": latency_block(snapshot.model_ms, None, _count(totals, "model")),
        "outside_model_latency_ms": latency_block(snapshot.outside_ms, None, _count(totals, "outside")),
        "model_split": model_split(snapshot.ok, snapshot.with_exec_time),
        "streaming": streaming_block(snapshot.streaming, config.load.api),
        "burst": cast(Burst, asdict(evaluation.burst)) if evaluation.burst else None,
        "steps": _steps(config, aggregator.steps, evaluation.knee) if config.load.mode == "steps" else None,
        "per_second": [cast(SecondRow, asdict(row)) for row in aggregator.seconds],
        "request_log": [cast(LoggedRequest, record._asdict()) for record in aggregator.recent],
        "generator": cast(
            Generator,
            {
                **asdict(snapshot.health),
                "reasons": list(snapshot.health.reasons),
                "notes": list(snapshot.health.notes),
                "process_cpu": list(snapshot.health.process_cpu),
                "workers": config.load.workers,
            },
        ),
        "server_metrics": cast(ServerMetrics | None, server_metrics),
        "local_processes": cast(LocalProcesses | None, processes),
        "thresholds": [cast(Threshold, asdict(check)) for check in evaluation.checks],
        "passed": evaluation.passed,
        "valid": evaluation.valid,
        "exit_status": int(evaluation.exit_status),
        "histograms": {name: encode(totals[name]) for name in REPORT_HISTOGRAMS if totals[name].get_total_count()},
        # Per-window latency histograms (moetui.engine.windows), which `moetui compare` resamples.
        "windows": cast(Windows, aggregator.windows.to_dict()),
    }


def _rate(snapshot: Any, offered_per_s: float | None, clients: int | None) -> Rate | None:
    """Open mode: the rate asked for against the rate sent, over the time spent sending."""
    if not snapshot.sending_s:
        return None
    return {
        "offered_per_s": offered_per_s,
        "sent_per_s": round(snapshot.sent / snapshot.sending_s, 3),
        "sending_s": round(snapshot.sending_s, 3),
        "clients": clients,
        "intended": snapshot.sent + snapshot.not_sent,
        "not_sent": snapshot.not_sent,
    }


def _count(histograms: Any, name: str) -> int:
    return int(histograms[name].get_total_count())


def _steps(config: Config, rows: Sequence[Any], knee: float | None) -> Steps:
    return {
        "over": config.steps.over,
        "percentile": config.steps.percentile,
        "threshold_ms": config.steps.threshold_ms,
        "error_limit": config.steps.error_limit,
        "table": [
            {
                "level": row.level,
                "duration_s": round(row.duration_s, 3),
                "ok": row.ok,
                "failed": row.failed,
                "rps": round(row.rps, 3),
                "error_rate": round(row.error_rate, 6),
                "latency_ms": latency_block(row.percentiles_ms),
            }
            for row in rows
        ],
        "knee": knee,
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

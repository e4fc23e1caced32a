"""The JSON report: stable, documented in the README, free of secrets, mergeable.

Schema "moetui.report/1". Latencies in milliseconds under the keys p50, p90, p95, p99, p99_9, max, mean.
Histograms are HdrHistogram's compressed base64 form (microseconds, 1 µs to 1 h, 3 significant digits),
so that reports from several runs or machines can be merged exactly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from moetui import __version__
from moetui.config.dump import config_to_dict
from moetui.config.schema import Config
from moetui.config.timing import request_timeout_s
from moetui.engine.failures import ERROR_MEANINGS
from moetui.engine.histogram import REPORT_PERCENTILES, encode, report_key
from moetui.engine.judge import Evaluation
from moetui.engine.run import RunResult
from moetui.engine.streaming import STREAM_HISTOGRAMS
from moetui.paths import write_atomic
from moetui.redact import shown_config
from moetui.report.statuses import AZURE_STATUS_MEANINGS
from moetui.report.streaming import streaming_block
from moetui.targets.base import ResolvedTarget

SCHEMA = "moetui.report/1"
_KEYS = {p: report_key(p) for p in REPORT_PERCENTILES}
#: Histograms a report carries (the generator's own drift and lag stay in `generator`).
REPORT_HISTOGRAMS = ("ok", "ok_corrected", "failed", "model", "outside", *STREAM_HISTOGRAMS)


def latency_block(
    ladder: dict[float, float], mean_ms: float | None = None, count: int | None = None
) -> dict[str, float] | None:
    """{"p50": ..., ..., "max": ..., "mean": ..., "count": ...} in ms, or None when nothing was measured;
    `count` is how many requests the ladder covers (its histogram's total)."""
    if not ladder:
        return None
    block = {key: round(ladder[p], 3) for p, key in _KEYS.items() if p in ladder}
    if mean_ms is not None:
        block["mean"] = round(mean_ms, 3)
    if count is not None:
        block["count"] = count
    return block


def model_split(ok: int, with_exec_time: int) -> dict[str, Any]:
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
) -> dict[str, Any]:
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
        "target": target.public(),
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
        "burst": asdict(evaluation.burst) if evaluation.burst else None,
        "steps": _steps(config, aggregator.steps, evaluation.knee) if config.load.mode == "steps" else None,
        "per_second": [asdict(row) for row in aggregator.seconds],
        "request_log": [record._asdict() for record in aggregator.recent],
        "generator": {
            **asdict(snapshot.health),
            "reasons": list(snapshot.health.reasons),
            "notes": list(snapshot.health.notes),
            "process_cpu": list(snapshot.health.process_cpu),
            "workers": config.load.workers,
        },
        "server_metrics": server_metrics,
        "local_processes": processes,
        "thresholds": [asdict(check) for check in evaluation.checks],
        "passed": evaluation.passed,
        "valid": evaluation.valid,
        "exit_status": int(evaluation.exit_status),
        "histograms": {name: encode(totals[name]) for name in REPORT_HISTOGRAMS if totals[name].get_total_count()},
        # Per-window latency histograms (moetui.engine.windows), which `moetui compare` resamples.
        "windows": aggregator.windows.to_dict(),
    }


def _rate(snapshot: Any, offered_per_s: float | None, clients: int | None) -> dict[str, Any] | None:
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


def _steps(config: Config, rows: Sequence[Any], knee: float | None) -> dict[str, Any]:
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


def check_report_path(path: Path) -> str | None:
    """Why the report could not be written to `path` (checked before a run starts), or None.

    write_report creates missing directories and replaces the file through a temporary file beside it,
    so what counts is that `path` is not a directory and its nearest existing directory is writable.
    """
    path = path.expanduser()
    if path.is_dir():
        return f"{path} is a directory; give a file name"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the directory {parent} is not writable"
    return None


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write atomically (paths.write_atomic), so a crash or Ctrl-C never leaves half a report."""
    write_atomic(path, json.dumps(report, indent=2) + "\n")

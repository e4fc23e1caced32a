"""Building a run's report from the engine's final snapshot: every measurement block, the burst's verdict
and a sweep's knee included (engine functions: judge_burst, find_knee). What the run comes to against its
thresholds is moetui.report.judge's: build leaves "thresholds", "passed", "valid" and "exit_status" in
place, unjudged, and judge(report, thresholds).write_into(report) fills them in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, cast

from moetui import __version__
from moetui.config.dump import config_to_dict
from moetui.config.schema import Config
from moetui.engine.failures import ERROR_MEANINGS
from moetui.engine.histogram import encode
from moetui.engine.judge import BurstVerdict, find_knee, judge_burst
from moetui.engine.run import RunResult
from moetui.engine.snapshot import EngineSnapshot, StepRow
from moetui.errors import ExitStatus
from moetui.redact import shown_config
from moetui.report.json_report import latency_block, model_split
from moetui.report.model import (
    REPORT_HISTOGRAMS,
    SCHEMA,
    Burst,
    Generator,
    LocalProcesses,
    LoggedRequest,
    Rate,
    Report,
    SecondRow,
    ServerMetrics,
    Steps,
    TargetInfo,
    Windows,
)
from moetui.report.serving import serving_block
from moetui.report.stages import stages_block
from moetui.report.statuses import status_meaning
from moetui.report.streaming import streaming_block


def build(
    result: RunResult,
    config: Config,
    target: Mapping[str, Any],
    timeout_s: float,
    *,
    capacity: int | None,
    server_metrics: dict[str, Any] | None = None,
    processes: dict[str, Any] | None = None,
) -> Report:
    """The report of a finished or interrupted run, not yet judged.

    Args:
        result: The run's end.
        config: What was run (shown without secrets).
        target: The target's public description (ResolvedTarget.public()): no headers, no key.
        timeout_s: The request timeout the run used (its LoadPlan's request.timeout_s).
        capacity: The capacity a burst is judged against (the one in force when the load began); recorded as
            the target's `capacity_judged` when it differs from the target's own.
        server_metrics: The target's block (Azure Monitor's for an Azure deployment, see
            moetui.azure.metrics), None when the target has none.
        processes: The local endpoint's processes' CPU and memory during the run
            (moetui.local_endpoint.usage), None for others.
    """
    snapshot = result.snapshot
    aggregator = result.aggregator
    totals = aggregator.totals
    seen_statuses = sorted(snapshot.statuses)
    total = snapshot.ok + snapshot.failed
    burst = _burst(result, capacity) if config.load.mode == "burst" else None
    shown_target = dict(target)
    if capacity != target.get("capacity"):  # the burst was judged against this one
        shown_target["capacity_judged"] = capacity
    # Blocks made from the engine's dataclasses (asdict) and the target's own description are typed here.
    report: Report = {
        "schema": SCHEMA,
        "tool": {"name": "moetui", "version": __version__},
        "started_at": result.started_at.isoformat(),
        "wall_s": round(result.wall_s, 3),
        "measured_s": round(aggregator.measured_s, 3),
        "interrupted": result.interrupted,
        "mode": config.load.mode,
        "config": shown_config(config_to_dict(config)),
        "target": cast(TargetInfo, shown_target),
        "request_timeout_s": timeout_s,
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
            **{
                str(code): meaning
                for code in seen_statuses
                if (meaning := status_meaning(code, config.load.method)) is not None
            },
            **{kind: ERROR_MEANINGS.get(kind, kind) for kind in sorted(snapshot.errors)},
        },
        "error_rate": round(snapshot.failed / total, 6) if total else 0.0,
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
        "burst": cast(Burst, asdict(burst)) if burst else None,
        "steps": _steps(config, aggregator.steps) if config.load.mode == "steps" else None,
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
        # Unjudged until moetui.report.judge writes them (Evaluation.write_into).
        "thresholds": [],
        "passed": False,
        "valid": snapshot.health.valid,
        "exit_status": int(ExitStatus.THRESHOLD_FAILED),
        "histograms": {name: encode(totals[name]) for name in REPORT_HISTOGRAMS if totals[name].get_total_count()},
        # Per-window latency histograms (moetui.engine.windows), which `moetui compare` resamples.
        "windows": cast(Windows, aggregator.windows.to_dict()),
    }
    if aggregator.served:
        report["serving"] = serving_block(aggregator.served, aggregator.measured_s)
    if config.load.stages:
        report["stages"] = stages_block(config.load.stages, config.load.arrivals, snapshot.timetable)
    return report


def _burst(result: RunResult, capacity: int | None) -> BurstVerdict | None:
    """Served concurrently or serialized: a measurement of the burst's requests, judged against capacity."""
    records = list(result.aggregator.recent)
    if not records:
        return None
    wall_s = max(r.sent_at_s + r.elapsed_s for r in records) - min(r.sent_at_s for r in records)
    return judge_burst(records, wall_s, capacity)


def _rate(snapshot: EngineSnapshot, offered_per_s: float | None, clients: int | None) -> Rate | None:
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


def _steps(config: Config, rows: Sequence[StepRow]) -> Steps:
    steps = config.steps
    return {
        "over": steps.over,
        "percentile": steps.percentile,
        "threshold_ms": steps.threshold_ms,
        "error_limit": steps.error_limit,
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
        # The highest level that held the sweep's own limit: a measurement, not a threshold.
        "knee": find_knee(rows, steps.percentile, steps.threshold_ms, steps.error_limit),
    }

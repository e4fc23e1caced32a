"""The JSON report: stable, documented in the README, free of secrets, mergeable.

Schema "moetui.report/1". Latencies in milliseconds under the keys p50, p90, p95, p99, p99_9, max, mean.
Histograms are HdrHistogram's compressed base64 form (microseconds, 1 µs to 1 h, 3 significant digits),
so that reports from several runs or machines can be merged exactly.
"""

from __future__ import annotations

from typing import cast

from moetui.engine.histogram import REPORT_PERCENTILES, report_key
from moetui.report.model import (
    Ladder,
    ModelSplit,
)

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


def model_split(ok: int, with_exec_time: int) -> ModelSplit:
    """How many successful responses carried x-ms-run-fn-exec-ms, the count behind model_latency_ms and
    outside_model_latency_ms: {"ok": ..., "with_exec_time": ..., "share": ... (None without ok responses)}."""
    return {
        "ok": ok,
        "with_exec_time": with_exec_time,
        "share": round(with_exec_time / ok, 6) if ok else None,
    }

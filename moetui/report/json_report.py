"""The JSON report: stable, documented in the README, free of secrets, mergeable.

Schema "moetui.report/1". Latencies in milliseconds under the keys p50, p90, p95, p99, p99_9, max, mean.
Histograms are HdrHistogram's compressed base64 form (microseconds, 1 µs to 1 h, 3 significant digits),
so that reports from several runs or machines can be merged exactly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from moetui.engine.histogram import REPORT_PERCENTILES, report_key
from moetui.engine.streaming import STREAM_HISTOGRAMS
from moetui.paths import write_atomic
from moetui.report.model import Ladder, ModelSplit

SCHEMA = "moetui.report/1"
_KEYS = {p: report_key(p) for p in REPORT_PERCENTILES}
#: Histograms a report carries (the generator's own drift and lag stay in `generator`).
REPORT_HISTOGRAMS = ("ok", "ok_corrected", "failed", "model", "outside", *STREAM_HISTOGRAMS)


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


def write_report(report: Mapping[str, Any], path: Path) -> None:
    """Write atomically (paths.write_atomic), so a crash or Ctrl-C never leaves half a report."""
    write_atomic(path, json.dumps(report, indent=2) + "\n")

"""A report's file: its schema (REPORT, every field moetui reads, with its kind), the one reader, the
writer and the check of where a report is to be written before a run starts.

The reader (`moetui report`, `compare`, `merge`, a multi-node run's node reports) reads the file with a size
bound, parses it with a depth bound and checks it against REPORT (the kinds of moetui.report.fields); its
histograms are decoded with a size bound (moetui.engine.histogram.decode). What it returns can be
summarised, drawn, compared and merged without a traceback; what it refuses raises ReportError naming the
file and the field. A report of an older moetui may lack a block the typed Report names: REPORT requires
only the fields read without a default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from moetui.engine.histogram import HistogramDecodeError, decode
from moetui.engine.windows import MAX_WINDOWS, WINDOW_HISTOGRAMS
from moetui.errors import ReportError
from moetui.paths import write_atomic
from moetui.report.fields import (
    Bool,
    Checked,
    Count,
    Equal,
    Int,
    Kind,
    List,
    Map,
    Num,
    Obj,
    Opt,
    Str,
    Timestamp,
    depth,
    problems,
)
from moetui.report.model import REPORT_HISTOGRAMS, SCHEMA, Report

#: The largest report file read: a day-long run's per-second rows come to ~20 MB.
MAX_REPORT_BYTES = 64 << 20
#: The deepest nesting read (a report's own is under 10; Python's json and json.dumps recurse).
MAX_DEPTH = 64


def _histogram(encoded: str) -> str | None:
    try:
        decode(encoded)
    except HistogramDecodeError as exc:
        return f"not a moetui histogram: {exc}"
    return None


def _few_windows(rows: list[Any]) -> str | None:
    # Each is decoded when compared (~190 KB a histogram): a long run keeps at most 2 x MAX_WINDOWS.
    return f"{len(rows):,} windows, over the {2 * MAX_WINDOWS} a report holds" if len(rows) > 2 * MAX_WINDOWS else None


WINDOWS = Obj(
    {
        "seconds": Count(),
        "rows": Checked(
            List(
                Obj(
                    {"start_s": Count(), **{name: Checked(Str(), _histogram) for name in WINDOW_HISTOGRAMS}},
                    ("start_s",),
                )
            ),
            _few_windows,
        ),
    },
    ("seconds", "rows"),
)

LADDER = Opt(Obj({**{key: Num() for key in ("p50", "p90", "p95", "p99", "p99_9", "max", "mean")}, "count": Count()}))
COUNTS = Map(Count())
TEXTS = List(Str())
OPT_NUM = Opt(Num())

STREAMING = Obj(
    {
        "api": Opt(Str()),
        "verdict": Str(),
        "evidence": Obj(
            {
                "buffered_share": OPT_NUM,
                "ttft_p50_over_e2e_p50": OPT_NUM,
                "itl_p50_ms": OPT_NUM,
                "multi_token_streams": Count(),
            },
            ("multi_token_streams", "itl_p50_ms"),
        ),
        "streams": Count(),
        "cut": Count(),
        "tokens": Obj(
            {
                "output": Count(),
                "output_source": Str(),
                "output_counted_streams": Count(),
                "input": Opt(Count()),
                "output_per_s": Num(),
            },
            ("output", "output_source", "output_counted_streams", "input", "output_per_s"),
        ),
        **{
            key: LADDER
            for key in (
                "per_request_output_tokens_per_s",
                "ttft_ms",
                "ttft_corrected_ms",
                "itl_ms",
                "tpot_ms",
                "e2e_ms",
                "e2e_corrected_ms",
            )
        },
        "goodput": Opt(
            Obj(
                {
                    "slo": Obj({"ttft_ms": OPT_NUM, "tpot_ms": OPT_NUM}, ("ttft_ms", "tpot_ms")),
                    "good": Count(),
                    "of": Count(),
                    "share": OPT_NUM,
                    "per_s": OPT_NUM,
                },
                ("slo", "good", "of", "share", "per_s"),
            )
        ),
        "counts": COUNTS,
    },
    ("verdict", "evidence", "streams", "cut", "tokens"),
)

SERVER_METRIC = Obj({"scope": Str(), "average": OPT_NUM, "maximum": OPT_NUM, "points": List()})
SERVER_METRICS = Obj(
    {
        "source": Str(),
        "timespan": Str(),
        "metrics": Map(SERVER_METRIC),
        "other_deployments": Map(Map(SERVER_METRIC)),
        "capacity": Opt(
            Obj(
                {"changes": List(Obj({"time": Str(), "instances": Num()}, ("time", "instances")))},
                ("minimum", "maximum"),
            )
        ),
        "sources": List(Obj({"resource": Str(), "filter": Opt(Str()), "scope": Str(), "metrics": TEXTS})),
        "errors": TEXTS,
    }
)

LOCAL_PROCESSES = Obj(
    {
        "error": Opt(Str()),
        "sample_s": Num(),
        "processes": Map(Obj({"cpu_cores_mean": OPT_NUM, "cpu_cores_peak": OPT_NUM, "rss_mb_peak": Num()})),
        "server_cpu_share": OPT_NUM,
    }
)

#: Every field moetui reads from a report, with its kind; `required` those read without a default.
REPORT: Kind = Obj(
    {
        "schema": Equal(SCHEMA),
        "started_at": Timestamp(),
        "wall_s": Num(),
        "measured_s": Num(),
        "interrupted": Bool(),
        "mode": Str(),
        "config": Opt(Obj({"load": Obj({"requests": OPT_NUM})})),
        "target": Opt(Obj({"url": Opt(Str()), "description": Opt(Str())})),
        "request_timeout_s": OPT_NUM,
        "requests": Obj(
            {
                **{
                    key: Count()
                    for key in (
                        "sent",
                        "completed",
                        "ok",
                        "failed",
                        "warmup",
                        "late",
                        "not_sent",
                        "in_flight_at_end",
                        "out_of_range",
                    )
                },
                "by_status": COUNTS,
                "by_error": COUNTS,
            },
            ("sent", "completed", "ok", "failed", "by_status", "by_error"),
        ),
        "meanings": Map(Str()),
        "error_rate": Num(),
        "throughput_rps": Num(),
        "received": Opt(
            Obj(
                {"bytes": Count(), "bodies": Count(), "mean_bytes": OPT_NUM, "max_bytes": Count()},
                ("bytes", "bodies", "mean_bytes", "max_bytes"),
            )
        ),
        "rate": Opt(
            Obj(
                {"offered_per_s": OPT_NUM, "sent_per_s": Num(), "sending_s": Num(), "clients": Opt(Count())},
                ("sent_per_s", "sending_s"),
            )
        ),
        **{
            key: LADDER
            for key in (
                "latency_ms",
                "corrected_latency_ms",
                "failed_latency_ms",
                "model_latency_ms",
                "outside_model_latency_ms",
            )
        },
        "model_split": Opt(Obj({"ok": Count(), "with_exec_time": Count(), "share": OPT_NUM}, ("ok", "with_exec_time"))),
        "streaming": Opt(STREAMING),
        "burst": Opt(
            Obj(
                {
                    "verdict": Str(),
                    "expected": Num(),
                    "served_at_once": Num(),
                    "effective_concurrency": Num(),
                    "as_expected": Bool(),
                },
                ("verdict", "expected", "served_at_once", "effective_concurrency", "as_expected"),
            )
        ),
        "steps": Opt(
            Obj(
                {
                    "over": Str(),
                    "percentile": Num(),
                    "threshold_ms": Num(),
                    "error_limit": Num(),
                    "table": List(
                        Obj(
                            {
                                "level": Num(),
                                "duration_s": Num(),
                                "ok": Count(),
                                "failed": Count(),
                                "rps": Num(),
                                "error_rate": Num(),
                                "latency_ms": LADDER,
                            },
                            ("level", "ok", "failed", "rps", "error_rate", "latency_ms"),
                        )
                    ),
                    "knee": OPT_NUM,
                },
                ("over", "percentile", "threshold_ms", "error_limit", "table", "knee"),
            )
        ),
        "per_second": List(
            Obj(
                {
                    "second": Int(),
                    "ok": Count(),
                    "failed": Count(),
                    **{key: OPT_NUM for key in ("p50_ms", "p99_ms", "max_ms", "p50_corrected_ms", "p99_corrected_ms")},
                    "output_tokens": Count(),
                    "statuses": COUNTS,
                },
                ("second", "ok", "failed"),
            )
        ),
        "request_log": List(
            Obj(
                {
                    "id": Int(),
                    "sent_at_s": Num(),
                    "elapsed_s": Num(),
                    "status": Opt(Int()),
                    "error": Opt(Str()),
                    "exec_ms": OPT_NUM,
                    "intended_at_s": OPT_NUM,
                    "first_token_s": OPT_NUM,
                },
                ("id", "sent_at_s", "elapsed_s", "status", "error"),
            )
        ),
        "generator": Opt(
            Obj(
                {
                    "loop_lag_p99_ms": OPT_NUM,
                    "loop_lag_max_ms": OPT_NUM,
                    "drift_p99_ms": OPT_NUM,
                    "cpu_share": Num(),
                    "send_rate_share": OPT_NUM,
                    "valid": Bool(),
                    "reasons": TEXTS,
                    "notes": TEXTS,
                    "header_refreshes": Count(),
                    "header_refresh_failures": Count(),
                    "header_refresh_error": Opt(Str()),
                    "workers": Count(),
                },
                ("loop_lag_p99_ms", "drift_p99_ms", "cpu_share", "valid", "reasons", "workers"),
            )
        ),
        "server_metrics": Opt(SERVER_METRICS),
        "local_processes": Opt(LOCAL_PROCESSES),
        "thresholds": List(
            Obj(
                {
                    "name": Str(),
                    "limit": Num(),
                    "value": OPT_NUM,
                    "passed": Bool(),
                    "at_least": Bool(),
                    "default": Bool(),
                },
                ("name", "limit", "value", "passed"),
            )
        ),
        "passed": Bool(),
        "valid": Bool(),
        "exit_status": Int(),
        "histograms": Map(Checked(Str(), _histogram), REPORT_HISTOGRAMS),
        "windows": Opt(WINDOWS),
        "serving": Map(
            Obj(
                {
                    "ok": Count(),
                    "failed": Count(),
                    "error_rate": Num(),
                    "throughput_rps": Num(),
                    "by_status": COUNTS,
                    "latency_ms": LADDER,
                },
                ("ok", "failed", "error_rate", "throughput_rps"),
            )
        ),
        "stages": Obj(
            {
                "stages": List(
                    Obj(
                        {
                            "stage": Int(),
                            "offered": Num(),
                            "sent": Count(),
                            "ok": Count(),
                            "not_sent": Num(),
                            "not_sent_share": OPT_NUM,
                        },
                        ("stage", "offered", "sent", "ok", "not_sent", "not_sent_share"),
                    )
                ),
                "per_second": List(
                    Obj({"second": Int(), "offered": Num(), "sent": Count(), "ok": Count()}, ("second", "sent"))
                ),
            },
            ("stages", "per_second"),
        ),
        "merged_from": TEXTS,
        "merged_modes": TEXTS,
        "merged_as": Str(),
        "notes": TEXTS,
        "matrix": List(Map()),
        "node": Opt(Obj({"rank": Int(), "host": Str()})),
        "nodes": List(
            Obj(
                {
                    "rank": Int(),
                    "host": Str(),
                    "share": Opt(Map()),
                    "ok": Count(),
                    "failed": Count(),
                    "start_offset_s": Num(),
                    "valid": Bool(),
                    "reasons": TEXTS,
                },
                ("ok", "failed", "start_offset_s", "valid", "reasons"),
            )
        ),
        "start_spread_s": Num(),
        "start_spread_bound_s": Num(),
    },
    ("schema", "started_at", "wall_s", "mode", "requests", "error_rate", "throughput_rps"),
)


def read_report(path: Path) -> Report:
    """A report written by moetui, checked against REPORT.

    Raises:
        ReportError: Not readable, larger than MAX_REPORT_BYTES, not UTF-8 JSON, nested deeper than
            MAX_DEPTH, not a moetui report, or a field of the wrong kind (each named, with what was expected).
    """
    try:
        with path.expanduser().open("rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ReportError(f"{path}: not readable ({exc.strerror or exc})") from None
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError(f"{path}: larger than {MAX_REPORT_BYTES >> 20} MB; not a moetui report")
    try:
        report = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not a JSON report (not UTF-8 text: byte {exc.start})") from None
    except RecursionError:
        raise ReportError(f"{path}: not a moetui report (nested deeper than {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # json.JSONDecodeError, and integers of more than 4,300 digits
        raise ReportError(f"{path}: not a JSON report ({exc})") from None
    if depth(report) > MAX_DEPTH:
        raise ReportError(f"{path}: not a moetui report (nested deeper than {MAX_DEPTH} levels)")
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise ReportError(f"{path}: not a moetui report (schema {SCHEMA!r} expected)")
    found = problems(report, REPORT)
    if found:
        raise ReportError(f"{path}: not a report moetui can read:\n  " + "\n  ".join(found))
    return cast(Report, report)


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


def write_report(report: Mapping[str, object], path: Path) -> None:
    """A report (or a matrix run's report, which has its own schema) as indented JSON, written atomically
    (paths.write_atomic), so a crash or Ctrl-C never leaves half a report."""
    write_atomic(path, json.dumps(report, indent=2) + "\n")

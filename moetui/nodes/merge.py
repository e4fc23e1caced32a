"""The launchers' end: the node reports in the output folder merged into one report and judged with the
configuration the nodes ran (moetui.nodes.local and moetui.nodes.job both end here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from moetui.config.schema import Config
from moetui.errors import ExitStatus
from moetui.nodes.barrier import START_SPREAD_BOUND_S
from moetui.nodes.env import NodeError
from moetui.nodes.node import ERROR_NAME, REPORT_NAME
from moetui.report.codec import read_report
from moetui.report.json_report import merge_reports
from moetui.report.judge import judge
from moetui.report.model import Generator, NodeRow, Report


def read_node_reports(output_dir: Path, nodes: int) -> list[Report]:
    """The nodes' reports, node 0 first.

    Raises:
        NodeError: A node wrote no report (its error file's message when it left one).
    """
    reports, missing = [], []
    for rank in range(nodes):
        path = output_dir / REPORT_NAME.format(rank=rank)
        if path.is_file():
            reports.append(read_report(path))
            continue
        error = output_dir / ERROR_NAME.format(rank=rank)
        missing.append(
            f"node {rank}: {error.read_text().strip()}" if error.is_file() else f"node {rank} wrote no report"
        )
    if missing:
        raise NodeError("; ".join(missing))
    return reports


def judging_config(path: Path | None, overrides: Sequence[str], profiler_env: Mapping[str, str] | None) -> Config:
    """The configuration the nodes run, as the launcher reads it to judge their merged report."""
    from moetui.config.load import load_config

    layer = None
    if profiler_env is not None:
        from moetui.config.profiler_env import read_profiler_env

        names_target = path is not None or any(o.strip().startswith("target.") for o in overrides)
        layer = read_profiler_env(profiler_env, needs_target=not names_target).layer
    return load_config(path, overrides, layer=layer)


def merged_node_report(config: Config, output_dir: Path, nodes: int, *, interrupted: bool = False) -> Report:
    """The node reports in `output_dir` merged and judged with `config` (both launchers end here).

    Raises:
        NodeError: A node left no report (named, with its error).
    """
    reports = read_node_reports(output_dir, nodes)
    merged = merge_node_reports(reports, [f"node {rank}" for rank in range(nodes)], config)
    if interrupted:
        merged["interrupted"] = True
        merged["exit_status"] = int(ExitStatus.INTERRUPTED)
    return merged


def _started(report: Mapping[str, Any]) -> float:
    return datetime.fromisoformat(str(report["started_at"])).timestamp()


def merge_node_reports(reports: Sequence[Mapping[str, Any]], sources: Sequence[str], config: Config) -> Report:
    """One report from the nodes' reports (moetui.report.json_report.merge_reports: histograms added
    exactly, counts summed, per-second rows aligned on wall-clock time), with every node named (host,
    share, health), the generator valid only when every node's was, and the configuration's thresholds
    judged on the merged numbers."""
    merged = merge_reports(reports, sources)
    first = reports[0]
    starts = [_started(r) for r in reports]
    rows: list[dict[str, Any]] = [
        {
            **(r.get("node") or {"rank": i}),
            "started_at": r["started_at"],
            "start_offset_s": round(start - min(starts), 6),
            "ok": r["requests"]["ok"],
            "failed": r["requests"]["failed"],
            "throughput_rps": r["throughput_rps"],
            "valid": bool(r.get("valid", True)),
            "reasons": list((r.get("generator") or {}).get("reasons", [])),
            "interrupted": bool(r.get("interrupted")),
        }
        for i, (r, start) in enumerate(zip(reports, starts, strict=True))
    ]
    merged["nodes"] = cast(list[NodeRow], rows)
    merged["start_spread_s"] = round(max(starts) - min(starts), 6)
    merged["start_spread_bound_s"] = START_SPREAD_BOUND_S
    merged["interrupted"] = any(node["interrupted"] for node in merged["nodes"])
    merged["measured_s"] = max(float(r.get("measured_s", r["wall_s"])) for r in reports)
    for key in ("config", "target", "request_timeout_s"):
        merged[key] = first.get(key)
    reasons = [f"node {n['rank']}: {reason}" for n in merged["nodes"] for reason in n["reasons"]]
    invalid = [n for n in merged["nodes"] if not n["valid"]]
    reasons += [f"node {n['rank']} ({n.get('host', '?')}) could not keep up" for n in invalid if not n["reasons"]]
    generators = [r.get("generator") or {} for r in reports]

    def worst(key: str) -> float | None:
        values = [float(g[key]) for g in generators if g.get(key) is not None]
        return max(values) if values else None

    # Not yet every key of a run's generator block (remedy, process_cpu, the machine's): readers take those
    # as absent.
    busiest: dict[str, Any] = {
        # The busiest node's figures: each node is its own machine, so lag, drift and CPU do not add up.
        "loop_lag_p99_ms": worst("loop_lag_p99_ms"),
        "loop_lag_max_ms": worst("loop_lag_max_ms"),
        "drift_p99_ms": worst("drift_p99_ms"),
        "cpu_share": worst("cpu_share") or 0.0,
        "send_rate_share": worst("send_rate_share"),
        "header_refreshes": sum(int(g.get("header_refreshes", 0)) for g in generators),
        "header_refresh_failures": sum(int(g.get("header_refresh_failures", 0)) for g in generators),
        "valid": not invalid,
        "reasons": reasons,
        "notes": [
            f"node {n.get('rank')}: {note}"
            for r, n in zip(reports, merged["nodes"], strict=True)
            for note in (r.get("generator") or {}).get("notes", [])
        ],
        "nodes": len(reports),
        "workers": sum(int((r.get("generator") or {}).get("workers", 1)) for r in reports),
    }
    merged["generator"] = cast(Generator, busiest)
    # The one judge of every report (moetui.report.judge), on the merged histograms.
    judge(merged, config.thresholds).write_into(merged)
    return merged

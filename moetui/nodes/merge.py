"""The launchers' end: the node reports in the output folder merged into one report and judged with the
configuration the nodes ran (moetui.nodes.local and moetui.nodes.job both end here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moetui.config.schema import Config
from moetui.errors import ExitStatus
from moetui.nodes.barrier import START_SPREAD_BOUND_S
from moetui.nodes.env import NodeError
from moetui.nodes.node import ERROR_NAME, REPORT_NAME
from moetui.report.codec import read_report
from moetui.report.merge import merge_reports
from moetui.report.model import Report


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


def merge_node_reports(reports: Sequence[Mapping[str, Any]], sources: Sequence[str], config: Config) -> Report:
    """One report from the nodes' reports (moetui.report.merge.merge_reports: histograms added exactly, counts
    summed, every block merged or noted, every node named in `nodes`), the configuration's thresholds judged
    on the merged numbers by the one judge."""
    merged = merge_reports(reports, sources, thresholds=config.thresholds)
    merged["start_spread_bound_s"] = START_SPREAD_BOUND_S
    return merged

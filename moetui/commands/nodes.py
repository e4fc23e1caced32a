"""`--nodes N --local-nodes` and `--on-azure`'s printing: the merged report a launcher returns (moetui.nodes.local,
moetui.nodes.job) printed as a summary with the nodes, written to --report, and its exit status. Imports
neither textual nor azure.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from moetui.errors import ConfigError, ExitStatus
from moetui.nodes.local import run_local_nodes
from moetui.nodes.node import REPORT_NAME
from moetui.paths import export_path
from moetui.redact import printable
from moetui.report.codec import check_report_path, write_report
from moetui.report.model import Report
from moetui.report.summary import format_summary


async def local_nodes(
    path: Path | None,
    nodes: int,
    *,
    report_path: Path | None = None,
    overrides: Sequence[str] = (),
    profiler_env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    progress_interval_s: float = 1.0,
) -> int:
    """`--nodes N --local-nodes`: the nodes' output folder beside --report (checked before anything starts),
    the launcher's lines on stderr, its merged report printed and written; return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr

    def say(line: str) -> None:
        err.write(printable(line) + "\n")  # a start-up line may quote a child's log
        err.flush()

    if report_path is not None and (why := check_report_path(report_path)) is not None:
        raise ConfigError(f"--report: the report cannot be written there: {why}.")
    nodes_dir = (
        report_path.with_name(report_path.name + ".nodes")
        if report_path is not None
        else export_path("moetui-nodes", "")
    )
    if (why := check_report_path(nodes_dir / REPORT_NAME.format(rank=0))) is not None:
        raise ConfigError(f"--report: the nodes' output folder {nodes_dir} cannot be written: {why}.")
    merged = await run_local_nodes(
        path,
        nodes,
        nodes_dir=nodes_dir,
        overrides=overrides,
        profiler_env=profiler_env,
        say=say,
        progress_interval_s=progress_interval_s,
    )
    return print_merged(merged, report_path, out)


def print_merged(merged: Report, report_path: Path | None, out: TextIO) -> int:
    """Print a merged report's summary and nodes, write it to `report_path`; return the exit status."""
    status = ExitStatus(merged["exit_status"])
    out.write(format_summary(merged) + "\n")
    out.write(printable("\n".join(nodes_lines(merged))) + "\n")
    if report_path is not None:
        try:
            write_report(merged, report_path)
            out.write(f"report: {report_path}\n")
        except OSError as exc:
            out.write(f"moetui: the report could not be written to {report_path}: {exc.strerror or exc}\n")
            status = ExitStatus.REPORT_NOT_WRITTEN
    out.write(status.line + "\n")
    out.flush()
    return status


def nodes_lines(report: Report) -> list[str]:
    """The summary's lines about the nodes: each one's host, share, start offset and health."""
    nodes = report.get("nodes") or []
    if not nodes:
        return []
    lines = [
        f"nodes        {len(nodes)}, started within {report['start_spread_s'] * 1000:,.1f} ms of each other "
        f"(bound {report['start_spread_bound_s'] * 1000:g} ms on one clock)"
    ]
    for node in nodes:
        share = node.get("share") or {}
        parts = ", ".join(
            f"{key} {value:g}"
            for key, value in share.items()
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "workers"
        )
        health = "ok" if node["valid"] else "INVALID: " + "; ".join(node["reasons"] or ["could not keep up"])
        lines.append(
            f"  node {node.get('rank')} {node.get('host', '?')}: {parts}; {node['ok']:,} ok, "
            f"{node['failed']:,} failed, +{node['start_offset_s'] * 1000:.1f} ms, {health}"
        )
    return lines

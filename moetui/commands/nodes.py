"""`--nodes N --local-nodes` and `--on-azure`'s printing: the merged report a launcher returns (moetui.nodes.local,
moetui.nodes.job) printed as a summary with the nodes, written once to --report or [output] report with the
[output] html, hgrm, junit and the nodes' request logs joined (the nodes write none of them), and its exit
status. Imports neither textual nor azure.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from moetui.engine.request_log import join_files
from moetui.errors import ConfigError, ExitStatus
from moetui.nodes.local import run_local_nodes
from moetui.nodes.merge import judging_config
from moetui.nodes.node import REPORT_NAME, REQUESTS_NAME
from moetui.paths import export_path
from moetui.redact import printable
from moetui.report.codec import check_report_path, write_report
from moetui.report.model import Report
from moetui.report.outputs import Outputs, config_outputs, write_outputs
from moetui.report.summary import format_summary


@dataclass(frozen=True)
class LauncherOutputs:
    """Where the launcher writes the merged run: --report or [output] report, the [output] files, the
    nodes' request logs joined into [output] requests, and the nodes' own output folder."""

    report: Path | None
    outputs: Outputs
    requests: Path | None
    nodes_dir: Path


def launcher_outputs(
    path: Path | None,
    report_path: Path | None,
    overrides: Sequence[str],
    profiler_env: Mapping[str, str] | None,
    default_nodes_dir: Path,
) -> LauncherOutputs:
    """The merged run's files, each checked before anything starts (the nodes write none of them).

    Raises:
        ConfigError: A file that cannot be written, naming the setting.
    """
    config = judging_config(path, overrides, profiler_env)
    base_dir = path.resolve().parent if path is not None else Path.cwd()
    source = str(path) if path is not None else "the configuration"
    origin = "--report"
    if report_path is None and config.output.report:
        if config.output.report == "-":
            raise ConfigError(f'{source}: output.report = "-" does not go with --nodes: give a file')
        report_path, origin = base_dir / Path(config.output.report).expanduser(), f"{source}: output.report"
    if report_path is not None and (why := check_report_path(report_path)) is not None:
        raise ConfigError(f"{origin}: the report cannot be written there: {why}.")
    outputs = config_outputs(config.output, base_dir)
    for name, where in outputs.paths():
        if (why := check_report_path(where)) is not None:
            raise ConfigError(f"{source}: output.{name}: cannot be written there: {why}.")
    requests = base_dir / Path(config.output.requests).expanduser() if config.output.requests else None
    if requests is not None and (why := check_report_path(requests)) is not None:
        raise ConfigError(f"{source}: output.requests: the request log cannot be written there: {why}.")
    nodes_dir = report_path.with_name(report_path.name + ".nodes") if report_path is not None else default_nodes_dir
    if (why := check_report_path(nodes_dir / REPORT_NAME.format(rank=0))) is not None:
        raise ConfigError(f"{origin}: the nodes' output folder {nodes_dir} cannot be written: {why}.")
    return LauncherOutputs(report_path, outputs, requests, nodes_dir)


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
    """`--nodes N --local-nodes`: the nodes' output folder beside the report (checked before anything starts),
    the launcher's lines on stderr, its merged report printed and written with the [output] files; return
    the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr

    def say(line: str) -> None:
        err.write(printable(line) + "\n")  # a start-up line may quote a child's log
        err.flush()

    where = launcher_outputs(path, report_path, overrides, profiler_env, export_path("moetui-nodes", ""))
    merged = await run_local_nodes(
        path,
        nodes,
        nodes_dir=where.nodes_dir,
        overrides=overrides,
        profiler_env=profiler_env,
        say=say,
        progress_interval_s=progress_interval_s,
    )
    return print_merged(merged, where, nodes, out)


def print_merged(merged: Report, where: LauncherOutputs, nodes: int, out: TextIO) -> int:
    """Print a merged report's summary and nodes, write it and the [output] files once, join the nodes'
    request logs; return the exit status."""
    status = ExitStatus(merged["exit_status"])
    out.write(format_summary(merged) + "\n")
    out.write(printable("\n".join(nodes_lines(merged))) + "\n")
    if where.report is not None:
        try:
            write_report(merged, where.report)
            out.write(f"report: {where.report}\n")
        except OSError as exc:
            out.write(f"moetui: the report could not be written to {where.report}: {exc.strerror or exc}\n")
            status = ExitStatus.REPORT_NOT_WRITTEN
    try:
        for line in write_outputs(merged, where.outputs):
            out.write(line + "\n")
    except OSError as exc:
        out.write(f"moetui: {exc.filename or 'an output file'} could not be written: {exc.strerror or exc}\n")
        status = ExitStatus.REPORT_NOT_WRITTEN
    if where.requests is not None:
        suffix = where.requests.suffix
        parts = [where.nodes_dir / REQUESTS_NAME.format(rank=rank, suffix=suffix) for rank in range(nodes)]
        if (why := join_files(where.requests, parts, headed=True)) is not None:
            out.write(f"moetui: {why}\n")
            status = ExitStatus.REPORT_NOT_WRITTEN
        else:
            out.write(f"requests: {where.requests}\n")
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

"""`moetui --run config.toml --on-azure [--compute NAME] [--nodes N]`: the run as an Azure ML command job
next to the endpoint, on N nodes (moetui.nodes.job builds, submits, follows, merges and judges it), then the same
summary, report and exit status as a local run. Its lines go to stderr; Ctrl-C or SIGTERM cancels the job.
Imported only with --on-azure: moetui.nodes.job reaches the Azure SDK.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from moetui.azure.clients import AzureClients
from moetui.commands.nodes import launcher_outputs, print_merged
from moetui.errors import ExitStatus
from moetui.nodes.job import DEFAULT_COMPUTE, POLL_S, Download, Logs, default_download, default_logs, run_job
from moetui.paths import export_path

__all__ = ["DEFAULT_COMPUTE", "run_on_azure"]


async def run_on_azure(
    path: Path | None,
    nodes: int,
    *,
    report_path: Path | None = None,
    overrides: Sequence[str] = (),
    profiler_env: Mapping[str, str] | None = None,
    compute: str | None = None,
    workspace: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clients: AzureClients | None = None,
    poll_s: float = POLL_S,
    download: Download = default_download,
    logs: Logs = default_logs,
) -> int:
    """Submit the run as an Azure ML command job, follow it, print its merged report's summary.

    Args:
        download: Fetches the job's `report` output folder (moetui.nodes.job.run_job's seam).
        logs: A failed job's log text (the same seam).

    Raises:
        MoetuiError: Bad input (before anything is sent), an Azure refusal, or a node that failed.
    """
    out = out or sys.stdout
    err = err or sys.stderr

    def say(line: str) -> None:
        err.write(line + "\n")
        err.flush()

    # The merged run's files, checked before anything is sent; without --report or [output] report the
    # merged report still lands in a file of its own (the job's only lasting result here).
    fallback = export_path("moetui-job-report", ".json")
    where = launcher_outputs(path, report_path, overrides, profiler_env, fallback.with_name(fallback.name + ".nodes"))
    if where.report is None:
        where = dataclasses.replace(where, report=fallback)
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    try:
        end = await run_job(
            path,
            nodes,
            nodes_dir=where.nodes_dir,
            overrides=overrides,
            profiler_env=profiler_env,
            compute=compute,
            workspace=workspace,
            clients=clients,
            poll_s=poll_s,
            download=download,
            logs=logs,
            say=say,
            stop=interrupted,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if end.merged is None:
        return ExitStatus.INTERRUPTED
    return print_merged(end.merged, where, nodes, out)

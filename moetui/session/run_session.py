"""A whole run as both front ends make it: open the configuration's target, run the load while a
watcher (progress line, snapshot shipping) runs beside it, then build the report and judge it.

The headless runner calls it in its own process, SessionProcess in the engine process. Imports neither
textual nor rich.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from moetui.config.schema import Config
from moetui.engine.plan import LoadPlan
from moetui.engine.run import Run, RunResult
from moetui.local_endpoint.usage import Sampler
from moetui.redact import shown_url
from moetui.report.build import build
from moetui.report.judge import Evaluation, judge
from moetui.report.model import Report
from moetui.session.compose import plan_from_config
from moetui.targets.base import ResolvedTarget
from moetui.targets.factory import target_for

Watcher = Callable[[Run], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class SessionResult:
    result: RunResult
    evaluation: Evaluation
    report: Report
    """The JSON report, without secrets."""
    target: ResolvedTarget


async def run_session(
    config: Config,
    base_dir: Path,
    *,
    on_progress: Callable[[str], None],
    watch: Watcher,
    snapshot_hz: float,
    refresh_headers: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None,
    refresh_s: float | None = None,
    shape_plan: Callable[[LoadPlan], LoadPlan] | None = None,
    before_load: Callable[[], Awaitable[None]] | None = None,
    local_processes: dict[str, int] | None = None,
) -> SessionResult:
    """Run `config` to its end (or until the Run is stopped).

    Args:
        config: What to run.
        base_dir: Where the config's relative paths start.
        on_progress: Receives start-up lines (the local endpoint starting, the target resolved).
        watch: Started with the Run before the load begins, cancelled when it ends.
        snapshot_hz: How often the Run builds a snapshot.
        refresh_headers: Fresh request headers from the resolved target's (a front end that holds the
            endpoint's token); otherwise the target's own refresh, if it has one.
        refresh_s: Seconds between refreshes (the Run's default when None).
        shape_plan: Turns the configuration's plan into the one to run (a node's share, moetui.nodes.share).
        before_load: Awaited once the target is open, just before the load starts (the nodes' barrier).
        local_processes: The processes (role -> PID) of the local endpoint that the config's URL reaches,
            started by a front end (the app's deployment screen): sampled as a [target.local] run's are,
            and the report says target kind "local", as the run's replay with [target.local] would.

    Raises:
        MoetuiError: The target cannot be resolved or started.
    """
    async with target_for(config, base_dir, on_progress=on_progress).open() as opened:
        target = replace(opened, kind="local", processes=local_processes) if local_processes else opened
        on_progress(f"{config.load.mode} load against {target.description or shown_url(target.url)}")
        plan = plan_from_config(config, target, base_dir)
        if shape_plan is not None:
            plan = shape_plan(plan)
        if before_load is not None:
            await before_load()
        run = Run(
            plan,
            capacity=target.capacity,
            snapshot_hz=snapshot_hz,
            refresh_headers=(
                partial(refresh_headers, target.headers) if refresh_headers is not None else target.refresh_headers
            ),
            refresh_s=refresh_s,
        )
        watcher = asyncio.create_task(watch(run))
        async with AsyncExitStack() as sampling:
            sampler = (
                await sampling.enter_async_context(Sampler(target.processes, target.cpus_per_instance))
                if target.processes
                else None
            )
            try:
                result = await run.run()
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        server_metrics = await fetch_server_metrics(target, result, on_progress)
    capacity = capacity_at_start(target, server_metrics)
    if capacity != target.capacity:
        on_progress(f"capacity during the run: {capacity} (the deployment said {target.capacity} when the run began)")
    processes = sampler.block() if sampler is not None else None
    report = build(
        result,
        config,
        target.public(),
        plan.request.timeout_s,
        capacity=capacity,
        server_metrics=server_metrics,
        processes=processes,
    )
    evaluation = judge(report, config.thresholds)
    evaluation.write_into(report)
    return SessionResult(result, evaluation, report, target)


def capacity_at_start(target: ResolvedTarget, server_metrics: dict[str, Any] | None) -> int | None:
    """The capacity in force when the load began: max_concurrent_requests_per_instance x the instance count
    Azure Monitor's DeploymentCapacity gave for the run's first minute (autoscale changes it; the count read
    when the target was resolved may be stale), else the target's own."""
    per_instance = target.max_concurrent_requests_per_instance
    changes = ((server_metrics or {}).get("capacity") or {}).get("changes") or []
    if per_instance is None or not changes or not isinstance(changes[0].get("instances"), int):
        return target.capacity
    return per_instance * int(changes[0]["instances"]) if changes[0]["instances"] > 0 else target.capacity


async def fetch_server_metrics(
    target: ResolvedTarget, result: RunResult, on_progress: Callable[[str], None]
) -> dict[str, Any] | None:
    """The target's server-side metrics over the run window, or None when it has none. Never raises: a
    failure (no permission, no network) is the block's `errors`, and the run and its report go on."""
    if target.server_metrics is None:
        return None
    end = result.started_at + timedelta(seconds=result.wall_s)
    on_progress("reading the server's metrics over the run window (Azure Monitor)")
    try:
        # A blocking SDK call: in a thread, so the loop (signals, a watcher) stays responsive.
        return await asyncio.to_thread(target.server_metrics, result.started_at, end)
    except Exception as exc:
        return {"metrics": {}, "errors": [f"the server's metrics could not be read ({type(exc).__name__}: {exc})"]}

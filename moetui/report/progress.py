"""A run's progress in one line, from the engine's snapshot: the headless run's stderr, the matrix's
progress lines (moetui.matrix.run) and the nodes' alike."""

from __future__ import annotations

from moetui.engine.snapshot import EngineSnapshot
from moetui.report.statuses import key_refused


def progress_line(snapshot: EngineSnapshot) -> str:
    """One line of progress: phase, time, requests, rate, p50/p99, errors, in flight."""
    elapsed = f"{snapshot.taken_at_s:5.1f}s"
    if snapshot.planned_s:
        elapsed += f"/{snapshot.planned_s:g}s"
    p = snapshot.percentiles_ms
    latency = f"p50 {p[50.0]:.1f} ms p99 {p[99.0]:.1f} ms" if p else "p50 - p99 -"
    step = f" level {snapshot.step_level:g}" if snapshot.step_level is not None else ""
    refused = key_refused(snapshot.ok, snapshot.statuses)
    return (
        f"[{snapshot.phase}{step}] {elapsed}  {snapshot.completed:,} done  {snapshot.last_second_rps:,.0f} ok/s  "
        f"{latency}  {snapshot.failed:,} failed  {snapshot.in_flight} in flight"
        + (f"  -- {refused}" if refused else "")
    )

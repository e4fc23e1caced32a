"""The one loop that watches a run's snapshots: every face that follows a run (the headless progress line,
the TUI's engine process shipping snapshots, the matrix's child and its progress lines) hands it what to do
with each new one. A snapshot is the engine's newest (Run.latest); one already seen is not handed again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from moetui.engine.run import Run
from moetui.engine.snapshot import EngineSnapshot


async def watch_snapshots(
    run: Run,
    every_s: float,
    on_snapshot: Callable[[EngineSnapshot], None],
    *,
    each_tick: Callable[[], None] | None = None,
) -> None:
    """Every `every_s` seconds, until cancelled (the session cancels its watch when the run ends), hand
    `on_snapshot` the run's newest snapshot when it is new.

    Args:
        each_tick: Called first on every tick, new snapshot or not (a front end's stop, read across a pipe).
    """
    last: EngineSnapshot | None = None
    while True:
        await asyncio.sleep(every_s)
        if each_tick is not None:
            each_tick()
        snapshot = run.latest()
        if snapshot is not last:
            last = snapshot
            on_snapshot(snapshot)

"""`closed` (as wrk): C connections, each sending its next request as soon as the last one is answered."""

from __future__ import annotations

import asyncio

from moetui.engine.modes.load import Load
from moetui.engine.transport import Lane


async def run_closed(load: Load, *, connections: int, duration_s: float, max_requests: int | None = None) -> None:
    """Run for `duration_s`, until `max_requests` are sent, or until `load.stop`."""
    budget = [max_requests if max_requests is not None else -1]
    lanes = [load.transport.lane() for _ in range(connections)]
    deadline = load.clock.now() + duration_s  # after the lanes exist: making httpx clients is not load

    async def lane_loop(lane: Lane) -> None:
        while not load.stop.is_set() and load.clock.now() < deadline and budget[0] != 0:
            budget[0] -= 1
            await load.send(lane)

    await asyncio.gather(*(lane_loop(lane) for lane in lanes))

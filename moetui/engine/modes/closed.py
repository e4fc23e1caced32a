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
        # The hot loop of the fastest mode: bound methods in locals, one call per step.
        stopped, now, send, next_body = load.stop.is_set, load.clock.now, lane.send, load.payloads.__next__
        begin, end = load.recorder.begin, load.recorder.end
        while not stopped() and budget[0] != 0:
            sent = now()
            if sent >= deadline:
                return
            budget[0] -= 1
            request_id = begin(sent)
            status, error, exec_ms = await send(next_body())
            end(request_id, sent, now(), status, error, exec_ms)

    await asyncio.gather(*(lane_loop(lane) for lane in lanes))

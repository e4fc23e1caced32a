"""`closed` (as wrk): C connections, each sending its next request as soon as the last one is answered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from moetui.engine.clock import Clock
from moetui.engine.recorder import Recorder
from moetui.engine.transport import Lane, Transport


async def run_closed(
    transport: Transport,
    payloads: Iterator[bytes],
    recorder: Recorder,
    clock: Clock,
    stop: asyncio.Event,
    *,
    connections: int,
    duration_s: float,
    max_requests: int | None = None,
) -> None:
    """Run for `duration_s`, until `max_requests` are sent, or until `stop`."""
    budget = [max_requests if max_requests is not None else -1]

    async def lane_loop(lane: Lane) -> None:
        while not stop.is_set() and clock.now() < deadline and budget[0] != 0:
            budget[0] -= 1
            body = next(payloads)
            sent = clock.now()
            request_id = recorder.begin(sent)
            status, error, exec_ms = await lane.send(body)
            recorder.end(request_id, sent, clock.now(), status, error, exec_ms)

    lanes = [transport.lane() for _ in range(connections)]
    deadline = clock.now() + duration_s  # after the lanes exist: making httpx clients is not load
    await asyncio.gather(*(lane_loop(lane) for lane in lanes))

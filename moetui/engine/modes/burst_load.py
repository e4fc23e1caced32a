"""`burst` as a load model of the engine: N requests released at the same moment, one connection
each, every request recorded (see burst.py for the stand-alone check that `moetui check` prints)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from moetui.engine.clock import Clock
from moetui.engine.recorder import Recorder
from moetui.engine.transport import Lane, Transport


async def run_burst_load(
    transport: Transport, payloads: Iterator[bytes], recorder: Recorder, clock: Clock, count: int
) -> None:
    """Send `count` requests at once; the transport's pool has room for all, so each gets a connection."""
    gate = asyncio.Event()

    async def one(lane: Lane, body: bytes) -> None:
        await gate.wait()
        sent = clock.now()
        request_id = recorder.begin(sent)
        status, error, exec_ms = await lane.send(body)
        recorder.end(request_id, sent, clock.now(), status, error, exec_ms)

    tasks = [asyncio.create_task(one(transport.lane(), next(payloads))) for _ in range(count)]
    await asyncio.sleep(0)  # every task reaches the gate, so all leave it in the same loop turn
    gate.set()
    await asyncio.gather(*tasks)

"""`burst` as a load model of the engine: N requests released at the same moment, one connection each,
every request recorded (the stand-alone check that `moetui check` prints is engine/burst_check.py)."""

from __future__ import annotations

import asyncio

from moetui.engine.modes.context import Load
from moetui.engine.transport import Lane


async def run_burst_load(load: Load, count: int) -> None:
    """Send `count` requests at once; the transport's pool has room for all, so each gets a connection."""
    gate = asyncio.Event()

    async def one(lane: Lane) -> None:
        await gate.wait()
        await load.send(lane)

    tasks = [asyncio.create_task(one(load.transport.lane())) for _ in range(count)]
    await asyncio.sleep(0)  # every task reaches the gate, so all leave it in the same loop turn
    gate.set()
    await asyncio.gather(*tasks)

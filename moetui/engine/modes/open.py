"""`open` (as wrk2 and LaBench): sends leave on a fixed timetable, whether or not answers came back.

Latency is recorded from the actual send and from the intended send (the timetable slot): a server
that stalls makes later requests wait in the timetable, and only the corrected latency shows that
(coordinated omission). At most `clients` requests are in flight; a send the cap holds back is counted
as late, its corrected latency still runs from its slot, and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque

from moetui.engine.modes.load import Load
from moetui.engine.transport import Lane

#: A send this close to its slot is on time; asyncio's timers are not finer than this anyway.
ON_TIME_S = 0.001


async def run_open(
    load: Load,
    *,
    rate: float,
    clients: int,
    duration_s: float,
    arrivals: str = "even",
    seed: int | None = None,
    max_requests: int | None = None,
) -> None:
    """Send `rate` requests per second for `duration_s`, until `max_requests` are sent, or until `load.stop`."""
    clock, recorder, stop = load.clock, load.recorder, load.stop
    idle: deque[Lane] = deque(load.transport.lane() for _ in range(clients))
    lane_freed = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()
    rng = random.Random(seed)

    async def one(lane: Lane, intended: float) -> None:
        await load.send(lane, intended)
        idle.append(lane)
        lane_freed.set()

    start = clock.now()  # after the lanes exist: making httpx clients takes time that is not load
    deadline = start + duration_s
    slot = start
    count = 0
    held = False  # behind the timetable because the cap was full
    while not stop.is_set() and slot < deadline and (max_requests is None or count < max_requests):
        wait = slot - clock.now()
        if wait > 0:
            await asyncio.sleep(wait)
        while not idle and not stop.is_set():
            held = True
            lane_freed.clear()
            await lane_freed.wait()
        if stop.is_set():
            break
        now = clock.now()
        if held and now - slot <= ON_TIME_S:
            held = False  # caught up with the timetable
        if held:
            recorder.late += 1
        else:
            recorder.drift(max(0.0, now - slot))
        task = asyncio.create_task(one(idle.popleft(), slot))
        pending.add(task)
        task.add_done_callback(pending.discard)
        count += 1
        slot = start + count / rate if arrivals == "even" else slot + rng.expovariate(rate)
    if pending:
        await asyncio.gather(*pending)

"""`open` (as wrk2 and LaBench): sends leave on a fixed timetable, whether or not answers came back.

Latency is recorded from the actual send and from the intended send (the timetable slot): a server
that stalls makes later requests wait in the timetable, and only the corrected latency shows that
(coordinated omission). At most `clients` requests are in flight; a send the cap holds back is counted
as late, and its corrected latency still runs from its slot.

Sends stop at the duration: the slots whose time came but that could not leave by then (every client
busy, or the generator behind) are counted as not sent, never sent afterwards. Requests in flight at
the deadline get `drain_s` (the request timeout) to be answered; the ones still out then are abandoned
and stay counted as in flight.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque

from moetui.engine.modes.context import Load
from moetui.engine.plan import LoadPlan
from moetui.engine.ramp import Schedule
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
    drain_s: float | None = None,
    schedule: Schedule | None = None,
) -> None:
    """Send `rate` requests per second for `duration_s`, until `max_requests` are sent, or until `load.stop`.

    Args:
        schedule: A ramped timetable ([[load.stages]]) that takes the place of `rate`; slots are its
            time_of(k), and the corrected latency runs from them.
        drain_s: After the last send, how long requests in flight may take before they are abandoned
            (None: as long as they take).
    """
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
    if schedule is not None:
        recorder.schedule = (start, schedule.stage_at)
    recorder.sending(start, started=True)
    deadline = start + duration_s
    slot = start
    count = 0
    arrived = 0.0  # a ramp's Poisson arrivals: the integral of the rate at the next slot
    if schedule is not None:
        slot = start + schedule.time_of(0)
    held = False  # behind the timetable because the cap was full
    while not stop.is_set() and slot < deadline and (max_requests is None or count < max_requests):
        now = clock.now()
        # uvloop rounds a timer's delay to whole ms on the clock of the loop iteration's start: a sleep can
        # end up to ~1 ms before its slot (measured: 22-26 % of sends early at 200-1,000 req/s). Sleep again
        # until the slot has come; what is left is under a ms, so this is a yield or two.
        while now < slot:
            await asyncio.sleep(slot - now)
            now = clock.now()
        if now >= deadline:
            break  # the generator was behind: this slot's time came, but only after the duration
        if not idle:
            held = True
            await _wait_for_lane(lane_freed, idle, stop, deadline - now)
            now = clock.now()
            if not idle or now >= deadline:
                break  # the duration ended while every client was busy
        if stop.is_set():
            break
        if held and now - slot <= ON_TIME_S:
            held = False  # caught up with the timetable
        if held:
            recorder.late += 1
        else:
            recorder.drift(now - slot)
        recorder.slot_sent(slot)
        task = asyncio.create_task(one(idle.popleft(), slot))
        pending.add(task)
        task.add_done_callback(pending.discard)
        count += 1
        if schedule is not None:
            arrived = count if arrivals == "even" else arrived + rng.expovariate(1.0)
            slot = start + schedule.time_of(arrived)
        else:
            slot = start + count / rate if arrivals == "even" else slot + rng.expovariate(rate)
    end = min(clock.now(), deadline)
    recorder.sending(end, started=False)
    if schedule is not None:
        recorder.not_sent += _due_ramped(schedule, slot, arrived, start, end, count, arrivals, max_requests)
    else:
        recorder.not_sent += _due(slot, start, end, count, rate, arrivals, max_requests)
    if pending:
        _, late = await asyncio.wait(set(pending), timeout=drain_s)
        for task in late:
            task.cancel()  # abandoned: its request stays counted as in flight
        await asyncio.gather(*late, return_exceptions=True)


async def _wait_for_lane(freed: asyncio.Event, idle: deque[Lane], stop: asyncio.Event, timeout_s: float) -> None:
    """Wait until a lane is idle, `stop` is set or `timeout_s` has passed."""
    try:
        async with asyncio.timeout(max(timeout_s, 0.0)):
            while not idle and not stop.is_set():
                freed.clear()
                await freed.wait()
    except TimeoutError:
        pass


def _due(slot: float, start: float, end: float, count: int, rate: float, arrivals: str, budget: int | None) -> int:
    """Timetable slots from `slot` (the next, unsent) up to `end`: sends that were due and never left."""
    if slot >= end or (budget is not None and count >= budget):
        return 0
    if arrivals == "even":
        # Slots are start + k / rate; the same float expression as the loop's, so the count matches it.
        due = math.ceil((end - start) * rate)
        while due > count and start + (due - 1) / rate >= end:
            due -= 1
        while start + due / rate < end:
            due += 1
        missing = due - count
    else:
        missing = 1 + int((end - slot) * rate)  # the next slot, then the expected Poisson count after it
    return max(0, missing if budget is None else min(missing, budget - count))


def _due_ramped(
    schedule: Schedule,
    slot: float,
    arrived: float,
    start: float,
    end: float,
    count: int,
    arrivals: str,
    budget: int | None,
) -> int:
    """_due for a ramped timetable: its slots from `slot` up to `end` that never left."""
    if slot >= end or (budget is not None and count >= budget):
        return 0
    if arrivals == "even":
        missing = schedule.due_before(end - start) - count
    else:
        missing = 1 + int(schedule.count_at(end - start) - arrived)
    return max(0, missing if budget is None else min(missing, budget - count))


async def run_open_plan(load: Load, plan: LoadPlan, duration_s: float) -> None:
    """Open mode with the plan's rate, clients, arrivals, seed and request cap, for `duration_s`."""
    await run_open(
        load,
        rate=plan.rate,
        clients=plan.clients,
        duration_s=duration_s,
        arrivals=plan.arrivals,
        seed=plan.seed,
        max_requests=plan.requests,
        # A request sent just before the deadline may take its whole timeout; none waits longer.
        drain_s=plan.request.timeout_s,
        schedule=Schedule(plan.stages, plan.stage_scale) if plan.stages else None,
    )

"""`closed` (as wrk): C connections, each sending its next request as soon as the last one is answered."""

from __future__ import annotations

import asyncio

from moetui.engine.modes.context import Load
from moetui.engine.transport import Lane


async def run_closed(load: Load, *, connections: int, duration_s: float, max_requests: int | None = None) -> None:
    """Run for `duration_s`, until `max_requests` are sent, or until `load.stop`.

    A request with no HTTP answer (refused, reset, ...) makes its lane back off (Load.back_off), so a
    lane whose sends fail at once still yields to the event loop; a target that never answered ends the
    run (Load.no_answer).
    """
    budget = [max_requests if max_requests is not None else -1]
    lanes = [load.transport.lane() for _ in range(connections)]
    deadline = load.clock.now() + duration_s  # after the lanes exist: making httpx clients is not load

    async def lane_loop(lane: Lane) -> None:
        # The hot loop of the fastest mode: bound methods in locals, one call per step.
        stopped, now, send, next_body = load.stop.is_set, load.clock.now, lane.send, load.payloads.__next__
        begin, end, ids = load.recorder.begin, load.recorder.end, load.ids.text
        reach = load.reach
        delay_s = 0.0
        first = True  # no answer on this lane yet: locals keep the hot path to two checks per request
        while not stopped() and budget[0] != 0:
            sent = now()
            if sent >= deadline:
                return
            budget[0] -= 1
            request_id = begin(sent)
            status, error, exec_ms, served = await send(next_body(), None, ids(request_id))
            done = now()
            end(request_id, sent, done, status, error, exec_ms, None, served)
            if status is None:
                load.no_answer(sent, done, error)
                delay_s = await load.back_off(delay_s)
            elif delay_s or first:
                delay_s = 0.0
                first = False
                reach.answered = True

    await asyncio.gather(*(lane_loop(lane) for lane in lanes))

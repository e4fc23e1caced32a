"""One load generator: runs a LoadPlan's load model (one module per mode under engine/modes/), records
every request, and hands a Delta to `emit` at a fixed rate. The same coroutine runs in the main process
or in a worker process."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from moetui.engine.clock import Clock, MonotonicClock
from moetui.engine.modes.burst import run_burst_load
from moetui.engine.modes.closed import run_closed
from moetui.engine.modes.context import Load
from moetui.engine.modes.open import run_open_plan
from moetui.engine.modes.steps import run_steps
from moetui.engine.plan import LoadPlan
from moetui.engine.recorder import Delta, Recorder, StreamingRecorder
from moetui.engine.request_log import open_request_log
from moetui.engine.streaming import StreamingTransport, StreamRecorder
from moetui.engine.transport import RequestIds, open_transport

#: Deltas per second: the display refreshes at most this often.
REFRESH_HZ = 5.0
#: The loop-lag probe's period: it measures how late the loop wakes a timer.
LAG_PROBE_S = 0.01


async def generate(
    plan: LoadPlan,
    emit: Callable[[Delta], None],
    stop: asyncio.Event,
    *,
    worker: int = 0,
    clock: Clock | None = None,
    refresh_hz: float = REFRESH_HZ,
    on_step: Callable[[int], None] | None = None,
    header_updates: asyncio.Queue[Mapping[str, str]] | None = None,
) -> None:
    """Run `plan` until done or `stop`, emitting a Delta every 1/refresh_hz seconds and a last one at the end.

    Args:
        plan: This generator's share of the load.
        emit: Receives each Delta (histograms as objects; encode them to cross a process boundary).
        stop: Set to end the load early; requests in flight are still answered or time out.
        worker: This generator's number.
        clock: The engine clock.
        refresh_hz: Deltas per second.
        on_step: Called with a sweep's step index as each step starts.
        header_updates: Request headers to send from now on (a refreshed token), as they come.
    """
    clock = clock or MonotonicClock()
    transport = open_transport(plan.request, plan.pool_size)  # before the clock starts: setup is not load
    # What exists before the load (modules, the app, the transport) is left out of the collector's full
    # passes during the run: a full pass over it held the loop 50-100 ms (send drift p99 90-110 ms in a
    # run of 100 sends at 100/s; 4-12 ms frozen). Unfrozen at the end, so it is collectable again.
    gc.freeze()
    started = clock.now()
    recent = None if plan.mode == "burst" else plan.recent_size
    ids = RequestIds()
    log = open_request_log(plan.request_log, worker, plan.workers, started, started + plan.warmup_s, ids)
    recorder_type = Recorder if plan.stream is None else StreamingRecorder
    recorder = recorder_type(worker, started, started + plan.warmup_s, recent, request_log=log)
    if plan.stream is not None:  # chosen once here: lanes that read streams, the rest of the engine as is
        recorder.streams = StreamRecorder(recorder.warmup_until, plan.stream.slo_ttft_ms, plan.stream.slo_tpot_ms)
        transport = StreamingTransport(transport, recorder.streams, clock, plan.stream)

    def take(finished: bool = False) -> Delta:
        body_bytes, bodies, body_max = transport.received.take()
        delta = recorder.take(clock.now(), finished=finished)
        return replace(delta, body_bytes=body_bytes, bodies=bodies, body_max=body_max)

    def flush() -> None:
        emit(take())

    async def emitter() -> None:
        while True:
            await asyncio.sleep(1 / refresh_hz)
            flush()

    async def lag_probe() -> None:
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds, so every lag read from
        # it sat on a whole millisecond and a p99 of 2.00 ms could never pass a 2 ms limit (the verdict
        # flipped between 8 and 16 connections at the same throughput).
        while True:
            before = time.perf_counter_ns()
            await asyncio.sleep(LAG_PROBE_S)
            recorder.loop_lag(max(0.0, (time.perf_counter_ns() - before) / 1e9 - LAG_PROBE_S))

    async def apply_headers(updates: asyncio.Queue[Mapping[str, str]]) -> None:
        while True:
            transport.set_headers(await updates.get())

    load = Load(transport, itertools.cycle(plan.payloads), recorder, clock, stop, ids=ids)
    helpers = [asyncio.create_task(emitter()), asyncio.create_task(lag_probe())]
    if header_updates is not None:
        helpers.append(asyncio.create_task(apply_headers(header_updates)))
    try:
        if plan.mode == "burst":
            await run_burst_load(load, plan.burst_size)
        elif plan.mode == "closed":
            await run_closed(load, connections=plan.connections, duration_s=plan.duration_s, max_requests=plan.requests)
        elif plan.mode == "open":
            await run_open_plan(load, plan, plan.duration_s)
        elif plan.mode == "steps":

            def start_step(index: int) -> None:
                flush()  # what came before belongs to the previous step
                recorder.step = index
                if on_step:
                    on_step(index)

            await run_steps(load, plan, start_step)
        else:
            raise ValueError(f"unknown load mode {plan.mode!r}")
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        # Closed first, so the last delta says whether its last flush failed (a full disk shows there).
        recorder.close_request_log()
        # Also when cancelled (a stop that could not wait for answers): what was recorded is kept.
        emit(take(finished=True))
        await transport.close()
        gc.unfreeze()

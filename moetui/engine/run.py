"""Run: the one object a front end touches. `run()` drives the load, `stop()` ends it early (from any
thread), `latest()` returns the newest EngineSnapshot (a reference read: no lock, no copy).

With `workers > 1` the generators run in processes of their own, each recording its own histograms and
sending compressed deltas over a pipe; this process merges them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moetui.aio import run_fast
from moetui.engine.aggregate import Aggregator
from moetui.engine.clock import Clock, MonotonicClock
from moetui.engine.generator import REFRESH_HZ, generate
from moetui.engine.plan import LoadPlan
from moetui.engine.recorder import Delta
from moetui.engine.snapshot import EngineSnapshot

#: After stop(), requests in flight get this long to be answered before they are abandoned.
STOP_GRACE_S = 2.0
#: Seconds a worker process may take to start (imports) before the run gives up.
WORKER_START_S = 60.0


@dataclass(frozen=True)
class RunResult:
    snapshot: EngineSnapshot
    """The final snapshot."""
    aggregator: Aggregator
    """Full histograms and series, for the report."""
    interrupted: bool
    started_at: datetime
    wall_s: float


class Run:
    """A load run.

    Args:
        plan: The load.
        capacity: max_concurrent_requests_per_instance x instance_count, when known.
        clock: The engine clock.
        snapshot_hz: Snapshots per second (a snapshot costs a few ms: keep it at a display's rate).
    """

    def __init__(
        self,
        plan: LoadPlan,
        *,
        capacity: int | None = None,
        clock: Clock | None = None,
        snapshot_hz: float = REFRESH_HZ,
    ) -> None:
        self.plan = plan
        self._clock = clock or MonotonicClock()
        self._snapshot_hz = snapshot_hz
        self.aggregator = Aggregator(
            plan.mode,
            workers=plan.workers,
            planned_s=plan.planned_s,
            target_rate=plan.rate if plan.mode == "open" else None,
            capacity=capacity,
            recent_size=None if plan.mode == "burst" else plan.recent_size,
            levels=plan.steps_levels if plan.mode == "steps" else (),
            warmup_s=plan.warmup_s,
        )
        self._latest = self.aggregator.snapshot(0.0, "starting")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._started = 0.0
        self._step_level: float | None = None

    def latest(self) -> EngineSnapshot:
        """The newest snapshot; safe from any thread."""
        return self._latest

    def stop(self) -> None:
        """End the load early; safe from any thread and from signal handlers."""
        self._stop_requested = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def _phase(self, now_s: float) -> str:
        if self._stop_requested:
            return "stopping"
        return "warmup" if now_s < self.plan.warmup_s else "running"

    def _publish(self, phase: str | None = None) -> None:
        now_s = self._clock.now() - self._started
        self._latest = self.aggregator.snapshot(now_s, phase or self._phase(now_s), self._step_level)

    def _on_step(self, index: int) -> None:
        self._step_level = self.plan.steps_levels[index]

    async def run(self) -> RunResult:
        """Drive the load to its end (or until stop()); return the result."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        started_at = datetime.now(UTC)
        self._started = self._clock.now()

        async def publisher() -> None:
            while True:
                await asyncio.sleep(1 / self._snapshot_hz)
                self._publish()

        publishing = asyncio.create_task(publisher())
        try:
            if self.plan.workers == 1:
                await self._run_here()
            else:
                await self._run_in_processes()
        finally:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
        self.aggregator.finish()
        wall_s = self._clock.now() - self._started
        self._publish("done")
        return RunResult(self._latest, self.aggregator, self._stop_requested, started_at, wall_s)

    async def _run_here(self) -> None:
        assert self._stop is not None
        task = asyncio.create_task(
            generate(self.plan, self.aggregator.add, self._stop, clock=self._clock, on_step=self._on_step)
        )
        await _finish_within_grace(task, self._stop)

    async def _run_in_processes(self) -> None:
        assert self._stop is not None and self._loop is not None
        context = multiprocessing.get_context("spawn")  # fork would copy this process's loop and threads
        go = context.Event()
        stop = context.Event()
        pipes = []
        processes = []
        for worker in range(self.plan.workers):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_main,
                args=(self.plan.share(worker), worker, sender, go, stop),
                name=f"moetui-generator-{worker}",
                daemon=True,
            )
            process.start()
            sender.close()
            pipes.append(receiver)
            processes.append(process)
        finished: set[int] = set()
        try:
            await self._wait_ready(pipes)
            self._started = self._clock.now()
            go.set()
            done = asyncio.Event()

            def on_readable(index: int, pipe: multiprocessing.connection.Connection) -> None:
                try:
                    delta: Delta = pipe.recv()
                except EOFError:
                    delta = None  # type: ignore[assignment]
                if delta is None or delta.finished:
                    finished.add(index)
                    assert self._loop is not None
                    self._loop.remove_reader(pipe.fileno())
                    if len(finished) == len(pipes):
                        done.set()
                if delta is not None:
                    self.aggregator.add(delta)

            for index, pipe in enumerate(pipes):
                self._loop.add_reader(pipe.fileno(), on_readable, index, pipe)
            stopper = asyncio.create_task(self._stop.wait())
            waiter = asyncio.create_task(done.wait())
            await asyncio.wait({stopper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not done.is_set():
                stop.set()
                await asyncio.wait({waiter}, timeout=STOP_GRACE_S + 1)
            stopper.cancel()
            waiter.cancel()
        finally:
            stop.set()
            for index, pipe in enumerate(pipes):
                if index not in finished:
                    self._loop.remove_reader(pipe.fileno())
                pipe.close()
            for process in processes:
                process.join(timeout=STOP_GRACE_S + 1)
                if process.is_alive():
                    process.kill()
                    process.join()

    async def _wait_ready(self, pipes: list[multiprocessing.connection.Connection]) -> None:
        deadline = time.monotonic() + WORKER_START_S
        for pipe in pipes:
            while not pipe.poll():
                if time.monotonic() > deadline:
                    raise RuntimeError("a generator process did not start")
                await asyncio.sleep(0.01)
            try:
                ready = pipe.recv()
            except EOFError:
                ready = None
            if ready != "ready":
                raise RuntimeError("a generator process exited before it was ready")


async def _finish_within_grace(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Await `task`; once `stop` is set, give it STOP_GRACE_S to finish, then cancel it."""
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=STOP_GRACE_S)
            if not task.done():
                task.cancel()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        if isinstance(outcome, Exception):
            raise outcome
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()


def _worker_main(
    plan: LoadPlan,
    worker: int,
    pipe: multiprocessing.connection.Connection,
    go: Any,
    stop: Any,
) -> None:
    """A generator process: wait for the common start, run, send encoded deltas, exit."""

    async def main() -> None:
        stop_event = asyncio.Event()

        async def watch_stop() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            stop_event.set()

        watcher = asyncio.create_task(watch_stop())
        task = asyncio.create_task(generate(plan, lambda delta: pipe.send(delta.encoded()), stop_event, worker=worker))
        await _finish_within_grace(task, stop_event)
        watcher.cancel()

    pipe.send("ready")
    go.wait()
    run_fast(main())
    pipe.close()

"""Run: the one object a front end touches. `run()` drives the load, `stop()` ends it early (from any
thread), `latest()` returns the newest EngineSnapshot (a reference read: no lock, no copy).

With `workers > 1` the generators run in processes of their own, each recording its own histograms and
sending compressed deltas over a pipe; this process merges them.

A target whose headers expire (a token) gives `refresh_headers`: the Run calls it every `refresh_s` in a
thread and hands headers that changed to the generators (over the same pipe to worker processes), whose
transports send them from the next request on.

Worker processes leave signals to this process: they ignore SIGINT (a terminal's Ctrl-C reaches the whole
process group; this process stops them and still reports), treat SIGTERM as a stop, and die with this
process (the parent-death signal, a getppid check, and EOF on their pipe), so a `kill -9` of moetui
never leaves load running.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from moetui import lifeline
from moetui.aio import run_fast
from moetui.engine.aggregate import Aggregator
from moetui.engine.clock import Clock, MonotonicClock
from moetui.engine.generator import REFRESH_HZ, generate
from moetui.engine.plan import LoadPlan
from moetui.engine.recorder import Delta
from moetui.engine.request_log import join_parts
from moetui.engine.snapshot import EngineSnapshot

#: After stop(), requests in flight get this long to be answered before they are abandoned.
STOP_GRACE_S = 2.0
#: Seconds a worker process may take to start (imports) before the run gives up.
WORKER_START_S = 60.0
#: How often a run asks its target for fresh request headers (the target refetches a token close to expiry).
HEADER_REFRESH_S = 60.0


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
        refresh_headers: Returns the request headers to send from now on (a token refreshed before it
            expires); called every `refresh_s` seconds in a thread, so it may block. A failure is counted
            in the health, never fails the run; the requests keep the headers they had.
        refresh_s: Seconds between refresh_headers calls (HEADER_REFRESH_S when None).
    """

    def __init__(
        self,
        plan: LoadPlan,
        *,
        capacity: int | None = None,
        clock: Clock | None = None,
        snapshot_hz: float = REFRESH_HZ,
        refresh_headers: Callable[[], Mapping[str, str]] | None = None,
        refresh_s: float | None = None,
    ) -> None:
        self.plan = plan
        self._refresh_headers = refresh_headers
        self._refresh_s = HEADER_REFRESH_S if refresh_s is None else refresh_s
        self._clock = clock or MonotonicClock()
        self._snapshot_hz = snapshot_hz
        self.aggregator = Aggregator(
            plan.mode,
            workers=plan.workers,
            planned_s=plan.planned_s,
            target_rate=plan.rate if plan.mode == "open" else None,
            capacity=capacity,
            clients=plan.clients if plan.timetable else None,
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

    async def _refresh(self, deliver: Callable[[dict[str, str]], None]) -> None:
        """Ask for fresh headers every refresh_s; hand the ones that changed to `deliver`."""
        assert self._refresh_headers is not None
        current = dict(self.plan.request.headers)
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                headers = dict(await asyncio.to_thread(self._refresh_headers))  # may block on the network
            except Exception as exc:
                self.aggregator.header_refresh_failures += 1
                self.aggregator.header_refresh_error = _without_secrets(f"{type(exc).__name__}: {exc}", current)
                continue
            if headers != current:
                current = headers
                deliver(headers)
                self.aggregator.header_refreshes += 1

    async def _run_here(self) -> None:
        assert self._stop is not None
        updates: asyncio.Queue[Mapping[str, str]] | None = None if self._refresh_headers is None else asyncio.Queue()
        task = asyncio.create_task(
            generate(
                self.plan,
                self.aggregator.add,
                self._stop,
                clock=self._clock,
                on_step=self._on_step,
                header_updates=updates,
            )
        )
        refresher = None if updates is None else asyncio.create_task(self._refresh(updates.put_nowait))
        try:
            await _finish_within_grace(task, self._stop)
        finally:
            await _cancel(refresher)

    async def _run_in_processes(self) -> None:
        assert self._stop is not None and self._loop is not None
        context = multiprocessing.get_context("spawn")  # fork would copy this process's loop and threads
        go = context.Event()
        stop = context.Event()
        pipes = []
        processes = []
        # Blocked while they start, the child inherits the mask: a Ctrl-C during its imports cannot
        # raise there (4 tracebacks with workers = 4); it ignores SIGINT before it unblocks.
        with lifeline.signals_blocked(signal.SIGINT, signal.SIGTERM):
            for worker in range(self.plan.workers):
                receiver, sender = context.Pipe()  # duplex: deltas come back, refreshed headers go out
                process = context.Process(
                    target=_worker_main,
                    args=(self.plan.share(worker), worker, sender, go, stop, os.getpid()),
                    name=f"moetui-generator-{worker}",
                    daemon=True,
                )
                process.start()
                sender.close()
                pipes.append(receiver)
                processes.append(process)
        finished: set[int] = set()

        def deliver(headers: dict[str, str]) -> None:
            for index, pipe in enumerate(pipes):
                if index not in finished:
                    try:
                        pipe.send(("headers", headers))
                    except OSError:
                        pass  # the worker is gone: its end is read as such

        refresher = None if self._refresh_headers is None else asyncio.create_task(self._refresh(deliver))
        try:
            if not await self._wait_ready(pipes):
                return  # stopped while the workers started: no load was sent
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
            await _cancel(refresher)
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
            if self.plan.request_log is not None:  # each process wrote its own part (see request_log)
                join_parts(self.plan.request_log, self.plan.workers)

    async def _wait_ready(self, pipes: list[multiprocessing.connection.Connection]) -> bool:
        """Wait until every worker has started; False when stop() came first (Ctrl-C during start-up)."""
        deadline = time.monotonic() + WORKER_START_S
        for pipe in pipes:
            while not pipe.poll():
                if self._stop_requested:
                    return False
                if time.monotonic() > deadline:
                    raise RuntimeError("a generator process did not start")
                await asyncio.sleep(0.01)
            try:
                ready = pipe.recv()
            except EOFError:
                ready = None
            if ready != "ready":
                if self._stop_requested:
                    return False
                raise RuntimeError("a generator process exited before it was ready")
        return not self._stop_requested


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _without_secrets(text: str, headers: Mapping[str, str]) -> str:
    """`text` with the headers' values (and a Bearer token on its own) masked, shortened to one line."""
    for value in headers.values():
        for secret in (value, value.partition(" ")[2]):
            if len(secret) >= 8:
                text = text.replace(secret, "***")
    return " ".join(text.split())[:300]


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
    parent_pid: int,
) -> None:
    """A generator process: wait for the common start, run, send encoded deltas, apply the refreshed
    headers the run sends, exit. Stops on the run's `stop`, on SIGTERM, and at once when the parent is gone."""
    # Signals are the parent's to handle: it stops the workers and writes the partial report.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    terminated = False

    def on_sigterm(_signum: int, _frame: object) -> None:
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # blocked by the parent
    # Nobody reads a dead parent's results: SIGKILL is the quickest end to its load.
    lifeline.die_with_parent(parent_pid, signal.SIGKILL)

    def orphaned() -> NoReturn:
        os._exit(1)  # the parent is gone: stop the load now, nothing is left to report to

    async def main() -> None:
        stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop_event.set)
        if terminated:
            stop_event.set()
        updates: asyncio.Queue[Mapping[str, str]] = asyncio.Queue()

        def on_message() -> None:
            try:
                kind, payload = pipe.recv()
            except (EOFError, OSError):
                orphaned()  # EOF: the run's end of the pipe is closed, so the run is gone
            if kind == "headers":
                updates.put_nowait(payload)

        async def watch_stop() -> None:
            while not stop.is_set():
                if not lifeline.parent_alive(parent_pid):
                    orphaned()
                await asyncio.sleep(0.05)
            stop_event.set()

        def send(delta: Delta) -> None:
            try:
                pipe.send(delta.encoded())
            except OSError:  # BrokenPipeError: the run is gone
                orphaned()

        watcher = asyncio.create_task(watch_stop())
        loop.add_reader(pipe.fileno(), on_message)
        task = asyncio.create_task(generate(plan, send, stop_event, worker=worker, header_updates=updates))
        try:
            await _finish_within_grace(task, stop_event)
        finally:
            loop.remove_reader(pipe.fileno())
            watcher.cancel()

    try:
        pipe.send("ready")
    except OSError:
        orphaned()
    while not go.wait(0.1):
        if stop.is_set() or terminated:
            pipe.close()  # stopped before the start: no load
            return
        if not lifeline.parent_alive(parent_pid):
            orphaned()
    run_fast(main())
    pipe.close()

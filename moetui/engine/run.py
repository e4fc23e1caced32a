"""Run: the one object a front end touches. `run()` drives the load, `stop()` ends it early (from any
thread), `latest()` returns the newest EngineSnapshot (a reference read: no lock, no copy).

With `workers > 1` the generators run in processes of their own (moetui.engine.workers), each recording
its own histograms and sending compressed deltas over a pipe; this process merges them.

A target whose headers expire (a token) gives `refresh_headers`: the Run calls it every `refresh_s` in a
thread and hands headers that changed to the generators (over the same pipe to worker processes), whose
transports send them from the next request on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from moetui.engine.aggregate import Aggregator
from moetui.engine.clock import Clock, MonotonicClock
from moetui.engine.generator import REFRESH_HZ, generate
from moetui.engine.machine import cpu_times
from moetui.engine.plan import LoadPlan
from moetui.engine.request_log import join_parts
from moetui.engine.snapshot import EngineSnapshot, Phase
from moetui.engine.workers import cancel_task, finish_within_grace, run_in_processes

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
            target_rate=plan.offered_rate if plan.mode == "open" else None,
            capacity=capacity,
            clients=plan.clients if plan.timetable else None,
            recent_size=None if plan.mode == "burst" else plan.recent_size,
            levels=plan.steps_levels if plan.mode == "steps" else (),
            warmup_s=plan.warmup_s,
            stream=plan.stream,
            machine=cpu_times,
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

    def _phase(self, now_s: float) -> Phase:
        if self._stop_requested:
            return "stopping"
        return "warmup" if now_s < self.plan.warmup_s else "running"

    def _publish(self, phase: Phase | None = None) -> None:
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
            await finish_within_grace(task, self._stop)
        finally:
            await cancel_task(refresher)

    async def _run_in_processes(self) -> None:
        assert self._stop is not None

        def started() -> None:
            self._started = self._clock.now()

        try:
            await run_in_processes(
                self.plan,
                self._stop,
                self.aggregator.add,
                lose=self.aggregator.lost.append,
                stop_requested=lambda: self._stop_requested,
                on_start=started,
                refresh=None if self._refresh_headers is None else self._refresh,
            )
        finally:
            if self.plan.request_log is not None:  # each process wrote its own part (see request_log)
                failed = join_parts(self.plan.request_log, self.plan.workers)
                self.aggregator.request_log_error = self.aggregator.request_log_error or failed


def _without_secrets(text: str, headers: Mapping[str, str]) -> str:
    """`text` with the headers' values (and a Bearer token on its own) masked, shortened to one line."""
    for value in headers.values():
        for secret in (value, value.partition(" ")[2]):
            if len(secret) >= 8:
                text = text.replace(secret, "***")
    return " ".join(text.split())[:300]

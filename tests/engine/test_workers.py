"""Worker processes against the real test server, on uvloop as a headless run uses it: every request a
worker sent is counted with a large ring of recent requests, and a worker that dies mid-run makes the run an
invalid measurement naming it, never a quiet undercount."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal

from moetui.aio import run_fast
from moetui.engine.run import Run, RunResult
from tests.engine.conftest import plan_for
from tests.http_server import FastServer


def test_every_request_of_two_workers_is_counted_with_a_ring_of_100_000(server: FastServer) -> None:
    """Each delta carries the requests since the last one: at recent_requests 1,000 and up they went over the
    pipe's buffer, and 3,802 of the server's 8,924 requests were reported, with exit 0."""
    plan = plan_for(server.url("/fast"), "closed", connections=8, duration_s=2.0, workers=2, recent_size=100_000)
    result = run_fast(Run(plan).run())
    snapshot = result.snapshot
    assert snapshot.sent > 100
    assert snapshot.sent == snapshot.completed == server.counts()["requests"]
    assert len(result.aggregator.recent) == snapshot.sent  # every request's record arrived too
    assert result.aggregator.lost == []


def test_a_worker_killed_mid_run_makes_the_run_invalid_and_says_which(server: FastServer) -> None:
    plan = plan_for(server.url("/sleep?ms=5"), "closed", connections=4, duration_s=3.0, workers=2)
    run = Run(plan)
    killed: list[int] = []

    def kill_worker_0() -> None:
        (worker,) = [child for child in multiprocessing.active_children() if child.name == "moetui-generator-0"]
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        killed.append(worker.pid)

    async def main() -> RunResult:
        async def killer() -> None:
            while run.latest().sent < 50:  # the load is under way
                await asyncio.sleep(0.05)
            kill_worker_0()

        task = asyncio.create_task(killer())
        try:
            return await run.run()
        finally:
            task.cancel()

    result = run_fast(main())
    assert killed
    health = result.snapshot.health
    assert not health.valid
    assert health.reasons[0] == (
        "generator process 0 sent no last delta (exit code -9): its counts since its previous delta are missing"
    )
    assert result.snapshot.sent <= server.counts()["requests"]  # short, never over

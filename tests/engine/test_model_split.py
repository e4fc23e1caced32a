"""Time in the model vs time outside it: x-ms-run-fn-exec-ms recorded per request, and elapsed minus exec
in the "outside" histogram, in one generator and merged from worker processes. Real server, real transport."""

from __future__ import annotations

from tests.engine.conftest import run_plan
from tests.http_server import FastServer


async def test_a_server_that_only_runs_the_model_has_little_outside(server: FastServer, client: str) -> None:
    result = await run_plan(server.url("/exec?ms=100"), "closed", connections=2, duration_s=1.2, client=client)
    snapshot = result.snapshot
    assert snapshot.ok >= 8
    assert snapshot.with_exec_time == snapshot.ok
    assert 95 <= snapshot.model_ms[50.0] <= 105  # the server says 100.000
    assert snapshot.outside_ms[50.0] < 40  # loopback and aiohttp: a few ms at most, generous on a busy box
    assert snapshot.percentiles_ms[50.0] >= snapshot.model_ms[50.0]


async def test_time_outside_the_model_is_what_the_server_added(server: FastServer) -> None:
    result = await run_plan(server.url("/exec?ms=100&outside_ms=60"), "closed", connections=2, duration_s=1.2)
    snapshot = result.snapshot
    assert snapshot.with_exec_time == snapshot.ok >= 6
    assert 95 <= snapshot.model_ms[50.0] <= 105
    assert 55 <= snapshot.outside_ms[50.0] <= 120
    assert snapshot.percentiles_ms[50.0] >= 155


async def test_no_header_no_split(server: FastServer) -> None:
    result = await run_plan(server.url("/fast"), "closed", connections=2, requests=50, duration_s=5)
    snapshot = result.snapshot
    assert snapshot.ok == 50
    assert snapshot.with_exec_time == 0 and snapshot.model_ms == {} and snapshot.outside_ms == {}


async def test_worker_processes_ship_the_outside_histogram(server: FastServer) -> None:
    result = await run_plan(
        server.url("/exec?ms=30&outside_ms=20"), "open", rate=60, clients=10, duration_s=1.5, workers=2
    )
    snapshot = result.snapshot
    assert snapshot.ok >= 60
    assert result.aggregator.totals["outside"].get_total_count() == snapshot.ok == snapshot.with_exec_time
    assert 25 <= snapshot.model_ms[50.0] <= 35
    assert 15 <= snapshot.outside_ms[50.0] <= 80

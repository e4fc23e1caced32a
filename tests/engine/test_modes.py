"""Each load model against a real server on 127.0.0.1: counts match what the server saw, rates hold,
stalls show where they should. Time bounds are generous: the machine is shared and noisy."""

from __future__ import annotations

import pytest

from tests.engine.conftest import run_plan
from tests.http_server import FastServer


async def test_closed_counts_match_the_server(server: FastServer, client: str) -> None:
    result = await run_plan(server.url("/fast"), "closed", connections=8, duration_s=1.5, client=client)
    seen = server.counts()
    snapshot = result.snapshot
    assert snapshot.ok > 100
    assert snapshot.sent == snapshot.completed == snapshot.ok == seen["requests"]
    assert seen["connections"] == 8  # kept alive: one connection per lane for the whole run
    assert snapshot.statuses == {200: snapshot.ok}
    assert 1.3 < result.wall_s < 4
    assert snapshot.percentiles_ms[50.0] <= snapshot.percentiles_ms[99.0] <= snapshot.percentiles_ms[100.0]


async def test_closed_stops_at_the_request_budget(server: FastServer) -> None:
    result = await run_plan(server.url("/fast"), "closed", connections=4, duration_s=30, requests=101)
    assert result.snapshot.sent == server.counts()["requests"] == 101
    assert result.wall_s < 10


@pytest.mark.serial  # send drift p99 under 10 ms
async def test_open_holds_its_rate(server: FastServer, client: str) -> None:
    result = await run_plan(server.url("/fast"), "open", rate=200, clients=20, duration_s=3.0, client=client)
    snapshot = result.snapshot
    assert server.counts()["requests"] == snapshot.sent
    assert 0.95 * 600 <= snapshot.sent <= 601
    assert snapshot.late == 0
    assert snapshot.health.send_rate_share is not None and snapshot.health.send_rate_share > 0.95
    # Holding the timetable to 10 ms is the machine's (httpx with a CPU hog on one core drifted 11 ms); that a
    # slip past it is never passed as valid is the code's.
    drift_ms = snapshot.health.drift_p99_ms
    assert drift_ms is not None and (drift_ms < 10 or not snapshot.health.valid), snapshot.health


async def test_poisson_arrivals_average_the_rate(server: FastServer) -> None:
    result = await run_plan(
        server.url("/fast"), "open", rate=200, clients=20, duration_s=3.0, arrivals="poisson", seed=7
    )
    assert 450 <= result.snapshot.sent <= 750  # 600 expected; Poisson counts vary by about sqrt(600)


async def test_a_stall_shows_in_corrected_latency_only(server: FastServer) -> None:
    """wrk2's point: one stalled second holds the clients cap, later sends queue behind it, and only
    latency measured from the intended send shows what users waiting in line would have seen."""
    result = await run_plan(server.url("/stall-once?ms=1000"), "open", rate=100, clients=1, duration_s=3.0)
    snapshot = result.snapshot
    assert snapshot.late > 50  # about 100 sends were held back by the cap during the stall
    assert snapshot.percentiles_ms[90.0] < 100  # each request, once sent, was fast
    assert snapshot.corrected_ms[90.0] > 200  # but the ones behind the stall waited for their turn
    assert snapshot.percentiles_ms[100.0] > 900  # the stalled one itself
    assert snapshot.sent == server.counts()["requests"]


async def test_failures_are_counted_apart_from_answers(server: FastServer) -> None:
    result = await run_plan(server.url("/status/429"), "closed", connections=2, duration_s=0.5)
    snapshot = result.snapshot
    assert snapshot.ok == 0 and snapshot.failed == snapshot.completed > 0
    assert snapshot.statuses == {429: snapshot.failed}
    assert snapshot.percentiles_ms == {}  # a fast 429 never enters the latency of answers
    assert snapshot.failed_percentiles_ms


async def test_burst_keeps_every_request(server: FastServer) -> None:
    result = await run_plan(server.url("/exec?ms=300"), "burst", requests=5)
    records = list(result.aggregator.recent)
    assert len(records) == 5 and {r.status for r in records} == {200}
    assert max(r.sent_at_s for r in records) < 0.1
    assert all(0.29 < r.elapsed_s < 1.0 and r.exec_ms == 300 for r in records)
    assert server.counts()["connections"] == 5  # one connection each


async def test_steps_make_a_table_row_per_level(server: FastServer) -> None:
    result = await run_plan(
        server.url("/sleep?ms=20"), "steps", steps_levels=(1.0, 2.0, 4.0), step_duration_s=0.8, duration_s=1
    )
    steps = result.aggregator.steps
    assert [s.level for s in steps] == [1.0, 2.0, 4.0]
    assert steps[0].rps < steps[1].rps < steps[2].rps  # a sleeping server scales with connections
    assert sum(s.ok for s in steps) == result.snapshot.ok == server.counts()["requests"]


async def test_warmup_is_left_out_of_the_statistics(server: FastServer) -> None:
    result = await run_plan(server.url("/fast"), "open", rate=100, clients=10, duration_s=2.0, warmup_s=1.0)
    snapshot = result.snapshot
    assert 80 <= snapshot.warmup <= 110
    assert snapshot.warmup + snapshot.completed == server.counts()["requests"]
    assert 0.5 * 100 < snapshot.throughput_rps < 1.5 * 100


async def test_worker_processes_split_the_load_and_merge(server: FastServer) -> None:
    result = await run_plan(server.url("/fast"), "open", rate=300, clients=20, duration_s=2.0, workers=2)
    snapshot = result.snapshot
    assert 0.9 * 600 <= snapshot.sent <= 602
    assert snapshot.sent == snapshot.completed == server.counts()["requests"]
    assert snapshot.ok == snapshot.completed


async def test_an_unreachable_target_is_all_errors(unused_port: int) -> None:
    result = await run_plan(f"http://127.0.0.1:{unused_port}/score", "closed", connections=2, duration_s=0.5)
    snapshot = result.snapshot
    assert snapshot.statuses == {}
    assert set(snapshot.errors) == {"refused"}


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_httpx_speaks_http2_when_asked() -> None:
    """h2 is installed and wired: an HTTP/2 client against an HTTP/1.1-only server falls back cleanly."""
    from tests.http_server import serve_in_process

    with serve_in_process() as server:
        result = await run_plan(server.url("/fast"), "closed", connections=1, requests=5, client="httpx", http2=True)
    assert result.snapshot.statuses == {200: 5}

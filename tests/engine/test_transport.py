"""The transport against faults a real server produces: every attempt counted as the server saw it, one
error kind for one cause whichever client, dead targets given up on, lanes that fail at once still
yield, and big answers read without keeping them."""

from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any, get_args

import pytest

from moetui.config.schema import Config, LoadConfig, Thresholds
from moetui.engine.failures import CONNECT_KINDS, ERROR_MEANINGS, ErrorKind, classify
from moetui.engine.modes.context import NEVER_ANSWERED_S
from moetui.engine.run import Run
from moetui.errors import ExitStatus
from tests.engine.conftest import judged, plan_for, run_plan
from tests.helpers import failed_status
from tests.http_server import FastServer


def closed_config(**thresholds: float) -> Config:
    return Config(load=LoadConfig(mode="closed"), thresholds=Thresholds(**thresholds))


@pytest.mark.parametrize("method", ["POST", "GET", "PUT"])
async def test_every_attempt_is_counted_when_kept_alive_connections_are_reset(
    server: FastServer, client: str, method: str
) -> None:
    """aiohttp silently resent GET and PUT once on a reset kept-alive connection (the server saw more
    than the report); httpx called the same reset read_error."""
    # The budget, not the clock, ends it: 300 requests with a third reset took over 2 s on a loaded machine.
    plan = plan_for(server.url("/reset-every?n=3"), "closed", connections=4, requests=300, duration_s=60, client=client)
    plan = replace(plan, request=replace(plan.request, method=method))
    result = await Run(plan).run()
    snapshot = result.snapshot
    seen = server.counts()["requests"]
    assert snapshot.sent == snapshot.completed == seen == 300
    assert set(snapshot.errors) == {"reset"}
    assert snapshot.errors["reset"] == 100  # every third request the server saw
    assert snapshot.statuses == {200: 200}


def test_error_kinds_are_one_list_of_plain_strings() -> None:
    """ErrorKind names every kind a request can end in; each is a plain str, in a pickled Delta and in JSON."""
    kinds = get_args(ErrorKind)
    assert set(kinds) == set(ERROR_MEANINGS) and set(kinds) >= CONNECT_KINDS
    kind = pickle.loads(pickle.dumps(classify(TimeoutError())))
    assert type(kind) is str and json.dumps({kind: 1}) == '{"timeout": 1}'


@pytest.mark.parametrize(
    ("path", "kind"), [("/garbage", "protocol"), ("/half", "read_error"), ("/close", "disconnected")]
)
async def test_one_kind_for_one_cause_whichever_client(server: FastServer, client: str, path: str, kind: str) -> None:
    result = await run_plan(server.url(path), "closed", connections=2, requests=6, client=client)
    snapshot = result.snapshot
    assert snapshot.errors == {kind: 6} and snapshot.statuses == {}
    # The target was reached and answered badly: not "unreachable", and not a pass either.
    evaluation = judged(result, closed_config())
    assert not evaluation.unreachable
    assert evaluation.exit_status == failed_status(evaluation.valid)


async def test_a_closed_port_ends_the_run_in_seconds_with_few_attempts(unused_port: int, client: str) -> None:
    """It was hammered 16,235 times in 3 s at 104 % CPU until the duration (here 60 s) ended."""
    started = time.monotonic()
    result = await run_plan(
        f"http://127.0.0.1:{unused_port}/score", "closed", connections=8, duration_s=60, client=client
    )
    elapsed = time.monotonic() - started
    snapshot = result.snapshot
    assert NEVER_ANSWERED_S <= elapsed < NEVER_ANSWERED_S + 4
    assert set(snapshot.errors) == {"refused"}
    # Backing off from 10 ms, doubling to 1 s: about 9 attempts per lane in 3 s.
    assert 8 <= snapshot.sent <= 8 * 15
    assert not result.interrupted
    evaluation = judged(result, closed_config())
    assert evaluation.unreachable and evaluation.exit_status == ExitStatus.UNREACHABLE


@pytest.mark.parametrize("load", [{"mode": "closed", "connections": 4}, {"mode": "open", "rate": 20, "clients": 40}])
async def test_a_target_that_accepts_and_never_answers_ends_the_run_in_seconds(
    server: FastServer, client: str, load: dict[str, Any]
) -> None:
    """It ran its whole duration (here 60 s) and exited 1: only refused connections were given up on."""
    started = time.monotonic()
    result = await run_plan(server.url("/hang"), **load, duration_s=60, timeout_s=0.5, client=client)
    elapsed = time.monotonic() - started
    snapshot = result.snapshot
    assert set(snapshot.errors) == {"timeout"} and snapshot.statuses == {}
    # Timeouts from 0.5 s on; the run ends at the first one NEVER_ANSWERED_S after the first send.
    assert NEVER_ANSWERED_S <= elapsed < NEVER_ANSWERED_S + 10
    assert snapshot.sent == server.counts()["requests"]
    assert not result.interrupted
    evaluation = judged(result, closed_config())
    assert evaluation.unreachable and evaluation.exit_status == ExitStatus.UNREACHABLE


async def test_one_slow_first_request_is_not_a_target_that_never_answers(server: FastServer) -> None:
    """One connection whose first request times out 3.5 s in, then fast answers: past NEVER_ANSWERED_S, but one
    timeout is not enough (NEVER_ANSWERED_ATTEMPTS) to end the run."""
    result = await run_plan(server.url("/stall-once?ms=5000"), "closed", connections=1, duration_s=5, timeout_s=3.5)
    snapshot = result.snapshot
    assert snapshot.errors == {"timeout": 1} and snapshot.ok > 0
    assert result.wall_s >= 4.5
    assert not judged(result, closed_config(error_rate=1.0)).unreachable


async def test_a_stop_during_a_dead_target_run_is_handled_within_a_second(unused_port: int) -> None:
    """Ctrl-C at 3.3 s was handled at the end of a 15 s run: the failing lanes never yielded."""
    run = Run(plan_for(f"http://127.0.0.1:{unused_port}/score", "closed", connections=16, duration_s=60))
    loop = asyncio.get_running_loop()
    stopped_at: list[float] = []

    def stop() -> None:
        stopped_at.append(time.monotonic())
        run.stop()

    loop.call_later(1.0, stop)
    result = await run.run()
    assert stopped_at, "the stop never ran: the loop did not yield"
    assert time.monotonic() - stopped_at[0] < 1.0
    assert result.interrupted


async def test_lanes_back_off_while_every_attempt_fails_and_not_after_answers(server: FastServer) -> None:
    """Resets on every request (reached, never answered): no give-up, but few attempts; resets on every
    other request: the backoff starts afresh after each answer, so the rate stays high."""
    result = await run_plan(server.url("/reset-every?n=1"), "closed", connections=2, duration_s=2.0)
    assert 2 <= result.snapshot.sent <= 2 * 12 and result.snapshot.sent == server.counts()["requests"]
    assert result.wall_s > 1.5  # not given up on: the target was reached
    evaluation = judged(result, closed_config(error_rate=1.0))
    assert [c.name for c in evaluation.checks if not c.passed] == ["successes"]
    assert evaluation.exit_status == failed_status(evaluation.valid)

    server.reset()
    result = await run_plan(server.url("/reset-every?n=2"), "closed", connections=2, duration_s=1.0)
    assert result.snapshot.sent > 100 and result.snapshot.errors["reset"] > 40


async def test_a_run_that_never_succeeds_fails_with_a_default_threshold(server: FastServer) -> None:
    """45,944 answers of 500/503 once gave "errors 100.00% ... exit status 0 (ok)"."""
    result = await run_plan(server.url("/status/500"), "closed", connections=2, requests=50)
    evaluation = judged(result, closed_config())
    assert [(c.name, c.limit, c.passed, c.default) for c in evaluation.checks] == [
        ("error_rate", 0.01, False, True),
        ("successes", 1, False, True),
    ]
    assert evaluation.exit_status == failed_status(evaluation.valid)
    own = judged(result, closed_config(error_rate=0.5)).checks
    assert [(c.name, c.limit, c.default) for c in own] == [("error_rate", 0.5, False), ("successes", 1, True)]
    # A sweep is judged by its knee: no default error rate, but no success still fails.
    steps = judged(result, Config(load=LoadConfig(mode="steps")))
    assert [c.name for c in steps.checks] == ["successes"]


BIG_RUN = """
import asyncio, json, resource, sys
from tests.engine.conftest import plan_for
from moetui.engine.run import Run

async def main() -> None:
    run = Run(plan_for(sys.argv[1], "closed", connections=8, requests=16, duration_s=120))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await run.run()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    a = run.aggregator
    print(json.dumps({"growth_kb": after - before, "ok": result.snapshot.ok, "bytes": a.body_bytes,
                      "bodies": a.bodies, "max": a.body_max}))

asyncio.run(main())
"""


@pytest.mark.parametrize("client_name", ["aiohttp", "httpx"])
def test_big_answers_are_counted_not_kept(server: FastServer, client_name: str) -> None:
    """50 MB answers over 8 connections took 439 MB when read whole."""
    script = BIG_RUN.replace("duration_s=120)", f'duration_s=120, client="{client_name}")')
    done = subprocess.run(
        [sys.executable, "-c", script, server.url("/big?mb=50")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    assert measured["ok"] == 16
    assert measured["bytes"] == 16 * 50_000_000 and measured["bodies"] == 16 and measured["max"] == 50_000_000
    assert measured["growth_kb"] < 100_000, measured


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

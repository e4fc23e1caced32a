"""Ramped open runs ([[load.stages]]): the timetable integrates the ramped rate, a real run sends it (counted
from the request log's intended and sent times, and by the server), and the corrected latency runs from the
ramped slots."""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from moetui.config.schema import Stage
from moetui.engine.ramp import Schedule
from tests.engine.conftest import plan_for, run_plan
from tests.http_server import FastServer

RAMP = (Stage(10.0, 0.0), Stage(200.0, 10.0))
"""10 -> 200 req/s over 10 s: 1,050 sends."""


def _per_second(times: list[float]) -> Counter[int]:
    return Counter(int(t) for t in times)


def test_the_timetable_integrates_the_ramped_rate() -> None:
    schedule = Schedule(RAMP)
    assert schedule.total == pytest.approx(1050.0) and schedule.duration_s == 10.0
    slots = [schedule.time_of(k) for k in range(1050)]
    assert slots[0] == 0.0 and slots == sorted(slots) and schedule.time_of(1050) == math.inf
    # Second s holds the integral of the rate over it: 10 + 19 s + 9.5 (20, 39, 58, ...), within one send.
    for second, count in _per_second(slots).items():
        assert abs(count - (schedule.count_at(second + 1) - schedule.count_at(second))) <= 1, second
    assert schedule.due_before(10.0) == 1050 and schedule.due_before(1.0) == 20
    # The rate between two slots is the ramp's: the gap is 1 / rate at that time, to first order.
    assert slots[501] - slots[500] == pytest.approx(1 / schedule.rate_at(slots[500]), rel=0.01)


def test_steps_and_a_spike_jump_at_their_start() -> None:
    spike = Schedule((Stage(20.0, 2.0, "step"), Stage(200.0, 0.5, "step"), Stage(20.0, 2.0, "step")))
    assert spike.total == pytest.approx(40 + 100 + 40)
    slots = [spike.time_of(k) for k in range(180)]
    assert _per_second(slots) == {0: 20, 1: 20, 2: 110, 3: 20, 4: 10}
    assert spike.rate_at(2.2) == 200.0 and spike.rate_at(2.6) == 20.0
    # A stage of no duration or no rate holds no send: the next slot is the next stage's.
    gap = Schedule((Stage(10.0, 1.0, "step"), Stage(0.0, 1.0, "step"), Stage(10.0, 1.0, "step")))
    assert gap.time_of(9) == pytest.approx(0.9) and gap.time_of(10) == pytest.approx(2.0)


def test_poisson_arrivals_follow_the_ramp_on_average() -> None:
    """The time-rescaled Poisson process: unit exponential steps of the integral."""
    schedule, rng = Schedule(RAMP), random.Random(7)
    arrived, slots = 0.0, []
    while (slot := schedule.time_of(arrived)) != math.inf:
        slots.append(slot)
        arrived += rng.expovariate(1.0)
    first, last = sum(1 for s in slots if s < 5), sum(1 for s in slots if s >= 5)
    assert abs(len(slots) - 1050) < 4 * math.sqrt(1050)
    assert abs(first - 287.5) < 4 * math.sqrt(287.5) and abs(last - 762.5) < 4 * math.sqrt(762.5)


def test_a_worker_share_scales_every_rate() -> None:
    plan = plan_for("http://127.0.0.1:1/", "open", stages=RAMP, workers=2)
    share = plan.share(1)
    assert Schedule(share.stages, share.stage_scale).total == pytest.approx(525.0)


@pytest.mark.serial  # 1,050 requests over 10 s at up to 200 req/s
async def test_a_ramp_from_10_to_200_sends_its_timetable(server: FastServer, tmp_path: Path) -> None:
    """The issue's check: per-second sends within 2 % of the ramped timetable, counted from the request log;
    the log's intended times are the schedule's slots; sends and the server's count agree; and every
    corrected latency runs from its ramped slot (the simulation: slot + the measured send delay + latency)."""
    log = tmp_path / "requests.csv"
    result = await run_plan(
        server.url("/fast"), "open", stages=RAMP, duration_s=10.0, clients=64, request_log=str(log), timeout_s=5
    )
    snapshot = result.snapshot
    with log.open() as file:
        rows = sorted(csv.DictReader(file), key=lambda row: float(row["intended_at_s"]))
    assert len(rows) == snapshot.sent == server.counts()["requests"]
    assert snapshot.sent + snapshot.not_sent == 1050
    assert snapshot.sent >= 700  # slots never sent are the last ones, even for a generator far behind
    schedule = Schedule(RAMP)
    origin = float(rows[0]["intended_at_s"])
    intended = [float(row["intended_at_s"]) - origin for row in rows]
    for k, at in enumerate(intended):
        assert at == pytest.approx(schedule.time_of(k), abs=2e-6), k
    if snapshot.health.valid:  # the generator kept its timetable: the actual sends hold it to 2 %
        sent = _per_second([float(row["sent_at_s"]) - origin for row in rows])
        for second in range(9):
            offered = schedule.count_at(second + 1) - schedule.count_at(second)
            assert abs(sent[second] - offered) <= max(2.0, 0.02 * offered), (second, sent[second], offered)
    for row in rows:
        latency, corrected = float(row["latency_ms"]), float(row["corrected_latency_ms"])
        delay_ms = (float(row["sent_at_s"]) - float(row["intended_at_s"])) * 1000
        assert corrected >= latency
        assert corrected == pytest.approx(latency + delay_ms, abs=0.01)

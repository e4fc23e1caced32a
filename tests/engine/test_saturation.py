"""The saturated-generator verdict: one process at a full core, or the machine full with the generator a large
part of it; what the numbers then mean and what to do; and the loop-lag clock finer than uvloop's."""

from __future__ import annotations

import dataclasses

import pytest

from moetui.aio import run_fast
from moetui.engine.aggregate import Aggregator
from moetui.engine.histogram import new_histogram
from moetui.engine.machine import CpuTimes
from moetui.engine.run import Run
from moetui.engine.saturation import GeneratorLoad, saturation_reason, what_to_do
from moetui.report.summary import generator_cpu
from tests.engine.conftest import plan_for
from tests.engine.test_open_timetable import _delta
from tests.http_server import FastServer


def load(process_cpu: tuple[float, ...], lag_ms: float, machine_busy: float | None, **more: object) -> GeneratorLoad:
    figures: dict[str, object] = {
        "process_cpu": process_cpu,
        "process_lag_p99_ms": (lag_ms,) * len(process_cpu),
        "lag_p99_ms": lag_ms,
        "held": 0,
        "machine_busy": machine_busy,
        "machine_cpus": 2,
        "usable_cpus": 2,
        "throughput_rps": 5899.0,
        "open_loop": False,
    }
    figures.update(more)
    return GeneratorLoad(**figures)  # type: ignore[arg-type]


def test_one_process_at_a_full_core_says_what_the_numbers_mean_and_what_to_do() -> None:
    """The issue's case: -c 8 against a fast local server on 2 CPUs, 5,899 ok/s at 94 % of a core."""
    fast = load((0.94,), 2.3, 0.78)
    reason = saturation_reason(fast)
    assert reason is not None
    assert "process 0 at 94% of a core" in reason and "loop lag p99 2.3 ms" in reason
    assert "5,899 ok/s) is the generator's ceiling" in reason and "up to 2.3 ms of the generator's own delay" in reason
    remedy = what_to_do(fast, workers=1)
    # 0.94 cores used and 0.44 idle: no whole CPU for a second process, so less load per process.
    assert "fewer connections (-c, load.connections) or a fixed rate under 5,899/s (-R)" in remedy
    assert "more generator processes would not help here: 0.4 of the 2 CPUs were idle" in remedy


def test_idle_cpus_make_the_remedy_more_processes() -> None:
    remedy = what_to_do(load((0.97,), 4.0, 0.15, machine_cpus=8, usable_cpus=8), workers=1)
    assert remedy.startswith("what to do: run 7 generator processes (--workers 7, load.workers: 6.8 of the 8 CPUs")


def test_processes_each_under_a_core_on_a_full_machine_are_saturated_together() -> None:
    """--workers 2 beside the same server: 52 % + 51 % of a core, the machine full, loop lag higher."""
    two = load((0.52, 0.51), 3.1, 0.98, throughput_rps=4054.0)
    reason = saturation_reason(two)
    assert reason is not None
    assert "the machine's 2 CPUs were 98% busy, 1.03 cores of it the generator's 2 processes" in reason
    assert "(52% + 51% of a core)" in reason and "4,054 ok/s) is the generator's ceiling" in reason
    assert "would not help here" in what_to_do(two, workers=2)


def test_a_generator_starved_by_other_processes_is_told_to_wait_for_a_quieter_machine() -> None:
    """Seen while five others loaded the machine: 37 % of a core, the machine 100 % busy, loop lag p99 22 ms
    (invalid by the lag rule): no process or core would help, another machine or a quieter time would."""
    remedy = what_to_do(load((0.37,), 22.0, 1.0), workers=1)
    assert remedy.startswith("what to do: other processes kept the machine's 2 CPUs 100% busy")
    assert "only 0.37 cores of them (37% of a core)" in remedy


def test_what_keeps_a_run_valid() -> None:
    # The same machine without lag: the generator read every answer in time.
    assert saturation_reason(load((0.52, 0.51), 1.9, 0.98)) is None
    # A bounded load (a tenth of a core) on a machine busy with other work: not the generator's saturation.
    assert saturation_reason(load((0.1,), 5.0, 0.99)) is None
    # Under a full core, the machine not full.
    assert saturation_reason(load((0.8,), 5.0, 0.6)) is None
    # No machine figures (no /proc): each process is still judged.
    assert saturation_reason(load((0.95,), 3.0, None)) is not None


def test_the_aggregator_judges_each_process_and_the_machine() -> None:
    """Two worker processes, one at a full core with its own lag, one idle: the busy one is named (the
    average, 60 %, hid it). A machine sampler that reads full makes two half-busy processes saturated."""

    def lagged(ms: float) -> dict[str, object]:
        histogram = new_histogram()
        for _ in range(100):
            histogram.record_value(int(ms * 1000))
        return {"loop_lag": histogram}

    aggregator = Aggregator("closed", workers=2)
    for worker, share, lag in ((0, 0.96, 3.5), (1, 0.24, 0.3)):
        aggregator.add(_delta(worker, 0.2, 1.0))
        aggregator.add(dataclasses.replace(_delta(worker, 5.2, 1.0 + share * 5, sent=100), histograms=lagged(lag)))
    health = aggregator.health()
    assert not health.valid and health.process_cpu == pytest.approx((0.96, 0.24))
    assert any("process 0 at 96% of a core" in reason for reason in health.reasons), health.reasons
    assert health.remedy is not None and health.remedy.startswith("what to do:")

    readings = iter([CpuTimes(100.0, 200.0), CpuTimes(109.8, 210.0)])  # 98 % busy in between
    machine = Aggregator("closed", workers=2, machine=lambda: next(readings, CpuTimes(109.8, 210.0)))
    for worker in (0, 1):
        machine.add(_delta(worker, 0.2, 1.0))
        machine.add(dataclasses.replace(_delta(worker, 5.2, 1.0 + 0.55 * 5, sent=100), histograms=lagged(3.0)))
    health = machine.health()
    assert health.machine_busy == pytest.approx(0.98) and not health.valid
    assert any("CPUs were 98% busy, 1.10 cores of it" in reason for reason in health.reasons), health.reasons


def test_loop_lag_is_timed_finer_than_uvloops_millisecond_clock(server: FastServer) -> None:
    """uvloop's loop.time() ticks in whole milliseconds: every lag read from it sat within a microsecond or
    two of a whole millisecond, so a p99 of 2.00 ms could not pass a 2 ms limit."""
    plan = plan_for(server.url("/sleep?ms=5"), "closed", connections=2, duration_s=1.0)
    result = run_fast(Run(plan).run())
    lag = result.aggregator.totals["loop_lag"]
    values = [item.value_iterated_to for item in lag.get_recorded_iterator()]
    assert len(values) > 5
    assert any(2 < value % 1000 < 998 for value in values), values  # microseconds off a whole millisecond


def test_the_summary_prints_each_process_and_the_machine_plainly() -> None:
    """'CPU 103 % of a core, 2 processes' read like one process at 103 %."""
    two = {"process_cpu": [0.52, 0.51], "cpu_share": 1.03, "machine_busy": 0.98, "machine_cpus": 2, "workers": 2}
    assert generator_cpu(two) == "CPU 52% + 51% of a core (2 processes); machine 98% busy (2 CPUs)"
    assert generator_cpu({"cpu_share": 1.03, "workers": 2}) == "CPU 103% in all, 2 processes"  # an older report

"""Issue 26 item 6: the ages of requests in flight are the ones their generator measured when it took its
delta, not aged on to the snapshot's time (a delta can be 0.2 s old while requests take a few ms)."""

from __future__ import annotations

import pytest

from moetui.engine.aggregate import Aggregator
from moetui.engine.recorder import Recorder
from tests.fixtures.canned import FixedCpu


def test_in_flight_ages_are_the_generators_own() -> None:
    aggregator = Aggregator("closed", capacity=4)
    first, second = (Recorder(worker, 0.0, 0.0, None, cpu_time=FixedCpu()) for worker in (0, 1))
    old = first.begin(1.0)
    young = second.begin(2.5)
    aggregator.add(first.take(3.0))  # worker 0 looked at 3.0: its request was 2.0 s old
    aggregator.add(second.take(3.1))  # worker 1 at 3.1: 0.6 s
    snapshot = aggregator.snapshot(3.3, "running")  # taken later still: the ages stay as measured
    (old_id, old_age), (young_id, young_age) = snapshot.oldest_in_flight
    assert (old_id, young_id) == (old, young)
    assert old_age == pytest.approx(2.0) and young_age == pytest.approx(0.6)


def test_the_oldest_come_first_across_generators() -> None:
    aggregator = Aggregator("closed", capacity=4)
    first, second = (Recorder(worker, 0.0, 0.0, None, cpu_time=FixedCpu()) for worker in (0, 1))
    first.begin(2.0)
    second.begin(0.5)
    aggregator.add(first.take(2.1))
    aggregator.add(second.take(2.0))
    ages = [age for _, age in aggregator.snapshot(2.2, "running").oldest_in_flight]
    assert ages == sorted(ages, reverse=True) and ages[0] == pytest.approx(1.5)

"""The Recorder's batched recording gives what recording each request by itself with hdrh would."""

from __future__ import annotations

import random

import pytest

from moetui.engine.histogram import new_histogram
from moetui.engine.recorder import SETTLE_BATCH, Recorder


class FixedCpu:
    def __call__(self) -> float:
        return 1.5


@pytest.mark.parametrize("count", [1, SETTLE_BATCH - 1, SETTLE_BATCH, 3 * SETTLE_BATCH + 7])
def test_a_delta_holds_every_request_as_recorded_one_by_one(count: int) -> None:
    rng = random.Random(count)
    recorder = Recorder(0, started_at=100.0, warmup_until=101.0, recent_size=50, cpu_time=FixedCpu())
    expected = {name: new_histogram() for name in ("ok", "failed", "ok_corrected", "model", "outside")}
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    warmup = ok_sum = 0
    kept = []
    for _ in range(count):
        intended = 100.0 + rng.uniform(0, 5)
        sent = intended + rng.uniform(0, 0.01)
        done = sent + rng.lognormvariate(-5, 1)
        status = rng.choice([200, 200, 200, 429, 500, None])
        error = "timeout" if status is None else None
        exec_ms = rng.choice([None, rng.uniform(0.1, 3)])
        request_id = recorder.begin(sent)
        recorder.end(request_id, sent, done, status, error, exec_ms, intended)
        if sent < 101.0:
            warmup += 1
            continue
        kept.append((request_id, sent, done, status))
        elapsed = max(1, int((done - sent) * 1_000_000))
        if status is None:
            errors["timeout"] = errors.get("timeout", 0) + 1
        else:
            statuses[status] = statuses.get(status, 0) + 1
        if status != 200:
            expected["failed"].record_value(elapsed)
            continue
        ok_sum += elapsed
        expected["ok"].record_value(elapsed)
        expected["ok_corrected"].record_value(max(1, int((done - intended) * 1_000_000)))
        if exec_ms is not None:
            expected["model"].record_value(max(1, int(exec_ms * 1000)))
            expected["outside"].record_value(max(1, elapsed - max(1, int(exec_ms * 1000))))

    delta = recorder.take(110.0)
    assert (delta.sent, delta.completed, delta.warmup, delta.in_flight) == (count, len(kept), warmup, 0)
    assert delta.statuses == statuses and delta.errors == errors and delta.ok_sum_us == ok_sum
    for name, histogram in expected.items():
        if histogram.get_total_count():
            assert delta.histograms[name].encode() == histogram.encode(), name
        else:
            assert name not in delta.histograms
    # The ring keeps the newest 50, in order, each once; the delta names the ones new since the last.
    newest = kept[-50:]
    assert [(r.id, r.status) for r in delta.recent] == [(rid, status) for rid, _, _, status in newest]
    assert [r.sent_at_s for r in delta.recent] == [sent - 100.0 for _, sent, _, _ in newest]
    assert recorder.take(111.0).recent == ()


def test_in_flight_requests_are_named_until_they_finish() -> None:
    recorder = Recorder(0, started_at=0.0, warmup_until=0.0, recent_size=None, cpu_time=FixedCpu())
    first, second = recorder.begin(1.0), recorder.begin(2.0)
    delta = recorder.take(3.0)
    assert delta.in_flight == 2 and delta.oldest_in_flight == ((first, 1.0), (second, 2.0))
    recorder.end(first, 1.0, 4.0, 200, None, None)
    assert [r.id for r in recorder.all_records()] == [first]  # recorded before the next delta is taken
    delta = recorder.take(5.0)
    assert delta.in_flight == 1 and delta.completed == 1 and delta.histograms["ok"].get_max_value() >= 3_000_000


def test_drift_is_recorded_in_batches_too() -> None:
    recorder = Recorder(0, started_at=0.0, warmup_until=0.0, recent_size=10, cpu_time=FixedCpu())
    for i in range(SETTLE_BATCH + 3):
        recorder.drift(i / 1_000_000)
    drift = recorder.take(1.0).histograms["drift"]
    assert drift.get_total_count() == SETTLE_BATCH + 3 and drift.get_min_value() == 1

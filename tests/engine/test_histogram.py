"""The fast percentile ladder gives exactly hdrh's values, whatever the histogram holds."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import PERCENTILES, decode, new_histogram, percentiles_ms, record_many


def hdrh_ladder(histogram: HdrHistogram) -> dict[float, float]:
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES))
    return {p: values[p] / 1000 for p in PERCENTILES}


@pytest.mark.parametrize("seed", range(6))
def test_the_ladder_is_hdrhs(seed: int) -> None:
    rng = random.Random(seed)
    for count in (1, 2, 3, 10, 1000, 20_000):
        histogram = new_histogram()
        for _ in range(count):
            value = [rng.randint(1, 50), int(rng.lognormvariate(9, 2)), rng.choice([1, 1000, 3_600_000_000])][seed % 3]
            histogram.record_value(max(1, min(value, 3_600_000_000)))
        assert percentiles_ms(histogram) == hdrh_ladder(histogram)
        decoded = decode(histogram.encode())  # as worker processes and reports hand them over
        assert percentiles_ms(decoded) == hdrh_ladder(decoded)
        merged = new_histogram()
        merged.add(decoded)
        merged.add(histogram)
        assert percentiles_ms(merged) == hdrh_ladder(merged)


def test_an_empty_histogram_has_no_ladder() -> None:
    assert percentiles_ms(new_histogram()) == {}


@pytest.mark.parametrize("seed", range(4))
def test_record_many_is_record_value(seed: int) -> None:
    """Batches land exactly where hdrh's record_value puts them, out-of-range values counted, not kept."""
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(8, 3)) for _ in range(5000)]
    values += [0, 1, 2047, 2048, 2049, 3_600_000_000, 2**36, 2**40, -1, 5000, 5000]
    rng.shuffle(values)
    one_by_one, batched = new_histogram(), new_histogram()
    batched.record_value(700)  # a histogram that already holds values keeps them
    one_by_one.record_value(700)
    missed = sum(not one_by_one.record_value(v) for v in values)
    assert missed >= 3
    assert record_many(batched, values) == missed
    assert list(batched.counts) == list(one_by_one.counts)
    for attribute in ("total_count", "min_value", "max_value"):
        assert getattr(batched, attribute) == getattr(one_by_one, attribute)
    assert batched.encode() == one_by_one.encode()


def test_record_many_of_nothing_changes_nothing() -> None:
    histogram = new_histogram()
    assert record_many(histogram, []) == 0
    assert histogram.get_total_count() == 0 and histogram.get_min_value() == new_histogram().get_min_value()

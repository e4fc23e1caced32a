"""The fast percentile ladder gives exactly hdrh's values, whatever the histogram holds."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import PERCENTILES, decode, new_histogram, percentiles_ms


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

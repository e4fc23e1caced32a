"""Bootstrap distributions of one side's latency percentiles, for `moetui compare`: each resample's value
minus the side's own value, so two sides' deviations subtract into the distribution of the difference.

Windows first. A report holds its latency histograms per window (report["windows"], moetui.engine.windows:
one second, longer for long runs). A moving block bootstrap draws blocks of consecutive windows with
replacement until the run's length is filled and reads each percentile of their sum, so a run's own drift
(a neighbour busy for a few seconds, a slow start) widens its interval along with its sampling; blocks keep
neighbouring seconds together, as drift does. The sums are on a grid of GRID-wide bins (far finer than any
tolerance, ~5x fewer bins than the histograms' 3 digits, and so ~5x faster), and each deviation is taken from
the full run on the same grid, so the grid's rounding cancels out.

The histogram alone for reports without windows (written before them, merged, or too short): the q-quantile
of n values resampled from the histogram is its quantile function at the k-th smallest of n uniforms, which is
Beta(k, n - k + 1) (k = the rank of q). That covers sampling within the run, not its drift.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from itertools import accumulate
from operator import add

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import decode, recorded_indices, value_ms
from moetui.report.model import Report

#: Resamples per side and histogram; every percentile reads the same ones.
RESAMPLES = 1000
#: Windows a run needs for the block bootstrap: fewer make too few distinct resamples.
MIN_WINDOWS = 5
#: Relative width of the resampling grid's bins ...
GRID = 0.005
#: ... widened so that a run spread over many decades still has at most this many (the time goes as bins).
MAX_BINS = 400
#: Bins below every block's value at this percentile are one: a sum of blocks never has its lowest percentile
#: compared (p50) below the lowest of theirs, so only the count below matters (about half the bins go).
_FLOOR_MARGIN = 10.0


def rank(percentile: float, total: int) -> int:
    """HdrHistogram's count target for a percentile: rounded half up, at least 1."""
    return max(1, min(total, int(percentile * total / 100 + 0.5)))


class Quantiles:
    """A histogram's quantile function over its non-empty buckets (values in ms)."""

    def __init__(self, histogram: HdrHistogram) -> None:
        recorded = recorded_indices(histogram)
        self.total = int(histogram.get_total_count())
        self.cumulative = list(accumulate(count for _, count in recorded))
        self.values = [value_ms(histogram, index) for index, _ in recorded]

    def at_rank(self, position: float) -> float:
        """The value of the `position`-th smallest recorded value (1-based, rounded up)."""
        index = bisect_left(self.cumulative, max(1, math.ceil(position)))
        return self.values[min(index, len(self.values) - 1)]

    def at(self, percentile: float) -> float:
        """As HdrHistogram's value at percentile."""
        return self.at_rank(rank(percentile, self.total))

    def deviations(self, percentiles: Sequence[float], rng: random.Random) -> dict[float, list[float]]:
        """The histogram-only bootstrap (Beta order statistics), as deviations from `at`."""
        n = self.total
        out = {}
        for percentile in percentiles:
            k = rank(percentile, n)
            centre = self.at(percentile)
            out[percentile] = [self.at_rank(rng.betavariate(k, n - k + 1) * n) - centre for _ in range(RESAMPLES)]
        return out


def windows_of(report: Report, name: str) -> list[HdrHistogram]:
    """The report's windows that recorded histogram `name`, in order (none for a report without windows)."""
    windows = report.get("windows")
    rows: list[Mapping[str, object]] = list(windows["rows"]) if windows else []
    return [decode(encoded) for row in rows if isinstance(encoded := row.get(name), str) and encoded]


def block_length(windows: int) -> int:
    """Consecutive windows per block: the cube root of their number, the usual rate for a block bootstrap."""
    return max(1, round(math.pow(windows, 1 / 3)))


class _Run:
    """One run's windows on the side's grid, summed into every block of consecutive windows and kept as
    cumulative counts: the cumulative counts of a sum of blocks are the sum of theirs (one C-level map a block,
    where adding counts and then accumulating would loop in Python)."""

    def __init__(self, windows: Sequence[list[int]]) -> None:
        self.length = block_length(len(windows))
        self.full, remainder = divmod(len(windows), self.length)
        self.blocks = self._blocks(windows, self.length)
        # A run that is not a whole number of blocks ends with a shorter one, so every resample is as long.
        self.tail = self._blocks(windows, remainder) if remainder else []

    @staticmethod
    def _blocks(windows: Sequence[list[int]], length: int) -> list[list[int]]:
        blocks = []
        for start in range(len(windows) - length + 1):
            counts = windows[start]
            for window in windows[start + 1 : start + length]:
                counts = list(map(add, counts, window))
            blocks.append(list(accumulate(counts)))
        return blocks

    def lowest(self, percentile: float) -> int:
        """The lowest bin any of the blocks reaches `percentile` in."""
        return min(bisect_left(block, rank(percentile, block[-1])) for block in (*self.blocks, *self.tail))

    def trim(self, first: int) -> None:
        """Drop the bins below `first` (the cumulative counts keep what they held)."""
        self.blocks = [block[first:] for block in self.blocks]
        self.tail = [block[first:] for block in self.tail]

    def draw(self, rng: random.Random) -> list[list[int]]:
        chosen = [self.blocks[rng.randrange(len(self.blocks))] for _ in range(self.full)]
        if self.tail:
            chosen.append(self.tail[rng.randrange(len(self.tail))])
        return chosen


def block_deviations(
    runs: Sequence[Sequence[HdrHistogram]], percentiles: Sequence[float], rng: random.Random
) -> dict[float, list[float]]:
    """The block bootstrap of one side (each run resampled on its own, as its windows are its own; the
    resampled runs added up, as the side's histograms are), as deviations from the side's value on the grid."""
    recorded = [[recorded_indices(window) for window in run] for run in runs]
    # Every histogram has the same buckets: each index's bin is computed once.
    any_window = next(window for run in runs for window in run)
    indices = sorted({index for run in recorded for window in run for index, _ in window})
    values_ms = {index: value_ms(any_window, index) for index in indices}
    step = max(math.log1p(GRID), math.log(values_ms[indices[-1]] / values_ms[indices[0]]) / MAX_BINS)
    bin_of = {index: math.floor(math.log(value) / step) for index, value in values_ms.items()}
    bins = sorted(set(bin_of.values()))
    position = {b: i for i, b in enumerate(bins)}
    column = {index: position[b] for index, b in bin_of.items()}
    values = [math.exp((b + 1) * step) for b in bins]  # each bin's upper edge

    def dense(window: list[tuple[int, int]]) -> list[int]:
        counts = [0] * len(bins)
        for index, count in window:
            counts[column[index]] += count
        return counts

    def read(cumulative: list[int]) -> list[float]:
        total = cumulative[-1]
        return [values[bisect_left(cumulative, rank(p, total))] for p in percentiles]

    dense_runs = [[dense(window) for window in run] for run in recorded]
    sampled = [_Run(run) for run in dense_runs]
    centre = read(list(accumulate(sum(column) for column in zip(*(w for run in dense_runs for w in run), strict=True))))
    first = min(run.lowest(max(0.0, min(percentiles) - _FLOOR_MARGIN)) for run in sampled)
    for run in sampled:
        run.trim(first)
    values = values[first:]
    out: dict[float, list[float]] = {p: [] for p in percentiles}
    for _ in range(RESAMPLES):
        chosen = [block for run in sampled for block in run.draw(rng)]
        cumulative = chosen[0]
        for block in chosen[1:]:
            cumulative = list(map(add, cumulative, block))
        for p, value, middle in zip(percentiles, read(cumulative), centre, strict=True):
            out[p].append(value - middle)
    return out

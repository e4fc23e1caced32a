"""Latency histograms per window of a run: one second, or a few seconds for a long run so that a run holds at
most MAX_WINDOWS (a run that outlasts its plan, or has none, doubles its windows' length whenever it reaches
twice that many, so a report holds at most 2 x MAX_WINDOWS however long the run). `moetui compare` resamples
them in blocks to see a run's own drift (a busy neighbour for a few seconds, a slow start); per-second p50
and p99 cannot serve, as a percentile of several seconds is no mix of theirs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import decode, encode, new_histogram

#: At most this many windows a run: ~100-700 bytes a histogram, so a report grows by at most ~250 kB.
MAX_WINDOWS = 100
#: The histograms kept per window: the latencies `moetui compare` compares.
WINDOW_HISTOGRAMS = ("ok", "ok_corrected", "model", "outside")


def window_seconds(planned_s: float | None) -> int:
    """Each window's length: one second, longer when the run is planned to last over MAX_WINDOWS seconds."""
    return max(1, math.ceil(planned_s / MAX_WINDOWS)) if planned_s else 1


@dataclass(frozen=True)
class Window:
    start_s: int
    """Seconds from the run's start, as the per-second rows count them."""
    histograms: dict[str, str]
    """Name -> HdrHistogram's compressed form; only the histograms that recorded something."""


class Windows:
    """The windows of one run, filled from the aggregator's deltas and closed in order."""

    def __init__(self, planned_s: float | None) -> None:
        self.seconds = window_seconds(planned_s)
        self.closed: list[Window] = []
        self._open: dict[int, dict[str, HdrHistogram]] = {}

    def add(self, second: int, histograms: Mapping[str, HdrHistogram]) -> None:
        window = self._open.setdefault(second // self.seconds, {})
        for name in WINDOW_HISTOGRAMS:
            histogram = histograms.get(name)
            if histogram is not None and histogram.get_total_count():
                window.setdefault(name, new_histogram()).add(histogram)

    def close_before(self, second: float) -> None:
        """Close the windows that end at or before `second` (math.inf: all of them)."""
        for index in sorted(i for i in self._open if (i + 1) * self.seconds <= second):
            histograms = self._open.pop(index)
            if histograms:  # a window of warm-up or of no answers holds nothing to resample
                self.closed.append(Window(index * self.seconds, {k: encode(v) for k, v in histograms.items()}))
        if len(self.closed) >= 2 * MAX_WINDOWS:
            self._double()

    def _double(self) -> None:
        """Twice as long windows: the closed ones summed in pairs, the open ones re-keyed and summed."""
        self.seconds *= 2
        pairs: dict[int, dict[str, HdrHistogram]] = {}
        for window in self.closed:
            summed = pairs.setdefault(window.start_s // self.seconds, {})
            for name, encoded in window.histograms.items():
                summed.setdefault(name, new_histogram()).add(decode(encoded))
        self.closed = [
            Window(index * self.seconds, {k: encode(v) for k, v in histograms.items()})
            for index, histograms in sorted(pairs.items())
        ]
        still_open: dict[int, dict[str, HdrHistogram]] = {}
        for index, histograms in self._open.items():
            merged = still_open.setdefault(index // 2, {})
            for name, histogram in histograms.items():
                merged.setdefault(name, new_histogram()).add(histogram)
        self._open = still_open

    def to_dict(self) -> dict[str, object]:
        """The report's `windows` block."""
        return {"seconds": self.seconds, "rows": [{"start_s": w.start_s, **w.histograms} for w in self.closed]}

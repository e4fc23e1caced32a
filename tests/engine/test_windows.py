"""A run's windows stay few however long it runs: past twice MAX_WINDOWS they double in length, losing no count."""

from __future__ import annotations

import math

from moetui.engine.histogram import decode, new_histogram
from moetui.engine.windows import MAX_WINDOWS, Windows


def test_a_run_without_a_plan_keeps_at_most_twice_max_windows_and_every_count() -> None:
    windows = Windows(planned_s=None)
    seconds = 5 * MAX_WINDOWS + 7
    for second in range(seconds):
        histogram = new_histogram()
        histogram.record_value(1000 + second)
        windows.add(second, {"ok": histogram})
        windows.close_before(second)  # the aggregator closes what ended as the seconds go by
    windows.close_before(math.inf)
    block = windows.to_dict()
    rows = block["rows"]
    assert isinstance(rows, list) and 0 < len(rows) < 2 * MAX_WINDOWS
    assert block["seconds"] == 4  # doubled twice: at 200 one-second windows, then at 200 two-second ones
    starts = [row["start_s"] for row in rows]
    assert starts == sorted(starts) and all(start % 4 == 0 for start in starts)
    assert sum(decode(row["ok"]).get_total_count() for row in rows) == seconds

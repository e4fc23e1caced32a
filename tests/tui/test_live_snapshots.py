"""Pictures of the live screen at 80x24 and 120x40 at a run's end (the last snapshot before the report):
the charts as tall as the terminal makes them, for a burst and a streamed run. The running pictures are in
test_snapshots.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import canned
from tests.tui.test_snapshots import SIZES, app_with, live


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_live_burst_ended(snap_compare: Any, size: tuple[int, int]) -> None:
    snapshot, _ = canned.burst_snapshot(done=True)
    config = canned.config({"load": {"mode": "burst", "requests": 3}})
    assert snap_compare(app_with([snapshot]), terminal_size=size, run_before=live(config))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_live_streaming_ended(snap_compare: Any, size: tuple[int, int]) -> None:
    snapshot, _ = canned._stream_run(ended=True)
    assert snap_compare(app_with([snapshot]), terminal_size=size, run_before=live(canned.stream_config()))

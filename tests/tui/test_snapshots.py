"""Pictures of every screen at 80x24 (and one wide size), from canned snapshots: no engine, no network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from moetui.engine.snapshot import EngineSnapshot
from moetui.tui.app import MoetuiApp, make_app
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.report import ReportScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from tests.fixtures import canned

SIZES = [(80, 24), (120, 40)]


def app_with(snapshots: list[EngineSnapshot]) -> MoetuiApp:
    return make_app(run_factory=lambda config, base_dir: canned.FakeRun(snapshots), base_dir=Path("/nonexistent"))


def live(config: Any) -> Callable[[Pilot[Any]], Any]:
    async def go(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(LiveScreen(config))
        await pilot.pause()
        pilot.app.screen.pull()
        await pilot.pause()

    return go


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_target_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(app_with([]), terminal_size=size)


def test_target_screen_any_url(snap_compare: Any) -> None:
    async def choose_url(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#url").value = True
        await pilot.pause()

    assert snap_compare(app_with([]), run_before=choose_url)


def test_run_setup_with_an_error(snap_compare: Any) -> None:
    async def setup(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(RunSetupScreen())
        await pilot.pause()
        pilot.app.screen.query_one("#load-requests").value = "-2"
        await pilot.pause()

    assert snap_compare(app_with([]), run_before=setup)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_live_burst_mid_run(snap_compare: Any, size: tuple[int, int]) -> None:
    snapshot, _ = canned.burst_snapshot(done=False)
    config = canned.config({"load": {"mode": "burst", "requests": 3}})
    assert snap_compare(app_with([snapshot]), terminal_size=size, run_before=live(config))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_live_open_with_errors(snap_compare: Any, size: tuple[int, int]) -> None:
    config = canned.config({"load": {"mode": "open", "rate": 50, "duration": 60}})
    assert snap_compare(app_with([canned.open_snapshot()]), terminal_size=size, run_before=live(config))


def test_live_sweep_curve(snap_compare: Any) -> None:
    config = canned.config({"load": {"mode": "steps"}, "steps": {"levels": [1, 2, 4, 8], "threshold_ms": 130}})
    assert snap_compare(app_with([canned.steps_snapshot()]), terminal_size=(120, 40), run_before=live(config))


def test_report_screen(snap_compare: Any) -> None:
    config, finished = canned.burst_finished()

    async def report(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(ReportScreen(config, finished))
        await pilot.pause()

    assert snap_compare(app_with([]), terminal_size=(100, 40), run_before=report)

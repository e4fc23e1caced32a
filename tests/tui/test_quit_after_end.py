"""A quit question left open until the run ends (issue 26 item 2): its answer applies to the ended run. Before,
the report replaced the question, `y` did nothing, and `n` reopened the finished live screen, where Esc did
nothing and `s` said "Stopping" forever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from moetui.tui.app import QUIT_AFTER_END, MoetuiApp, make_app
from moetui.tui.dialogs.confirm import ConfirmDialog
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.report import ReportScreen
from tests.fixtures import canned
from tests.tui.test_flow import wait_for


async def _end_while_asked(app: MoetuiApp, pilot: Pilot[Any], run: canned.FakeRun) -> None:
    """Open the quit question mid-run, then let the run end under it."""
    _, finished = canned.burst_finished()
    await app.push_screen(LiveScreen(canned.config({"load": {"mode": "burst", "requests": 3}})))
    await pilot.pause()
    await pilot.press("q")
    await wait_for(pilot, ConfirmDialog)
    run.final = finished  # the run ends while the question is open
    for _ in range(100):
        await pilot.pause(0.05)
        if any(isinstance(screen, ReportScreen) for screen in app.screen_stack):
            break
    await pilot.pause(0.2)


async def test_yes_to_a_quit_asked_before_the_run_ended_quits_and_saves_its_report(tmp_path: Path) -> None:
    run = canned.FakeRun([canned.burst_snapshot(done=False)[0]])
    report_path = tmp_path / "report.json"
    app = make_app(run_factory=lambda config, base_dir, seams: run, base_dir=tmp_path, report=report_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _end_while_asked(app, pilot, run)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog) and dialog.question == QUIT_AFTER_END  # asked again, of the end
        assert isinstance(app.screen_stack[-2], ReportScreen)  # the report under it, no live screen left
        assert not any(isinstance(screen, LiveScreen) for screen in app.screen_stack)
        await pilot.press("y")
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.is_running:
                break
    assert not app.is_running
    assert app.return_code == 0  # the canned burst passed
    assert json.loads(report_path.read_text())["burst"]["verdict"] == "concurrent"


async def test_no_to_a_quit_asked_before_the_run_ended_stays_on_the_report(tmp_path: Path) -> None:
    run = canned.FakeRun([canned.burst_snapshot(done=False)[0]])
    app = make_app(run_factory=lambda config, base_dir, seams: run, base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _end_while_asked(app, pilot, run)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ReportScreen) and app.is_running
        assert not any(isinstance(screen, LiveScreen) for screen in app.screen_stack)
        await pilot.press("n")  # the report's New run: back to the run's setup side, not a finished live screen
        await pilot.pause(0.2)
        assert not isinstance(app.screen, LiveScreen | ReportScreen)

"""The app driven by a pilot: the whole flow with a fake run, the stop key, save-and-replay, and the
real thing against the local endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from moetui.config.load import load_config
from moetui.tui.app import MoetuiApp, make_app
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.report import ReportScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from moetui.tui.screens.target import TargetScreen
from tests.fixtures import canned


async def wait_for_report(app: MoetuiApp, pilot: Pilot[Any], timeout_s: float = 2.0) -> ReportScreen:
    """Wait until the report screen shows, then long enough for its header to finish mounting (a Textual
    app that exits within that frame raises NoMatches from the header)."""
    for _ in range(int(timeout_s / 0.1)):
        await pilot.pause(0.1)
        if isinstance(app.screen, ReportScreen):
            break
    assert isinstance(app.screen, ReportScreen), "no report screen"
    await pilot.pause(0.3)
    return app.screen


async def test_target_setup_live_report_with_a_fake_run(tmp_path: Path) -> None:
    snapshot, _ = canned.burst_snapshot(done=False)
    _, finished = canned.burst_finished()
    runs: list[canned.FakeRun] = []

    def factory(config: object, base_dir: Path) -> canned.FakeRun:
        runs.append(canned.FakeRun([snapshot], finished))
        return runs[-1]

    app = make_app(run_factory=factory, base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, TargetScreen)
        app.screen.query_one("#local-sleep").value = "0.5"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, RunSetupScreen)
        assert app.target_table == {"local": {"sleep": 0.5}}
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert runs and runs[0].started  # the live screen made and started the run
        report = await wait_for_report(app, pilot)
        assert "concurrent" in str(report.query_one("#report-headline").render())


async def test_stop_key_stops_the_run(tmp_path: Path) -> None:
    run = canned.FakeRun([canned.open_snapshot()])
    app = make_app(run_factory=lambda config, base_dir: run, base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(LiveScreen(canned.config({"load": {"mode": "open"}})))
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert run.stopped and not run.killed


async def test_a_bad_value_is_shown_as_you_type(tmp_path: Path) -> None:
    app = make_app(run_factory=lambda config, base_dir: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(RunSetupScreen())
        await pilot.pause()
        app.screen.query_one("#load-requests").value = "0"
        await pilot.pause()
        assert "load.requests" in str(app.screen.query_one("#setup-error").render())
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, RunSetupScreen)  # not started


@pytest.mark.slow
async def test_saved_toml_replays_headless_with_the_same_configuration(tmp_path: Path) -> None:
    app = make_app(run_factory=lambda config, base_dir: canned.FakeRun([]), base_dir=tmp_path)
    saved = tmp_path / "from-tui.toml"
    async with app.run_test(size=(100, 30)) as pilot:
        app.target_table = {"local": {"sleep": 0.3, "workers": 3, "max_concurrency": 3}}
        await app.push_screen(RunSetupScreen())
        await pilot.pause()
        app.screen.query_one("#save-path").value = str(saved)
        await pilot.press("ctrl+s")
        await pilot.pause()
        shown = app.screen.check_settings()
    assert load_config(saved) == shown
    result = subprocess.run(
        [sys.executable, "-m", "moetui", "--run", str(saved), "--report", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-> concurrent" in result.stdout


@pytest.mark.slow
async def test_the_seed_test_through_the_app_against_the_local_endpoint(tmp_path: Path) -> None:
    """Local target, burst of 3 with a short sleep, live screen, report with the verdict: the real engine."""
    app = make_app(base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#local-sleep").value = "1"
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        saw_in_flight = False
        for _ in range(600):
            await pilot.pause(0.1)
            screen = app.screen
            if isinstance(screen, ReportScreen):
                break
            if isinstance(screen, LiveScreen) and screen.snapshot is not None and screen.snapshot.in_flight == 3:
                saw_in_flight = True
        assert isinstance(app.screen, ReportScreen), "the run did not finish"
        report = app.screen.report
        await pilot.pause(0.3)
    assert saw_in_flight
    assert report["burst"]["verdict"] == "concurrent"
    assert report["requests"]["ok"] == 3
    assert 0.9 < max(r["elapsed_s"] for r in report["request_log"]) < 3


async def test_the_command_palette_offers_the_screens_actions(tmp_path: Path) -> None:
    run = canned.FakeRun([canned.open_snapshot()])
    app = make_app(run_factory=lambda config, base_dir: run, base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(LiveScreen(canned.config({"load": {"mode": "open"}})))
        await pilot.pause()
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        assert {"New run", "Stop run"} <= set(commands)
        await commands["Stop run"].callback()
        assert run.stopped


async def test_live_opens_the_run_at_once_and_writes_the_report(tmp_path: Path) -> None:
    snapshot, _ = canned.burst_snapshot(done=False)
    config, finished = canned.burst_finished()
    report_path = tmp_path / "report.json"
    app = make_app(
        run_factory=lambda c, base_dir: canned.FakeRun([snapshot], finished),
        base_dir=tmp_path,
        live=config,
        report=report_path,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_report(app, pilot)
    assert json.loads(report_path.read_text())["burst"]["verdict"] == "concurrent"

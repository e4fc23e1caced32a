"""The end of a run on the live screen: reported exactly once (a real engine process), quitting mid-run asks
first and keeps the partial result, and `--live` exits with the run's status."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message

from moetui.config.load import config_from_dict
from moetui.session.process import SessionProcess
from moetui.tui.app import make_app
from moetui.tui.dialogs.confirm import ConfirmDialog
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.report import ReportScreen
from tests.fixtures import canned
from tests.http_server import FastServer
from tests.tui.test_flow import wait_for, wait_for_report


async def test_a_finished_run_is_reported_once_when_polled_after_its_child_exited(
    server: FastServer, tmp_path: Path
) -> None:
    """The live screen takes the result, the child has exited, and the screen polls again before it is
    replaced (its 5 Hz timer did, twice in a row on a real run): still one end, the report, no crash."""
    config = config_from_dict(
        {"target": {"url": {"url": server.url("/fast")}}, "load": {"mode": "burst", "requests": 2}}
    )
    runs: list[SessionProcess] = []

    def factory(config: Any, base_dir: Path, refresh: object) -> SessionProcess:
        runs.append(SessionProcess(config, base_dir))
        return runs[-1]

    ended: list[LiveScreen.RunEnded] = []

    def hook(message: Message) -> None:
        if isinstance(message, LiveScreen.RunEnded):
            ended.append(message)

    app = make_app(run_factory=factory, base_dir=tmp_path)
    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        live = LiveScreen(config, refresh_hz=0.001)  # no timer pulls: the test pulls
        await app.push_screen(live)
        await pilot.pause()
        run = runs[0]
        process = run._process
        assert process is not None
        deadline = time.monotonic() + 60
        while process.is_alive():  # the child sends its report and exits; the report waits in the pipe
            assert time.monotonic() < deadline, "the engine process did not end"
            await pilot.pause(0.1)
        live.pull()  # takes the report
        live.pull()  # the poll that used to find a dead child and no result
        live.pull()
        report = await wait_for_report(app, pilot, timeout_s=10)
        await pilot.pause(0.3)
        assert isinstance(app.screen, ReportScreen)
    assert len(ended) == 1
    assert ended[0].finished.error is None
    assert report.report["requests"]["ok"] == 2
    assert run.finished is ended[0].finished  # polling after the end changes nothing
    run.poll()
    assert run.finished is ended[0].finished


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_quitting_mid_run_asks_and_a_no_keeps_running(key: str, tmp_path: Path) -> None:
    run = canned.FakeRun([canned.open_snapshot()])
    app = make_app(run_factory=lambda config, base_dir, refresh: run, base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(LiveScreen(canned.config({"load": {"mode": "open"}})))
        await pilot.pause()
        await pilot.press(key)
        await wait_for(pilot, ConfirmDialog)
        await pilot.press("n")
        await wait_for(pilot, LiveScreen)
        await pilot.pause(0.3)
        assert app.is_running and not run.stopped and not run.killed


async def test_a_confirmed_quit_stops_the_run_and_saves_its_partial_report(tmp_path: Path) -> None:
    _, finished = canned.burst_finished()
    partial = replace(finished, exit_status=130)
    run = canned.FakeRun([canned.open_snapshot()])
    report_path = tmp_path / "report.json"
    app = make_app(run_factory=lambda config, base_dir, refresh: run, base_dir=tmp_path, report=report_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(LiveScreen(canned.config({"load": {"mode": "open"}})))
        await pilot.pause()
        await pilot.press("ctrl+q")
        await wait_for(pilot, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        assert run.stopped and not run.killed  # stopped as `s` stops it: the engine sends the partial result
        assert app.is_running
        run.final = partial  # the engine's answer to the stop
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.is_running:
                break
    assert not app.is_running
    assert app.return_code == 130
    assert json.loads(report_path.read_text())["burst"]["verdict"] == finished.report["burst"]["verdict"]  # type: ignore[index]


async def test_a_confirmed_quit_without_report_path_saves_where_an_export_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    _, finished = canned.burst_finished()
    run = canned.FakeRun([canned.open_snapshot()])
    app = make_app(run_factory=lambda config, base_dir, refresh: run, base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(LiveScreen(canned.config({"load": {"mode": "open"}})))
        await pilot.pause()
        await pilot.press("q")
        await wait_for(pilot, ConfirmDialog)
        await pilot.press("y")
        run.final = replace(finished, exit_status=130)
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.is_running:
                break
    assert not list(tmp_path.glob("moetui-report-*.json"))  # not the current directory (the repository under make run)
    saved = list((tmp_path / "data" / "moetui" / "runs").glob("moetui-report-*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["requests"]["ok"] == 3


async def test_live_exits_with_the_runs_status(tmp_path: Path) -> None:
    snapshot, _ = canned.burst_snapshot(done=False)
    config, finished = canned.burst_finished()
    invalid = replace(finished, exit_status=4)
    app = make_app(
        run_factory=lambda c, base_dir, refresh: canned.FakeRun([snapshot], invalid), base_dir=tmp_path, live=config
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_report(app, pilot)
        await pilot.press("q")  # the run has ended: no question
        await pilot.pause(0.3)
    assert app.return_code == 4

"""Run setup: each field belongs to the modes it means something for; a closed or open run's request budget
is its own optional field, and the report says when the budget ended the run."""

from __future__ import annotations

import io
import json
from pathlib import Path

from textual.widgets import Input, Select, Static

from moetui.headless import run_config
from moetui.tui.app import make_app
from moetui.tui.screens.report import ReportScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from tests.fixtures import canned
from tests.http_server import FastServer
from tests.tui.test_flow import wait_for


async def test_a_bursts_size_does_not_cap_a_closed_run(tmp_path: Path) -> None:
    app = make_app(run_factory=lambda config, base_dir, refresh: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        setup = RunSetupScreen()
        await app.push_screen(setup)
        await pilot.pause()
        setup.query_one("#load-at_once").value = "3"
        await pilot.pause()
        assert setup.build()["load"]["requests"] == 3
        setup.query_one("#mode", Select).value = "closed"
        await pilot.pause()
        assert not setup.query_one("#row-at_once").display and setup.query_one("#row-budget").display
        assert "requests" not in setup.build()["load"]  # 3 was the burst's size, not this run's budget
        setup.query_one("#load-budget").value = "40"
        await pilot.pause()
        assert setup.build()["load"]["requests"] == 40
        setup.query_one("#mode", Select).value = "burst"
        await pilot.pause()
        assert setup.build()["load"]["requests"] == 3  # each mode keeps its own


async def test_a_closed_run_ended_by_its_budget_says_so(server: FastServer, tmp_path: Path) -> None:
    app = make_app(base_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.state.target_table = {"url": {"url": server.url("/fast")}}
        setup = RunSetupScreen()
        await app.push_screen(setup)
        await pilot.pause()
        setup.query_one("#mode", Select).value = "closed"
        await pilot.pause()
        setup.query_one("#load-budget").value = "5"
        setup.query_one("#load-connections").value = "1"
        await pilot.pause()
        await pilot.press("ctrl+r")
        report = await wait_for(pilot, ReportScreen, timeout_s=60)
        await pilot.pause(0.3)
        summary = str(report.query_one("#report-figures").render())
    assert report.report["requests"]["sent"] == 5
    assert "stopped by its request budget of 5" in summary


async def test_the_run_setup_shows_the_timeout_a_headless_run_of_its_target_uses(tmp_path: Path) -> None:
    """The field was pre-filled "60s": against the scoring app's request_timeout_ms 60000 the app gave up just
    as the endpoint's 408 was due, while a headless run of the same target waited 65 s. Now it is empty and
    shows the default, which the app's run then takes by the same rule."""
    app = make_app(run_factory=lambda config, base_dir, refresh: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.state.target_table = {"local": {}}
        setup = RunSetupScreen()
        await app.push_screen(setup)
        await pilot.pause()
        field = setup.query_one("#load-timeout", Input)
        typed, shown = field.value, field.placeholder
        why = str(setup.query_one("#timeout-why", Static).render())
        config = setup.check_settings()
    assert typed == "" and config is not None and config.load.timeout_s is None
    path = tmp_path / "run.toml"
    path.write_text('[target.local]\n\n[load]\nmode = "burst"\nrequests = 1\n')
    out, err = io.StringIO(), io.StringIO()
    status = await run_config(path, report_path=tmp_path / "report.json", out=out, err=err)
    assert status == 0, out.getvalue() + err.getvalue()
    used = json.loads((tmp_path / "report.json").read_text())["request_timeout_s"]
    assert used == 65  # the scoring app's deployment.yml: request_timeout_ms 60000, plus the margin
    assert shown == f"default {used:g}s", shown  # short: an 80-column screen cut the reason off
    assert why == f"empty: {used:g} s (request_timeout_ms 60000 + 5 s)", why


async def test_a_chosen_deployments_url_runs_with_its_request_timeout(tmp_path: Path) -> None:
    """A deployment chosen in the app is run through its URL, which carries no request_timeout_ms: its
    request_timeout_ms (from the deployment's record) gives the default, as its own table does headless."""
    app = make_app(run_factory=lambda config, base_dir, refresh: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.state.target_table = {"url": {"url": "http://127.0.0.1:9/score"}}
        app.state.request_timeout_ms = 90_000
        setup = RunSetupScreen()
        await app.push_screen(setup)
        await pilot.pause()
        shown = setup.query_one("#load-timeout", Input).placeholder
        why = str(setup.query_one("#timeout-why", Static).render())
        load = setup.build()["load"]
        setup.query_one("#load-timeout", Input).value = "7s"
        await pilot.pause()
        typed = setup.build()["load"]
    assert (shown, why) == ("default 95s", "empty: 95 s (request_timeout_ms 90000 + 5 s)")
    assert load["timeout"] == 95
    assert typed["timeout"] == "7s"  # what is typed wins

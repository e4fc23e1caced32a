"""Pictures of every screen at 80x24 (and one wide size), from canned snapshots: no engine, no network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot

from moetui.engine.snapshot import EngineSnapshot
from moetui.tui.app import MoetuiApp, make_app
from moetui.tui.messages import TargetChosen
from moetui.tui.screens import deployment as deployment_screen
from moetui.tui.screens.deployment import DeploymentScreen
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.report import ReportScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from tests.fixtures import canned
from tests.fixtures.memory_targets import MemoryBrowser, MemoryDeployments, azure_deployment

SIZES = [(80, 24), (120, 40)]


def app_with(snapshots: list[EngineSnapshot]) -> MoetuiApp:
    return make_app(
        run_factory=lambda config, base_dir, refresh: canned.FakeRun(snapshots), base_dir=Path("/nonexistent")
    )


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
        pilot.app.screen.query_one("#load-at_once").value = "-2"
        await pilot.pause()

    assert snap_compare(app_with([]), run_before=setup)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_run_setup_azure(snap_compare: Any, size: tuple[int, int]) -> None:
    """An Azure ML deployment chosen: "Run on Azure" with its compute and node count."""

    async def setup(pilot: Pilot[Any]) -> None:
        azure = {"subscription_id": "sub", "resource_group": "rg", "workspace": "ws", "endpoint": "ep"}
        url = {"url": "https://ep.westeurope.inference.ml.azure.com/score", "key_env": "MOETUI_TUI_KEY"}
        pilot.app.post_message(TargetChosen({"url": url}, {"azure": azure}))
        for _ in range(40):
            await pilot.pause(0.05)
            if isinstance(pilot.app.screen, RunSetupScreen):
                break
        await pilot.pause()

    assert snap_compare(app_with([]), terminal_size=size, run_before=setup)


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


def report(config: Any, finished: Any) -> Callable[[Pilot[Any]], Any]:
    async def go(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(ReportScreen(config, finished))
        await pilot.pause()

    return go


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_report_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    """The burst of 3: banner, percentiles, distribution, the requests as lanes."""
    assert snap_compare(app_with([]), terminal_size=size, run_before=report(*canned.burst_finished()))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_report_screen_open(snap_compare: Any, size: tuple[int, int]) -> None:
    """An open run: corrected column, offered against sent, not sent, a failed threshold in the banner."""
    assert snap_compare(app_with([]), terminal_size=size, run_before=report(*canned.open_finished()))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_report_screen_compared_with_the_previous_run(snap_compare: Any, size: tuple[int, int]) -> None:
    """A streamed closed run against the open run before it, as moetui.report.compare judges them: figures,
    change, 95% interval and verdict; scrolled into view once its bootstrap (a thread) is done."""
    config, finished = canned.stream_finished()

    async def go(pilot: Pilot[Any]) -> None:
        previous = canned.open_finished()[1].report
        await pilot.app.push_screen(ReportScreen(config, finished, previous=previous))
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        pilot.app.screen.query_one("#report-compare").scroll_visible(animate=False, top=True)
        await pilot.pause()

    assert snap_compare(app_with([]), terminal_size=size, run_before=go)


def test_report_screen_sweep(snap_compare: Any) -> None:
    assert snap_compare(app_with([]), terminal_size=(120, 40), run_before=report(*canned.steps_finished()))


def test_live_burst_light_theme(snap_compare: Any) -> None:
    snapshot, _ = canned.burst_snapshot(done=False)
    config = canned.config({"load": {"mode": "burst", "requests": 3}})

    async def light(pilot: Pilot[Any]) -> None:
        pilot.app.theme = "textual-light"
        await live(config)(pilot)

    assert snap_compare(app_with([snapshot]), terminal_size=(80, 24), run_before=light)


def app_with_services(service: MemoryDeployments, browser: MemoryBrowser | None = None) -> MoetuiApp:
    return make_app(
        run_factory=lambda config, base_dir, refresh: canned.FakeRun([]),
        base_dir=Path("/nonexistent"),
        local_service=service,
        azure_browser=lambda: browser or MemoryBrowser(),
    )


def deployments_screen(service: MemoryDeployments) -> Callable[[Pilot[Any]], Any]:
    async def go(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(DeploymentScreen(service))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return go


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_deployment_screen_azure(snap_compare: Any, size: tuple[int, int]) -> None:
    service = MemoryDeployments(deployments=[azure_deployment(), azure_deployment("moetui-p7w2m4zd", state="Creating")])
    assert snap_compare(app_with_services(service), terminal_size=size, run_before=deployments_screen(service))


def test_create_deployment_dialog(snap_compare: Any) -> None:
    service = MemoryDeployments(kind="local", title="Local endpoint")

    async def go(pilot: Pilot[Any]) -> None:
        await deployments_screen(service)(pilot)
        await pilot.press("c")
        await pilot.pause()

    assert snap_compare(app_with_services(service), terminal_size=(80, 24), run_before=go)


def test_deployment_create_failed_with_logs(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    service = MemoryDeployments(create_error="Deployment failed: the container crashed (exit code 1).")
    # The screen says how long the attempt took: 0 s on a quiet machine, 1 s on a loaded one. The screen's
    # clock stands still here, so the picture does not depend on the machine's speed.
    monkeypatch.setattr(deployment_screen, "time", SimpleNamespace(monotonic=lambda: 1000.0))

    async def go(pilot: Pilot[Any]) -> None:
        await deployments_screen(service)(pilot)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app_with_services(service), terminal_size=(80, 24), run_before=go)


def test_credentials_screen_masks_the_key(snap_compare: Any) -> None:
    service = MemoryDeployments(deployments=[azure_deployment()])

    async def go(pilot: Pilot[Any]) -> None:
        await deployments_screen(service)(pilot)
        await pilot.press("ctrl+n")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app_with_services(service), terminal_size=(80, 24), run_before=go)


def workspace_screen(pilot_setup: Callable[[Pilot[Any]], Any] | None = None) -> Callable[[Pilot[Any]], Any]:
    async def go(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#azure").value = True
        await pilot.pause()
        await pilot.press("ctrl+n")
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        if pilot_setup is not None:
            await pilot_setup(pilot)
        await pilot.pause()

    return go


def test_workspace_screen_signed_in(snap_compare: Any) -> None:
    async def choose_group(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#resource-group").value = "rg-demo"
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()

    app = app_with_services(MemoryDeployments(), MemoryBrowser())
    assert snap_compare(app, terminal_size=(80, 24), run_before=workspace_screen(choose_group))


def test_workspace_screen_nobody_signed_in(snap_compare: Any) -> None:
    app = app_with_services(MemoryDeployments(), MemoryBrowser(signed_in=False))
    assert snap_compare(app, terminal_size=(80, 24), run_before=workspace_screen())


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_live_streaming(snap_compare: Any, size: tuple[int, int]) -> None:
    """A streamed chat run: TTFT, ITL and TPOT ladders, output tokens per second, the verdict so far."""
    app = app_with([canned.stream_snapshot()])
    assert snap_compare(app, terminal_size=size, run_before=live(canned.stream_config()))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_report_screen_streaming(snap_compare: Any, size: tuple[int, int]) -> None:
    """The streaming block: verdict and its evidence, the ladders, tokens and their source, goodput."""
    assert snap_compare(app_with([]), terminal_size=size, run_before=report(*canned.stream_finished()))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_report_screen_streamed_burst_lanes(snap_compare: Any, size: tuple[int, int]) -> None:
    """A streamed burst's lanes, scrolled into view: ▸ where each request's first token came."""
    show = report(*canned.stream_burst_finished())

    async def go(pilot: Pilot[Any]) -> None:
        await show(pilot)
        pilot.app.screen.query_one("#report-burst").scroll_visible(animate=False, top=True)
        await pilot.pause()

    assert snap_compare(app_with([]), terminal_size=size, run_before=go)

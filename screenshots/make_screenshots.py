"""Regenerate the README's pictures of the main screens (SVG), from the same canned snapshots as the
snapshot tests: no engine, no network, the same picture every time.

    .venv/bin/python screenshots/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Where the pictures go: screenshots/ itself, or MOETUI_SHOTS_DIR (the test that keeps this script working).
OUT = Path(os.environ.get("MOETUI_SHOTS_DIR") or HERE)
sys.path.insert(0, str(HERE.parent))
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="moetui-shots-")  # no remembered target in the pictures

from moetui.tui.app import MoetuiApp, make_app  # noqa: E402
from moetui.tui.screens.credentials import CredentialsScreen  # noqa: E402
from moetui.tui.screens.deployment import DeploymentScreen  # noqa: E402
from moetui.tui.screens.live import LiveScreen  # noqa: E402
from moetui.tui.screens.report import ReportScreen  # noqa: E402
from moetui.tui.screens.run_setup import RunSetupScreen  # noqa: E402
from moetui.tui.screens.workspace import WorkspaceScreen  # noqa: E402
from tests.fixtures import canned  # noqa: E402
from tests.fixtures.memory_targets import FAKE_KEY, MemoryBrowser, MemoryDeployments, azure_deployment  # noqa: E402

SIZE = (100, 32)


async def shoot(name: str, prepare: Callable[[MoetuiApp], Awaitable[Any]], snapshots: list[Any]) -> None:
    app = make_app(
        run_factory=lambda config, base_dir, _refresh=None: canned.FakeRun(snapshots),
        base_dir=HERE,
        local_service=MemoryDeployments(kind="local", title="Local endpoint"),
        azure_browser=MemoryBrowser,
    )
    async with app.run_test(size=SIZE) as pilot:
        await prepare(app)
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        if isinstance(app.screen, LiveScreen):
            app.screen.pull()
            await pilot.pause(0.3)
        app.save_screenshot(str(OUT / f"{name}.svg"))
        print(f"wrote screenshots/{name}.svg")
        await pilot.pause(0.3)


async def main() -> None:
    async def nothing(app: MoetuiApp) -> None:
        return None

    async def setup(app: MoetuiApp) -> None:
        await app.push_screen(RunSetupScreen())

    def live(config: Any) -> Callable[[MoetuiApp], Awaitable[None]]:
        async def go(app: MoetuiApp) -> None:
            await app.push_screen(LiveScreen(config))

        return go

    def report_of(made: Callable[[], Any]) -> Callable[[MoetuiApp], Awaitable[None]]:
        async def go(app: MoetuiApp) -> None:
            config, finished = made()
            await app.push_screen(ReportScreen(config, finished))

        return go

    service = MemoryDeployments(deployments=[azure_deployment(), azure_deployment("moetui-p7w2m4zd", state="Creating")])

    async def deployments(app: MoetuiApp) -> None:
        await app.push_screen(DeploymentScreen(service))

    async def credentials(app: MoetuiApp) -> None:
        info = service.deployments[0]
        await app.push_screen(CredentialsScreen(service, info, await service.credentials(info.endpoint, info.name)))
        assert FAKE_KEY not in str(app.screen.query_one("#credentials").render())

    async def workspace(app: MoetuiApp) -> None:
        await app.push_screen(WorkspaceScreen(MemoryBrowser))

    burst, _ = canned.burst_snapshot(done=False)
    await shoot("target", nothing, [])
    await shoot("workspace", workspace, [])
    await shoot("deployments", deployments, [])
    await shoot("credentials", credentials, [])
    await shoot("run-setup", setup, [])
    await shoot("live-burst", live(canned.config({"load": {"mode": "burst", "requests": 3}})), [burst])
    await shoot("live-open", live(canned.config({"load": {"mode": "open", "duration": 60}})), [canned.open_snapshot()])
    steps = canned.config({"load": {"mode": "steps"}, "steps": {"levels": [1, 2, 4, 8], "threshold_ms": 130}})
    await shoot("live-steps", live(steps), [canned.steps_snapshot()])
    await shoot("live-stream", live(canned.stream_config()), [canned.stream_snapshot()])
    await shoot("report", report_of(canned.burst_finished), [])
    await shoot("report-open", report_of(canned.open_finished), [])
    await shoot("report-stream", report_of(canned.stream_finished), [])
    for name, answered in (("matrix-live", False), ("matrix", True)):
        screen = canned.matrix_screen(answered=answered)

        async def matrix(app: MoetuiApp, screen: Any = screen) -> None:
            await app.push_screen(screen)
            screen.feed()

        await shoot(name, matrix, [])


if __name__ == "__main__":
    asyncio.run(main())

"""At 80x24 the keys and words a newcomer needs are on the screen (issue 26 item 9), and values remembered
from the last session are marked, with a key back to the defaults (item 8)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from moetui.tui.app import MoetuiApp, make_app
from moetui.tui.screens.credentials import CredentialsScreen
from moetui.tui.screens.deployment import DeploymentScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from moetui.tui.state import remember_target, remembered_target
from tests.fixtures import canned
from tests.fixtures.memory_targets import MemoryDeployments, azure_deployment


def _app(service: MemoryDeployments | None = None) -> MoetuiApp:
    return make_app(
        run_factory=lambda config, base_dir, refresh: canned.FakeRun([]),
        base_dir=Path("/nonexistent"),
        local_service=service or MemoryDeployments(kind="local"),
    )


async def _footer_keys(pilot: Pilot[Any]) -> dict[str, tuple[str, int]]:
    """Each footer key shown whole within the screen: its key -> (description, right edge). The footer
    composes its keys after the screen mounts: waited for (up to 10 s on a loaded machine)."""
    width = pilot.app.size.width
    shown: dict[str, tuple[str, int]] = {}
    for _ in range(100):
        await pilot.pause(0.1)
        keys = list(pilot.app.screen.query(FooterKey))
        if keys and all(key.region.width for key in keys[:3]):
            break
    for key in pilot.app.screen.query(FooterKey):
        if key.region.width and key.region.right <= width:
            shown[key.key] = (key.description, key.region.right)
    return shown


def _app_with_an_azure_deployment() -> tuple[MoetuiApp, MemoryDeployments]:
    service = MemoryDeployments(deployments=[azure_deployment()])
    return _app(service), service


async def _deployments(app: MoetuiApp, pilot: Pilot[Any], service: MemoryDeployments) -> None:
    """The deployments screen, its listing loaded."""
    await app.push_screen(DeploymentScreen(service))
    await app.workers.wait_for_complete()
    await pilot.pause()


def _screen_text(app: MoetuiApp) -> str:
    """The screen's words as drawn (the SVG screenshot's text, one line per row)."""
    svg = app.export_screenshot()
    rows = re.findall(r"<text[^>]*>(.*?)</text>", svg)
    return html.unescape(" ".join(rows)).replace("\xa0", " ")


async def test_at_80x24_the_deployments_footer_shows_use_it() -> None:
    """The README says press ctrl+n on the deployments screen; at 80 columns its footer cut it off."""
    app, service = _app_with_an_azure_deployment()
    async with app.run_test(size=(80, 24)) as pilot:
        await _deployments(app, pilot, service)
        keys = await _footer_keys(pilot)
    assert keys.get("ctrl+n", ("", 0))[0] == "Use it", keys


async def test_at_80x24_the_credentials_and_the_timeout_are_not_cut() -> None:
    app, service = _app_with_an_azure_deployment()
    async with app.run_test(size=(80, 24)) as pilot:
        await _deployments(app, pilot, service)
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, CredentialsScreen)
        name = app.screen.info.endpoint
        credentials = _screen_text(app)
        assert "save the key to a file (mode 0600)" in credentials
        assert f"file: credentials/{name}.json in moetui's config directory" in credentials
        await app.push_screen(RunSetupScreen())
        await pilot.pause()
        setup = _screen_text(app)
        why = str(app.screen.query_one("#timeout-why", Static).render())
        placeholder = app.screen.query_one("#load-timeout", Input).placeholder
    assert why.startswith("empty: ") and why in setup, (why, setup)
    assert placeholder in setup and len(placeholder) < 20


async def test_remembered_values_are_marked_and_ctrl_l_goes_back_to_the_defaults() -> None:
    """The app reopened with the last session's sleep 1 and WORKER_COUNT 1 and no word of it: the README's
    keys then gave *serialized*. Now those values are marked, and ctrl+l (in the footer) clears them."""
    remember_target({"local": {"sleep": 1, "workers": 1}})
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        hint = screen.query_one("#local-remembered", Static)
        said = str(hint.render())
        marked = [field.query_one(Input).id for field in screen.query(".field.-remembered")]
        values = (screen.query_one("#local-sleep", Input).value, screen.query_one("#local-workers", Input).value)
        keys = await _footer_keys(pilot)
        await pilot.press("ctrl+l")
        await pilot.pause()
        after = (screen.query_one("#local-sleep", Input).value, screen.query_one("#local-workers", Input).value)
        still_marked = list(screen.query(".field.-remembered"))
        hint_shown = hint.display
    assert said == "remembered from last time: sleep 1, WORKER_COUNT 1 (ctrl+l: defaults)"
    assert marked == ["local-sleep", "local-workers"] and values == ("1", "1")
    assert keys.get("ctrl+l", ("", 0))[0] == "Defaults", keys
    assert after == ("", "") and not still_marked and not hint_shown
    assert remembered_target() == {}  # forgotten: the next session opens with the defaults too


async def test_nothing_remembered_nothing_marked() -> None:
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#local-remembered", Static).display
        assert not list(app.screen.query(".field.-remembered"))

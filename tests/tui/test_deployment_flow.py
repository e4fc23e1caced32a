"""Deployment, credentials and workspace screens driven by a pilot, through in-memory services."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from moetui.deployments.tokens import TokenKeeper
from moetui.paths import config_dir
from moetui.tui.app import make_app
from moetui.tui.dialogs.confirm import ConfirmDialog
from moetui.tui.dialogs.create_deployment import CreateDeploymentDialog
from moetui.tui.dialogs.logs import LogsDialog
from moetui.tui.screens.credentials import CredentialsScreen
from moetui.tui.screens.deployment import DeploymentScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from moetui.tui.screens.workspace import WorkspaceScreen
from tests.fixtures import canned
from tests.fixtures.memory_targets import FAKE_KEY, MemoryBrowser, MemoryDeployments, azure_deployment
from tests.tui.test_flow import wait_for


def _app(tmp_path: Path, browser: MemoryBrowser) -> Any:
    return make_app(
        run_factory=lambda config, base_dir, refresh: canned.FakeRun([]),
        base_dir=tmp_path,
        local_service=MemoryDeployments(kind="local"),
        azure_browser=lambda: browser,
    )


def _text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def _to_workspace(pilot: Pilot[Any]) -> WorkspaceScreen:
    pilot.app.screen.query_one("#azure").value = True
    await pilot.pause()
    await pilot.press("ctrl+n")
    screen: WorkspaceScreen = await wait_for(pilot, WorkspaceScreen)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return screen


async def test_azure_path_signs_in_picks_a_workspace_and_saves_the_azure_target(tmp_path: Path) -> None:
    browser = MemoryBrowser()
    app = _app(tmp_path, browser)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _to_workspace(pilot)
        assert "dev@example.com" in _text(screen, "#identity")
        screen.query_one("#resource-group").value = "rg-demo"  # one subscription: chosen by itself
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert screen.chosen is not None and screen.chosen.name == "ws-demo"  # one workspace: chosen by itself
        await pilot.press("ctrl+n")
        deployments = await wait_for(pilot, DeploymentScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert deployments.service.title == "Azure workspace ws-demo (rg-demo)"
        assert [d.endpoint for d in deployments.deployments] == ["moetui-k3f9x2qa"]
        await pilot.press("ctrl+n")
        await wait_for(pilot, CredentialsScreen)
        app.screen.query_one("#save").value = True
        await pilot.press("ctrl+n")
        setup = await wait_for(pilot, RunSetupScreen)
        saved = tmp_path / "azure.toml"
        setup.query_one("#save-path").value = str(saved)
        await pilot.press("ctrl+s")
        await pilot.pause()
    path = config_dir() / "credentials" / "moetui-k3f9x2qa.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["key"] == FAKE_KEY
    text = saved.read_text()
    assert "[target.azure]" in text and 'endpoint = "moetui-k3f9x2qa"' in text
    assert FAKE_KEY not in text and "key_file" not in text


async def test_nobody_signed_in_says_how_and_the_browser_sign_in_follows(tmp_path: Path) -> None:
    browser = MemoryBrowser(signed_in=False)
    app = _app(tmp_path, browser)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _to_workspace(pilot)
        assert "az login" in _text(screen, "#workspace-error")
        assert "Not signed in" in _text(screen, "#identity")
        await pilot.press("ctrl+n")  # nothing chosen: an inline message, no screen change
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("ctrl+b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert browser.interactive_calls == 1
        assert "dev@example.com" in _text(screen, "#identity")


async def test_create_failure_shows_the_logs_and_keeps_the_screen(tmp_path: Path) -> None:
    service = MemoryDeployments(create_error="Deployment failed: the container crashed (exit code 1).")
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = DeploymentScreen(service)
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.press("c")
        dialog = await wait_for(pilot, CreateDeploymentDialog)
        dialog.query_one("#req-request_timeout_ms").value = "999999"
        await pilot.pause()
        assert "180000" in _text(dialog, "#create-error")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog  # refused while invalid
        dialog.query_one("#req-request_timeout_ms").value = "60000"
        await pilot.press("ctrl+s")
        await wait_for(pilot, DeploymentScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        error = _text(screen, "#deployment-error")
        assert "container crashed" in error and "Worker with pid 41 ready" in error
        assert screen.busy is None and screen.deployments == []


async def test_logs_and_delete_with_confirmation(tmp_path: Path) -> None:
    service = MemoryDeployments(deployments=[azure_deployment(), azure_deployment("moetui-second")])
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = DeploymentScreen(service)
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("l")
        logs = await wait_for(pilot, LogsDialog)
        await pilot.press("escape")
        await wait_for(pilot, DeploymentScreen)
        assert logs is not app.screen and "logs moetui-k3f9x2qa/blue" in service.calls
        await pilot.press("down", "d")
        await wait_for(pilot, ConfirmDialog)
        await pilot.press("n")  # no: nothing deleted
        await wait_for(pilot, DeploymentScreen)
        assert not [c for c in service.calls if c.startswith("delete")]
        await pilot.press("d")
        await wait_for(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, DeploymentScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "delete moetui-second" in service.calls
        assert [d.endpoint for d in screen.deployments] == ["moetui-k3f9x2qa"]
        assert "Deleted moetui-second" in _text(screen, "#deployment-progress")


async def test_a_token_deployments_runs_get_a_token_keeper_and_key_deployments_none(tmp_path: Path) -> None:
    """An aml_token expires: the run factory gets a refresh that fetches a new token through the service
    this screen signed in with; for a key (which never expires) it gets None."""
    service = MemoryDeployments(deployments=[azure_deployment(auth_mode="aml_token")])
    refreshes: list[Any] = []

    def factory(config: Any, base_dir: Path, seams: Any) -> canned.FakeRun:
        refreshes.append(seams.refresh_headers)
        return canned.FakeRun([])

    app = make_app(run_factory=factory, base_dir=tmp_path, local_service=MemoryDeployments(kind="local"))
    async with app.run_test(size=(100, 30)) as pilot:
        info = service.deployments[0]
        app.push_screen(CredentialsScreen(service, info, await service.credentials(info.endpoint, info.name)))
        await pilot.pause()
        assert "token expires" in _text(app.screen, "#credentials")
        await pilot.press("ctrl+n")
        await wait_for(pilot, RunSetupScreen)
        app.make_run(None)
        service.token_lifetime_s = 60  # the next token is inside the margin: the keeper fetches again
        app.state.refresh_headers.credentials = await service.credentials(info.endpoint, info.name)
        headers = await asyncio.to_thread(app.state.refresh_headers)
        assert headers["Authorization"] == "Bearer fake-token-3-0123456789"

        key_service = MemoryDeployments(deployments=[azure_deployment()])
        key_info = key_service.deployments[0]
        creds = await key_service.credentials(key_info.endpoint, key_info.name)
        app.push_screen(CredentialsScreen(key_service, key_info, creds))
        await pilot.pause()
        await pilot.press("ctrl+n")
        await wait_for(pilot, RunSetupScreen)
        app.make_run(None)
    assert isinstance(refreshes[0], TokenKeeper) and refreshes[1] is None


async def test_no_other_key_cancels_a_create_under_way(tmp_path: Path) -> None:
    """r, l, d (confirmed) and ctrl+n while a create blocks: each is refused with a message or runs beside it;
    the create is never cancelled, and it ends the busy state when released."""
    service = MemoryDeployments(deployments=[azure_deployment("moetui-first")], gate=asyncio.Event())
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = DeploymentScreen(service)
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, CreateDeploymentDialog)
        await pilot.press("ctrl+s")
        await wait_for(pilot, DeploymentScreen)
        await pilot.pause()
        assert screen.busy is not None and screen.busy.startswith("Creating")
        await pilot.press("r")
        await pilot.press("l")
        await wait_for(pilot, LogsDialog)  # a read runs beside the create
        await pilot.press("escape")
        await wait_for(pilot, DeploymentScreen)
        await pilot.press("d")  # refused before asking
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        assert app.screen is screen
        assert screen.busy is not None and screen.busy.startswith("Creating")
        assert not [c for c in service.calls if c.startswith("delete")]
        assert service.gate is not None
        service.gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.busy is None
        assert {d.endpoint for d in screen.deployments} == {"moetui-first", "moetui-k3f9x2qa"}
        assert "Created moetui-k3f9x2qa" in _text(screen, "#deployment-progress")


async def test_a_failed_list_ends_the_busy_state_and_says_why(tmp_path: Path) -> None:
    class Unreachable(MemoryDeployments):
        async def list_deployments(self) -> list[Any]:
            raise OSError("workspace unreachable")

    service = Unreachable()
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = DeploymentScreen(service)
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.busy is None
        assert "workspace unreachable" in _text(screen, "#deployment-error")
        assert "Listing deployments failed" in _text(screen, "#deployment-progress")
        await pilot.press("r")  # not stuck busy: the list is tried again
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.busy is None


async def test_a_deployment_unlike_the_typed_settings_is_named_and_not_used_silently(tmp_path: Path) -> None:
    service = MemoryDeployments(kind="local", deployments=[azure_deployment(worker_count=3)])
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = DeploymentScreen(service, typed={"worker_count": 1, "max_concurrent_requests_per_instance": 3})
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        mismatch = _text(screen, "#deployment-mismatch")
        assert "WORKER_COUNT 3, you typed 1" in mismatch and "max_concurrent" not in mismatch
        await pilot.press("ctrl+n")
        dialog = await wait_for(pilot, ConfirmDialog)
        assert "WORKER_COUNT 3, you typed 1" in dialog.question
        await pilot.press("n")
        await wait_for(pilot, DeploymentScreen)
        await pilot.press("c")  # creates one with the typed settings
        create = await wait_for(pilot, CreateDeploymentDialog)
        assert create.query_one("#req-worker_count").value == "1"
        await pilot.press("escape")
        await wait_for(pilot, DeploymentScreen)
        await pilot.press("ctrl+n")
        await wait_for(pilot, ConfirmDialog)
        await pilot.press("y")  # used anyway, knowingly
        await wait_for(pilot, CredentialsScreen)


async def test_a_deployment_with_the_typed_settings_is_used_without_a_question(tmp_path: Path) -> None:
    service = MemoryDeployments(kind="local", deployments=[azure_deployment(worker_count=1)])
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = DeploymentScreen(service, typed={"worker_count": 1})
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.query_one("#deployment-mismatch").display
        await pilot.press("ctrl+n")
        await wait_for(pilot, CredentialsScreen)

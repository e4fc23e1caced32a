"""The TUI's Azure path end to end on the real SDKs: workspace pickers, a deployment created from
scoring_app/ (code upload and all), its credentials, Save as TOML, delete: canned ARM answers only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from moetui.azure.clients import AzureClients
from moetui.azure.workspaces import AzureBrowser
from moetui.tui.app import make_app
from moetui.tui.dialogs.confirm import ConfirmDialog
from moetui.tui.dialogs.create_deployment import CreateDeploymentDialog
from moetui.tui.screens.credentials import CredentialsScreen
from moetui.tui.screens.deployment import DeploymentScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from moetui.tui.screens.workspace import WorkspaceScreen
from tests.azure.fake_arm import KEY, RG, SUB, WS, FakeWorkspace
from tests.fixtures import canned
from tests.fixtures.azure_transport import CannedTransport
from tests.fixtures.memory_targets import MemoryDeployments
from tests.tui.test_flow import wait_for


async def _settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def test_pick_create_credentials_save_delete(
    clients: AzureClients, arm: CannedTransport, workspace: FakeWorkspace, tmp_path: Path
) -> None:
    arm.add(
        "GET",
        r"^/subscriptions$",
        json={"value": [{"id": f"/subscriptions/{SUB}", "subscriptionId": SUB, "displayName": "ML team"}]},
    )
    arm.add(
        "GET",
        rf"^/subscriptions/{SUB}/resourcegroups$",
        json={"value": [{"id": f"/subscriptions/{SUB}/resourceGroups/{RG}", "name": RG, "location": "westeurope"}]},
    )
    app = make_app(
        run_factory=lambda config, base_dir, refresh: canned.FakeRun([]),
        base_dir=tmp_path,
        local_service=MemoryDeployments(kind="local"),
        azure_browser=lambda: AzureBrowser(clients),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#azure").value = True
        await pilot.pause()
        await pilot.press("ctrl+n")
        picker: WorkspaceScreen = await wait_for(pilot, WorkspaceScreen)
        await _settle(pilot, 5)  # sign-in, then one subscription and one group: each chosen by itself
        assert "ada@contoso.example" in str(picker.query_one("#identity").render())
        picker.query_one("#workspace").value = WS
        await pilot.pause()
        await pilot.press("ctrl+n")
        screen: DeploymentScreen = await wait_for(pilot, DeploymentScreen)
        await _settle(pilot)
        assert screen.deployments == []

        await pilot.press("c")
        dialog = await wait_for(pilot, CreateDeploymentDialog)
        endpoint = dialog.request.endpoint
        dialog.query_one("#req-request_timeout_ms").value = "90000"
        await pilot.press("ctrl+s")
        await wait_for(pilot, DeploymentScreen)
        for _ in range(600):
            await pilot.pause(0.05)
            if screen.busy is None and screen.deployments:
                break
        assert [(d.endpoint, d.state, d.request_timeout_ms) for d in screen.deployments] == [
            (endpoint, "Succeeded", 90_000)
        ]
        put = arm.sent("PUT", rf"/onlineEndpoints/{endpoint}/deployments/blue$")[-1].body
        assert put["properties"]["requestSettings"]["maxConcurrentRequestsPerInstance"] == 3
        assert put["properties"]["environmentVariables"]["WORKER_COUNT"] == "3"

        await pilot.press("ctrl+n")
        credentials: CredentialsScreen = await wait_for(pilot, CredentialsScreen)
        shown = str(credentials.query_one("#credentials").render())
        assert KEY not in shown and KEY[-4:] in shown
        await pilot.press("ctrl+n")
        setup: RunSetupScreen = await wait_for(pilot, RunSetupScreen)
        saved = tmp_path / "azure.toml"
        setup.query_one("#save-path").value = str(saved)
        await pilot.press("ctrl+s")
        await pilot.pause()

        await pilot.press("escape", "escape")
        await wait_for(pilot, DeploymentScreen)
        await pilot.press("d")
        await wait_for(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, DeploymentScreen)
        for _ in range(600):
            await pilot.pause(0.05)
            if screen.busy is None and not screen.deployments:
                break
        assert screen.deployments == []
        assert arm.sent("DELETE", rf"/onlineEndpoints/{endpoint}$")
    text = saved.read_text()
    assert "[target.azure]" in text and f'endpoint = "{endpoint}"' in text and KEY not in text

"""Sign-in and the workspace pickers: the real azure-identity, azure-mgmt-resource(-subscriptions) and
azure-ai-ml clients on canned answers; the identity read from the token's claims; the SDKs' console
output kept off stdout and stderr."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moetui.azure.clients import AzureClients
from moetui.azure.deployments import AzureDeployments
from moetui.azure.quiet import log_path, quiet_azure_logging
from moetui.azure.workspaces import AzureBrowser
from moetui.deployments.base import DeploymentError, Workspace
from tests.azure.fake_arm import PROVIDER, RECORDED_REGIONS, RG, SUB, WS, FakeWorkspace, workspace_json
from tests.azure.recorded import RECORDED_HUB, recorded_body
from tests.fixtures.azure_transport import CannedTransport, FakeCredential, fake_jwt

TENANT = "72f988bf-0000-4000-8000-00000000cafe"
LOGIN = "https://login.microsoftonline.com"
APP_ID = "11111111-2222-4333-8444-555555555555"


async def test_sign_in_reads_who_from_the_token(clients: AzureClients) -> None:
    browser = AzureBrowser(clients)
    identity = await browser.sign_in()
    assert (identity.user, identity.tenant_id, identity.method) == ("ada@contoso.example", TENANT, "FakeCredential")
    assert clients.credential.scopes == [("https://management.azure.com/.default",)]


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> CannedTransport:
    """Microsoft Entra ID, canned, for a service principal named by the environment (EnvironmentCredential)."""
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", APP_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-real-secret")
    transport = CannedTransport(host="login.microsoftonline.com")
    transport.add(
        "GET",
        rf"^/{TENANT}/v2.0/.well-known/openid-configuration$",
        json={
            "issuer": f"{LOGIN}/{TENANT}/v2.0",
            "token_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/token",
            "authorization_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/devicecode",
        },
    )
    transport.add(
        "GET",
        r"^/common/discovery/instance$",
        json={
            "tenant_discovery_endpoint": f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
            "metadata": [{"preferred_network": "login.microsoftonline.com", "aliases": ["login.microsoftonline.com"]}],
        },
    )
    return transport


async def test_a_service_principal_signs_in_through_the_real_default_chain(login: CannedTransport) -> None:
    token = fake_jwt({"appid": APP_ID, "tid": TENANT, "oid": "o"})
    login.add(
        "POST",
        rf"^/{TENANT}/oauth2/v2.0/token$",
        json={"token_type": "Bearer", "expires_in": 3599, "access_token": token},
    )
    identity = await AzureBrowser(AzureClients(transport=login)).sign_in()
    assert (identity.user, identity.tenant_id, identity.method) == (f"application {APP_ID}", TENANT, "environment")
    sent = login.sent("POST", r"/oauth2/v2.0/token$")[0].body
    assert sent["client_id"] == APP_ID and sent["scope"].startswith("https://management.azure.com/.default")
    login.assert_all_expected()


async def test_a_failed_sign_in_says_how_to_sign_in(login: CannedTransport) -> None:
    login.add(
        "POST",
        rf"^/{TENANT}/oauth2/v2.0/token$",
        401,
        json={"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
    )
    with pytest.raises(DeploymentError) as caught:
        await AzureBrowser(AzureClients(transport=login)).sign_in()
    message = caught.value.message
    assert caught.value.title == "Not signed in"
    assert "run `az login`" in message and "AZURE_CLIENT_ID" in message
    assert "EnvironmentCredential" in message and "AADSTS7000215" in message
    assert "not-a-real-secret" not in message and "Traceback" not in message
    login.assert_all_expected()


class InteractiveClients(AzureClients):
    """The default chain finds nobody; the browser cannot open; the device code works."""

    def __init__(self) -> None:
        super().__init__(credential=FakeCredential(error=RuntimeError("DefaultAzureCredential failed")))
        self.tried: list[str] = []

    def browser_credential(self) -> Any:
        self.tried.append("browser")
        return FakeCredential(error=RuntimeError("Failed to open a browser"))

    def device_code_credential(self, prompt: Callable[[str], None]) -> Any:
        self.tried.append("device code")
        prompt("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code X")
        return FakeCredential(claims={"upn": "grace@contoso.example", "tid": TENANT})


async def test_interactive_sign_in_falls_back_to_a_device_code() -> None:
    clients = InteractiveClients()
    with pytest.raises(DeploymentError, match="Nobody is signed in"):
        await AzureBrowser(clients).sign_in()
    assert clients.tried == []
    prompts: list[str] = []
    identity = await AzureBrowser(clients).sign_in(interactive=True, on_device_code=prompts.append)
    assert clients.tried == ["browser", "device code"]
    assert identity.user == "grace@contoso.example" and "devicelogin" in prompts[0]


async def test_subscriptions_resource_groups_and_workspaces(
    clients: AzureClients, arm: CannedTransport, workspace: FakeWorkspace
) -> None:
    arm.add(
        "GET",
        r"^/subscriptions$",
        json={
            "value": [
                {"id": f"/subscriptions/{SUB}", "subscriptionId": SUB, "displayName": "ML team", "state": "Enabled"},
                {"id": "/subscriptions/old", "subscriptionId": "old", "displayName": "Old", "state": "Disabled"},
            ]
        },
    )
    arm.add(
        "GET",
        rf"^/subscriptions/{SUB}/resourcegroups$",
        json={
            "value": [
                {"id": f"/subscriptions/{SUB}/resourceGroups/{name}", "name": name, "location": "westeurope"}
                for name in ("zeta", RG)
            ]
        },
    )
    browser = AzureBrowser(clients)
    assert [(s.id, s.name) for s in await browser.subscriptions()] == [(SUB, "ML team")]
    assert await browser.resource_groups(SUB) == [RG, "zeta"]
    found = await browser.workspaces(SUB, RG)
    assert found == [Workspace(WS, RG, SUB, "westeurope"), Workspace("ws-other", RG, SUB, "westeurope")]
    assert arm.sent("GET", r"/workspaces$")[0].api_version
    service = browser.deployments(found[0])
    assert isinstance(service, AzureDeployments) and service.title == f"Azure workspace {WS} ({RG})"


async def test_hub_workspaces_are_not_offered(clients: AzureClients, arm: CannedTransport) -> None:
    """An Azure AI Foundry hub holds no endpoints (its projects do): the recorded hub, listed beside a plain
    workspace and a project, is left out of the picker."""
    hub = recorded_body(
        "workspace_hub", "GET", r"/workspaces/[^/]+$", names={RECORDED_HUB: "hub-moe", **RECORDED_REGIONS}
    )
    assert hub["kind"] == "Hub"
    listing = [workspace_json(), hub, workspace_json("proj-moe", kind="Project")]
    arm.add(
        "GET", rf"^/subscriptions/{SUB}/resourceGroups/{RG}/providers/{PROVIDER}/workspaces$", json={"value": listing}
    )

    found = await AzureBrowser(clients).workspaces(SUB, RG)

    assert [w.name for w in found] == ["proj-moe", WS]


async def test_a_403_on_resource_groups_is_explained(clients: AzureClients, arm: CannedTransport) -> None:
    arm.add(
        "GET",
        rf"^/subscriptions/{SUB}/resourcegroups$",
        403,
        json={"error": {"code": "AuthorizationFailed", "message": "no"}},
    )
    with pytest.raises(DeploymentError, match=r"refused access \(403\) while listing the resource groups"):
        await AzureBrowser(clients).resource_groups(SUB)


def test_config_json_from_the_portal(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"subscription_id": SUB, "resource_group": RG, "workspace_name": WS}))
    assert AzureBrowser(AzureClients()).workspace_from_config_json(str(path)) == Workspace(WS, RG, SUB)
    path.write_text(json.dumps({"subscription_id": SUB}))
    with pytest.raises(DeploymentError, match="lacks resource_group, workspace_name"):
        AzureBrowser(AzureClients()).workspace_from_config_json(str(path))
    with pytest.raises(DeploymentError, match="Cannot read"):
        AzureBrowser(AzureClients()).workspace_from_config_json(str(tmp_path / "missing.json"))


async def test_the_sdks_say_nothing_on_the_terminal(
    clients: AzureClients, workspace: FakeWorkspace, capfd: pytest.CaptureFixture[str]
) -> None:
    from moetui.deployments.base import DeploymentRequest

    service = AzureDeployments(Workspace(WS, RG, SUB), clients=clients, report_every_s=0.01)
    await service.create(DeploymentRequest(endpoint="moetui-quiet001"), lambda _line: None)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    text = log_path().read_text()
    assert "Check: endpoint moetui-quiet001 exists" in text  # azure-ai-ml's own log line, in the file
    assert logging.getLogger("azure").propagate is False
    assert not [h for h in logging.getLogger("azure.ai.ml").handlers if type(h) is logging.StreamHandler]
    assert quiet_azure_logging() == log_path()

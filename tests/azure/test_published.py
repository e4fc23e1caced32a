"""Azure as Microsoft publishes it: official ARM example bodies (tests/azure/examples) through the canned
transport and the real azure-ai-ml, and the names, states and tokens as the service treats them."""

from __future__ import annotations

from pathlib import Path

import pytest

import moetui.targets.azure
from moetui.azure.clients import AzureClients
from moetui.config.load import config_from_dict
from moetui.deployments.base import DeploymentError
from moetui.deployments.names import name_problem
from moetui.targets.azure import AzureTargetSource
from moetui.targets.factory import target_for
from tests.azure.examples import official_deployment
from tests.azure.fake_arm import RG, SUB, WS, FakeWorkspace
from tests.fixtures.azure_transport import CannedTransport


def source_for(tmp_path: Path, progress: list[str], **target: object) -> AzureTargetSource:
    config = {
        "target": {"azure": {"subscription_id": SUB, "resource_group": RG, "workspace": WS, **target}},
        "load": {"mode": "closed", "duration": "10m"},
    }
    source = target_for(config_from_dict(config), tmp_path, progress.append)
    assert isinstance(source, AzureTargetSource)
    return source


@pytest.mark.parametrize("state", ["Failed", "Canceled", "Deleting"])
async def test_a_deployment_that_will_not_serve_is_refused_at_once_with_its_state(
    clients: AzureClients, workspace: FakeWorkspace, arm: CannedTransport, tmp_path: Path, state: str
) -> None:
    workspace.add_endpoint("endpt-a", {"blue": {}})
    body = official_deployment("endpt-a", "blue")  # the published example: provisioningState Creating
    body["properties"]["provisioningState"] = state
    workspace.deployments[("endpt-a", "blue")] = body
    progress: list[str] = []
    refused = rf"deployment blue of endpoint endpt-a: its provisioning state is {state}, not Succeeded\."
    with pytest.raises(DeploymentError, match=refused):
        async with source_for(tmp_path, progress, endpoint="endpt-a", deployment="blue").open():
            pytest.fail("a run must not start")
    assert not arm.sent("POST", r"/listKeys$")  # refused before the key was even fetched
    assert len(arm.sent("GET", r"/deployments/blue$")) == 1 and not any("waiting" in line for line in progress)


@pytest.mark.parametrize("state", ["Creating", "Updating", "Scaling", "Migrating"])
async def test_a_deployment_that_may_still_become_ready_is_waited_for_then_refused(
    clients: AzureClients,
    workspace: FakeWorkspace,
    arm: CannedTransport,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    state: str,
) -> None:
    """Never run against it with a warning: read again (with a progress line each time) until the bound,
    then refused with its state. "Migrating" stands for a state moetui does not know."""
    monkeypatch.setattr(moetui.targets.azure, "READY_WAIT_S", 0.3)
    monkeypatch.setattr(moetui.targets.azure, "READY_POLL_S", 0.05)
    workspace.add_endpoint("endpt-a", {"blue": {}})
    workspace.deployments[("endpt-a", "blue")] = official_deployment("endpt-a", "blue", provisioningState=state)
    progress: list[str] = []
    with pytest.raises(DeploymentError, match=rf"its provisioning state is {state}, not Succeeded after waiting"):
        async with source_for(tmp_path, progress, endpoint="endpt-a", deployment="blue").open():
            pytest.fail("a run must not start")
    waits = [line for line in progress if line.startswith("waiting for deployment blue of endpoint endpt-a")]
    assert len(waits) >= 2 and len(arm.sent("GET", r"/deployments/blue$")) == len(waits) + 1
    assert not arm.sent("POST", r"/listKeys$")


async def test_the_published_example_as_it_is_is_refused(
    clients: AzureClients, workspace: FakeWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moetui.targets.azure, "READY_WAIT_S", 0)
    workspace.add_endpoint("endpt-a", {"blue": {}})
    workspace.deployments[("endpt-a", "blue")] = official_deployment("endpt-a", "blue")
    with pytest.raises(DeploymentError, match="provisioning state is Creating, not Succeeded") as caught:
        async with source_for(tmp_path, [], endpoint="endpt-a", deployment="blue").open():
            pass
    assert caught.value.title == "Deployment Creating"


async def test_a_mixed_case_name_gets_its_traffic(
    clients: AzureClients, workspace: FakeWorkspace, tmp_path: Path
) -> None:
    from moetui.azure.deployments import AzureDeployments
    from moetui.deployments.base import Workspace

    # The service stores the traffic keys as sent (azure-ai-ml sends them lowercased); the name read back
    # from the deployment may keep the case it was created with.
    workspace.add_endpoint("endpt-a", {"Blue": {}}, traffic={"blue": 100})
    service = AzureDeployments(Workspace(WS, RG, SUB), clients=clients)
    try:
        info = await service.show("endpt-a", "Blue")
    finally:
        await service.close()
    assert info.traffic_percent == 100


def test_one_name_rule_for_the_create_form_and_the_local_endpoint() -> None:
    from moetui.deployments.base import DeploymentRequest
    from moetui.errors import ConfigError
    from moetui.local_endpoint.settings import DeploymentSettings, LocalEndpointSettings

    assert name_problem("blue-", "deployment") == "a deployment name ends with a letter or digit, not a hyphen"
    assert DeploymentRequest(endpoint="endpt-a", deployment="blue-").problems() == [
        "deployment 'blue-': a deployment name ends with a letter or digit, not a hyphen"
    ]
    with pytest.raises(ConfigError, match="a deployment name ends with a letter or digit"):
        LocalEndpointSettings(deployments=(DeploymentSettings(name="blue-"),))
    # What azure-ai-ml accepts, both accept: a double hyphen, mixed case.
    for name in ("blue--green", "Blue-1"):
        assert name_problem(name, "deployment") is None
        assert DeploymentRequest(endpoint="endpt-a", deployment=name).problems() == []
        LocalEndpointSettings(deployments=(DeploymentSettings(name=name),))


async def test_the_published_token_example_falls_back_without_refetching_on_every_check(
    clients: AzureClients, workspace: FakeWorkspace, arm: CannedTransport
) -> None:
    import time

    from moetui.azure.deployments import AzureDeployments
    from moetui.deployments.base import Workspace
    from moetui.deployments.tokens import TOKEN_FALLBACK_REFRESH_S, TokenKeeper
    from tests.azure.examples import official_example
    from tests.fixtures.azure_transport import fake_jwt

    workspace.add_endpoint("endpt-aml", {"blue": {}}, auth_mode="AMLToken")
    example = official_example("online_endpoint_get_token")  # expiryTimeUtc 1, refreshAfterTimeUtc 1
    example["accessToken"] = "fake-aml-token-not-a-jwt"
    arm.add("POST", r"/onlineEndpoints/endpt-aml/token$", json=example)
    service = AzureDeployments(Workspace(WS, RG, SUB), clients=clients)
    try:
        before = time.time()
        creds = service.credentials_now("endpt-aml", "blue")
        # 1 is not a time near now: unknown expiry, a new token after the fixed interval.
        assert creds.expires_at is None and creds.refresh_at is not None
        assert before + TOKEN_FALLBACK_REFRESH_S - 5 < creds.refresh_at < time.time() + TOKEN_FALLBACK_REFRESH_S + 5
        keeper = TokenKeeper(creds, lambda: service.credentials_now("endpt-aml", "blue"))
        for _ in range(5):
            assert keeper()["Authorization"] == "Bearer fake-aml-token-not-a-jwt"
        assert len(arm.sent("POST", r"/onlineEndpoints/endpt-aml/token$")) == 1  # fetched once, not per check

        # A JWT: its own exp claim stands in for the unusable expiryTimeUtc.
        exp = int(time.time()) + 7200
        example["accessToken"] = fake_jwt({"exp": exp, "aud": "https://ml.azure.com"})
        arm.add("POST", r"/onlineEndpoints/endpt-aml/token$", json=example)
        creds = service.credentials_now("endpt-aml", "blue")
        assert (creds.expires_at, creds.refresh_at) == (exp, None)
    finally:
        await service.close()


async def test_a_download_failure_shows_the_storage_initializers_log(
    clients: AzureClients, workspace: FakeWorkspace, arm: CannedTransport
) -> None:
    from moetui.azure.deployments import AzureDeployments
    from moetui.deployments.base import DeploymentRequest, Workspace

    workspace.fail_deployments = "Container 'storage-initializer' failed: exit code 1."
    workspace.logs = ""  # the inference server never started
    workspace.storage_logs = "2026-03-02T10:01:02Z Failed to download model: AuthorizationPermissionMismatch\n"
    service = AzureDeployments(Workspace(WS, RG, SUB), clients=clients, report_every_s=60)
    try:
        with pytest.raises(DeploymentError) as caught:
            await service.create(DeploymentRequest(endpoint="endpt-dl01"), lambda _line: None)
    finally:
        await service.close()
    message = str(caught.value)
    assert "Failed to download model: AuthorizationPermissionMismatch" in message
    assert "(the logs of the inference server are empty)" in message
    kinds = [(r.body or {}).get("containerType") for r in arm.sent("POST", r"/getLogs$")]
    assert "StorageInitializer" in kinds


def test_the_newer_unique_name_wording_is_name_taken() -> None:
    from moetui.azure.errors import is_name_taken

    newer = Exception("(UserError) Endpoint name 'endpt-a' is already in use; it must be unique within the region.")
    assert is_name_taken(newer)
    assert not is_name_taken(Exception("Quota exceeded for Standard_DS3_v2 in westeurope."))

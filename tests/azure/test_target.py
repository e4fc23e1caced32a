"""[target.azure] resolved when a run starts: scoring URI, key or token, the azureml-model-deployment
header and the capacity, through the real azure-ai-ml on canned ARM answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from moetui.azure.clients import AzureClients
from moetui.config.load import config_from_dict
from moetui.targets.azure import AzureTargetSource
from moetui.targets.deployments import DeploymentError
from moetui.targets.factory import target_for
from tests.azure.fake_arm import KEY, RG, SUB, WS, WS_PATH, FakeWorkspace
from tests.fixtures.azure_transport import CannedTransport


def azure_config(**target: object) -> dict[str, object]:
    return {
        "target": {"azure": {"subscription_id": SUB, "resource_group": RG, "workspace": WS, **target}},
        "load": {"mode": "closed", "duration": "10m"},
    }


@pytest.fixture
def endpoint(workspace: FakeWorkspace) -> FakeWorkspace:
    workspace.add_endpoint(
        "endpt-a",
        {
            "blue": {"max_concurrent": 4, "instance_count": 2, "request_timeout": "PT2M"},
            "green": {"max_concurrent": 1},
        },
        traffic={"blue": 20, "green": 80},
    )
    return workspace


async def test_a_named_deployment_resolves_to_uri_key_header_and_capacity(
    clients: AzureClients, endpoint: FakeWorkspace, arm: CannedTransport, tmp_path: Path
) -> None:
    progress: list[str] = []
    source = target_for(
        config_from_dict(azure_config(endpoint="endpt-a", deployment="blue")), tmp_path, progress.append
    )
    assert isinstance(source, AzureTargetSource)
    async with source.open() as target:
        assert target.kind == "azure"
        assert target.url == "https://endpt-a.westeurope.inference.ml.azure.com/score"
        assert target.headers["Authorization"] == f"Bearer {KEY}"
        assert target.headers["azureml-model-deployment"] == "blue"
        assert (target.max_concurrent_requests_per_instance, target.instance_count, target.capacity) == (4, 2, 8)
        assert "request_timeout_ms 120000" in target.description and KEY not in target.description
        assert KEY not in repr(target) and KEY not in str(target.public())
        assert target.server_metrics is not None
    assert arm.sent("POST", rf"^{WS_PATH}/onlineEndpoints/endpt-a/listKeys$")
    assert progress and all(KEY not in line for line in progress)


async def test_without_a_deployment_the_traffic_split_decides(
    clients: AzureClients, endpoint: FakeWorkspace, tmp_path: Path
) -> None:
    source = target_for(config_from_dict(azure_config(endpoint="endpt-a")), tmp_path)
    async with source.open() as target:
        assert "azureml-model-deployment" not in target.headers and target.deployment is None
        assert target.capacity == 1  # green's settings: it has 80 % of the traffic
        assert "traffic split (settings of green)" in target.description


async def test_a_token_that_expires_before_the_run_ends_is_announced_and_refreshed(
    clients: AzureClients, endpoint: FakeWorkspace, arm: CannedTransport, tmp_path: Path
) -> None:
    endpoint.add_endpoint("endpt-tok", {"blue": {}}, auth_mode="AMLToken")
    soon = int(time.time()) + 120
    arm.add("POST", r"/onlineEndpoints/endpt-tok/token$", json={"accessToken": "tok-1", "expiryTimeUtc": soon})
    progress: list[str] = []
    source = target_for(
        config_from_dict(azure_config(endpoint="endpt-tok", deployment="blue")), tmp_path, progress.append
    )
    assert isinstance(source, AzureTargetSource)
    async with source.open() as target:
        assert target.headers["Authorization"] == "Bearer tok-1"
        assert any("aml_token expires in 2 min, before the run's planned 10 min" in line for line in progress)
        later = int(time.time()) + 3600
        arm.add("POST", r"/onlineEndpoints/endpt-tok/token$", json={"accessToken": "tok-2", "expiryTimeUtc": later})
        assert (await source.fresh_headers())["Authorization"] == "Bearer tok-2"  # within 5 min of expiry
        assert (await source.fresh_headers())["Authorization"] == "Bearer tok-2"  # fresh: not fetched again
    assert len(arm.sent("POST", r"/onlineEndpoints/endpt-tok/token$")) == 2


async def test_a_missing_endpoint_is_a_clear_error(
    clients: AzureClients, endpoint: FakeWorkspace, tmp_path: Path
) -> None:
    source = target_for(config_from_dict(azure_config(endpoint="endpt-nope", deployment="blue")), tmp_path)
    with pytest.raises(DeploymentError, match="Not found while reading deployment blue of endpoint endpt-nope"):
        async with source.open():
            pass

"""[target.azure] resolved when a run starts: scoring URI, key or token, the azureml-model-deployment
header and the capacity, through the real azure-ai-ml on canned ARM answers."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from pathlib import Path

import pytest

import moetui.engine.run
import moetui.targets.azure
from moetui.azure.clients import AzureClients
from moetui.config.load import config_from_dict
from moetui.deployments.base import DeploymentError
from moetui.headless import run_config
from moetui.targets.azure import AzureTargetSource
from moetui.targets.factory import target_for
from tests.azure.fake_arm import KEY, RG, SUB, WS, WS_PATH, FakeWorkspace, deployment_json, deployment_put_json
from tests.fixtures.azure_transport import CannedTransport, Reply, sequence
from tests.helpers import assert_ran
from tests.http_server import FastServer


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
        assert target.refresh_headers is None  # keys do not expire
    assert arm.sent("POST", rf"^{WS_PATH}/onlineEndpoints/endpt-a/listKeys$")
    assert progress and all(KEY not in line for line in progress)


async def test_a_deployment_under_creation_is_waited_for_and_run_once_succeeded(
    clients: AzureClients,
    endpoint: FakeWorkspace,
    arm: CannedTransport,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service reports a deployment under creation as Updating with zeroed request settings (the SDK's
    recorded PUT answer): the run waits, saying so, and then uses the settings of the created deployment,
    not a 0 ms timeout and not a warning."""
    monkeypatch.setattr(moetui.targets.azure, "READY_POLL_S", 0.01)
    sent = {"properties": {"instanceType": "Standard_DS3_v2"}, "sku": {"capacity": 2}}
    creating = deployment_put_json("endpt-a", "blue", sent)
    assert creating["properties"]["requestSettings"]["requestTimeout"] == "PT0S"
    created = deployment_json("endpt-a", "blue", max_concurrent=4, instance_count=2, request_timeout="PT2M", env={})
    path = r"/onlineEndpoints/endpt-a/deployments/blue$"
    arm.add("GET", path, answer=sequence(Reply(json=creating), Reply(json=creating), Reply(json=created)))
    progress: list[str] = []
    source = target_for(
        config_from_dict(azure_config(endpoint="endpt-a", deployment="blue")), tmp_path, progress.append
    )
    async with source.open() as target:
        assert (target.request_timeout_ms, target.capacity) == (120_000, 8)
        assert "WORKER_COUNT not set (the inference server's default: 1 worker)" in target.description
        assert "Updating" not in target.description
    waits = [line for line in progress if "waiting for deployment blue of endpoint endpt-a to be Succeeded" in line]
    assert len(waits) == 2 and all("its provisioning state is Updating" in line for line in waits)
    assert not any(line.startswith("warning") for line in progress)
    assert len(arm.sent("GET", path)) == 3


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
        assert any(
            "aml_token expires in 2 min, before the run's planned 10 min are over: a new one is fetched during the run"
            in line
            for line in progress
        )
        later = int(time.time()) + 3600
        arm.add("POST", r"/onlineEndpoints/endpt-tok/token$", json={"accessToken": "tok-2", "expiryTimeUtc": later})
        refresh = target.refresh_headers
        assert refresh is not None and "tok-1" not in repr(target)
        fresh = await asyncio.to_thread(refresh)  # as the run calls it: blocking, in a thread
        assert fresh["Authorization"] == "Bearer tok-2" and fresh["azureml-model-deployment"] == "blue"
        assert (await asyncio.to_thread(refresh))["Authorization"] == "Bearer tok-2"  # fresh: not fetched again
    assert len(arm.sent("POST", r"/onlineEndpoints/endpt-tok/token$")) == 2


async def test_a_missing_endpoint_is_a_clear_error(
    clients: AzureClients, endpoint: FakeWorkspace, tmp_path: Path
) -> None:
    source = target_for(config_from_dict(azure_config(endpoint="endpt-nope", deployment="blue")), tmp_path)
    with pytest.raises(DeploymentError, match="Not found while reading deployment blue of endpoint endpt-nope"):
        async with source.open():
            pass


async def test_a_run_against_a_token_endpoint_sends_the_refreshed_token(
    clients: AzureClients,
    endpoint: FakeWorkspace,
    arm: CannedTransport,
    server: FastServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`moetui --run` against an aml_token endpoint whose first token expires in 2 minutes: the run refreshes
    it (every 0.2 s here, not every minute), and the local server standing in for the scoring URI sees the
    new token from then on; neither token is printed or written."""
    first, second = "fake-aml-token-first-0123", "fake-aml-token-second-4567"
    digests = [hashlib.sha256(token.encode()).hexdigest() for token in (first, second)]
    endpoint.scoring_uri = server.url(f"/auth-any?sha256={digests[0]},{digests[1]}")
    endpoint.add_endpoint("endpt-tok", {"blue": {}}, auth_mode="AMLToken")
    token = r"/onlineEndpoints/endpt-tok/token$"
    arm.add("POST", token, json={"accessToken": second, "expiryTimeUtc": int(time.time()) + 3600})
    arm.add("POST", token, json={"accessToken": first, "expiryTimeUtc": int(time.time()) + 120}, times=1)
    arm.add("GET", r"/providers/Microsoft\.Insights/metrics$", json={"cost": 0, "interval": "PT1M", "value": []})
    monkeypatch.setattr(moetui.engine.run, "HEADER_REFRESH_S", 0.2)
    config = tmp_path / "azure.toml"
    config.write_text(
        f'[target.azure]\nsubscription_id = "{SUB}"\nresource_group = "{RG}"\nworkspace = "{WS}"\n'
        'endpoint = "endpt-tok"\ndeployment = "blue"\n\n[load]\nmode = "closed"\nconnections = 2\nduration = "2s"\n'
    )
    out, err, report_path = io.StringIO(), io.StringIO(), tmp_path / "report.json"
    status = await run_config(config, report_path=report_path, out=out, err=err)

    report = json.loads(report_path.read_text())
    # About the token, not the measurement: a closed loop on a fast local server may saturate the generator.
    assert_ran(status, report, out.getvalue() + err.getvalue())
    assert report["requests"]["by_status"] == {"200": report["requests"]["sent"]}
    assert report["generator"]["header_refreshes"] == 1 and report["generator"]["header_refresh_failures"] == 0
    seen = server.tokens()["seen"]
    assert seen[digests[0]] > 0 and seen[digests[1]] > 0
    assert server.tokens()["last"] == {digests[1]: 2}  # both connections moved to the new token
    assert len(arm.sent("POST", token)) == 2  # the new one is good for an hour: fetched once
    assert "token refreshed 1 time(s) during the run" in out.getvalue()  # the summary says so
    for text in (out.getvalue(), err.getvalue(), report_path.read_text()):
        assert first not in text and second not in text


@pytest.mark.parametrize(("iso", "ms"), [("PT0.5S", 500), ("PT1.5S", 1500), ("PT2M", 120_000)])
async def test_a_sub_second_request_timeout_is_read_exactly(
    clients: AzureClients, workspace: FakeWorkspace, tmp_path: Path, iso: str, ms: int
) -> None:
    """azure-ai-ml reads requestTimeout in whole seconds (PT0.5S -> 0 ms, PT1.5S -> 1000 ms); the raw answer
    keeps it exact."""
    workspace.add_endpoint("endpt-t", {"blue": {"max_concurrent": 1, "request_timeout": iso}}, traffic={"blue": 100})
    source = target_for(config_from_dict(azure_config(endpoint="endpt-t", deployment="blue")), tmp_path, lambda _: None)
    async with source.open() as target:
        assert target.request_timeout_ms == ms
        assert f"request_timeout_ms {ms}" in target.description

"""AzureDeployments against the real azure-ai-ml (and azure-storage-blob for the code upload) on canned
ARM answers: what the SDK sent (method, path, body), long-running operations polled to completion,
and the failure paths (401, 403, a failed deployment with its logs, a name already taken)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from moetui.azure.clients import AzureClients
from moetui.azure.deployments import AzureDeployments
from moetui.azure.tokens import token_claims
from moetui.deployments.base import DeploymentError, DeploymentRequest, Workspace
from tests.azure.fake_arm import KEY, NAME_TAKEN_MESSAGE, RG, SUB, WS, WS_PATH, FakeWorkspace, deployment_json
from tests.fixtures.azure_transport import CannedTransport, error_body

WORKSPACE = Workspace(WS, RG, SUB, "westeurope")
REQUEST = DeploymentRequest(
    endpoint="moetui-test0001",
    deployment="blue",
    instance_type="Standard_F4s_v2",
    instance_count=2,
    max_concurrent_requests_per_instance=3,
    worker_count=3,
    request_timeout_ms=90_000,
    sleep_s=0.5,
)


@pytest.fixture
def service(clients: AzureClients) -> AzureDeployments:
    return AzureDeployments(WORKSPACE, clients=clients, report_every_s=0.01)


def body_of(arm: CannedTransport, method: str, path: str) -> Any:
    sent = arm.sent(method, path)
    assert sent, f"no {method} {path}"
    return sent[-1].body


async def test_create_sends_the_request_settings_and_gives_the_deployment_all_traffic(
    service: AzureDeployments, workspace: FakeWorkspace, arm: CannedTransport, storage: CannedTransport
) -> None:
    progress: list[str] = []
    info = await service.create(REQUEST, progress.append)

    endpoint_puts = arm.sent("PUT", rf"^{WS_PATH}/onlineEndpoints/moetui-test0001$")
    assert len(endpoint_puts) == 2  # created, then its traffic set
    assert endpoint_puts[0].body["properties"]["authMode"] == "Key"
    assert endpoint_puts[0].body["location"] == "westeurope"
    assert endpoint_puts[1].body["properties"]["traffic"] == {"blue": 100}

    props = body_of(arm, "PUT", rf"^{WS_PATH}/onlineEndpoints/moetui-test0001/deployments/blue$")["properties"]
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == 3
    assert props["requestSettings"]["requestTimeout"] == "PT1M30S"  # 90000 ms as an ISO-8601 duration
    assert props["environmentVariables"]["WORKER_COUNT"] == "3"
    assert props["environmentVariables"]["SLEEP_SECONDS"] == "0.5"
    assert props["instanceType"] == "Standard_F4s_v2"
    assert props["codeConfiguration"]["scoringScript"] == "score.py"
    assert re.search(r"/codes/[^/]+/versions/1$", props["codeConfiguration"]["codeId"])
    sku = body_of(arm, "PUT", r"/deployments/blue$")["sku"]
    assert sku["capacity"] == 2

    # The code upload really ran: hash lookup, temporary blob reference, each file PUT, the version registered.
    assert arm.sent("GET", r"/codes/[^/]+/versions$")[0].query["hash"]
    assert arm.sent("POST", r"/startPendingUpload$")[0].body == {"pendingUploadType": "TemporaryBlobReference"}
    uploaded = {r.path.rsplit("/scoring_app/", 1)[-1] for r in storage.sent("PUT") if "comp" not in r.query}
    assert {"score.py", "deployment.yml", "endpoint.yml", "environment/conda.yml"} <= uploaded
    code_version = body_of(arm, "PUT", r"/codes/[^/]+/versions/1$")["properties"]
    assert code_version["codeUri"].endswith("/scoring_app") and code_version["isAnonymous"] is True
    assert "conda" in body_of(arm, "PUT", r"/environments/[^/]+/versions/[^/]+$")["properties"]["condaFile"]

    # Every long-running operation was polled to completion: Updating twice (as recorded), then Succeeded.
    polls = arm.sent("GET", r"/mfeOperationsStatus/")
    assert len(polls) == 3 * 3
    assert info.state == "Succeeded" and info.traffic_percent == 100
    assert (info.max_concurrent_requests_per_instance, info.request_timeout_ms, info.worker_count) == (3, 90_000, 3)
    assert (info.instance_type, info.instance_count, info.sleep_s) == ("Standard_F4s_v2", 2, 0.5)
    assert any("Updating" in line and "elapsed" in line for line in progress)
    assert any(line.startswith("deployment blue of endpoint moetui-test0001: done in") for line in progress)


async def test_list_show_logs_keys_and_delete(
    service: AzureDeployments, workspace: FakeWorkspace, arm: CannedTransport
) -> None:
    workspace.add_endpoint(
        "endpt-a",
        {
            "blue": {"max_concurrent": 4, "request_timeout": "PT3M", "env": {"WORKER_COUNT": "4"}},
            "green": {"max_concurrent": 1, "request_timeout": "PT5S", "env": {}, "state": "Updating"},
        },
        traffic={"blue": 90, "green": 10},
    )
    found = await service.list_deployments()
    assert [(d.endpoint, d.name, d.traffic_percent) for d in found] == [
        ("endpt-a", "blue", 90),
        ("endpt-a", "green", 10),
    ]
    blue, green = found
    assert (blue.max_concurrent_requests_per_instance, blue.request_timeout_ms, blue.worker_count) == (4, 180_000, 4)
    assert (green.state, green.worker_count, green.request_timeout_ms, blue.sleep_s) == ("Updating", None, 5000, None)
    assert blue.scoring_uri == "https://endpt-a.westeurope.inference.ml.azure.com/score"

    assert (await service.show("endpt-a", "green")).state == "Updating"
    assert "ModuleNotFoundError" in await service.logs("endpt-a", "blue", lines=10)
    assert body_of(arm, "POST", r"/deployments/blue/getLogs$") == {"tail": 10}

    creds = await service.credentials("endpt-a", "blue")
    assert (creds.key, creds.auth_mode, creds.expires_at) == (KEY, "key", None)
    assert creds.headers()["azureml-model-deployment"] == "blue" and KEY not in repr(creds)

    assert service.replay_target(blue) == {
        "azure": {
            "subscription_id": SUB,
            "resource_group": RG,
            "workspace": WS,
            "endpoint": "endpt-a",
            "deployment": "blue",
        }
    }
    progress: list[str] = []
    await service.delete("endpt-a", progress.append)
    assert arm.sent("DELETE", r"/onlineEndpoints/endpt-a$")
    assert "endpt-a" not in workspace.endpoints
    assert any("done in" in line for line in progress)
    await service.delete("endpt-a", progress.append)  # gone already: not an error


async def test_token_endpoints_hand_out_tokens_with_their_expiry(
    service: AzureDeployments, workspace: FakeWorkspace, arm: CannedTransport
) -> None:
    workspace.add_endpoint("endpt-aml", {"blue": {}}, auth_mode="AMLToken")
    before = time.time()
    creds = await service.credentials("endpt-aml", "blue")
    # The recorded answer's shape: Unix seconds, 24 hours to live, a new token asked for after 12.
    assert creds.auth_mode == "aml_token" and token_claims(creds.key)["exp"] == creds.expires_at
    assert creds.expires_at is not None and creds.refresh_at is not None
    assert before + 86_000 < creds.expires_at < time.time() + 86_500
    assert creds.refresh_at == pytest.approx(creds.expires_at - 12 * 3600)
    assert arm.sent("POST", r"/onlineEndpoints/endpt-aml/token$")

    workspace.add_endpoint("endpt-aad", {"blue": {}}, auth_mode="AADToken")
    creds = await service.credentials("endpt-aad", "blue")
    assert creds.auth_mode == "aad_token" and creds.key.count(".") == 2 and creds.expires_at
    assert not arm.sent("POST", r"/onlineEndpoints/endpt-aad/")  # an Entra token, from the credential


async def test_a_failed_deployment_says_why_with_its_logs(
    service: AzureDeployments, workspace: FakeWorkspace, arm: CannedTransport
) -> None:
    workspace.fail_deployments = "Container 'inference-server' failed to start: exit code 3."
    with pytest.raises(DeploymentError) as caught:
        await service.create(REQUEST, lambda _line: None)
    message = caught.value.message
    assert "Container 'inference-server' failed to start" in message
    assert "ModuleNotFoundError: No module named 'numpy'" in message  # the end of get_logs
    assert "delete it" in message
    assert body_of(arm, "POST", r"/deployments/blue/getLogs$")["tail"] == 50
    assert not [r for r in arm.sent("PUT", r"/onlineEndpoints/moetui-test0001$") if r.body["properties"]["traffic"]]


async def test_a_name_taken_in_this_workspace_is_refused_before_anything_is_created(
    service: AzureDeployments, workspace: FakeWorkspace, arm: CannedTransport
) -> None:
    workspace.add_endpoint("moetui-test0001", {"blue": {}})
    with pytest.raises(DeploymentError, match="already exists in workspace ws-moe"):
        await service.create(REQUEST, lambda _line: None)
    assert not arm.sent("PUT")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, error_body("BadArgument", NAME_TAKEN_MESSAGE)),  # taken in another workspace of the region
        (409, error_body("Conflict", "The resource already exists.")),
    ],
    ids=["elsewhere-in-region", "409"],
)
async def test_a_name_taken_elsewhere_is_a_clear_error(
    service: AzureDeployments, workspace: FakeWorkspace, arm: CannedTransport, status: int, body: dict[str, Any]
) -> None:
    arm.add("PUT", rf"^{WS_PATH}/onlineEndpoints/moetui-test0001$", status=status, json=body)
    with pytest.raises(DeploymentError) as caught:
        await service.create(REQUEST, lambda _line: None)
    assert caught.value.title == "Name taken"
    assert "unique within an Azure region" in caught.value.message
    assert not arm.sent("PUT", r"/deployments/")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "InvalidAuthenticationToken", "Sign in again: run `az login`"),
        (403, "AuthorizationFailed", "refused access (403)"),
    ],
)
async def test_arm_refusals_are_explained(
    service: AzureDeployments, arm: CannedTransport, status: int, code: str, expected: str
) -> None:
    arm.add("GET", rf"^{WS_PATH}/onlineEndpoints$", status=status, json=error_body(code, "The client has no access."))
    with pytest.raises(DeploymentError, match=re.escape(expected)) as caught:
        await service.list_deployments()
    assert "listing the online endpoints of workspace ws-moe" in caught.value.message
    assert "Traceback" not in caught.value.message


async def test_invalid_requests_are_refused_without_a_call(service: AzureDeployments, arm: CannedTransport) -> None:
    bad = DeploymentRequest(endpoint="9lives", request_timeout_ms=200_000)
    with pytest.raises(DeploymentError, match=r"starts with a letter.*180000"):
        await service.create(bad, lambda _line: None)
    assert arm.requests == []


def test_default_request_takes_deployment_yml_with_a_random_name(service: AzureDeployments) -> None:
    request = service.default_request()
    assert request.problems() == [] and request.endpoint.startswith("moetui-")
    assert (request.deployment, request.instance_type, request.worker_count) == ("blue", "Standard_DS3_v2", 3)
    assert (request.max_concurrent_requests_per_instance, request.request_timeout_ms, request.sleep_s) == (
        3,
        60_000,
        15,
    )


def test_deployment_json_is_shaped_like_the_service() -> None:
    assert deployment_json("e")["properties"]["requestSettings"]["requestTimeout"] == "PT1M"

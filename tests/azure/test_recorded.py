"""The recorded-traffic loader (tests/azure/recorded/): names substituted, the right exchange found, and
the real azure-ai-ml reading a replayed session as it read the service."""

from __future__ import annotations

import pytest

from moetui.azure.clients import AzureClients
from moetui.azure.deployments import AzureDeployments
from moetui.deployments.base import Workspace
from tests.azure.fake_arm import RG, SUB, WS, WS_PATH, workspace_json
from tests.azure.recorded import RECORDED_COMPUTE, RECORDED_ENDPOINT, cassette, recorded, recorded_body, replay
from tests.fixtures.azure_transport import CannedTransport


def test_recorded_names_become_the_fake_workspace_s() -> None:
    put = recorded("online_deployment", "PUT", r"/deployments/[^/]+$", names={RECORDED_ENDPOINT: "ep-rec"})

    assert put.path == f"{WS_PATH}/onlineEndpoints/ep-rec/deployments/ep-rec"
    assert put.status == 201
    assert put.body["id"] == put.path
    assert put.headers["Azure-AsyncOperation"].startswith(f"https://management.azure.com/subscriptions/{SUB}/")
    # What the service answered while creating the deployment: Updating, with zero request settings.
    props = put.body["properties"]
    assert props["provisioningState"] == "Updating"
    assert props["requestSettings"]["requestTimeout"] == "PT0S"
    assert "00000000-0000-0000-0000-000000000" not in str(put.body)


def test_the_nth_exchange_and_a_missing_one() -> None:
    first = recorded_body("online_deployment", "GET", r"/onlineEndpoints/[^/]+$")
    second = recorded_body("online_deployment", "GET", r"/onlineEndpoints/[^/]+$", nth=1)
    assert first["properties"]["traffic"] == {}
    assert second["properties"]["traffic"] == {RECORDED_ENDPOINT: 100}

    with pytest.raises(LookupError, match="getLogs"):
        recorded("online_deployment", "POST", r"/getLogs$")


def test_workspace_names_are_substituted_in_lower_case_ids_too() -> None:
    body = recorded_body("online_deployment", "GET", rf"^/subscriptions/[^/]+/resourceGroups/{RG}/.*/workspaces/{WS}$")
    assert body["name"] == WS
    assert body["properties"]["friendlyName"] == WS
    endpoint = recorded_body("online_deployment", "PUT", r"/onlineEndpoints/[^/]+$", resource_group="RG-Upper")
    assert "/resourcegroups/rg-upper/" in endpoint["properties"]["properties"]["azureml.onlineendpointid"]


def test_every_recording_loads() -> None:
    for name in ("online_deployment", "compute_create_and_delete", "command_job_builder"):
        exchanges = cassette(name)
        assert exchanges, name
        assert all(e.path.startswith("/subscriptions/") for e in exchanges)
    compute = recorded_body("compute_create_and_delete", "GET", rf"/computes/{RECORDED_COMPUTE}$")
    assert compute["properties"]["properties"]["vmSize"] == "STANDARD_DS2_V2"
    job = recorded_body("command_job_builder", "PUT", r"/jobs/[^/]+$")
    assert job["properties"]["status"] == "Starting"


async def test_a_replayed_session_reads_as_the_service_answered(arm: CannedTransport, clients: AzureClients) -> None:
    replay(arm, "online_deployment", names={RECORDED_ENDPOINT: "ep-rec"})
    service = AzureDeployments(Workspace(WS, RG, SUB, "eastus2"), clients=clients)

    info = await service.show("ep-rec", "ep-rec")

    assert info.state == "Succeeded"
    assert info.auth_mode == "aml_token"
    assert info.instance_type == "Standard_DS2_V2"
    assert info.max_concurrent_requests_per_instance == 1
    assert info.request_timeout_ms == 5000  # PT5S
    assert info.worker_count is None  # the recorded deployment sets no WORKER_COUNT
    assert info.traffic_percent == 0  # the endpoint's first GET: before its traffic was set
    again = await service.show("ep-rec", "ep-rec")
    assert again.traffic_percent == 100  # its next recorded GET; replies then repeat the last
    await service.close()


def test_a_replayed_compute_creation_reads_as_the_service_answered(arm: CannedTransport, clients: AzureClients) -> None:
    """The recorded AmlCompute session through the real azure-ai-ml: created (Creating, then the operation
    Succeeded), read back with the size as Azure spells it, deleted."""
    from azure.ai.ml.entities import AmlCompute

    replay(arm, "compute_create_and_delete", names={RECORDED_COMPUTE: "cpu-rec", "eastus2euap": "westeurope"})
    arm.add("GET", rf"^{WS_PATH}$", json=workspace_json())  # azure-ai-ml reads the workspace's region first
    ml = clients.ml_client(clients.credential, SUB, RG, WS)

    ml.compute.begin_create_or_update(AmlCompute(name="cpu-rec", size="Standard_DS2_v2", max_instances=2)).result()
    found = ml.compute.get("cpu-rec")

    assert (found.provisioning_state, found.size, found.max_instances) == ("Succeeded", "STANDARD_DS2_V2", 2)
    assert found.identity is None  # none was asked for, none is there
    assert arm.sent("PUT", r"/computes/cpu-rec$")[0].body["properties"]["properties"]["vmSize"] == "Standard_DS2_v2"

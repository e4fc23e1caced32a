"""The local deployment service against the real local endpoint: create, show, call, logs, delete."""

from __future__ import annotations

import json
import urllib.request

import pytest

from moetui.deployments.base import DeploymentError, DeploymentRequest
from moetui.deployments.names import endpoint_name_problem, random_endpoint_name
from moetui.local_endpoint.deployments import LocalDeployments
from tests.helpers import alive, descendants

pytestmark = pytest.mark.slow


def _score(uri: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(uri, data=json.dumps({"request_id": 7}).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_random_names_are_valid_for_azure() -> None:
    names = {random_endpoint_name() for _ in range(50)}
    assert len(names) == 50
    assert all(endpoint_name_problem(name) is None for name in names)
    assert endpoint_name_problem("1abc") is not None
    assert endpoint_name_problem("ab") is not None
    assert endpoint_name_problem("a" * 33) is not None
    assert endpoint_name_problem("ab_c") is not None


def test_default_request_comes_from_deployment_yml() -> None:
    request = LocalDeployments().default_request()
    assert request.max_concurrent_requests_per_instance == 3
    assert request.worker_count == 3
    assert request.sleep_s == 15
    assert request.problems() == []


async def test_create_show_call_logs_delete() -> None:
    service = LocalDeployments()
    request = DeploymentRequest(
        endpoint=random_endpoint_name(),
        worker_count=2,
        max_concurrent_requests_per_instance=2,
        request_timeout_ms=5000,
        sleep_s=0.0,
    )
    progress: list[str] = []
    info = await service.create(request, progress.append)
    try:
        assert progress and progress[-1].startswith("Ready in")
        assert (info.state, info.name, info.capacity, info.worker_count) == ("Succeeded", "blue", 2, 2)
        assert [d.endpoint for d in await service.list_deployments()] == [request.endpoint]
        assert await service.show(request.endpoint, "blue") == info

        credentials = await service.credentials(request.endpoint, "blue")
        assert credentials.key not in repr(credentials)
        assert credentials.masked_key.endswith(credentials.key[-4:]) and credentials.key not in credentials.masked_key
        status, body = _score(credentials.scoring_uri, credentials.headers())
        assert status == 200 and body.startswith("request 7 complete")

        assert "Worker with pid" in await service.logs(request.endpoint, "blue")
        assert service.replay_target(info) == {
            "local": {"workers": 2, "max_concurrency": 2, "instances": 1, "timeout_ms": 5000, "sleep": 0.0}
        }
        with pytest.raises(DeploymentError, match="already running"):
            await service.create(request, progress.append)
        with pytest.raises(DeploymentError, match="no deployment named green"):
            await service.show(request.endpoint, "green")
        gateway = service._started[request.endpoint].running.gateway_pid
        children = descendants(gateway) | {gateway}
    finally:
        await service.delete(request.endpoint, progress.append)
    assert progress[-1].startswith(f"Deleted {request.endpoint}")
    assert not [pid for pid in children if alive(pid)]
    assert await service.list_deployments() == []
    with pytest.raises(DeploymentError, match="no local endpoint"):
        await service.credentials(request.endpoint, "blue")


async def test_a_bad_request_is_refused_before_anything_starts() -> None:
    service = LocalDeployments()
    with pytest.raises(DeploymentError, match="starts with a letter") as caught:
        await service.create(DeploymentRequest(endpoint="9lives", request_timeout_ms=200_000), lambda _: None)
    assert "180000" in caught.value.message
    assert await service.list_deployments() == []

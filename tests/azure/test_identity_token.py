"""The profiler's IDENTITY_ACCESS_TOKEN: with --profiler-env it signs moetui's Azure Resource Manager calls
(reading the scoring URI, the key and the metrics), as the profiler documents, and is never printed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moetui.azure.clients import AzureClients, use_clients
from moetui.config.load import config_from_dict
from moetui.config.profiler_env import ARM_TOKEN_ENV, read_profiler_env
from moetui.config.schema import Config
from moetui.deployments.base import DeploymentError
from moetui.targets.factory import target_for
from tests.azure.fake_arm import RG, SUB, WS, FakeWorkspace
from tests.fixtures.azure_transport import CannedTransport, fake_jwt

TOKEN = fake_jwt({"oid": "job-identity", "exp": int(time.time()) + 1800})


def test_the_profiler_variable_becomes_the_arm_token_with_a_note() -> None:
    profiler = read_profiler_env({"SCORING_URI": "http://127.0.0.1:9/score", "IDENTITY_ACCESS_TOKEN": TOKEN})
    assert profiler.secrets[ARM_TOKEN_ENV] == TOKEN
    assert any("IDENTITY_ACCESS_TOKEN" in note and "never refreshed" in note for note in profiler.notes)
    assert all(TOKEN not in note for note in profiler.notes)


def blue_of(endpoint: str) -> Config:
    """A configuration whose target is deployment blue of `endpoint` in the fake workspace."""
    target = {"subscription_id": SUB, "resource_group": RG, "workspace": WS, "endpoint": endpoint, "deployment": "blue"}
    return config_from_dict({"target": {"azure": target}})


@pytest.fixture
def token_clients(arm: CannedTransport, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureClients]:
    """The real credential path (no test credential): only the environment says which token to use."""
    monkeypatch.setenv(ARM_TOKEN_ENV, TOKEN)
    with use_clients(AzureClients(transport=arm)) as installed:
        yield installed


async def test_arm_calls_carry_the_identity_access_token(
    token_clients: AzureClients, workspace: FakeWorkspace, arm: CannedTransport, tmp_path: Path
) -> None:
    workspace.add_endpoint("endpt-a", {"blue": {"max_concurrent": 2}}, traffic={"blue": 100})
    async with target_for(blue_of("endpt-a"), tmp_path, lambda _line: None).open() as target:
        assert target.max_concurrent_requests_per_instance == 2
    assert arm.requests, "no ARM call was made"
    assert {r.headers.get("Authorization") for r in arm.requests} == {f"Bearer {TOKEN}"}


async def test_the_arm_token_is_never_an_aad_token_endpoint_s_scoring_bearer(
    token_clients: AzureClients, workspace: FakeWorkspace, arm: CannedTransport, tmp_path: Path
) -> None:
    """An aad_token endpoint's scoring needs an Entra token for Azure ML; IDENTITY_ACCESS_TOKEN is for ARM.
    The run is refused before it starts, saying why, and the token is not in the message."""
    workspace.add_endpoint("endpt-aad", {"blue": {}}, traffic={"blue": 100}, auth_mode="AADToken")
    with pytest.raises(DeploymentError, match="IDENTITY_ACCESS_TOKEN is an Azure Resource Manager token") as caught:
        async with target_for(blue_of("endpt-aad"), tmp_path, lambda _line: None).open():
            pytest.fail("a run must not start")
    assert "https://ml.azure.com/.default" in str(caught.value) and TOKEN not in str(caught.value)
    assert arm.requests  # the ARM calls themselves still carried it
    assert {r.headers.get("Authorization") for r in arm.requests} == {f"Bearer {TOKEN}"}

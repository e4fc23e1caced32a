"""TokenKeeper: a run's thread asks for headers; a token close to expiry is fetched again through the
service, on the loop that owns it."""

from __future__ import annotations

import asyncio

from moetui.deployments.tokens import TOKEN_MARGIN_S, TokenKeeper
from tests.fixtures.memory_targets import MemoryDeployments, azure_deployment


async def test_a_token_is_kept_until_it_nears_expiry_then_fetched_again() -> None:
    service = MemoryDeployments(deployments=[azure_deployment(auth_mode="aml_token")])
    service.token_lifetime_s = TOKEN_MARGIN_S + 3600  # far from expiry
    first = await service.credentials("moetui-k3f9x2qa", "blue")
    keeper = TokenKeeper.on_loop(service, "moetui-k3f9x2qa", first, asyncio.get_running_loop())

    headers = await asyncio.to_thread(keeper)  # as the run asks: from a thread
    assert headers["Authorization"] == f"Bearer {first.key}" and headers["azureml-model-deployment"] == "blue"
    assert service.tokens_issued == 1

    service.token_lifetime_s = TOKEN_MARGIN_S - 60  # the next one issued expires inside the margin
    keeper.credentials = await service.credentials("moetui-k3f9x2qa", "blue")
    headers = await asyncio.to_thread(keeper)
    assert service.tokens_issued == 3 and headers["Authorization"] == "Bearer fake-token-3-0123456789"
    assert keeper.credentials.key == "fake-token-3-0123456789"

"""Fixtures for the Azure tests: the real SDK clients on canned transports, a fake credential, a fake
workspace. Nothing here reaches the network: an unanswered request fails the test at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from moetui.azure.clients import AzureClients, use_clients
from tests.azure.fake_arm import STORAGE_HOST, FakeWorkspace
from tests.fixtures.azure_transport import CannedTransport, FakeCredential


@pytest.fixture
def arm() -> Iterator[CannedTransport]:
    """Azure Resource Manager, canned; fails the test if the SDK sent anything it does not answer."""
    transport = CannedTransport(host="management.azure.com")
    yield transport
    transport.assert_all_expected()


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[CannedTransport]:
    """The workspace's storage account, canned, for azure-ai-ml's code upload.

    azure-ai-ml makes its blob clients itself (`_artifacts/_blob_storage_helper.py`: BlobServiceClient and
    ContainerClient.from_container_url with the SAS URI from startPendingUpload) and does not forward
    MLClient's `transport=` to them. Subclasses that default `transport=` to this CannedTransport stand in
    for those two names in that module only; azure-storage-blob's own code (its pipeline, retries,
    single-shot PUT Blob, set-metadata) still runs, against canned answers.
    """
    from azure.ai.ml._artifacts import _blob_storage_helper
    from azure.storage.blob import BlobServiceClient, ContainerClient

    transport = CannedTransport(host=STORAGE_HOST)

    class CannedBlobServiceClient(BlobServiceClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            super().__init__(*args, **kwargs)

    class CannedContainerClient(ContainerClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_blob_storage_helper, "BlobServiceClient", CannedBlobServiceClient)
    monkeypatch.setattr(_blob_storage_helper, "ContainerClient", CannedContainerClient)
    yield transport
    transport.assert_all_expected()


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def clients(arm: CannedTransport, credential: FakeCredential) -> Iterator[AzureClients]:
    """Every SDK object moetui makes in this test goes through `arm` with `credential`."""
    with use_clients(AzureClients(transport=arm, credential=credential)) as installed:
        yield installed


@pytest.fixture
def workspace(arm: CannedTransport, storage: CannedTransport) -> FakeWorkspace:
    return FakeWorkspace(arm, storage)

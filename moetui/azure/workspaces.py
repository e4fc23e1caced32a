"""AzureBrowser, the WorkspaceBrowser of Azure: sign-in, subscriptions, resource groups, workspaces.

Subscriptions come from azure-mgmt-resource-subscriptions' SubscriptionClient, resource groups from
azure-mgmt-resource's ResourceManagementClient (both small: about 0.2 s to import), workspaces from
azure-ai-ml's `MLClient.workspaces.list`. Every SDK call blocks, so each runs in `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path
from typing import Any

from moetui.azure.auth import sign_in
from moetui.azure.calls import in_thread
from moetui.azure.clients import AzureClients, current_clients
from moetui.azure.quiet import quiet_azure_logging
from moetui.deployments.base import (
    DeploymentError,
    DeploymentService,
    DeviceCodePrompt,
    Identity,
    Subscription,
    Workspace,
)

_preloading: threading.Thread | None = None

#: Workspace kinds that hold no online endpoints: an Azure AI Foundry hub shares its resources with its
#: projects, and endpoints live in those projects (kind "project") or in plain workspaces (kind "default").
NO_ENDPOINT_KINDS = ("hub",)

#: The keys of the config.json the Azure ML portal offers for download ("Download config file").
CONFIG_JSON_KEYS = ("subscription_id", "resource_group", "workspace_name")


def preload_ml() -> None:
    """Import azure.ai.ml in a background thread (about 2 s), while the user signs in and picks a
    subscription, so the workspace list that needs it does not wait. Idempotent; never raises."""
    global _preloading
    if _preloading is not None or "azure.ai.ml" in sys.modules:
        return

    def load() -> None:
        try:
            import azure.ai.ml  # noqa: F401 - imported for its side effect: the module cache

            quiet_azure_logging()  # its import attached console handlers
        except Exception:
            pass  # the first real use reports the problem

    _preloading = threading.Thread(target=load, name="moetui-preload-azure-ai-ml", daemon=True)
    _preloading.start()


def workspace_from_config_json(path: str | Path) -> Workspace:
    """The workspace a portal config.json names (subscription_id, resource_group, workspace_name).

    Raises:
        DeploymentError: The file is missing, is not JSON, or lacks one of the keys.
    """
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text())
    except OSError as exc:
        raise DeploymentError(f"Cannot read {file}: {exc.strerror}", title="config.json") from None
    except ValueError:
        raise DeploymentError(f"{file} is not JSON (expected the Azure ML portal's config.json)") from None
    if not isinstance(data, dict):
        raise DeploymentError(f"{file} is not a JSON object with {', '.join(CONFIG_JSON_KEYS)}")
    missing = [key for key in CONFIG_JSON_KEYS if not str(data.get(key) or "").strip()]
    if missing:
        raise DeploymentError(
            f"{file} lacks {', '.join(missing)} (the Azure ML portal's config.json has {', '.join(CONFIG_JSON_KEYS)})",
            title="config.json",
        )
    return Workspace(
        name=str(data["workspace_name"]),
        resource_group=str(data["resource_group"]),
        subscription_id=str(data["subscription_id"]),
    )


def holds_endpoints(workspace: Any) -> bool:
    """Whether a workspace azure-ai-ml listed can hold online endpoints (not a hub; no kind: a plain one)."""
    kind = getattr(workspace, "_kind", None) or getattr(workspace, "kind", None) or "default"
    return str(getattr(kind, "value", kind)).lower() not in NO_ENDPOINT_KINDS


def _state(subscription: Any) -> str:
    state = getattr(subscription, "state", None) or "Enabled"
    return str(getattr(state, "value", state))  # a str enum: SubscriptionState.DISABLED


class AzureBrowser:
    """Sign-in and the Azure pickers (implements WorkspaceBrowser).

    Args:
        clients: How SDK objects are made; the process's current factory by default (tests install one).
    """

    def __init__(self, clients: AzureClients | None = None) -> None:
        self.clients = clients or current_clients()
        self.credential: Any = self.clients.credential
        """The signed-in credential, once `sign_in` succeeded (or the one the factory hands out)."""
        self.identity: Identity | None = None

    async def sign_in(self, interactive: bool = False, on_device_code: DeviceCodePrompt | None = None) -> Identity:
        preload_ml()
        credential, identity = await asyncio.to_thread(sign_in, self.clients, interactive, on_device_code)
        self.credential, self.identity = credential, identity
        return identity

    def _credential(self) -> Any:
        if self.credential is None:
            self.credential = self.clients.default_credential()
        return self.credential

    async def subscriptions(self) -> list[Subscription]:
        def listing() -> list[Subscription]:
            client = self.clients.subscription_client(self._credential())
            found = [
                Subscription(id=str(s.subscription_id), name=str(s.display_name or s.subscription_id))
                for s in client.subscriptions.list()
                if _state(s) not in ("Disabled", "Deleted")
            ]
            return sorted(found, key=lambda s: s.name.lower())

        return await in_thread("listing the subscriptions", listing)

    async def resource_groups(self, subscription_id: str) -> list[str]:
        def listing() -> list[str]:
            client = self.clients.resource_client(self._credential(), subscription_id)
            return sorted((str(g.name) for g in client.resource_groups.list()), key=str.lower)

        return await in_thread(f"listing the resource groups of subscription {subscription_id}", listing)

    async def workspaces(self, subscription_id: str, resource_group: str) -> list[Workspace]:
        def listing() -> list[Workspace]:
            ml = self.clients.ml_client(self._credential(), subscription_id, resource_group, None)
            return sorted(
                (
                    Workspace(
                        name=str(w.name),
                        resource_group=str(w.resource_group or resource_group),
                        subscription_id=subscription_id,
                        location=str(w.location or ""),
                    )
                    for w in ml.workspaces.list()
                    if holds_endpoints(w)
                ),
                key=lambda w: w.name.lower(),
            )

        return await in_thread(f"listing the workspaces of resource group {resource_group}", listing)

    def workspace_from_config_json(self, path: str) -> Workspace:
        return workspace_from_config_json(path)

    def deployments(self, workspace: Workspace) -> DeploymentService:
        from moetui.azure.deployments import AzureDeployments

        return AzureDeployments(workspace, credential=self._credential(), clients=self.clients)

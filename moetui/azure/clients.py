"""How moetui makes Azure SDK objects: credentials, MLClient, the subscription and resource clients.

`AzureClients` is the one seam for tests. Every SDK object moetui creates is made here, with the
azure-core `transport=` keyword passed through when one is set (the azure-core client guideline: MLClient,
the azure-mgmt-* clients and the azure-identity credentials all accept it). Tests install a
`CannedTransport` and a fake credential with `use_clients(AzureClients(transport=..., credential=...))`;
nothing else changes between a test and a real run, and no environment variable injects anything.

The SDK imports are deferred into the methods: azure.ai.ml alone takes about 2 s to import.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moetui.azure.quiet import quiet_azure_logging
from moetui.azure.raw_settings import request_timeouts
from moetui.azure.tokens import token_claims
from moetui.config.profiler_env import ARM_TOKEN_ENV

#: A static token without an `exp` claim is taken to last this long (Entra access tokens last 60-90 min).
STATIC_TOKEN_LIFETIME_S = 3600


#: The resources an Azure Resource Manager token is for (the second: its older name, still accepted).
ARM_RESOURCES = ("https://management.azure.com", "https://management.core.windows.net")


def is_arm_scope(scope: str) -> bool:
    """Whether a token scope ("https://management.azure.com/.default") asks for an ARM token."""
    resource = scope.removesuffix("/.default").rstrip("/").casefold()
    return resource in ARM_RESOURCES


class StaticTokenCredential:
    """A TokenCredential for one Azure Resource Manager token given from outside (the profiler's
    IDENTITY_ACCESS_TOKEN), never refreshed; its expiry from the token's own `exp` claim when it has one.

    It answers ARM scopes only: asked for another (an aad_token endpoint's scoring, `https://ml.azure.com`),
    it refuses rather than hand the ARM token to a scoring URI, where it would be refused (401) and leak.
    """

    def __init__(self, token: str) -> None:
        self._token = token
        exp = token_claims(token).get("exp")
        self._expires_on = int(exp) if isinstance(exp, int | float) else int(time.time()) + STATIC_TOKEN_LIFETIME_S

    def __repr__(self) -> str:
        return "StaticTokenCredential(***)"

    def _check(self, scopes: tuple[str, ...]) -> None:
        from moetui.deployments.base import DeploymentError

        other = [scope for scope in scopes if not is_arm_scope(scope)]
        if other:
            raise DeploymentError(
                f"IDENTITY_ACCESS_TOKEN is an Azure Resource Manager token: moetui does not send it for "
                f"{', '.join(other)} (an aad_token endpoint's scoring needs a Microsoft Entra token for Azure "
                "ML). Leave IDENTITY_ACCESS_TOKEN out to sign in with DefaultAzureCredential, or target a key "
                "or aml_token endpoint.",
                title="ARM token only",
            )

    def get_token(self, *scopes: str, **_kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self._check(scopes)
        return AccessToken(self._token, self._expires_on)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        self._check(scopes)
        return AccessTokenInfo(self._token, self._expires_on)


@dataclass
class AzureClients:
    """Factory of the Azure SDK objects moetui uses.

    Args:
        transport: An azure-core HttpTransport for every client and credential (tests); None: the SDKs' own.
        credential: Use this credential instead of signing in (tests, or a caller that has one already).
    """

    transport: Any = None
    credential: Any = None
    request_timeouts_ms: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)
    """(endpoint, deployment) -> requestTimeout in ms as ARM answered it (see moetui.azure.raw_settings)."""

    def _remember_settings(self, response: Any) -> None:
        """azure-core's raw_response_hook: keep what the SDK would round away. Never raises."""
        try:
            http = response.http_response
            if http.request.method == "GET" and http.status_code == 200:
                self.request_timeouts_ms.update(request_timeouts(http.request.url, http.text()))
        except Exception:
            pass  # a hook must not fail the SDK call: the SDK's own value is used then

    def request_timeout_ms(self, endpoint: str, deployment: str) -> float | None:
        """The exact requestTimeout of a deployment read through an MLClient made here, if one was."""
        return self.request_timeouts_ms.get((endpoint.lower(), deployment.lower()))

    def _kwargs(self) -> dict[str, Any]:
        return {} if self.transport is None else {"transport": self.transport}

    def default_credential(self) -> Any:
        """DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI, ... (no browser);
        a profiler job's IDENTITY_ACCESS_TOKEN (put in ARM_TOKEN_ENV by --profiler-env) comes first."""
        if self.credential is not None:
            return self.credential
        if token := os.environ.get(ARM_TOKEN_ENV, "").strip():
            return StaticTokenCredential(token)
        from azure.identity import DefaultAzureCredential

        quiet_azure_logging()
        return DefaultAzureCredential(exclude_interactive_browser_credential=True, **self._kwargs())

    def browser_credential(self) -> Any:
        """Sign-in in the user's web browser."""
        from azure.identity import InteractiveBrowserCredential

        quiet_azure_logging()
        return InteractiveBrowserCredential(**self._kwargs())

    def device_code_credential(self, prompt: Callable[[str], None]) -> Any:
        """Sign-in with a code typed on another device; `prompt` receives the instructions."""
        from azure.identity import DeviceCodeCredential

        quiet_azure_logging()

        def callback(url: str, code: str, _expires_on: Any) -> None:
            # The wording azure-identity prints itself when no callback is given.
            prompt(f"To sign in, use a web browser to open the page {url} and enter the code {code} to authenticate.")

        return DeviceCodeCredential(prompt_callback=callback, **self._kwargs())

    def ml_client(
        self, credential: Any, subscription_id: str, resource_group: str | None, workspace: str | None
    ) -> Any:
        """An MLClient for a workspace (or a resource group / subscription, for listing workspaces)."""
        # Deferred: azure.ai.ml takes about 2 s to import; `moetui --help` and local runs never pay it.
        from azure.ai.ml import MLClient

        quiet_azure_logging()
        return MLClient(
            credential,
            subscription_id,
            resource_group,
            workspace,
            show_progress=False,
            enable_telemetry=False,
            raw_response_hook=self._remember_settings,
            **self._kwargs(),
        )

    def subscription_client(self, credential: Any) -> Any:
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        quiet_azure_logging()
        return SubscriptionClient(credential, **self._kwargs())

    def resource_client(self, credential: Any, subscription_id: str) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        quiet_azure_logging()
        return ResourceManagementClient(credential, subscription_id, **self._kwargs())


_current = AzureClients()


def current_clients() -> AzureClients:
    """The factory in use: the real SDKs unless a test installed another with `use_clients`."""
    return _current


@contextlib.contextmanager
def use_clients(clients: AzureClients) -> Iterator[AzureClients]:
    """Make every Azure object in this process with `clients` for the length of the block (tests)."""
    global _current
    previous, _current = _current, clients
    try:
        yield clients
    finally:
        _current = previous

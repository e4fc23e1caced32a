"""[target.azure]: a deployment of an Azure ML managed online endpoint, resolved when the run starts.

Signs in (DefaultAzureCredential), reads the deployment (request settings: max_concurrent_requests_per_
instance x instance_count is the run's capacity), fetches the key, or for aml_token / aad_token endpoints
a token, and yields a ResolvedTarget with the scoring URI, `Authorization: Bearer ...` and
`azureml-model-deployment`, plus the Azure Monitor metrics hook for the report.

Imports the Azure SDK only inside `open()` (through moetui.azure): the factory imports this module for
[target.azure] configs only, and even then `moetui --help` never does.

Only a Succeeded deployment is load-tested. One the service reports as Creating, Updating (how it reports a
deployment under creation), Scaling or in a state moetui does not know is read again every
READY_POLL_S until it is Succeeded, with a progress line each time, for at most READY_WAIT_S; then, or at
once for Deleting, Failed and Canceled, the run is refused with the state.

Tokens expire (aml_token and aad_token; keys do not). A token is fetched fresh when the run starts, and
for token endpoints the ResolvedTarget's `refresh_headers` is a TokenKeeper: the run calls it every
minute (in a thread) and sends the new token from then on, fetched when fewer than TOKEN_MARGIN_S are left.
When the first token expires before the run's planned end, `open()` says it will be refreshed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moetui.config.schema import AzureTarget
from moetui.deployments.base import state_problem
from moetui.deployments.tokens import TOKEN_MARGIN_S, TokenKeeper
from moetui.errors import ConfigError
from moetui.targets.base import ResolvedTarget

if TYPE_CHECKING:
    from moetui.azure.deployments import AzureDeployments
    from moetui.deployments.base import DeploymentInfo

#: How long a run waits for a deployment that is not Succeeded yet (creating one takes 5 to 15 minutes).
READY_WAIT_S = 15 * 60
#: How often it reads the deployment again meanwhile.
READY_POLL_S = 15.0


class AzureTargetSource:
    """A Target for [target.azure].

    Args:
        config: The [target.azure] table.
        base_dir: The config's folder (unused: an Azure target has no paths).
        on_progress: Receives start-up lines (signing in, the deployment read, token expiry).
        planned_s: How long the run is planned to take (to say when its first token expires before the end).
    """

    def __init__(
        self,
        config: AzureTarget,
        base_dir: Path,
        on_progress: Callable[[str], None] | None = None,
        planned_s: float | None = None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.on_progress = on_progress or (lambda _line: None)
        self.planned_s = planned_s

    def _check(self) -> None:
        missing = [
            f"target.azure.{name}"
            for name in ("subscription_id", "resource_group", "workspace", "endpoint")
            if not getattr(self.config, name).strip()
        ]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)}: missing; an Azure target names its workspace and endpoint "
                "(or runs with --deploy, which creates one with a random name)"
            )

    @asynccontextmanager
    async def open(self) -> AsyncIterator[ResolvedTarget]:
        self._check()
        # Deferred: azure.ai.ml takes about 2 s to import, and only Azure targets need it.
        from moetui.azure.clients import current_clients
        from moetui.azure.deployments import AzureDeployments
        from moetui.azure.info import workers_text
        from moetui.azure.metrics import metrics_hook
        from moetui.deployments.base import Workspace

        config = self.config
        clients = current_clients()
        workspace = Workspace(config.workspace, config.resource_group, config.subscription_id)
        service = AzureDeployments(workspace, clients=clients)
        try:
            self.on_progress(f"reading endpoint {config.endpoint} in Azure workspace {config.workspace}")
            deployment = config.deployment or await self._busiest_deployment(service)
            info = await self._ready(service, await service.show(config.endpoint, deployment))
            creds = await service.credentials(config.endpoint, config.deployment or "")
            self._announce_expiry(creds)
            # The keeper fetches in the run's thread, blocking: credentials_now, not the async credentials.
            keeper = TokenKeeper(creds, partial(service.credentials_now, config.endpoint, config.deployment or ""))
            routed = f"deployment {deployment}" if config.deployment else f"traffic split (settings of {deployment})"
            yield ResolvedTarget(
                kind="azure",
                url=creds.scoring_uri,
                headers=creds.headers(),
                deployment=config.deployment,
                max_concurrent_requests_per_instance=info.max_concurrent_requests_per_instance,
                instance_count=info.instance_count,
                request_timeout_ms=info.request_timeout_ms or None,
                description=(
                    f"Azure endpoint {config.endpoint}, {routed}: {info.instance_type} x {info.instance_count}, "
                    f"max_concurrent_requests_per_instance {info.max_concurrent_requests_per_instance}, "
                    f"request_timeout_ms {info.request_timeout_ms}, {workers_text(info.worker_count)}, "
                    f"{info.auth_mode} auth"
                ),
                server_metrics=metrics_hook(
                    service.credential,
                    config.subscription_id,
                    config.resource_group,
                    config.workspace,
                    config.endpoint,
                    deployment,
                    transport=clients.transport,
                ),
                refresh_headers=keeper if creds.auth_mode in ("aml_token", "aad_token") else None,
            )
        finally:
            await service.close()

    async def _ready(self, service: AzureDeployments, info: DeploymentInfo) -> DeploymentInfo:
        """The deployment once Succeeded: read again every READY_POLL_S while it may still become so, for
        at most READY_WAIT_S, saying so each time.

        Raises:
            DeploymentError: It is Deleting, Failed or Canceled, or still not Succeeded when the wait ends.
        """
        from moetui.azure.deployments import elapsed
        from moetui.deployments.base import DeploymentError

        started = time.monotonic()
        while (problem := state_problem(info.state)) is not None:
            why, final = problem
            what = f"deployment {info.name} of endpoint {info.endpoint}"
            waited = time.monotonic() - started
            if final or waited >= READY_WAIT_S:
                after = "" if final else f" after waiting {elapsed(waited)}"
                raise DeploymentError(
                    f"Not load-testing {what}: {why}{after}. Wait until it is Succeeded (`moetui` lists the "
                    "states), or read its logs to see why it is not.",
                    title=f"Deployment {info.state}",
                )
            self.on_progress(
                f"waiting for {what} to be Succeeded: {why}; {elapsed(waited)} of at most {elapsed(READY_WAIT_S)}"
            )
            await asyncio.sleep(min(READY_POLL_S, READY_WAIT_S - waited))
            info = await service.show(info.endpoint, info.name)
        return info

    async def _busiest_deployment(self, service: AzureDeployments) -> str:
        """The deployment with the largest share of the endpoint's traffic (its settings describe the run)."""
        from moetui.deployments.base import DeploymentError

        traffic = await service.traffic(self.config.endpoint)
        if not traffic or max(traffic.values()) <= 0:
            raise DeploymentError(
                f"Endpoint {self.config.endpoint} sends no traffic to any deployment: set target.azure.deployment."
            )
        return max(traffic, key=lambda name: traffic[name])

    def _announce_expiry(self, creds: Any) -> None:
        if creds.expires_at is None or self.planned_s is None:
            return
        left_s = creds.expires_at - time.time()
        if left_s < self.planned_s + TOKEN_MARGIN_S:
            self.on_progress(
                f"the endpoint's {creds.auth_mode} expires in {left_s / 60:.0f} min, before the run's planned "
                f"{self.planned_s / 60:.0f} min are over: a new one is fetched during the run, "
                f"{TOKEN_MARGIN_S / 60:.0f} min before it expires"
            )

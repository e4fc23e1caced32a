"""AzureDeployments: the DeploymentService of one Azure ML workspace, through azure-ai-ml's MLClient.

What a deploy script does with `az ml`, done with the SDK: create an online endpoint and its
deployment from scoring_app/ (endpoint.yml, deployment.yml, with the request's overrides), give the
deployment 100 % of the traffic, show it for confirmation; list, show, logs, keys or tokens, delete. For a
matrix: an endpoint alone, deployments added to it without traffic (`add_deployment`), deleted one by one.

- Every SDK call blocks, so each runs in `asyncio.to_thread`; long-running operations (minutes) are
  polled here, with a progress line and the elapsed time every `report_every_s`.
- Creating the deployment uploads scoring_app/ to the workspace's storage as a code asset: azure-ai-ml
  looks the folder's hash up first (`GET .../codes/{name}/versions?hash=`), and only when no asset
  has it asks for a temporary blob reference (`startPendingUpload`), uploads each file with
  azure-storage-blob and registers the version (`PUT .../codes/{name}/versions/1`). Its upload prints
  to sys.stderr and its poller a "." per poll to stdout, hence `quiet_stdio()` around those calls.
- A failed deployment's error carries the end of its container logs (`get_logs`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moetui.azure.calls import blocking, in_thread
from moetui.azure.clients import AzureClients, current_clients
from moetui.azure.errors import first_line, is_name_taken, status_of
from moetui.azure.info import auth_mode_of, deployment_info, workers_text
from moetui.azure.quiet import quiet_stdio
from moetui.azure.tokens import token_claims
from moetui.deployments.base import (
    DeploymentError,
    DeploymentInfo,
    DeploymentRequest,
    EndpointCredentials,
    ProgressCallback,
    Workspace,
)
from moetui.deployments.deployment_yaml import read_deployment_fields
from moetui.deployments.names import random_endpoint_name
from moetui.deployments.tokens import TOKEN_FALLBACK_REFRESH_S, plausible_epoch_s
from moetui.paths import SCORING_APP_DIR

#: How often a long-running operation reports its progress.
REPORT_EVERY_S = 15.0
#: How many log lines a failed deployment's error carries.
FAILURE_LOG_LINES = 50
#: How long one long-running operation may take before moetui gives up waiting (Azure's own is 60 min+).
LRO_TIMEOUT_S = 90 * 60
#: The scope of tokens for aad_token endpoints.
AAD_TOKEN_SCOPE = "https://ml.azure.com/.default"


def elapsed(seconds: float) -> str:
    """Seconds as "2m 05s", or "42s" under a minute."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def read_request_defaults(scoring_app: Path, deployment_file: Path | None = None) -> dict[str, Any]:
    """The settings of deployment.yml (or `deployment_file`) a DeploymentRequest starts from (name, instance
    type and count, ...), typed by the project's one deployment-YAML reader; only what the file says.

    Raises:
        ConfigError: The file is not a deployment YAML or a field has the wrong type (named in the message).
    """
    found = read_deployment_fields(deployment_file or scoring_app / "deployment.yml")
    values: dict[str, Any] = {
        "deployment": found.name,
        "instance_type": found.instance_type,
        "instance_count": found.instance_count,
        "max_concurrent_requests_per_instance": found.max_concurrent_requests_per_instance,
        "request_timeout_ms": found.request_timeout_ms,
        "worker_count": found.worker_count,
        "sleep_s": found.sleep_s,
    }
    return {key: value for key, value in values.items() if value is not None}


def token_times(token: str, expiry_utc: Any, refresh_after_utc: Any) -> tuple[float | None, float | None]:
    """(expires_at, refresh_at) of an aml_token, never misread.

    expiryTimeUtc is used when it reads as Unix seconds near now (its unit is not published; the official
    example holds 1); otherwise the token's own `exp` claim (a JWT), otherwise unknown, fetched again every
    TOKEN_FALLBACK_REFRESH_S. refreshAfterTimeUtc, when plausible, says when to fetch the next one.
    """
    now = time.time()
    expires = plausible_epoch_s(expiry_utc, now)
    if expires is None:
        expires = plausible_epoch_s(token_claims(token).get("exp"), now)
    refresh = plausible_epoch_s(refresh_after_utc, now)
    if refresh is None and expires is None:
        refresh = now + TOKEN_FALLBACK_REFRESH_S
    return expires, refresh


class AzureDeployments:
    """Endpoints and deployments of one Azure ML workspace (implements DeploymentService).

    Args:
        workspace: The workspace.
        credential: A signed-in credential; by default the factory's (DefaultAzureCredential).
        clients: How SDK objects are made (tests install a canned transport there).
        scoring_app: The folder with endpoint.yml, deployment.yml and score.py.
        report_every_s: How often a long-running operation reports progress.
        deployment_file: A deployment YAML of the user's (model, code, environment) to create deployments
            from instead of scoring_app/deployment.yml; its relative paths are its folder's. Endpoints still
            come from scoring_app/endpoint.yml.
    """

    kind = "azure"

    def __init__(
        self,
        workspace: Workspace,
        credential: Any = None,
        clients: AzureClients | None = None,
        scoring_app: Path = SCORING_APP_DIR,
        report_every_s: float = REPORT_EVERY_S,
        deployment_file: Path | None = None,
    ) -> None:
        self.workspace = workspace
        self.deployment_file = deployment_file or scoring_app / "deployment.yml"
        self.clients = clients or current_clients()
        self._credential = credential
        self.scoring_app = scoring_app
        self.report_every_s = report_every_s
        self.title = f"Azure workspace {workspace.name} ({workspace.resource_group})"
        self._ml: Any = None
        self._ml_lock = threading.Lock()
        self.created_endpoints: set[str] = set()
        """Endpoints this service asked Azure to create (deleted by --delete-after even when creation failed)."""
        self._stop = threading.Event()
        """Set by close(): long-running waits in threads give up at their next tick."""

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def credential(self) -> Any:
        if self._credential is None:
            self._credential = self.clients.default_credential()
        return self._credential

    def ml(self) -> Any:
        """The workspace's MLClient, made on first use (in the calling thread: it imports azure.ai.ml)."""
        with self._ml_lock:
            if self._ml is None:
                ws = self.workspace
                self._ml = self.clients.ml_client(self.credential, ws.subscription_id, ws.resource_group, ws.name)
            return self._ml

    def _where(self) -> str:
        return f"workspace {self.workspace.name}"

    def _wait(self, poller: Any, what: str, on_progress: ProgressCallback, started: float) -> Any:
        """Poll a long-running operation to its end, reporting `what` with the elapsed time periodically.

        Returns:
            The operation's result.

        Raises:
            Whatever the poller raises when the operation fails; DeploymentError on timeout or close().
        """
        next_report = started + self.report_every_s
        tick = min(1.0, self.report_every_s)
        while not poller.done():
            if self._stop.is_set():
                raise DeploymentError(f"Stopped waiting for {what} ({elapsed(time.monotonic() - started)}).")
            poller.wait(timeout=tick)
            now = time.monotonic()
            if now - started > LRO_TIMEOUT_S:
                raise DeploymentError(f"{what} did not finish in {elapsed(LRO_TIMEOUT_S)}; look in the Azure portal.")
            if now >= next_report and not poller.done():
                on_progress(f"{what}: {poller.status()}, {elapsed(now - started)} elapsed")
                next_report = now + self.report_every_s
        result = poller.result()
        on_progress(f"{what}: done in {elapsed(time.monotonic() - started)}")
        return result

    def _exact(self, info: DeploymentInfo) -> DeploymentInfo:
        """The deployment with its request timeout as ARM answered it: azure-ai-ml reads it in whole seconds
        (PT0.5S gives 0 ms), moetui.azure.raw_settings keeps the exact value."""
        exact = self.clients.request_timeout_ms(info.endpoint, info.name)
        if exact is None or round(exact) == info.request_timeout_ms:
            return info
        return dataclasses.replace(info, request_timeout_ms=round(exact))

    # -- DeploymentService ----------------------------------------------------------------------------

    def default_request(self) -> DeploymentRequest:
        return DeploymentRequest(
            endpoint=random_endpoint_name(), **read_request_defaults(self.scoring_app, self.deployment_file)
        )

    async def list_deployments(self) -> list[DeploymentInfo]:
        def listing() -> list[DeploymentInfo]:
            ml = self.ml()
            found: list[DeploymentInfo] = []
            for endpoint in ml.online_endpoints.list():
                for deployment in ml.online_deployments.list(endpoint_name=endpoint.name):
                    found.append(self._exact(deployment_info(endpoint, deployment)))
            return sorted(found, key=lambda d: (d.endpoint, d.name))

        return await in_thread(f"listing the online endpoints of {self._where()}", listing)

    async def show(self, endpoint: str, deployment: str) -> DeploymentInfo:
        def showing() -> DeploymentInfo:
            ml = self.ml()
            return self._exact(
                deployment_info(
                    ml.online_endpoints.get(name=endpoint),
                    ml.online_deployments.get(name=deployment, endpoint_name=endpoint),
                )
            )

        return await in_thread(f"reading deployment {deployment} of endpoint {endpoint}", showing)

    async def traffic(self, endpoint: str) -> dict[str, int]:
        """The endpoint's traffic split: deployment name -> percent (not part of DeploymentService)."""

        def reading() -> dict[str, int]:
            found = self.ml().online_endpoints.get(name=endpoint)
            return {str(name): int(share) for name, share in (found.traffic or {}).items()}

        return await in_thread(f"reading endpoint {endpoint}", reading)

    async def logs(self, endpoint: str, deployment: str, lines: int = 200) -> str:
        def reading() -> str:
            return str(self.ml().online_deployments.get_logs(name=deployment, endpoint_name=endpoint, lines=lines))

        return await in_thread(f"reading the logs of deployment {deployment} of endpoint {endpoint}", reading)

    async def credentials(self, endpoint: str, deployment: str) -> EndpointCredentials:
        return await in_thread(
            f"fetching the key of endpoint {endpoint}", lambda: self.credentials_now(endpoint, deployment)
        )

    def credentials_now(self, endpoint: str, deployment: str) -> EndpointCredentials:
        """credentials(), blocking: for a caller in a thread of its own (a run refreshing its token)."""

        def fetching() -> EndpointCredentials:
            ml = self.ml()
            found = ml.online_endpoints.get(name=endpoint)
            mode = auth_mode_of(found)
            refresh: float | None = None
            if mode == "aad_token":
                # What get_keys does for aad_token (an Entra token for Azure ML's data plane), asked here
                # directly so the expiry comes along.
                token = self.credential.get_token(AAD_TOKEN_SCOPE)
                secret, expires = str(token.token), float(token.expires_on)
            else:
                keys = ml.online_endpoints.get_keys(name=endpoint)
                if mode == "key":
                    secret, expires = str(keys.primary_key or ""), None
                else:
                    secret = str(keys.access_token or "")
                    expires, refresh = token_times(
                        secret, keys.expiry_time_utc, getattr(keys, "refresh_after_time_utc", None)
                    )
            if not secret:
                raise DeploymentError(f"Azure returned no {mode.replace('_', ' ')} for endpoint {endpoint}.")
            return EndpointCredentials(
                scoring_uri=str(found.scoring_uri or ""),
                key=secret,
                deployment=deployment or None,
                auth_mode=mode,
                expires_at=expires,
                refresh_at=refresh,
            )

        return blocking(f"fetching the key of endpoint {endpoint}", fetching)

    async def create(self, request: DeploymentRequest, on_progress: ProgressCallback) -> DeploymentInfo:
        problems = request.problems()
        if problems:
            raise DeploymentError("Cannot create this deployment: " + "; ".join(problems) + ".")
        await in_thread(
            f"creating endpoint {request.endpoint} in {self._where()}",
            lambda: self._create_endpoint(request, on_progress),
        )
        await in_thread(
            f"creating deployment {request.deployment} of endpoint {request.endpoint}",
            lambda: self._create_deployment(request, on_progress),
        )
        await in_thread(
            f"giving deployment {request.deployment} 100 % of the traffic of endpoint {request.endpoint}",
            lambda: self._route_traffic(request, on_progress),
        )
        info = await self.show(request.endpoint, request.deployment)
        on_progress(
            f"deployment {info.name} of endpoint {info.endpoint}: {info.state}, "
            f"max_concurrent_requests_per_instance {info.max_concurrent_requests_per_instance}, "
            f"request_timeout_ms {info.request_timeout_ms}, {workers_text(info.worker_count)}, "
            f"{info.instance_type} x {info.instance_count}, traffic {info.traffic_percent} %"
        )
        return info

    async def deployment_names(self, endpoint: str) -> list[str] | None:
        """The names of an endpoint's deployments; None when the workspace has no such endpoint."""

        def listing() -> list[str] | None:
            from azure.core.exceptions import ResourceNotFoundError

            ml = self.ml()
            try:
                ml.online_endpoints.get(name=endpoint)
            except ResourceNotFoundError:
                return None
            return sorted(str(d.name) for d in ml.online_deployments.list(endpoint_name=endpoint))

        return await in_thread(f"reading endpoint {endpoint} in {self._where()}", listing)

    async def create_endpoint(self, request: DeploymentRequest, on_progress: ProgressCallback) -> None:
        """Create `request.endpoint` alone (no deployment, so its traffic split is empty).

        Raises:
            DeploymentError: The name is taken (here or in the region) or creation failed.
        """
        await in_thread(
            f"creating endpoint {request.endpoint} in {self._where()}",
            lambda: self._create_endpoint(request, on_progress),
        )

    async def add_deployment(
        self, request: DeploymentRequest, on_progress: ProgressCallback, environment: Mapping[str, str] | None = None
    ) -> DeploymentInfo:
        """Create a deployment of an existing endpoint WITHOUT giving it traffic: the endpoint's split stays as
        it was (a new endpoint's stays empty), so only requests that name it in `azureml-model-deployment`
        reach it (a matrix's cells side by side on one endpoint).

        Args:
            environment: More environment variables for the deployment (a matrix cell's).

        Raises:
            DeploymentError: The request has problems or creation failed (with the end of the logs).
        """
        problems = request.problems()
        if problems:
            raise DeploymentError("Cannot create this deployment: " + "; ".join(problems) + ".")
        await in_thread(
            f"creating deployment {request.deployment} of endpoint {request.endpoint}",
            # The caller (a matrix run) deletes what it created: the failure must not tell the user to.
            lambda: self._create_deployment(
                request, on_progress, environment, cleanup_note="The run deletes what it created."
            ),
        )
        return await self.show(request.endpoint, request.deployment)

    async def delete_deployment(self, endpoint: str, deployment: str, on_progress: ProgressCallback) -> None:
        """Delete one deployment of an endpoint (the endpoint and its other deployments stay)."""

        def deleting() -> None:
            from azure.core.exceptions import ResourceNotFoundError

            on_progress(f"deleting deployment {deployment} of endpoint {endpoint}")
            started = time.monotonic()
            try:
                with quiet_stdio():
                    poller = self.ml().online_deployments.begin_delete(name=deployment, endpoint_name=endpoint)
                    self._wait(poller, f"deleting deployment {deployment}", on_progress, started)
            except ResourceNotFoundError:
                on_progress(f"deployment {deployment} of endpoint {endpoint} is gone already")

        await in_thread(f"deleting deployment {deployment} of endpoint {endpoint}", deleting)

    def stop_waiting(self) -> None:
        """Long-running waits in threads give up at their next tick (what close() does, keeping the client)."""
        self._stop.set()

    def _create_endpoint(self, request: DeploymentRequest, on_progress: ProgressCallback) -> None:
        from azure.ai.ml import load_online_endpoint
        from azure.core.exceptions import ResourceNotFoundError

        ml = self.ml()
        try:
            ml.online_endpoints.get(name=request.endpoint)
        except ResourceNotFoundError:
            pass
        else:
            raise DeploymentError(
                f"An endpoint named {request.endpoint} already exists in {self._where()}: pick another name "
                "(or use the existing one).",
                title="Name taken",
            )
        endpoint = load_online_endpoint(self.scoring_app / "endpoint.yml", params_override=[{"name": request.endpoint}])
        on_progress(f"creating endpoint {request.endpoint} in {self._where()} ({auth_mode_of(endpoint)} auth)")
        started = time.monotonic()
        self.created_endpoints.add(request.endpoint)
        try:
            with quiet_stdio():  # AzureMLPolling prints a "." per poll
                poller = ml.online_endpoints.begin_create_or_update(endpoint)
                self._wait(poller, f"endpoint {request.endpoint}", on_progress, started)
        except Exception as exc:
            if not isinstance(exc, DeploymentError) and is_name_taken(exc):
                raise DeploymentError(
                    f"The endpoint name {request.endpoint} is taken: endpoint names are unique within an Azure "
                    f"region, across workspaces. Pick another name. ({first_line(exc)})",
                    title="Name taken",
                ) from exc
            raise

    def _deployment_entity(self, request: DeploymentRequest, environment: Mapping[str, str] | None = None) -> Any:
        from azure.ai.ml import load_online_deployment
        from azure.ai.ml.entities import OnlineRequestSettings

        deployment = load_online_deployment(
            self.deployment_file,
            params_override=[{"name": request.deployment}, {"endpoint_name": request.endpoint}],
        )
        deployment.instance_type = request.instance_type
        deployment.instance_count = request.instance_count
        settings = deployment.request_settings or OnlineRequestSettings()
        settings.max_concurrent_requests_per_instance = request.max_concurrent_requests_per_instance
        settings.request_timeout_ms = request.request_timeout_ms
        deployment.request_settings = settings
        deployment.environment_variables = {
            **(deployment.environment_variables or {}),
            # The inference server's worker processes: without it, one request at a time per instance.
            "WORKER_COUNT": str(request.worker_count),
            "SLEEP_SECONDS": f"{request.sleep_s:g}",
            **(environment or {}),
        }
        return deployment

    def _create_deployment(
        self,
        request: DeploymentRequest,
        on_progress: ProgressCallback,
        environment: Mapping[str, str] | None = None,
        *,
        cleanup_note: str | None = None,
    ) -> None:
        """Create one deployment and wait for it. `cleanup_note` ends a failure's message: what is left
        behind and who deletes it (the default: the endpoint remains, delete it)."""
        ml = self.ml()
        deployment = self._deployment_entity(request, environment)
        what = f"deployment {request.deployment} of endpoint {request.endpoint}"
        on_progress(
            f"creating {what}: {request.instance_type} x {request.instance_count}, "
            f"max_concurrent_requests_per_instance {request.max_concurrent_requests_per_instance}, "
            f"WORKER_COUNT {request.worker_count}, request_timeout_ms {request.request_timeout_ms} "
            f"(uploads {self.deployment_file.parent.name}/ first; a deployment takes 5 to 15 minutes)"
        )
        started = time.monotonic()
        try:
            with quiet_stdio():  # the code upload prints to sys.stderr, AzureMLPolling a "." per poll
                poller = ml.online_deployments.begin_create_or_update(deployment)
                self._wait(poller, what, on_progress, started)
        except DeploymentError:
            raise
        except Exception as exc:
            if status_of(exc) in (401, 403):
                raise
            raise DeploymentError(
                f"Creating {what} failed: {first_line(exc, 600)}\n{self._log_tail(request)}\n"
                + (
                    cleanup_note or f"The endpoint {request.endpoint} remains; delete it so that nothing keeps billing."
                ),
                title="Deployment failed",
            ) from exc

    def _log_tail(self, request: DeploymentRequest) -> str:
        """The end of both containers' logs: the inference server's, and the storage initializer's, which
        downloads the model and code first (a download failure leaves the server's log empty)."""
        parts: list[str] = []
        for container, label in ((None, "the inference server"), ("storage-initializer", "the storage initializer")):
            options = {} if container is None else {"container_type": container}
            try:
                text = str(
                    self.ml().online_deployments.get_logs(
                        name=request.deployment, endpoint_name=request.endpoint, lines=FAILURE_LOG_LINES, **options
                    )
                ).strip()
            except Exception as exc:
                parts.append(f"(the logs of {label} could not be read: {first_line(exc, 200)})")
                continue
            parts.append(f"Last lines of the logs of {label}:\n{text}" if text else f"(the logs of {label} are empty)")
        return "\n".join(parts)

    def _route_traffic(self, request: DeploymentRequest, on_progress: ProgressCallback) -> None:
        ml = self.ml()
        endpoint = ml.online_endpoints.get(name=request.endpoint)
        endpoint.traffic = {request.deployment: 100}
        on_progress(f"giving deployment {request.deployment} 100 % of the traffic")
        started = time.monotonic()
        with quiet_stdio():
            self._wait(ml.online_endpoints.begin_create_or_update(endpoint), "traffic", on_progress, started)

    async def delete(self, endpoint: str, on_progress: ProgressCallback) -> None:
        def deleting() -> None:
            from azure.core.exceptions import ResourceNotFoundError

            on_progress(f"deleting endpoint {endpoint} and its deployments")
            started = time.monotonic()
            try:
                with quiet_stdio():
                    poller = self.ml().online_endpoints.begin_delete(name=endpoint)
                    self._wait(poller, f"deleting endpoint {endpoint}", on_progress, started)
            except ResourceNotFoundError:
                on_progress(f"endpoint {endpoint} is gone already")

        await in_thread(f"deleting endpoint {endpoint}", deleting)

    def replay_target(self, info: DeploymentInfo) -> dict[str, Any]:
        ws = self.workspace
        return {
            "azure": {
                "subscription_id": ws.subscription_id,
                "resource_group": ws.resource_group,
                "workspace": ws.name,
                "endpoint": info.endpoint,
                "deployment": info.name,
            }
        }

    async def close(self) -> None:
        self._stop.set()
        self._ml = None

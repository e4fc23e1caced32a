"""The deployment service of the local endpoint: "create" starts one, "delete" stops it by PID.

Each endpoint created here runs until deleted or until the service closes (the TUI closes it on exit),
so several runs can go at the same deployment, as they would at an Azure one. No textual, no azure.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moetui.deployments.base import (
    DeploymentError,
    DeploymentInfo,
    DeploymentRequest,
    EndpointCredentials,
    ProgressCallback,
)
from moetui.deployments.names import random_endpoint_name
from moetui.errors import MoetuiError
from moetui.local_endpoint import LocalEndpoint, RunningEndpoint
from moetui.local_endpoint.settings import build_settings, read_deployment_yaml
from moetui.paths import SCORING_APP_DIR


@dataclass
class _Started:
    request: DeploymentRequest
    endpoint: LocalEndpoint
    running: RunningEndpoint


class LocalDeployments:
    """Local endpoints started from scoring_app/, one per create().

    Args:
        deployment_file: The Azure ML deployment YAML whose settings are the defaults.
        scorer: The entry script; scoring_app/score.py when None.
    """

    kind = "local"
    title = "Local endpoint"

    def __init__(self, deployment_file: Path | None = None, scorer: Path | None = None) -> None:
        self.deployment_file = deployment_file or SCORING_APP_DIR / "deployment.yml"
        self.scorer = scorer
        self._started: dict[str, _Started] = {}

    def default_request(self) -> DeploymentRequest:
        base = read_deployment_yaml(self.deployment_file)
        return DeploymentRequest(
            endpoint=random_endpoint_name(),
            deployment=base.name,
            instance_type="local process",
            instance_count=base.instance_count,
            max_concurrent_requests_per_instance=base.max_concurrent_requests_per_instance,
            worker_count=base.worker_count,
            request_timeout_ms=base.request_timeout_ms,
            sleep_s=base.sleep_s,
        )

    async def list_deployments(self) -> list[DeploymentInfo]:
        return [self._info(name) for name in self._started]

    async def create(self, request: DeploymentRequest, on_progress: ProgressCallback) -> DeploymentInfo:
        if problems := request.problems():
            raise DeploymentError("; ".join(problems), title="Cannot create the deployment")
        if request.endpoint in self._started:
            raise DeploymentError(f"An endpoint named {request.endpoint} is already running here; choose another name.")
        try:
            settings = build_settings(
                read_deployment_yaml(self.deployment_file),
                scorer=self.scorer,
                name=request.deployment,
                instance_count=request.instance_count,
                worker_count=request.worker_count,
                max_concurrent_requests_per_instance=request.max_concurrent_requests_per_instance,
                request_timeout_ms=request.request_timeout_ms,
                sleep_s=request.sleep_s,
            )
            endpoint = LocalEndpoint(settings, on_progress=on_progress)
            running = await endpoint.__aenter__()
        except MoetuiError as exc:
            raise DeploymentError(exc.message, title=exc.title) from exc
        self._started[request.endpoint] = _Started(request, endpoint, running)
        return self._info(request.endpoint)

    async def show(self, endpoint: str, deployment: str) -> DeploymentInfo:
        started = self._get(endpoint)
        if deployment != started.request.deployment:
            raise DeploymentError(f"Endpoint {endpoint} has no deployment named {deployment}.")
        return self._info(endpoint)

    async def logs(self, endpoint: str, deployment: str, lines: int = 200) -> str:
        started = self._get(endpoint)
        parts = []
        for path in sorted(started.running.log_dir.glob(f"{deployment}-*.log")):
            with path.open(errors="replace") as log:
                tail = deque(log, maxlen=lines)
            parts.append(f"== {path.name} ==\n" + "".join(tail))
        if not parts:
            raise DeploymentError(f"No logs for {endpoint}/{deployment} in {started.running.log_dir}.")
        return "\n".join(parts)

    async def credentials(self, endpoint: str, deployment: str) -> EndpointCredentials:
        running = self._get(endpoint).running
        return EndpointCredentials(scoring_uri=running.scoring_uri, key=running.key, deployment=deployment)

    def processes(self, endpoint: str) -> dict[str, int]:
        """The started endpoint's processes by role (RunningEndpoint.processes), for a run's report."""
        return self._get(endpoint).running.processes

    async def delete(self, endpoint: str, on_progress: ProgressCallback) -> None:
        started = self._started.pop(endpoint, None)
        if started is None:
            raise DeploymentError(f"There is no local endpoint named {endpoint}.")
        begun = time.monotonic()
        on_progress(f"Stopping {endpoint} (gateway pid {started.running.gateway_pid}) ...")
        # stop() waits for each process (up to its grace period): not on the event loop.
        await asyncio.to_thread(started.endpoint.stop)
        on_progress(f"Deleted {endpoint} in {time.monotonic() - begun:.1f} s.")

    def replay_target(self, info: DeploymentInfo) -> dict[str, Any]:
        table: dict[str, Any] = {
            "workers": info.worker_count,
            "max_concurrency": info.max_concurrent_requests_per_instance,
            "instances": info.instance_count,
            "timeout_ms": info.request_timeout_ms,
            "sleep": info.sleep_s,
        }
        if self.deployment_file != SCORING_APP_DIR / "deployment.yml":
            table["deployment_file"] = str(self.deployment_file)
        if self.scorer is not None:
            table["scorer"] = str(self.scorer)
        return {"local": {k: v for k, v in table.items() if v is not None}}

    async def close(self) -> None:
        await asyncio.to_thread(self.close_now)  # stop() waits for each process: not on the event loop

    def close_now(self) -> None:
        """Stop every endpoint at once, without an event loop (interpreter exit, Ctrl-C)."""
        started, self._started = list(self._started.values()), {}
        for one in started:
            one.endpoint.stop()

    def _get(self, endpoint: str) -> _Started:
        try:
            return self._started[endpoint]
        except KeyError:
            raise DeploymentError(f"There is no local endpoint named {endpoint}.") from None

    def _info(self, endpoint: str) -> DeploymentInfo:
        started = self._started[endpoint]
        deployment = started.running.settings.deployments[0]
        return DeploymentInfo(
            endpoint=endpoint,
            name=deployment.name,
            state="Succeeded",
            scoring_uri=started.running.scoring_uri,
            traffic_percent=deployment.traffic_percent,
            instance_type=started.request.instance_type,
            instance_count=deployment.instance_count,
            max_concurrent_requests_per_instance=deployment.max_concurrent_requests_per_instance,
            request_timeout_ms=deployment.request_timeout_ms,
            worker_count=deployment.worker_count,
            sleep_s=deployment.sleep_s,
        )

"""`moetui --run --deploy / --delete-after`: a deployment created from scoring_app/ for one run, and
removed after it, also when the run fails or is interrupted (nothing keeps billing).

Imported by the headless runner only when one of the flags is given (it imports the Azure SDK).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from moetui.azure.clients import current_clients
from moetui.azure.deployments import AzureDeployments
from moetui.config.schema import AzureTarget
from moetui.deployments.base import DeploymentRequest, Workspace


def request_for(target: AzureTarget, defaults: DeploymentRequest) -> DeploymentRequest:
    """The deployment to create: deployment.yml's settings (`defaults`) under the [target.azure] table's."""
    chosen: dict[str, Any] = {
        "endpoint": target.endpoint or None,
        "deployment": target.deployment,
        "instance_type": target.instance_type,
        "instance_count": target.instances,
        "max_concurrent_requests_per_instance": target.max_concurrency,
        "worker_count": target.workers,
        "sleep_s": target.sleep,
        "request_timeout_ms": target.timeout_ms,
    }
    return dataclasses.replace(defaults, **{k: v for k, v in chosen.items() if v is not None})


@asynccontextmanager
async def deployment_for_run(
    target: AzureTarget, *, deploy: bool, delete_after: bool, say: Callable[[str], None]
) -> AsyncIterator[AzureTarget]:
    """Create the deployment first (with `deploy`) and delete its endpoint after (with `delete_after`).

    Yields:
        The [target.azure] table to run against: the created endpoint and deployment with `deploy`.

    Raises:
        DeploymentError: Creation failed (the endpoint is still deleted with `delete_after`).
    """
    workspace = Workspace(target.workspace, target.resource_group, target.subscription_id)
    service = AzureDeployments(workspace, clients=current_clients())
    # Only an endpoint this run created, or the one the config names when --delete-after comes alone, is
    # ever deleted: never an endpoint that merely had the name we asked for.
    to_delete = target.endpoint if delete_after and not deploy else None
    try:
        if deploy:
            request = request_for(target, service.default_request())
            say(f"moetui: deploying scoring_app/ to endpoint {request.endpoint} in {service.title}")
            try:
                info = await service.create(request, say)
            finally:
                if delete_after and request.endpoint in service.created_endpoints:
                    to_delete = request.endpoint
            target = dataclasses.replace(target, endpoint=info.endpoint, deployment=info.name)
        yield target
    finally:
        try:
            if to_delete:
                say(f"moetui: deleting endpoint {to_delete} (--delete-after)")
                await service.delete(to_delete, say)
        finally:
            await service.close()

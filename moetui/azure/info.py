"""DeploymentInfo from azure-ai-ml's entities (OnlineEndpoint, OnlineDeployment), read defensively.

Works on any object with the entities' attribute names (tests may hand in simple namespaces); imports
nothing from the SDK.
"""

from __future__ import annotations

from typing import Any

from moetui.deployments.base import DeploymentInfo, share_of

#: azure-ai-ml's defaults when a deployment has no request_settings (Azure's documented defaults).
DEFAULT_MAX_CONCURRENT = 1
DEFAULT_REQUEST_TIMEOUT_MS = 5000
#: azureml-inference-server-http's worker processes when WORKER_COUNT is not set (its flag, then the
#: variable, then 1: ../shared/FACTS.md).
INFERENCE_SERVER_DEFAULT_WORKERS = 1


def workers_text(worker_count: int | None) -> str:
    """WORKER_COUNT as a deployment's description says it; unset is the inference server's default."""
    if worker_count is None:
        return f"WORKER_COUNT not set (the inference server's default: {INFERENCE_SERVER_DEFAULT_WORKERS} worker)"
    return f"WORKER_COUNT {worker_count}"


def _text(value: Any) -> str:
    """A string, or an enum's value (the SDK hands back str enums whose str() is "Enum.MEMBER")."""
    return str(getattr(value, "value", value))


def auth_mode_of(endpoint: Any) -> str:
    """The endpoint's auth mode: key, aml_token or aad_token (the SDK may hand back "Key" or "AMLToken")."""
    mode = _text(getattr(endpoint, "auth_mode", None) or "key").lower()
    return {"amltoken": "aml_token", "aadtoken": "aad_token"}.get(mode, mode)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _optional_number(value: Any, kind: type[int] | type[float]) -> Any:
    if value is None or str(value).strip() == "":
        return None
    try:
        return kind(float(value)) if kind is int else float(value)
    except ValueError:
        return None


def deployment_info(endpoint: Any, deployment: Any) -> DeploymentInfo:
    """One deployment of an endpoint, as the screens and the headless runner show it."""
    settings = getattr(deployment, "request_settings", None)
    env = dict(getattr(deployment, "environment_variables", None) or {})
    traffic = dict(getattr(endpoint, "traffic", None) or {})
    name = str(deployment.name)
    return DeploymentInfo(
        endpoint=str(endpoint.name),
        name=name,
        state=_text(getattr(deployment, "provisioning_state", None) or "Unknown"),
        scoring_uri=str(getattr(endpoint, "scoring_uri", None) or ""),
        auth_mode=auth_mode_of(endpoint),
        # Case-insensitive: the SDK lowercases the traffic keys it sends, a GET returns them as stored.
        traffic_percent=share_of({str(k): _int(v, 0) for k, v in traffic.items()}, name),
        instance_type=str(getattr(deployment, "instance_type", None) or ""),
        instance_count=_int(getattr(deployment, "instance_count", None), 1),
        max_concurrent_requests_per_instance=_int(
            getattr(settings, "max_concurrent_requests_per_instance", None), DEFAULT_MAX_CONCURRENT
        ),
        request_timeout_ms=_int(getattr(settings, "request_timeout_ms", None), DEFAULT_REQUEST_TIMEOUT_MS),
        worker_count=_optional_number(env.get("WORKER_COUNT"), int),
        sleep_s=_optional_number(env.get("SLEEP_SECONDS"), float),
    )

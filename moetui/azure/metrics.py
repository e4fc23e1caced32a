"""Server-side metrics of an Azure ML online deployment, from Azure Monitor, for a run's report.

The profiler's report had them: the deployment's CPU and memory (and GPU, where the SKU has one) and the
endpoint's request latency percentiles and requests per minute, at one-minute grain over the run window.

Read with azure-mgmt-monitor's `MonitorManagementClient.metrics.list`: an ARM call
(`GET {resource id}/providers/Microsoft.Insights/metrics`), so it takes the same credential, token scope,
cloud and pipeline as the rest of moetui's Azure calls, and needs no region (azure-monitor-querymetrics'
MetricsClient asks for the regional endpoint and a token for another audience). One query per resource,
each with up to 20 metric names.

Failing to read metrics never fails a run: `fetch_metrics` returns what it could read, with the reasons
for the rest in `errors`. Azure Monitor ingests metrics a few minutes late, so a query right after a short
run may miss its last minutes. Import this module only for Azure targets: it imports the Azure SDK inside
`fetch_metrics`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

#: One-minute grain, as the profiler's report and Azure's portal charts.
INTERVAL = "PT1M"
#: The deployment's metrics (Minimum, Maximum and Average per minute over its instances).
DEPLOYMENT_METRICS = ("CpuUtilizationPercentage", "CpuMemoryUtilizationPercentage")
#: Only a GPU SKU reports these; queried on their own, so that a refusal leaves the CPU metrics alone.
GPU_METRICS = ("GpuUtilizationPercentage", "GpuMemoryUtilizationPercentage", "GpuEnergyJoules")
#: The endpoint's metrics (Average per minute): over all of its traffic, not only this run's deployment.
ENDPOINT_METRICS = (
    "RequestLatency_P50",
    "RequestLatency_P90",
    "RequestLatency_P95",
    "RequestLatency_P99",
    "RequestsPerMinute",
)
#: Seconds each ARM call may take to answer before it is given up.
READ_TIMEOUT_S = 30
_PROVIDER = "Microsoft.MachineLearningServices"


def resource_ids(
    subscription_id: str, resource_group: str, workspace: str, endpoint: str, deployment: str | None
) -> tuple[str, str | None]:
    """ARM resource IDs of the online endpoint and of its deployment (None without a deployment)."""
    endpoint_id = (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{_PROVIDER}"
        f"/workspaces/{workspace}/onlineEndpoints/{endpoint}"
    )
    return endpoint_id, (f"{endpoint_id}/deployments/{deployment}" if deployment else None)


def timespan(start: datetime, end: datetime) -> str:
    """The run window in Azure Monitor's `start/end` form, widened to whole minutes (the grain), in UTC."""
    start_utc = _utc(start).replace(second=0, microsecond=0)
    end_utc = _utc(end)
    if end_utc.second or end_utc.microsecond:
        end_utc = end_utc.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end_utc = max(end_utc, start_utc + timedelta(minutes=1))
    return f"{_iso(start_utc)}/{_iso(end_utc)}"


def fetch_metrics(
    credential: Any,
    subscription_id: str,
    resource_group: str,
    workspace: str,
    endpoint: str,
    deployment: str | None,
    start: datetime,
    end: datetime,
    *,
    transport: Any = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Read the deployment's and the endpoint's metrics over a run window.

    Args:
        credential: An azure-core TokenCredential (DefaultAzureCredential, or the one the target signed in with).
        subscription_id, resource_group, workspace, endpoint: The online endpoint.
        deployment: Its deployment; None reads the endpoint's metrics only.
        start, end: The run window (aware datetimes; naive ones are taken as UTC).
        transport: An azure-core HttpTransport for the client (tests hand it canned responses).
        base_url: ARM's URL when not the public cloud's.

    Returns:
        The report's `server_metrics` block, JSON-able::

            {"source": "Azure Monitor", "interval": "PT1M", "timespan": "<start>/<end>",
             "endpoint_id": "...", "deployment_id": "..." | None,
             "metrics": {"<metric name>": {"scope": "deployment" | "endpoint", "unit": "Percent",
                         "average": float, "maximum": float,
                         "points": [{"time": "<ISO 8601>", "average": float, "maximum": float?}, ...]}},
             "errors": ["<why a query gave nothing>", ...]}

        A metric with no data in the window (the GPU metrics of a CPU SKU) is left out of `metrics`.

    Never raises for Azure's answers or for a failed sign-in: those become `errors`.
    """
    window = timespan(start, end)
    endpoint_id, deployment_id = resource_ids(subscription_id, resource_group, workspace, endpoint, deployment)
    block: dict[str, Any] = {
        "source": "Azure Monitor",
        "interval": INTERVAL,
        "timespan": window,
        "endpoint_id": endpoint_id,
        "deployment_id": deployment_id,
        "metrics": {},
        "errors": [],
    }
    # Deferred: the Azure SDK is imported only for Azure targets (~0.2 s for azure-mgmt-monitor).
    from azure.core.exceptions import AzureError
    from azure.mgmt.monitor import MonitorManagementClient

    options: dict[str, Any] = {"read_timeout": READ_TIMEOUT_S, "retry_total": 2}
    if transport is not None:
        options["transport"] = transport
    if base_url is not None:
        options["base_url"] = base_url
    queries: list[tuple[str, str, Sequence[str], str, bool]] = []
    if deployment_id is not None:
        queries.append(("deployment", deployment_id, DEPLOYMENT_METRICS, "Average,Maximum", True))
        queries.append(("deployment", deployment_id, GPU_METRICS, "Average,Maximum", False))
    queries.append(("endpoint", endpoint_id, ENDPOINT_METRICS, "Average", True))
    client = MonitorManagementClient(credential, subscription_id, **options)
    try:
        for scope, resource_id, names, aggregation, required in queries:
            try:
                response = client.metrics.list(
                    resource_id.lstrip("/"),  # the SDK's URL template adds the leading slash
                    timespan=window,
                    interval=INTERVAL,
                    metricnames=",".join(names),
                    aggregation=aggregation,
                )
            except AzureError as exc:
                denied = _denied(exc)
                if denied or required:
                    block["errors"].append(_explain(exc, scope, resource_id))
                if denied:
                    break  # the same identity would be refused for the other resource too
                continue  # a refused GPU query on a CPU SKU: those metrics are simply absent
            for metric in response.value or ():
                summary = _summarize(metric, scope)
                if summary is not None:
                    block["metrics"][metric.name.value] = summary
    except Exception as exc:  # a sign-in that fails outside azure-core's error types: never fail the run
        block["errors"].append(f"Azure Monitor: could not read the metrics ({type(exc).__name__}: {exc}).")
    finally:
        client.close()
    return block


def metrics_hook(
    credential: Any,
    subscription_id: str,
    resource_group: str,
    workspace: str,
    endpoint: str,
    deployment: str | None,
    *,
    transport: Any = None,
) -> Callable[[datetime, datetime], dict[str, Any]]:
    """The `ResolvedTarget.server_metrics` hook of an Azure deployment: `fetch_metrics` with all but the
    run window bound. The Azure target hands this to the ResolvedTarget it yields."""
    return functools.partial(
        fetch_metrics,
        credential,
        subscription_id,
        resource_group,
        workspace,
        endpoint,
        deployment,
        transport=transport,
    )


def _summarize(metric: Any, scope: str) -> dict[str, Any] | None:
    """One metric's minutes and their summary, or None when no minute has a value."""
    points: list[dict[str, Any]] = []
    for series in metric.timeseries or ():
        for value in series.data or ():
            average, maximum = _number(value.average), _number(value.maximum)
            if average is None and maximum is None:
                continue
            point: dict[str, Any] = {"time": _iso(_utc(value.time_stamp)), "average": average}
            if maximum is not None:
                point["maximum"] = maximum
            points.append(point)
    averages = [p["average"] for p in points if p["average"] is not None]
    if not points:
        return None
    highest = [p.get("maximum", p["average"]) for p in points]
    return {
        "scope": scope,
        "unit": str(metric.unit) if metric.unit is not None else None,
        "average": round(sum(averages) / len(averages), 3) if averages else None,
        "maximum": round(max(h for h in highest if h is not None), 3),
        "points": sorted(points, key=lambda p: str(p["time"])),
    }


def _number(value: Any) -> float | None:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return round(float(value), 3)


def _status(exc: Any) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None and getattr(exc, "response", None) is not None:
        status = getattr(exc.response, "status_code", None)
    return status if isinstance(status, int) else None


def _denied(exc: Exception) -> bool:
    from azure.core.exceptions import ClientAuthenticationError

    return isinstance(exc, ClientAuthenticationError) or _status(exc) in (401, 403)


def _explain(exc: Exception, scope: str, resource_id: str) -> str:
    """A message a user can act on; ARM error messages name no secret, but only the code is kept."""
    status = _status(exc)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    detail = f"{status} {code}".strip() if status else type(exc).__name__
    where = f"the {scope} {resource_id.rsplit('/', 1)[-1]}"
    if status == 403:
        return (
            f"Azure Monitor refused to read the metrics of {where} ({detail}): the signed-in identity needs "
            "a role that can read metrics (Monitoring Reader, Reader or above) on the endpoint or its "
            "workspace. The run's own measurements are unaffected."
        )
    if _denied(exc):
        return (
            f"Azure Monitor did not accept the sign-in for the metrics of {where} ({detail}): sign in again "
            "(az login) and rerun. The run's own measurements are unaffected."
        )
    if status == 404:
        return f"Azure Monitor found no {where} ({detail}): it may have been deleted."
    if status is None:
        return f"Azure Monitor could not be reached for the metrics of {where} ({detail})."
    return f"Azure Monitor could not read the metrics of {where} ({detail})."


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

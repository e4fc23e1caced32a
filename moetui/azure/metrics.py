"""Server-side metrics of an Azure ML online deployment, from Azure Monitor, for a run's report.

The profiler's report had them: the deployment's CPU and memory (and GPU, where the SKU has one) and the
endpoint's request latency percentiles and requests per minute, at one-minute grain over the run window.

Whose figures (Microsoft's "Supported metrics" pages for Microsoft.MachineLearningServices/workspaces/
onlineEndpoints and .../onlineEndpoints/deployments, learn.microsoft.com/azure/azure-monitor/reference/
supported-metrics/): the endpoint's RequestLatency_P50..P99 and RequestsPerMinute carry a `deployment`
dimension, so they are read with `$filter=deployment eq '*'` (one series per deployment) and the report keeps
each deployment's own series: with two deployments at p99 100 ms and 900 ms, an unsplit query averaged them
to 500 ms. The deployment resource's CpuUtilizationPercentage, CpuMemoryUtilizationPercentage and
DeploymentCapacity ("the number of instances in the deployment"; dimensions instanceId, State) are its own.
Each figure says where it came from (`sources`: resource and filter).

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

import dataclasses
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
#: The deployment's instance count per minute (Minimum, Maximum, Average): queried on its own (optional).
CAPACITY_METRIC = "DeploymentCapacity"
#: The dimension of the endpoint's metrics that names the deployment (Microsoft's supported-metrics page).
DEPLOYMENT_DIMENSION = "deployment"
#: Series Azure Monitor returns per metric when a $filter splits it: its default is 10 ("top", valid only
#: with a filter), so an endpoint with more deployments would lose some; an endpoint has at most 20 (a
#: quota that can be raised), so this leaves room.
SERIES_TOP = 100
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
                         "filter": "deployment eq 'blue'"?, "average": float, "maximum": float,
                         "points": [{"time": "<ISO 8601>", "average": float, "maximum": float?}, ...]}},
             "other_deployments": {"<deployment>": {"<metric name>": {...}}},
             "sources": [{"scope": ..., "resource": "<resource id>", "filter": str | None, "metrics": [...]}],
             "capacity": {"minimum": int, "maximum": int, "changes": [{"time": ..., "instances": int}]}?,
             "errors": ["<why a query or a metric gave nothing>", ...]}

        `metrics` holds the deployment under test (the endpoint's metrics filtered on its name, compared
        without regard to case) and unsplit series; the endpoint's other deployments are apart. A metric
        with no data in the window (the GPU metrics of a CPU SKU) is left out.

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
        "other_deployments": {},
        "sources": [],
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
    by_deployment = f"{DEPLOYMENT_DIMENSION} eq '*'"
    queries: list[_Query] = []
    if deployment_id is not None:
        queries.append(_Query("deployment", deployment_id, DEPLOYMENT_METRICS, "Average,Maximum", True))
        queries.append(_Query("deployment", deployment_id, GPU_METRICS, "Average,Maximum", False))
        queries.append(_Query("deployment", deployment_id, (CAPACITY_METRIC,), "Minimum,Maximum,Average", False))
    queries.append(_Query("endpoint", endpoint_id, ENDPOINT_METRICS, "Average", True, by_deployment))
    client = MonitorManagementClient(credential, subscription_id, **options)
    try:
        for query in queries:
            try:
                response = client.metrics.list(
                    query.resource_id.lstrip("/"),  # the SDK's URL template adds the leading slash
                    timespan=window,
                    interval=INTERVAL,
                    metricnames=",".join(query.names),
                    aggregation=query.aggregation,
                    filter=query.filter,
                    top=SERIES_TOP if query.filter else None,
                )
            except AzureError as exc:
                denied = _denied(exc)
                if denied or query.required:
                    block["errors"].append(_explain(exc, query.scope, query.resource_id))
                if denied:
                    break  # the same identity would be refused for the other resource too
                continue  # a refused GPU query on a CPU SKU: those metrics are simply absent
            read: list[str] = []
            for metric in response.value or ():
                name = metric.name.value
                code = str(metric.error_code or "Success")
                if code != "Success":  # a 200 whose metric failed on its own: said, never dropped
                    block["errors"].append(
                        f"Azure Monitor could not read {name} of the {query.scope} "
                        f"{query.resource_id.rsplit('/', 1)[-1]} ({code}: {first_words(metric.error_message)})."
                    )
                    continue
                for value, summary in _summarize(metric, query).items():
                    if value is None or _same(value, deployment):
                        block["metrics"][name] = summary
                    else:
                        block["other_deployments"].setdefault(value, {})[name] = summary
                    if name not in read:
                        read.append(name)
            if read:
                block["sources"].append(
                    {"scope": query.scope, "resource": query.resource_id, "filter": query.filter, "metrics": read}
                )
    except Exception as exc:  # a sign-in that fails outside azure-core's error types: never fail the run
        block["errors"].append(f"Azure Monitor: could not read the metrics ({type(exc).__name__}: {exc}).")
    finally:
        client.close()
    capacity = block["metrics"].get(CAPACITY_METRIC)
    if capacity is not None:
        block["capacity"] = capacity_changes(capacity["points"])
    return block


@dataclasses.dataclass(frozen=True)
class _Query:
    scope: str
    """"deployment" or "endpoint": which resource."""
    resource_id: str
    names: Sequence[str]
    aggregation: str
    required: bool
    """A failure is reported (the GPU and capacity queries may be refused on SKUs that lack them)."""
    filter: str | None = None
    """Azure Monitor's $filter: `deployment eq '*'` splits the endpoint's metrics into one series each."""


def capacity_changes(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The instance count over the window from DeploymentCapacity's minutes: its lowest, its highest, and
    each minute it changed. A minute's count is its Maximum (Average when that is absent)."""
    counts = [
        (str(p["time"]), round(p.get("maximum", p["average"])))
        for p in points
        if p.get("maximum", p.get("average")) is not None
    ]
    changes: list[dict[str, Any]] = []
    for moment, count in counts:
        if not changes or changes[-1]["instances"] != count:
            changes.append({"time": moment, "instances": count})
    values = [count for _, count in counts]
    return {
        "minimum": min(values) if values else None,
        "maximum": max(values) if values else None,
        "changes": changes,
    }


def _same(a: str, b: str | None) -> bool:
    """Deployment names as the service compares them: without regard to case."""
    return b is not None and a.casefold() == b.casefold()


def first_words(text: Any, limit: int = 200) -> str:
    line = " ".join(str(text or "no message").split())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


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


def _summarize(metric: Any, query: _Query) -> dict[str | None, dict[str, Any]]:
    """One metric's summary per series: keyed by the series' deployment (None when it has no such
    dimension); a series whose minutes have no value is left out."""
    found: dict[str | None, dict[str, Any]] = {}
    for series in metric.timeseries or ():
        value = next(
            (
                str(item.value)
                for item in series.metadatavalues or ()
                if item.name is not None and str(item.name.value).casefold() == DEPLOYMENT_DIMENSION
            ),
            None,
        )
        summary = _series(series, metric, query, value)
        if summary is not None:
            found[value] = summary
    return found


def _series(series: Any, metric: Any, query: _Query, value: str | None) -> dict[str, Any] | None:
    """One series' minutes and their summary, or None when no minute has a value."""
    points: list[dict[str, Any]] = []
    for datum in series.data or ():
        average, maximum = _number(datum.average), _number(datum.maximum)
        if average is None and maximum is None:
            continue
        point: dict[str, Any] = {"time": _iso(_utc(datum.time_stamp)), "average": average}
        if maximum is not None:
            point["maximum"] = maximum
        minimum = _number(getattr(datum, "minimum", None))
        if minimum is not None and "Minimum" in query.aggregation:
            point["minimum"] = minimum
        points.append(point)
    if not points:
        return None
    averages = [p["average"] for p in points if p["average"] is not None]
    highest = [p.get("maximum", p["average"]) for p in points]
    summary: dict[str, Any] = {
        "scope": query.scope,
        "unit": str(metric.unit) if metric.unit is not None else None,
        "average": round(sum(averages) / len(averages), 3) if averages else None,
        "maximum": round(max(h for h in highest if h is not None), 3),
        "points": sorted(points, key=lambda p: str(p["time"])),
    }
    if value is not None:
        summary["filter"] = f"{DEPLOYMENT_DIMENSION} eq '{value}'"
    return summary


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

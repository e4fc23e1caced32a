"""Azure Monitor server metrics: the real azure-mgmt-monitor client against canned ARM answers at the
azure-core transport. Asserts on what the SDK sent (resource path, metricnames, interval, timespan) and on
the report block; a metric with no data is left out; a 403 is explained and never fails the run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError

from moetui.azure.metrics import ENDPOINT_METRICS, fetch_metrics, metrics_hook
from moetui.config.load import config_from_dict
from moetui.report.codec import write_report
from moetui.report.summary import format_summary
from moetui.session.run_session import run_session
from moetui.targets.base import ResolvedTarget
from tests.fixtures.azure_transport import ARM, CannedTransport, FakeCredential, Recorded, Reply, error_body
from tests.http_server import FastServer

SUB, RG, WS, EP, DEP = "00000000-0000-4000-8000-00000000beef", "rg-moe", "ws-moe", "endpt-moe-1234", "blue"
ENDPOINT_PATH = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
    f"/workspaces/{WS}/onlineEndpoints/{EP}"
)
DEPLOYMENT_PATH = f"{ENDPOINT_PATH}/deployments/{DEP}"
METRICS = "/providers/Microsoft.Insights/metrics"
START = datetime(2026, 3, 2, 10, 0, 12, 500000, tzinfo=UTC)
END = datetime(2026, 3, 2, 10, 2, 40, tzinfo=UTC)
TIMESPAN = "2026-03-02T10:00:00Z/2026-03-02T10:03:00Z"
MINUTES = ("2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z", "2026-03-02T10:02:00Z")


def metric(
    name: str,
    unit: str,
    values: list[dict[str, float]] | None,
    resource: str,
    by_deployment: dict[str, list[dict[str, float]]] | None = None,
) -> dict[str, Any]:
    """One metric as ARM returns it; values None: no time series at all (a GPU metric on a CPU SKU);
    by_deployment: one series per value of the `deployment` dimension, as a `deployment eq '*'` filter gives."""

    def data(values: list[dict[str, float]]) -> list[dict[str, Any]]:
        return [{"timeStamp": minute, **value} for minute, value in zip(MINUTES, values, strict=False)]

    series = [] if values is None else [{"metadatavalues": [], "data": data(values)}]
    for deployment, deployment_values in (by_deployment or {}).items():
        dimension = {"name": {"value": "deployment", "localizedValue": "deployment"}, "value": deployment}
        series.append({"metadatavalues": [dimension], "data": data(deployment_values)})
    return {
        "id": f"{resource}{METRICS}/{name}",
        "type": "Microsoft.Insights/metrics",
        "name": {"value": name, "localizedValue": name},
        "displayDescription": "",
        "unit": unit,
        "timeseries": series,
        "errorCode": "Success",
    }


def answer(resource: str, namespace: str, *metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "cost": 0,
        "timespan": TIMESPAN,
        "interval": "PT1M",
        "value": list(metrics),
        "namespace": namespace,
        "resourceregion": "westeurope",
    }


def azure_monitor(*, gpu: bool) -> CannedTransport:
    """ARM answering the three queries of one run: deployment CPU, deployment GPU, endpoint."""
    transport = CannedTransport(host="management.azure.com")
    namespace = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
    cpu = answer(
        DEPLOYMENT_PATH,
        namespace,
        metric(
            "CpuUtilizationPercentage",
            "Percent",
            [{"average": 40.0, "maximum": 71.5}, {"average": 60.0, "maximum": 90.25}],
            DEPLOYMENT_PATH,
        ),
        metric(
            "CpuMemoryUtilizationPercentage",
            "Percent",
            [{"average": 30.0, "maximum": 31.0}, {"average": 32.0, "maximum": 33.0}],
            DEPLOYMENT_PATH,
        ),
    )
    gpu_values = [{"average": 80.0, "maximum": 99.0}, {"average": 70.0, "maximum": 75.0}] if gpu else None
    gpus = answer(
        DEPLOYMENT_PATH,
        namespace,
        metric("GpuUtilizationPercentage", "Percent", gpu_values, DEPLOYMENT_PATH),
        metric("GpuMemoryUtilizationPercentage", "Percent", gpu_values, DEPLOYMENT_PATH),
        # A series whose minutes carry no value, as Azure answers for a metric nothing reported.
        metric("GpuEnergyJoules", "Count", [{}, {}, {}], DEPLOYMENT_PATH),
    )
    endpoint = answer(
        ENDPOINT_PATH,
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        *(
            metric(name, "MilliSeconds", [{"average": 10.0 * (i + 1)}, {"average": 12.0 * (i + 1)}, {}], ENDPOINT_PATH)
            for i, name in enumerate(ENDPOINT_METRICS[:4])
        ),
        metric("RequestsPerMinute", "Count", [{"average": 3000.0}, {"average": 2900.0}], ENDPOINT_PATH),
    )

    capacity = answer(
        DEPLOYMENT_PATH,
        namespace,
        metric(
            "DeploymentCapacity",
            "Count",
            [
                {"minimum": 2.0, "maximum": 2.0, "average": 2.0},
                {"minimum": 2.0, "maximum": 3.0, "average": 2.5},
                {"minimum": 3.0, "maximum": 3.0, "average": 3.0},
            ],
            DEPLOYMENT_PATH,
        ),
    )

    def by_names(request: Recorded, _match: Any) -> Reply:
        names = request.query["metricnames"][0]
        if names == "DeploymentCapacity":
            return Reply(json=capacity)
        return Reply(json=gpus if names.startswith("Gpu") else cpu)

    transport.add("GET", f"^{DEPLOYMENT_PATH}{METRICS}$", answer=by_names)
    transport.add("GET", f"^{ENDPOINT_PATH}{METRICS}$", json=endpoint)
    return transport


def fetch(transport: CannedTransport, credential: Any = None, deployment: str | None = DEP) -> dict[str, Any]:
    return fetch_metrics(credential or FakeCredential(), SUB, RG, WS, EP, deployment, START, END, transport=transport)


def test_the_sdk_asks_arm_for_each_resource_at_one_minute_grain() -> None:
    transport = azure_monitor(gpu=False)
    credential = FakeCredential()
    fetch(transport, credential)
    transport.assert_all_expected()
    sent = transport.requests
    assert [r.path for r in sent] == [
        f"{DEPLOYMENT_PATH}{METRICS}",
        f"{DEPLOYMENT_PATH}{METRICS}",
        f"{DEPLOYMENT_PATH}{METRICS}",
        f"{ENDPOINT_PATH}{METRICS}",
    ]
    assert all(r.method == "GET" and r.url.startswith(ARM) for r in sent)
    assert [r.query["metricnames"] for r in sent] == [
        ["CpuUtilizationPercentage,CpuMemoryUtilizationPercentage"],
        ["GpuUtilizationPercentage,GpuMemoryUtilizationPercentage,GpuEnergyJoules"],
        ["DeploymentCapacity"],
        ["RequestLatency_P50,RequestLatency_P90,RequestLatency_P95,RequestLatency_P99,RequestsPerMinute"],
    ]
    assert all(r.query["interval"] == ["PT1M"] for r in sent)
    assert all(r.query["timespan"] == [TIMESPAN] for r in sent)  # the run window, widened to whole minutes
    assert [r.query["aggregation"] for r in sent] == [
        ["Average,Maximum"],
        ["Average,Maximum"],
        ["Minimum,Maximum,Average"],
        ["Average"],
    ]
    # The endpoint's latency and rate, one series per deployment (Microsoft publishes a `deployment` dimension).
    assert [r.query.get("$filter") for r in sent] == [None, None, None, ["deployment eq '*'"]]
    assert [r.query.get("top") for r in sent] == [None, None, None, ["100"]]  # valid only with a filter
    assert all(r.api_version and r.headers["Authorization"].startswith("Bearer ") for r in sent)
    assert set(credential.scopes) == {("https://management.azure.com/.default",)}


def test_the_block_summarizes_each_metric_and_leaves_out_absent_ones() -> None:
    block = fetch(azure_monitor(gpu=False))
    assert block["errors"] == []
    assert block["interval"] == "PT1M" and block["timespan"] == TIMESPAN
    assert block["deployment_id"] == DEPLOYMENT_PATH and block["endpoint_id"] == ENDPOINT_PATH
    metrics = block["metrics"]
    assert set(metrics) == {
        "CpuUtilizationPercentage",
        "CpuMemoryUtilizationPercentage",
        "DeploymentCapacity",
        *ENDPOINT_METRICS,
    }
    cpu = metrics["CpuUtilizationPercentage"]
    assert cpu == {
        "scope": "deployment",
        "unit": "Percent",
        "average": 50.0,
        "maximum": 90.25,
        "points": [
            {"time": MINUTES[0], "average": 40.0, "maximum": 71.5},
            {"time": MINUTES[1], "average": 60.0, "maximum": 90.25},
        ],
    }
    p99 = metrics["RequestLatency_P99"]
    assert (p99["scope"], p99["unit"], p99["average"], p99["maximum"]) == ("endpoint", "MilliSeconds", 44.0, 48.0)
    assert len(p99["points"]) == 2  # the minute without a value is not a point
    assert metrics["RequestsPerMinute"]["average"] == 2950.0
    json.dumps(block)  # JSON-able as it is


def test_gpu_metrics_are_there_when_the_sku_reports_them() -> None:
    metrics = fetch(azure_monitor(gpu=True))["metrics"]
    assert metrics["GpuUtilizationPercentage"]["average"] == 75.0
    assert metrics["GpuUtilizationPercentage"]["maximum"] == 99.0
    assert "GpuEnergyJoules" not in metrics  # its minutes carry no value


def two_deployments() -> CannedTransport:
    """The endpoint's metrics split by deployment: blue at p99 100 ms, green at 900 ms (and their rates)."""
    transport = azure_monitor(gpu=False)
    split = {
        name: metric(
            name,
            "MilliSeconds",
            None,
            ENDPOINT_PATH,
            {"blue": [{"average": 100.0}, {"average": 100.0}], "green": [{"average": 900.0}, {"average": 900.0}]},
        )
        for name in ENDPOINT_METRICS[:4]
    }
    split["RequestsPerMinute"] = metric(
        "RequestsPerMinute",
        "Count",
        None,
        ENDPOINT_PATH,
        {"blue": [{"average": 600.0}, {"average": 600.0}], "green": [{"average": 60.0}, {"average": 60.0}]},
    )
    endpoint = answer(ENDPOINT_PATH, "Microsoft.MachineLearningServices/workspaces/onlineEndpoints", *split.values())
    transport.add("GET", f"^{ENDPOINT_PATH}{METRICS}$", json=endpoint)
    return transport


def test_each_deployment_gets_its_own_latency_not_the_endpoints_mix() -> None:
    block = fetch(two_deployments())
    p99 = block["metrics"]["RequestLatency_P99"]
    assert (p99["average"], p99["maximum"], p99["filter"]) == (100.0, 100.0, "deployment eq 'blue'")
    assert block["metrics"]["RequestsPerMinute"]["average"] == 600.0
    green = block["other_deployments"]["green"]
    assert green["RequestLatency_P99"]["average"] == 900.0 and green["RequestsPerMinute"]["average"] == 60.0
    # The report says which resource and filter each figure came from.
    endpoint_source = next(s for s in block["sources"] if s["scope"] == "endpoint")
    assert endpoint_source["resource"] == ENDPOINT_PATH and endpoint_source["filter"] == "deployment eq '*'"
    summary = server_lines(block)
    assert "endpoint   latency p99 ms   avg 100.00" in summary
    assert "other deployment green: latency p99 ms avg 900.00" in summary
    assert f"from endpoint Microsoft.MachineLearningServices/workspaces/{WS}/onlineEndpoints/{EP}, filter" in summary


def test_no_deployment_is_missing_on_an_endpoint_with_more_than_ten() -> None:
    """Azure Monitor returns `top` series per metric when a filter splits it, 10 when `top` is not sent
    (its documented default); this endpoint has 14 deployments and the one under test is the last."""
    transport = azure_monitor(gpu=False)
    names = [f"dep{i:02d}" for i in range(13)] + [DEP]

    def split(request: Recorded, _match: Any) -> Reply:
        top = int(request.query.get("top", ["10"])[0])
        series = {name: [{"average": float(i)}] for i, name in enumerate(names[:top])}
        metrics = [metric(name, "MilliSeconds", None, ENDPOINT_PATH, series) for name in ENDPOINT_METRICS]
        return Reply(
            json=answer(ENDPOINT_PATH, "Microsoft.MachineLearningServices/workspaces/onlineEndpoints", *metrics)
        )

    transport.add("GET", f"^{ENDPOINT_PATH}{METRICS}$", answer=split)
    block = fetch(transport)
    assert block["metrics"]["RequestLatency_P99"]["average"] == 13.0
    assert set(block["other_deployments"]) == set(names[:-1])


def test_the_deployment_under_test_matches_without_regard_to_case() -> None:
    transport = two_deployments()
    block = fetch_metrics(FakeCredential(), SUB, RG, WS, EP, "Blue", START, END, transport=transport)
    assert block["metrics"]["RequestLatency_P99"]["average"] == 100.0


def test_a_metric_that_failed_inside_a_200_is_reported() -> None:
    transport = azure_monitor(gpu=False)
    failed = metric("RequestLatency_P99", "MilliSeconds", None, ENDPOINT_PATH)
    failed.update(errorCode="Throttled", errorMessage="Too many requests for this metric.")
    ok = metric("RequestsPerMinute", "Count", [{"average": 10.0}], ENDPOINT_PATH)
    endpoint = answer(ENDPOINT_PATH, "Microsoft.MachineLearningServices/workspaces/onlineEndpoints", failed, ok)
    transport.add("GET", f"^{ENDPOINT_PATH}{METRICS}$", json=endpoint)
    block = fetch(transport)
    assert block["errors"] == [
        f"Azure Monitor could not read RequestLatency_P99 of the endpoint {EP} "
        "(Throttled: Too many requests for this metric.)."
    ]
    assert "RequestLatency_P99" not in block["metrics"] and "RequestsPerMinute" in block["metrics"]


def test_instance_count_changes_over_the_window_are_reported() -> None:
    block = fetch(azure_monitor(gpu=False))
    assert block["capacity"] == {
        "minimum": 2,
        "maximum": 3,
        "changes": [{"time": MINUTES[0], "instances": 2}, {"time": MINUTES[1], "instances": 3}],
    }
    summary = server_lines(block)
    assert "instances    2 to 3 over the window (10:00 2, 10:01 3)" in summary


def server_lines(block: dict[str, Any]) -> str:
    """The summary's server-metrics section (format_summary prints it after the run's own figures)."""
    from moetui.report.summary import server_metrics_lines

    return "\n".join(server_metrics_lines(block))


def test_a_refused_gpu_query_leaves_gpu_out_and_the_rest_in() -> None:
    transport = azure_monitor(gpu=False)
    cpu_only = transport.routes[0].answer
    assert callable(cpu_only)

    def refuse_gpu(request: Recorded, match: Any) -> Reply:
        if request.query["metricnames"][0].startswith("Gpu"):
            return Reply(400, error_body("BadRequest", "Failed to find metric configuration for provider"))
        return cpu_only(request, match)

    transport.add("GET", f"^{DEPLOYMENT_PATH}{METRICS}$", answer=refuse_gpu)
    block = fetch(transport)
    assert block["errors"] == []  # GPU metrics are optional: a refusal only means there are none
    assert "CpuUtilizationPercentage" in block["metrics"] and "RequestsPerMinute" in block["metrics"]
    assert not any(name.startswith("Gpu") for name in block["metrics"])


def test_a_failed_cpu_query_is_reported_and_the_endpoint_still_read() -> None:
    transport = azure_monitor(gpu=False)
    transport.add("GET", f"^{DEPLOYMENT_PATH}{METRICS}$", status=500, json=error_body("InternalError", "x"), times=3)
    block = fetch(transport)
    assert "CpuUtilizationPercentage" not in block["metrics"]
    assert block["errors"] == [f"Azure Monitor could not read the metrics of the deployment {DEP} (500 InternalError)."]
    assert "RequestsPerMinute" in block["metrics"]


def test_403_is_explained_and_nothing_more_is_asked() -> None:
    transport = CannedTransport(host="management.azure.com")
    transport.add(
        "GET", METRICS, status=403, json=error_body("AuthorizationFailed", "The client does not have authorization")
    )
    block = fetch(transport)
    assert len(transport.requests) == 1
    assert block["metrics"] == {} and block["sources"] == []
    (message,) = block["errors"]
    assert message.startswith(
        f"Azure Monitor refused to read the metrics of the deployment {DEP} (403 AuthorizationFailed)"
    )
    assert "Monitoring Reader" in message and "unaffected" in message


def test_a_failed_sign_in_is_an_error_in_the_block_not_an_exception() -> None:
    transport = azure_monitor(gpu=False)
    credential = FakeCredential(error=ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token"))
    block = fetch(transport, credential)
    assert transport.requests == [] and block["metrics"] == {}
    assert block["errors"] and "sign-in" in block["errors"][0]


def test_without_a_deployment_only_the_endpoint_is_read() -> None:
    transport = azure_monitor(gpu=False)
    block = fetch(transport, deployment=None)
    assert [r.path for r in transport.requests] == [f"{ENDPOINT_PATH}{METRICS}"]
    assert block["deployment_id"] is None and set(block["metrics"]) == set(ENDPOINT_METRICS)


def session_with(server_metrics: Any, server: FastServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """run_session against the test server, its target carrying a server_metrics hook as an Azure target does."""

    class Source:
        @asynccontextmanager
        async def open(self) -> AsyncIterator[ResolvedTarget]:
            yield ResolvedTarget(
                kind="azure",
                url=server.url("/exec?ms=5"),
                headers={"Content-Type": "application/json"},
                deployment=DEP,
                server_metrics=server_metrics,
            )

    monkeypatch.setattr("moetui.session.run_session.target_for", lambda *args, **kwargs: Source())
    config = config_from_dict(
        {"target": {"url": {"url": server.url("/exec")}}, "load": {"mode": "closed", "connections": 2, "requests": 20}}
    )
    progress: list[str] = []

    async def watch(_run: Any) -> None:
        return None

    return run_session(config, Path.cwd(), on_progress=progress.append, watch=watch, snapshot_hz=2), progress


async def test_a_run_reports_the_server_metrics_of_its_window(
    server: FastServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    windows: list[tuple[datetime, datetime]] = []
    transport = azure_monitor(gpu=False)

    def hook(start: datetime, end: datetime) -> dict[str, Any]:
        windows.append((start, end))
        return fetch_metrics(FakeCredential(), SUB, RG, WS, EP, DEP, start, end, transport=transport)

    session, progress = session_with(hook, server, monkeypatch)
    result = await session
    ((start, end),) = windows
    assert start == result.result.started_at and 0 < (end - start).total_seconds() < 30
    block = result.report["server_metrics"]
    assert block["metrics"]["CpuUtilizationPercentage"]["average"] == 50.0
    assert transport.requests[0].query["timespan"][0].startswith(start.strftime("%Y-%m-%dT%H:%M:00Z"))
    assert any("Azure Monitor" in line for line in progress)
    summary = format_summary(result.report)
    assert "server metrics (Azure Monitor, one-minute grain" in summary
    assert "deployment CPU %            avg 50.00  max 90.25  (2 min)" in summary
    assert "endpoint   requests/min     avg 2,950.00" in summary


async def test_metrics_that_fail_never_fail_the_run(
    server: FastServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    transport = CannedTransport(host="management.azure.com")
    transport.add("GET", METRICS, status=403, json=error_body("AuthorizationFailed", "no"))
    session, _ = session_with(
        metrics_hook(FakeCredential(), SUB, RG, WS, EP, DEP, transport=transport), server, monkeypatch
    )
    result = await session
    assert result.report["requests"]["ok"] == 20 and result.evaluation.exit_status == 0
    path = tmp_path / "report.json"
    write_report(result.report, path)
    written = json.loads(path.read_text())
    assert "403 AuthorizationFailed" in written["server_metrics"]["errors"][0]
    assert "unavailable: Azure Monitor refused" in format_summary(written)

    def broken(start: datetime, end: datetime) -> dict[str, Any]:
        raise RuntimeError("the hook itself broke")

    session, _ = session_with(broken, server, monkeypatch)
    result = await session
    assert result.report["requests"]["ok"] == 20
    assert result.report["server_metrics"]["errors"] == [
        "the server's metrics could not be read (RuntimeError: the hook itself broke)"
    ]


def test_targets_without_metrics_report_none(server: FastServer, tmp_path: Path) -> None:
    from tests.headless.test_headless import run_moetui, url_config

    config = url_config(tmp_path, server.url("/fast"), 'mode = "closed"\nconnections = 1\nrequests = 5')
    out = tmp_path / "r.json"
    import os

    assert (
        run_moetui("--run", str(config), "--report", str(out), env=dict(os.environ, MOETUI_TEST_KEY="k")).returncode
        == 0
    )
    report = json.loads(out.read_text())
    assert "server_metrics" in report and report["server_metrics"] is None

"""The `serving` block: answers split by the deployment that served them (the azureml-model-deployment
response header), with each deployment's latency, errors and throughput; absent when no answer names one."""

from __future__ import annotations

from pathlib import Path

import pytest

from moetui.config.load import config_from_dict
from moetui.report.build import build
from moetui.report.codec import read_report, write_report
from moetui.report.model import ServedBy
from moetui.report.serving import serving_lines
from moetui.report.summary import format_summary
from tests.engine.conftest import run_plan
from tests.http_server import FastServer


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_answers_are_split_by_the_deployment_that_served_them(
    server: FastServer, tmp_path: Path, client: str
) -> None:
    """40 requests: 20 by blue (all 200), 20 by green (20 ms; 10 of them 503), whatever their order."""
    result = await run_plan(server.url("/served?ms=20"), "closed", connections=2, requests=40, client=client)
    config = config_from_dict({"target": {"url": {"url": server.url("/served")}}})
    report = build(result, config, {}, 5.0, capacity=None)
    serving = report["serving"]
    assert set(serving) == {"blue", "green"}
    blue, green = serving["blue"], serving["green"]
    assert (blue["ok"], blue["failed"], blue["by_status"]) == (20, 0, {"200": 20})
    assert (green["ok"], green["failed"], green["by_status"]) == (10, 10, {"200": 10, "503": 10})
    assert green["error_rate"] == 0.5 and blue["error_rate"] == 0.0
    assert green["latency_ms"] is not None and green["latency_ms"]["p50"] >= 20  # its sleep, at least
    assert green["latency_ms"]["count"] == 10
    assert blue["throughput_rps"] == round(20 / result.aggregator.measured_s, 3)
    summary = format_summary(report)
    assert "served by (azureml-model-deployment)" in summary
    assert "  blue: 20 ok, 0 failed (0.00%)" in summary and "  green: 10 ok, 10 failed (50.00%)" in summary
    path = tmp_path / "report.json"
    write_report(report, path)
    assert read_report(path)["serving"] == serving


async def test_a_run_whose_answers_name_no_deployment_has_no_serving_block(server: FastServer) -> None:
    result = await run_plan(server.url("/fast"), "closed", connections=1, requests=5)
    report = build(result, config_from_dict({"target": {"url": {"url": server.url("/fast")}}}), {}, 5.0, capacity=None)
    assert "serving" not in report and "served by" not in format_summary(report)


def test_a_deployment_name_from_a_report_is_printed_without_terminal_escapes() -> None:
    """The name is the server's text (or a report file's): the summary strips escapes, as it does for all such."""
    row: ServedBy = {
        "ok": 1, "failed": 0, "error_rate": 0.0, "throughput_rps": 1.0, "by_status": {"200": 1}, "latency_ms": None,
    }  # fmt: skip
    lines = serving_lines({"\x1b[2Jblue\x1b]0;title\x07": row})
    assert lines[1].startswith("  blue: 1 ok") and not any("\x1b" in line or "\x07" in line for line in lines)

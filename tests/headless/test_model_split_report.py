"""The report and the summary split client latency into time in the model and time outside it, and
`moetui merge` merges the split. Headless runs in a subprocess against the real test server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.headless.test_headless import run_moetui, url_config
from tests.helpers import assert_ran
from tests.http_server import FastServer


def test_report_and_summary_split_model_and_outside(server: FastServer, tmp_path: Path) -> None:
    env = dict(os.environ, MOETUI_TEST_KEY="k")
    reports = []
    for name, path in (("exec", "/exec?ms=100&outside_ms=50"), ("plain", "/sleep?ms=10")):
        config = url_config(tmp_path, server.url(path), 'mode = "closed"\nconnections = 2\nrequests = 20')
        out = tmp_path / f"{name}.json"
        result = run_moetui("--run", str(config), "--report", str(out), env=env)
        assert_ran(result.returncode, json.loads(out.read_text()), result.stdout + result.stderr)  # about the split
        reports.append((out, result.stdout))

    (exec_path, exec_stdout), (plain_path, plain_stdout) = reports
    report = json.loads(exec_path.read_text())
    assert 95 <= report["model_latency_ms"]["p50"] <= 105
    assert 45 <= report["outside_model_latency_ms"]["p50"] <= 110
    assert set(report["outside_model_latency_ms"]) == {"p50", "p90", "p95", "p99", "p99_9", "max", "count"}
    assert report["outside_model_latency_ms"]["count"] == 20
    assert report["model_split"] == {"ok": 20, "with_exec_time": 20, "share": 1.0}
    assert {"model", "outside"} <= set(report["histograms"])
    assert (
        "in model" in exec_stdout
        and "outside" in exec_stdout
        and "outside the model: network, gateway, queue" in exec_stdout
    )
    assert "x-ms-run-fn-exec-ms on 20 of 20 ok responses (100%)" in exec_stdout

    plain = json.loads(plain_path.read_text())
    assert plain["model_latency_ms"] is None and plain["outside_model_latency_ms"] is None
    assert plain["model_split"] == {"ok": 20, "with_exec_time": 0, "share": 0.0}
    assert "in model" not in plain_stdout

    merged_path = tmp_path / "merged.json"
    result = run_moetui("merge", "--sequential", str(exec_path), str(plain_path), "-o", str(merged_path))
    assert result.returncode == 0, result.stderr
    merged = json.loads(merged_path.read_text())
    assert merged["model_split"] == {"ok": 40, "with_exec_time": 20, "share": 0.5}
    assert merged["outside_model_latency_ms"]["p50"] == pytest.approx(
        report["outside_model_latency_ms"]["p50"], rel=0.01
    )
    assert "on 20 of 40 ok responses (50%)" in result.stdout

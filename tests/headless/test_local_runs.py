"""Headless runs against the local endpoint: the 3-request concurrency test tells WORKER_COUNT 3 from 1, and a sweep
finds the knee where the deployment's capacity runs out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parent.parent.parent / "examples"


def run_moetui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moetui", *args], capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize(("workers", "status", "verdict"), [(3, 0, "concurrent"), (1, 1, "serialized")])
def test_concurrency_example_tells_worker_counts_apart(tmp_path: Path, workers: int, status: int, verdict: str) -> None:
    report_path = tmp_path / "seed.json"
    result = run_moetui(
        "--run",
        str(EXAMPLES / "concurrency.toml"),
        "--set",
        "target.local.sleep=1",
        "--set",
        f"target.local.workers={workers}",
        "--report",
        str(report_path),
    )
    assert result.returncode == status, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["burst"]["verdict"] == verdict
    assert len(report["request_log"]) == 3
    assert report["target"]["capacity"] == 3
    assert [(c["name"], c["default"]) for c in report["thresholds"]] == [("error_rate", True), ("concurrency", False)]
    wall = max(r["sent_at_s"] + r["elapsed_s"] for r in report["request_log"])
    assert (0.9 < wall < 1.8) if workers == 3 else (2.7 < wall < 4.5)


def test_a_sweep_finds_the_knee_at_the_deployments_capacity(tmp_path: Path) -> None:
    """max_concurrent_requests_per_instance 2: at 4 connections half the requests queue for a sleep."""
    config = tmp_path / "steps.toml"
    config.write_text(
        "[target.local]\nsleep = 0.2\nworkers = 2\nmax_concurrency = 2\ntimeout_ms = 10000\n\n"
        '[load]\nmode = "steps"\n\n'
        '[steps]\nover = "connections"\nlevels = [1, 2, 4]\nstep_duration = "2s"\npercentile = 90\n'
        "threshold_ms = 300\nerror_limit = 0.01\n"
    )
    report_path = tmp_path / "steps.json"
    result = run_moetui("--run", str(config), "--report", str(report_path))
    assert result.returncode == 0, result.stdout + result.stderr
    steps = json.loads(report_path.read_text())["steps"]
    assert [row["level"] for row in steps["table"]] == [1, 2, 4]
    p90 = [row["latency_ms"]["p90"] for row in steps["table"]]
    assert p90[0] < 300 and p90[1] < 300 < p90[2]
    assert steps["knee"] == 2
    assert "knee: 2" in result.stdout

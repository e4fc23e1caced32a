"""Headless runs against the local endpoint: the 3-request concurrency test tells WORKER_COUNT 3 from 1, and a sweep
finds the knee where the deployment's capacity runs out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_ran

# Wall-time bounds, a sweep's p90 against its limit, and a CPU-bound scorer's CPU: alone (serial).
pytestmark = [pytest.mark.slow, pytest.mark.serial]
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
    report = json.loads(report_path.read_text())
    assert_ran(result.returncode, report, result.stdout + result.stderr)  # about the knee, not the generator
    steps = report["steps"]
    assert [row["level"] for row in steps["table"]] == [1, 2, 4]
    p90 = [row["latency_ms"]["p90"] for row in steps["table"]]
    assert p90[0] < 300 and p90[1] < 300 < p90[2]
    assert steps["knee"] == 2
    assert "knee: 2" in result.stdout


def test_a_local_runs_report_holds_its_processes_cpu_and_memory(tmp_path: Path) -> None:
    """A CPU-bound scorer under a closed load of 2 keeps its inference server busy, and the report says so;
    the gateway, which only forwards, uses a fraction of that."""
    scorer = Path(__file__).parent.parent / "fixtures" / "cpu_score.py"
    config = tmp_path / "cpu.toml"
    config.write_text(
        f'[target.local]\nscorer = "{scorer}"\nworkers = 2\nmax_concurrency = 2\n\n'
        '[load]\nmode = "closed"\nconnections = 2\nduration = "3s"\n'
    )
    report_path = tmp_path / "cpu.json"
    result = run_moetui("--run", str(config), "--report", str(report_path))
    report = json.loads(report_path.read_text())
    # About the servers' figures: the scorer fills the CPUs, so whether the generator kept up is the machine's.
    assert_ran(result.returncode, report, result.stdout + result.stderr)
    block = report["local_processes"]
    assert set(block["processes"]) == {"gateway", "server-0"}
    server, gateway = block["processes"]["server-0"], block["processes"]["gateway"]
    # Two workers each spinning ~30 ms a request, back to back: measured 1.2-1.7 cores on 2 (shared) CPUs,
    # 0.33 with others loading the machine; the gateway, forwarding, 0.003. A ratio holds on any machine.
    assert server["cpu_cores_mean"] > 10 * gateway["cpu_cores_mean"], block
    assert server["cpu_cores_peak"] <= 2.2, block  # two CPUs at most (a tick's rounding aside)
    assert gateway["cpu_cores_mean"] < server["cpu_cores_mean"], block
    assert server["rss_mb_peak"] > 20 and gateway["rss_mb_peak"] > 5
    assert block["cpus_per_instance"] == len(os.sched_getaffinity(0))
    assert "local endpoint processes" in result.stdout and "server-0" in result.stdout

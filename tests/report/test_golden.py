"""Golden JSON reports: one per mode, built by the real Recorder and Aggregator from canned request times
(tests/fixtures/canned.py: a FakeClock, so every figure is fixed), must stay byte-identical. They pin the
report's shape and numbers through refactors of its build, merge and judge. A deliberate change of the
report regenerates them: `python -m tests.report.test_golden` (then read the diff)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moetui.report.json_report import write_report
from tests.fixtures import canned

GOLDEN = Path(__file__).resolve().parent / "golden"

#: What the local endpoint's sampler reports for its processes (moetui.local_endpoint.usage), fixed.
PROCESSES = {
    "error": None,
    "sample_s": 0.5,
    "processes": {
        "gateway": {"cpu_cores_mean": 0.12, "cpu_cores_peak": 0.31, "rss_mb_peak": 41.5},
        "inference server": {"cpu_cores_mean": 0.05, "cpu_cores_peak": 0.2, "rss_mb_peak": 88.0},
    },
    "server_cpu_share": 0.085,
}


def _local_burst() -> dict[str, Any]:
    """The 3-request test against the local endpoint, with its processes' CPU and memory."""
    from datetime import UTC, datetime

    from moetui.engine.run import RunResult

    cfg = canned.config({"load": {"mode": "burst", "requests": 3, "timeout": "60s"}})
    snapshot, aggregator = canned.burst_snapshot(done=True)
    result = RunResult(snapshot, aggregator, False, datetime(2026, 11, 23, 9, 0, tzinfo=UTC), 15.1)
    return canned.finished(result, cfg, PROCESSES).report


MODES: dict[str, Callable[[], dict[str, Any]]] = {
    "burst": lambda: canned.burst_finished()[1].report,
    "open": lambda: canned.open_finished()[1].report,
    "steps": lambda: canned.steps_finished()[1].report,
    "stream_closed": lambda: canned.stream_finished()[1].report,
    "stream_burst": lambda: canned.stream_burst_finished()[1].report,
    "local_processes": _local_burst,
}


def _write(name: str, tmp: Path) -> str:
    path = tmp / f"{name}.json"
    write_report(MODES[name](), path)
    return path.read_text()


@pytest.mark.parametrize("name", sorted(MODES))
def test_the_report_of_each_mode_is_byte_identical_to_its_golden_file(name: str, tmp_path: Path) -> None:
    golden = GOLDEN / f"{name}.json"
    assert golden.is_file(), f"missing {golden}: run python -m tests.report.test_golden"
    assert _write(name, tmp_path) == golden.read_text()


def test_the_golden_reports_cover_every_mode_and_a_local_run_with_its_processes() -> None:
    reports = {name: json.loads((GOLDEN / f"{name}.json").read_text()) for name in MODES}
    assert {r["mode"] for r in reports.values()} == {"burst", "open", "steps", "closed"}
    assert reports["stream_closed"]["streaming"] and reports["stream_burst"]["streaming"]
    assert reports["local_processes"]["local_processes"]["processes"]["gateway"]["rss_mb_peak"] == 41.5
    assert reports["open"]["rate"]["not_sent"] == 12
    assert reports["steps"]["steps"]["table"]


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for mode in sys.argv[1:] or sorted(MODES):
        write_report(MODES[mode](), GOLDEN / f"{mode}.json")
        print(GOLDEN / f"{mode}.json")

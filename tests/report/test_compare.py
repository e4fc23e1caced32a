"""`moetui compare`: two runs of the same server and settings show no measurable change and pass the gate;
a server 20 ms slower shows as slower by about 20 ms at p50 and fails `--fail-on`."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from moetui.errors import ConfigError
from moetui.report.compare import SAME, SLOWER, compare_reports, parse_fail_on, regressions
from tests.http_server import FastServer
from tests.report.conftest import moetui, run_report

# Latency differences of 20 ms and "no measurable change" at 10 %: a neighbour's load would move them.
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def runs(fast_server: FastServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Closed loops of 4 connections for 3 s: twice at /sleep?ms=20, once at /sleep?ms=40."""
    paths = {}
    for name, ms in (("base", 20), ("same", 20), ("slower", 40)):
        directory = tmp_path_factory.mktemp(name)
        run_report(directory, fast_server.url(f"/sleep?ms={ms}"), "-c", "4", "-d", "3s")
        paths[name] = directory / "report.json"
    return paths


def test_the_same_settings_twice_make_no_measurable_change(runs: dict[str, Path]) -> None:
    done = moetui("compare", str(runs["base"]), str(runs["same"]), "--fail-on", "p99=+10%,p50=+10%")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "regression gate: passed" in done.stdout
    comparison = compare_reports([json.loads(runs["base"].read_text())], [json.loads(runs["same"].read_text())])
    p50 = comparison.row("p50")
    assert p50.verdict == SAME, p50
    assert p50.low is not None and p50.high is not None and p50.low <= p50.diff <= p50.high  # type: ignore[operator]


def test_a_server_20_ms_slower_is_slower_by_about_20_ms_and_fails_the_gate(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    page = tmp_path / "compare.html"
    done = moetui("compare", str(runs["base"]), str(runs["slower"]), "--fail-on", "p99=+10%", "--html", str(page))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION p99" in done.stdout and "regression gate: FAILED" in done.stdout
    assert 'id="verdict">REGRESSION<' in page.read_text()
    base, new = json.loads(runs["base"].read_text()), json.loads(runs["slower"].read_text())
    comparison = compare_reports([base], [new])
    p50 = comparison.row("p50")
    assert p50.verdict == SLOWER
    assert p50.diff is not None and 15 <= p50.diff <= 25, p50
    assert p50.base == base["latency_ms"]["p50"] and p50.new == new["latency_ms"]["p50"]
    assert comparison.row("throughput_rps").verdict == SLOWER  # half the requests per second
    # A tolerance wider than the change passes.
    assert regressions(comparison, parse_fail_on("p50=+500%")) == []
    assert moetui("compare", str(runs["base"]), str(runs["slower"]), "--fail-on", "p50=+500%").returncode == 0


def test_several_reports_a_side_add_their_run_to_run_spread(runs: dict[str, Path]) -> None:
    """Base runs 20 ms apart (one at 20 ms, one at 40 ms): their spread swamps the bootstrap's narrow interval,
    so the new runs at 20 ms cannot be called faster."""
    reports = {name: json.loads(path.read_text()) for name, path in runs.items()}
    spread = compare_reports([reports["base"], reports["slower"]], [reports["same"], reports["same"]]).row("p50")
    b1, b2 = reports["base"]["latency_ms"]["p50"], reports["slower"]["latency_ms"]["p50"]
    half_width = 1.96 * math.sqrt(statistics.variance([b1, b2]) / 2)  # the base side's spread alone
    assert spread.low is not None and spread.high is not None and spread.diff is not None
    assert spread.low <= spread.diff - half_width * 0.99 and spread.high >= spread.diff + half_width * 0.99
    assert spread.verdict == SAME, spread
    done = moetui(
        "compare", "--base", str(runs["base"]), str(runs["same"]), "--new", str(runs["slower"]), "--fail-on", "p50=+20%"
    )
    assert done.returncode == 1, done.stdout


def test_fail_on_rules_are_checked_and_named() -> None:
    rules = parse_fail_on("p99=+10%,error_rate=+0.01,throughput_rps=-5%", ["p99", "error_rate", "throughput_rps"])
    assert [(r.name, r.limit, r.relative) for r in rules] == [
        ("p99", 0.10, True),
        ("error_rate", 0.01, False),
        ("throughput_rps", -0.05, True),
    ]
    with pytest.raises(ConfigError, match="Did you mean 'p99'"):
        parse_fail_on("p999=+10%", ["p99", "p50"])
    with pytest.raises(ConfigError, match="is not NAME"):
        parse_fail_on("p99>10", ["p99"])

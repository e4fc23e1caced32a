"""`moetui compare`: two runs of the same server and settings show no measurable change and pass the gate;
a server 20 ms slower shows as slower by about 20 ms at p50 and fails `--fail-on`. With a fixed seed, runs
that drift second by second: identical settings are "no measurable change" in at least 19 pairs of 20 and
a 10 % longer service time "slower" in at least 19 of 20, where the histogram-only interval of old reports
calls identical settings changed."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from moetui.engine.histogram import decode, encode, new_histogram
from moetui.engine.windows import MAX_WINDOWS, window_seconds
from moetui.errors import ConfigError
from moetui.report.compare import (
    MIN_TAIL_SAMPLES,
    SAME,
    SLOWER,
    TAIL_TOLERANCE_FACTOR,
    TOO_FEW,
    compare_reports,
    format_comparison,
    parse_fail_on,
    regressions,
    tolerance_for,
)
from moetui.report.tolerance import DEFAULT_TOLERANCE, parse_tolerance
from tests.http_server import FastServer
from tests.report.conftest import moetui, run_report

# The tests on measured runs: latency differences of 20 ms and "no measurable change" at 10 %, which a
# neighbour's load would move (serial). The rest compute on fixed-seed simulated runs and share the machine.
serial = pytest.mark.serial


@pytest.fixture(scope="module")
def runs(fast_server: FastServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Closed loops of 4 connections for 6 s (6 windows, enough to resample): twice at /sleep?ms=20, once at
    /sleep?ms=40."""
    paths = {}
    for name, ms in (("base", 20), ("same", 20), ("slower", 40)):
        directory = tmp_path_factory.mktemp(name)
        run_report(directory, fast_server.url(f"/sleep?ms={ms}"), "-c", "4", "-d", "6s")
        paths[name] = directory / "report.json"
    return paths


@serial
def test_the_same_settings_twice_make_no_measurable_change(runs: dict[str, Path]) -> None:
    done = moetui("compare", str(runs["base"]), str(runs["same"]), "--fail-on", "p99=+10%,p50=+10%")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "regression gate: passed" in done.stdout
    comparison = compare_reports([json.loads(runs["base"].read_text())], [json.loads(runs["same"].read_text())])
    p50 = comparison.row("p50")
    assert p50.verdict == SAME, p50
    assert p50.low is not None and p50.high is not None and p50.low <= p50.diff <= p50.high  # type: ignore[operator]


@serial
def test_a_server_20_ms_slower_is_slower_by_about_20_ms_and_fails_the_gate(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    page = tmp_path / "compare.html"
    # p50, not p99: on a loaded machine the tails of both runs are the machine's (seen: p99 81 ms at 20 ms).
    done = moetui("compare", str(runs["base"]), str(runs["slower"]), "--fail-on", "p50=+5%", "--html", str(page))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION p50" in done.stdout and "regression gate: FAILED" in done.stdout
    assert 'id="verdict">REGRESSION<' in page.read_text()
    base, new = json.loads(runs["base"].read_text()), json.loads(runs["slower"].read_text())
    comparison = compare_reports([base], [new])
    p50 = comparison.row("p50")
    assert p50.verdict == SLOWER
    assert p50.diff is not None and 5 <= p50.diff <= 40, p50  # 20 ms, give or take a loaded machine
    assert p50.base == base["latency_ms"]["p50"] and p50.new == new["latency_ms"]["p50"]
    assert comparison.row("throughput_rps").verdict == SLOWER  # half the requests per second
    # A tolerance wider than the change passes.
    assert regressions(comparison, parse_fail_on("p50=+500%")) == []
    assert moetui("compare", str(runs["base"]), str(runs["slower"]), "--fail-on", "p50=+500%").returncode == 0


@serial
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


@serial
def test_a_report_holds_its_latency_histograms_per_window(runs: dict[str, Path]) -> None:
    """The windows add up to the run's histograms, one a second in order; a long run's are longer."""
    report = json.loads(runs["base"].read_text())
    windows = report["windows"]
    assert windows["seconds"] == 1
    starts = [row["start_s"] for row in windows["rows"]]
    assert starts == sorted(starts) and len(starts) >= 5, starts
    total = new_histogram()
    for row in windows["rows"]:
        total.add(decode(row["ok"]))
    assert total.get_total_count() == decode(report["histograms"]["ok"]).get_total_count() == report["requests"]["ok"]
    assert window_seconds(3600) == 3600 // MAX_WINDOWS and window_seconds(None) == window_seconds(30) == 1


@serial
def test_a_report_without_windows_is_compared_from_its_histograms_with_a_note(runs: dict[str, Path]) -> None:
    """A report written before windows (or merged) still compares: from its histogram alone, with a note that
    names it and says what its interval leaves out."""
    old = {k: v for k, v in json.loads(runs["base"].read_text()).items() if k != "windows"}
    comparison = compare_reports([old], [json.loads(runs["same"].read_text())], ["old.json"], ["same.json"])
    p50 = comparison.row("p50")
    assert p50.low is not None and p50.high is not None and p50.low <= p50.diff <= p50.high  # type: ignore[operator]
    assert any(note.startswith("old.json holds no per-second") for note in comparison.notes), comparison.notes
    assert not any("same.json" in note for note in comparison.notes)


# -- with a fixed seed ------------------------------------------------------------------------------------


def synthetic_report(
    rng: random.Random,
    service_ms: float = 20.0,
    *,
    seconds: int = 30,
    second_drift: float = 0.03,
    run_drift: float = 0.003,
    slow: Collection[int] = (),
) -> dict[str, Any]:
    """A report of the fields compare reads: 100 requests a second, lognormal around `service_ms`, each
    second's level drifting by `second_drift` (a neighbour busy for a moment) and the run's by `run_drift`
    (what no run can see of itself); the seconds in `slow` 30 % slower."""
    run_level = rng.gauss(0, run_drift)
    total, rows = new_histogram(), []
    for second in range(seconds):
        level = service_ms * math.exp(run_level + rng.gauss(0, second_drift)) * (1.3 if second in slow else 1.0)
        histogram = new_histogram()
        for _ in range(100):
            histogram.record_value(int(level * 1000 * rng.lognormvariate(0, 0.1)))
        total.add(histogram)
        rows.append({"start_s": second, "ok": encode(histogram)})
    return {
        "requests": {"sent": seconds * 100, "ok": seconds * 100, "failed": 0},
        "throughput_rps": 100.0,
        "per_second": [{"second": s, "ok": 100, "failed": 0} for s in range(seconds)],
        "histograms": {"ok": encode(total)},
        "windows": {"seconds": 1, "rows": rows},
    }


def without_windows(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "windows"}


def test_identical_settings_are_no_measurable_change_19_times_in_20_and_10_percent_slower_is_slower() -> None:
    """The calibration of the README in miniature, with a fixed seed: 20 A/A pairs and 20 A/B pairs."""
    rng = random.Random(23)
    same = slower = 0
    for _ in range(20):
        base, again, new = synthetic_report(rng), synthetic_report(rng), synthetic_report(rng, 22.0)
        aa = compare_reports([base], [again])
        assert aa.row("p99_9").verdict == TOO_FEW  # 3,000 answers: 3 beyond p99.9
        same += all(row.verdict in (SAME, TOO_FEW) for row in aa.rows if row.unit == "ms")
        slower += compare_reports([base], [new]).row("p50").verdict == SLOWER
    assert same >= 19 and slower >= 19, (same, slower)


def test_percentiles_above_the_median_are_called_against_twice_the_tolerance() -> None:
    assert tolerance_for("p50", 0.05) == tolerance_for("model_p50", 0.05) == tolerance_for("throughput_rps", 0.05)
    assert tolerance_for("p50", 0.05) == 0.05
    for name in ("p90", "p99_9", "corrected_p95", "model_p99", "outside_p99_9"):
        assert tolerance_for(name, 0.05) == 0.05 * TAIL_TOLERANCE_FACTOR, name


def test_a_percentile_with_too_few_answers_beyond_it_is_not_judged_and_fails_its_gate() -> None:
    """p99 of 900 answers rests on 9 of them: no verdict either way, and a gate on it fails saying why, while
    p95 (45 beyond it) is judged; the same runs three times as long judge p99."""
    rng = random.Random(11)
    short = compare_reports([synthetic_report(rng, seconds=9)], [synthetic_report(rng, 40.0, seconds=9)])
    assert MIN_TAIL_SAMPLES > 900 * (100 - 99) / 100
    assert short.row("p99").verdict == TOO_FEW and short.row("p95").verdict == SLOWER
    (broken,) = regressions(short, parse_fail_on("p99=+500%"))
    assert broken.startswith("p99: too few answers beyond it") and "run longer" in broken
    assert "too few samples" in format_comparison(short)
    long = compare_reports([synthetic_report(rng, seconds=27)], [synthetic_report(rng, 40.0, seconds=27)])
    assert long.row("p99").verdict == SLOWER and regressions(long, parse_fail_on("p99=+500%")) == []


def test_a_run_that_drifts_has_a_wider_interval() -> None:
    """Six seconds of thirty 30 % slower move p90 by ~13 %: from the histogram alone that is "slower", with
    its windows the interval holds the drift and the verdict is no measurable change. A steady run's interval
    stays about as narrow as the histogram's."""
    rng = random.Random(5)
    base, disturbed = synthetic_report(rng, second_drift=0), synthetic_report(rng, second_drift=0, slow=range(10, 16))
    windows = compare_reports([base], [disturbed]).row("p90")
    alone = compare_reports([without_windows(base)], [without_windows(disturbed)]).row("p90")
    assert alone.verdict == SLOWER and windows.verdict == SAME, (alone, windows)
    assert windows.diff == alone.diff and windows.low < alone.low  # type: ignore[operator]
    steady = synthetic_report(rng, second_drift=0)
    windows = compare_reports([base], [steady]).row("p90")
    alone = compare_reports([without_windows(base)], [without_windows(steady)]).row("p90")
    assert windows.verdict == alone.verdict == SAME
    width, alone_width = windows.high - windows.low, alone.high - alone.low  # type: ignore[operator]
    assert 0.5 * alone_width < width < 2.5 * alone_width, (windows, alone)


def test_the_tolerance_is_a_flag_and_decides_what_is_called() -> None:
    assert parse_tolerance("5%") == DEFAULT_TOLERANCE == 0.05 and parse_tolerance(" 12.5 % ") == 0.125
    for bad in ("5", "-5%", "100%", "five%"):
        with pytest.raises(ConfigError, match="--tolerance"):
            parse_tolerance(bad)
    rng = random.Random(7)
    base, new = synthetic_report(rng), synthetic_report(rng, 22.0)
    assert compare_reports([base], [new]).row("p50").verdict == SLOWER
    loose = compare_reports([base], [new], tolerance=0.25)
    assert loose.row("p50").verdict == SAME and loose.tolerance == 0.25
    assert regressions(loose, parse_fail_on("p50=+2%")) != []  # the gate keeps its own limits


def test_a_run_the_generator_judged_invalid_is_named_in_a_note() -> None:
    rng = random.Random(3)
    base, new = synthetic_report(rng), synthetic_report(rng)
    new |= {"valid": False, "generator": {"reasons": ["event-loop lag p99 88.0 ms > 20 ms"]}}
    notes = compare_reports([base], [new], ["a.json"], ["b.json"]).notes
    assert notes == (
        "b.json is not a valid measurement (event-loop lag p99 88.0 ms > 20 ms): its latencies hold "
        "the client's delays",
    ), notes


@serial
def test_compare_tolerance_flag(runs: dict[str, Path]) -> None:
    done = moetui("compare", str(runs["base"]), str(runs["slower"]), "--tolerance", "5%")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "beyond 5% of the base (--tolerance; 10% above p50)" in done.stdout
    done = moetui("compare", str(runs["base"]), str(runs["slower"]), "--tolerance", "5")
    assert done.returncode != 0 and "--tolerance" in done.stdout + done.stderr

"""The one judge (moetui.report.judge) on the canned reports: a merged run is judged by the same checks as a
single one (the node judge once checked no streaming threshold, so a `--nodes` gate on TTFT could not fail),
and the matrix judges its SLO as thresholds with the configuration's max_not_sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from moetui.config.schema import Config, Thresholds
from moetui.matrix.config import Slo
from moetui.matrix.search import judge as judge_cell
from moetui.matrix.search import slo_thresholds
from moetui.nodes import merge_node_reports
from moetui.report.judge import judge
from moetui.session.process import Finished
from tests.fixtures import canned

#: Every threshold moetui has, each set: a judge that leaves one out (the merged judge left out the streaming
#: ones) checks fewer names.
EVERY = Thresholds(
    p50_ms=1000,
    p90_ms=1000,
    p99_ms=1000,
    error_rate=0.5,
    min_rps=0.1,
    max_not_sent=0.5,
    ttft_p99_ms=1,
    tpot_p90_ms=1000,
    itl_p99_ms=1000,
    goodput=0.5,
    output_tokens_per_s=1,
)

RUNS: dict[str, Callable[[], tuple[Config, Finished]]] = {
    "burst": canned.burst_finished,
    "open": canned.open_finished,
    "steps": canned.steps_finished,
    "stream_closed": canned.stream_finished,
    "stream_burst": canned.stream_burst_finished,
}
NOT_SENT = "12 of 1052 sends never left (over max_not_sent 0.01: the endpoint did not take the rate)"


def _merged(report: dict[str, Any], cfg: Config) -> dict[str, Any]:
    return merge_node_reports([report, report], ["node 0", "node 1"], cfg)


def _checks(report: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    return [(check["name"], check["limit"], check["passed"]) for check in report["thresholds"]]


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize("thresholds", [EVERY, Thresholds()], ids=["every", "defaults"])
def test_single_and_merged_runs_check_the_same_threshold_names(name: str, thresholds: Thresholds) -> None:
    cfg, finished = RUNS[name]()
    cfg = replace(cfg, thresholds=thresholds)
    single = judge(finished.report, thresholds)
    merged = _merged(finished.report, cfg)
    if finished.report["burst"] and not merged.get("burst"):
        pytest.xfail("merge_reports drops the burst block, so no concurrency check (branch merge keeps it)")
    assert [c.name for c in single.checks] == [c["name"] for c in merged["thresholds"]]
    if thresholds == EVERY:
        assert {"ttft_p99_ms", "tpot_p90_ms", "itl_p99_ms", "goodput", "output_tokens_per_s"} <= {
            c.name for c in single.checks
        }
    # Twice the same run side by side: every percentile and share the same; rates and requests served at
    # once add up (so a merged burst may reach the concurrency one node alone did not).
    added = {"min_rps", "output_tokens_per_s", "concurrency"}
    for check, into in zip(single.checks, merged["thresholds"], strict=True):
        if check.name in added:
            assert check.value is not None and into["value"] == pytest.approx(2 * check.value, rel=1e-3)
        else:
            assert (check.name, check.value, check.passed) == (into["name"], into["value"], into["passed"])


def test_a_merged_streaming_run_fails_a_ttft_threshold_below_its_ttft() -> None:
    """The node judge passed `ttft_p99_ms = 1` whatever the time to first token."""
    cfg, finished = canned.stream_finished()
    cfg = replace(cfg, thresholds=Thresholds(ttft_p99_ms=1))
    merged = _merged(finished.report, cfg)
    ttft = [c for c in merged["thresholds"] if c["name"] == "ttft_p99_ms"]
    assert ttft and not ttft[0]["passed"] and ttft[0]["value"] > 1
    assert merged["exit_status"] == 1 and not merged["passed"]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_judging_a_report_again_gives_what_it_holds(name: str) -> None:
    """The report's own verdict keys are the judge's: judging it again from the report changes nothing."""
    cfg, finished = RUNS[name]()
    evaluation = judge(finished.report, cfg.thresholds)
    again = dict(finished.report)
    evaluation.write_into(again)
    assert again == finished.report and int(evaluation.exit_status) == finished.exit_status


def test_the_matrix_judges_not_sent_by_max_not_sent() -> None:
    """The matrix had its own 1 % not-sent limit; a cell is judged by thresholds.max_not_sent like a run."""
    cfg, finished = canned.open_finished()
    report = finished.report
    assert report["requests"]["not_sent"] == 12  # 12 of 1,052 sends: 1.14 %
    slo = Slo(p99_ms=None, error_rate=0.05)
    allowed = judge_cell(report, slo_thresholds(slo, replace(cfg.thresholds, max_not_sent=0.02)))
    assert allowed.passed, allowed.reasons
    strict = judge_cell(report, slo_thresholds(slo, replace(cfg.thresholds, max_not_sent=0.01)))
    assert not strict.passed
    assert strict.reasons == (NOT_SENT,)


def test_the_matrix_judges_its_slo_on_exact_corrected_percentiles() -> None:
    cfg, finished = canned.open_finished()
    report = finished.report
    p99 = report["corrected_latency_ms"]["p99"]
    loose = Slo(p99_ms=p99 + 1, error_rate=0.05)
    assert judge_cell(report, slo_thresholds(loose, cfg.thresholds)).reasons == (NOT_SENT,)
    tight = judge_cell(report, slo_thresholds(Slo(p99_ms=p99 / 2, error_rate=0.01), Thresholds(max_not_sent=1)))
    assert tight.reasons[0].startswith(f"p99 {p99:g} ms > {p99 / 2:g} ms")
    assert tight.reasons[1] == "error rate 4.10% > 1.00%"
    # Without an SLO a cell is judged by its own thresholds, as its run was.
    own = judge_cell(report, slo_thresholds(None, cfg.thresholds))
    assert not own.passed and not report["passed"]

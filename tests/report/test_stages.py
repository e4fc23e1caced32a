"""A ramped run's `stages` block: per second and per stage, what the timetable offered against what was sent
and answered (counts that add up to the run's and the server's), read back by the codec, and each stage's
not-sent share judged as the run's is."""

from __future__ import annotations

import copy
from pathlib import Path

from moetui.config.load import config_from_dict
from moetui.config.schema import Stage
from moetui.engine.ramp import Schedule
from moetui.report.build import build
from moetui.report.codec import read_report, write_report
from moetui.report.judge import judge
from moetui.report.summary import format_summary
from tests.engine.conftest import run_plan
from tests.http_server import FastServer

STAGES = (Stage(20.0, 0.0), Stage(60.0, 2.0), Stage(60.0, 1.0, "step"))
"""A jump to 20/s, a ramp to 60/s over 2 s, then 60/s held for 1 s: 80 + 60 sends."""


async def test_the_stages_block_counts_the_timetable_and_reads_back(server: FastServer, tmp_path: Path) -> None:
    result = await run_plan(server.url("/fast"), "open", stages=STAGES, duration_s=3.0, clients=16)
    config = config_from_dict(
        {
            "target": {"url": {"url": server.url("/fast")}},
            "load": {
                "mode": "open",
                "stages": [{"rate": s.rate, "duration": s.duration_s, "shape": s.shape} for s in STAGES],
            },
        }
    )
    report = build(result, config, {}, 5.0, capacity=None)
    block = report["stages"]
    sent, not_sent = report["requests"]["sent"], report["requests"]["not_sent"]
    assert sent == server.counts()["requests"] and sent + not_sent == 140
    assert [row["offered"] for row in block["stages"]] == [0, 80, 60]
    assert sum(row["sent"] for row in block["stages"]) == sum(row["sent"] for row in block["per_second"]) == sent
    assert sum(row["ok"] for row in block["per_second"]) == report["requests"]["ok"] + report["requests"]["warmup"]
    schedule = Schedule(STAGES)
    assert [row["offered"] for row in block["per_second"]] == [
        round(schedule.count_at(s + 1) - schedule.count_at(s), 3) for s in range(3)
    ]
    assert [row["offered"] for row in block["per_second"]] == [30.0, 50.0, 60.0]
    # Slots are counted in the stage and second they were due: the ramp's 80 before the hold's 60.
    assert block["stages"][1]["sent"] <= 80 and block["stages"][2]["sent"] <= 60
    assert block["stages"][1]["sent"] + block["stages"][2]["sent"] == sent
    assert (report["rate"] or {}).get("offered_per_s") == round(140 / 3, 3)
    names = [check.name for check in judge(report, config.thresholds).checks]
    assert {"max_not_sent[stage 1]", "max_not_sent[stage 2]"} <= set(names)
    summary = format_summary(report)
    assert "stages (by timetable slot: offered, sent, ok 2xx, not sent)" in summary
    assert "   1 ramp 20 -> 60/s over 2 s: offered 80, sent " in summary
    path = tmp_path / "report.json"
    write_report(report, path)
    assert read_report(path)["stages"] == block


async def test_a_stage_that_dropped_its_sends_fails_though_the_run_average_passes(
    server: FastServer,
) -> None:
    result = await run_plan(server.url("/fast"), "open", stages=STAGES, duration_s=3.0, clients=16)
    config = config_from_dict(
        {
            "target": {"url": {"url": server.url("/fast")}},
            "load": {
                "mode": "open",
                "stages": [
                    {"rate": 20, "duration": 0},
                    {"rate": 60, "duration": 2},
                    {"rate": 60, "duration": 1, "shape": "step"},
                ],
            },
            "thresholds": {"max_not_sent": 0.25},
        }
    )
    report = build(result, config, {}, 5.0, capacity=None)
    dropped = copy.deepcopy(report)
    top = dropped["stages"]["stages"][2]
    top.update(sent=30, not_sent=30, not_sent_share=0.5)  # the hold lost half its slots: 30 of 140 overall
    dropped["requests"]["not_sent"] = 30
    dropped["requests"]["sent"] = 110
    checks = {check.name: check for check in judge(dropped, config.thresholds).checks}
    assert checks["max_not_sent"].passed  # 30 of 140: 0.214, under the 0.25 allowed
    assert not checks["max_not_sent[stage 2]"].passed and checks["max_not_sent[stage 2]"].value == 0.5
    assert checks["max_not_sent[stage 1]"].passed

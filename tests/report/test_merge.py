"""The one merge (moetui.report.merge): every block of a run's report survives a merge or the merged report
notes why; runs that overlapped add up, runs one after another pool (--sequential) and anything else is
refused naming the files and their times. Over the golden reports (canned runs, every mode) and reports of
real runs against the test server."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from moetui.engine.histogram import decode
from moetui.errors import ConfigError
from moetui.report.codec import read_report, write_report
from moetui.report.merge import merge_reports
from moetui.report.model import Report
from moetui.report.summary import format_summary
from tests.http_server import FastServer
from tests.report.conftest import moetui
from tests.report.test_model import _mismatches

GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDENS = sorted(path.stem for path in GOLDEN.glob("*.json"))


def golden(name: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text())
    return report


def later(report: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The same run, started `seconds` later."""
    moved = copy.deepcopy(report)
    moved["started_at"] = (datetime.fromisoformat(report["started_at"]) + timedelta(seconds=seconds)).isoformat()
    return moved


def count(report: dict[str, Any], name: str) -> int:
    return int(decode(report["histograms"][name]).get_total_count())


def assert_every_block_kept_or_noted(report: dict[str, Any], merged: dict[str, Any]) -> None:
    noted = {key for note in merged["notes"] for key in note.split(":", 1)[0].split(", ")}
    for key, value in report.items():
        present = merged.get(key) not in (None, [], {}) if value not in (None, [], {}) else key in merged
        assert present or key in noted, f"{key}: lost by the merge without a note ({merged['notes']})"


def assert_readable(merged: dict[str, Any], tmp_path: Path) -> None:
    """The merged report fits the typed Report key by key, and moetui reads it back."""
    assert _mismatches(json.loads(json.dumps(merged)), Report, "merged") == []
    path = tmp_path / "merged.json"
    write_report(merged, path)
    assert read_report(path) == json.loads(path.read_text())


@pytest.mark.parametrize("name", GOLDENS)
def test_merging_a_golden_report_with_itself_keeps_every_block_or_notes_why(name: str, tmp_path: Path) -> None:
    report = golden(name)
    merged = merge_reports([report, report], ["a.json", "b.json"])
    assert_every_block_kept_or_noted(report, merged)
    assert merged["merged_as"] == "overlapping"
    assert merged["requests"]["ok"] == 2 * report["requests"]["ok"]
    assert count(merged, "ok") == 2 * count(report, "ok")
    assert merged["throughput_rps"] == pytest.approx(2 * report["throughput_rps"], abs=0.002)
    assert merged["received"]["bodies"] == 2 * report["received"]["bodies"]
    assert len(merged["request_log"]) == 2 * len(report["request_log"])
    assert [row["ok"] for row in merged["per_second"]] == [2 * row["ok"] for row in report["per_second"]]
    assert len(merged["windows"]["rows"]) == len(report["windows"]["rows"])
    for ours, theirs in zip(merged["windows"]["rows"], report["windows"]["rows"], strict=True):
        assert ours["start_s"] == theirs["start_s"]
        assert decode(ours["ok"]).get_total_count() == 2 * decode(theirs["ok"]).get_total_count()
    assert merged["generator"]["valid"] == report["generator"]["valid"]
    assert (merged["config"], merged["target"]) == (report["config"], report["target"])
    # Judged again by the one judge, against the runs' shared configuration: the same thresholds.
    assert [t["name"] for t in merged["thresholds"]] == [t["name"] for t in report["thresholds"]]
    assert merged["valid"] == report["valid"]  # (passed may differ: two bursts of 3 together serve more at once)
    assert_readable(merged, tmp_path)


@pytest.mark.parametrize("name", ["burst", "open", "steps"])
def test_merging_a_real_runs_report_with_itself_keeps_every_block_or_notes_why(
    name: str, reports: dict[str, Path], tmp_path: Path
) -> None:
    report = json.loads(reports[name].read_text())
    merged = merge_reports([report, report], ["a.json", "b.json"])
    assert_every_block_kept_or_noted(report, merged)
    assert merged["requests"]["sent"] == 2 * report["requests"]["sent"]
    assert_readable(merged, tmp_path)


def test_the_merged_open_run_holds_the_sums_of_offered_sent_and_not_sent() -> None:
    report = golden("open")
    merged = merge_reports([report, report], ["a.json", "b.json"])
    assert merged["rate"] == {
        "offered_per_s": 100,
        "sent_per_s": 104.0,
        "sending_s": 20.0,
        "clients": None,
        "intended": 2104,
        "not_sent": 24,
    }
    assert merged["requests"]["not_sent"] == 24
    assert "not sent     24 of 2,104 intended" in format_summary(merged)


def test_a_burst_sent_together_is_judged_again_as_one_burst() -> None:
    report = golden("burst")  # 3 requests at once, capacity 3
    merged = merge_reports([report, report], ["node 0", "node 1"])
    burst = merged["burst"]
    assert burst["expected"] == 3  # the target's capacity, not the 6 requests
    assert burst["served_at_once"] == pytest.approx(2 * report["burst"]["served_at_once"], rel=0.01)
    assert burst["verdict"] == "concurrent" and burst["as_expected"]
    assert [r["sent_at_s"] for r in merged["request_log"]] == sorted(r["sent_at_s"] for r in merged["request_log"])


def test_sweeps_side_by_side_add_up_step_by_step_with_ladders_from_the_windows() -> None:
    report = golden("steps")  # p99 under 130 ms at levels 1 and 2: the knee is 2
    merged = merge_reports([report, report], ["node 0", "node 1"])
    table, theirs = merged["steps"]["table"], report["steps"]["table"]
    assert [row["level"] for row in table] == [2 * row["level"] for row in theirs]  # each node's share adds up
    assert [row["ok"] for row in table] == [2 * row["ok"] for row in theirs]
    assert [row["rps"] for row in table] == [pytest.approx(2 * row["rps"]) for row in theirs]
    # Each step's windows hold exactly its responses: the same requests twice, so the same ladder.
    assert [row["latency_ms"] for row in table] == [row["latency_ms"] for row in theirs]
    assert report["steps"]["knee"] == 2 and merged["steps"]["knee"] == 4
    assert "steps: the latency of level(s) 2, 4, 8, 16 is drawn from the latency windows" in " ".join(merged["notes"])


def test_sweeps_one_after_another_pool_each_level_and_say_what_they_lose() -> None:
    report = golden("steps")
    merged = merge_reports([report, later(report, 60)], ["a.json", "b.json"], sequential=True)
    table, theirs = merged["steps"]["table"], report["steps"]["table"]
    assert [row["level"] for row in table] == [row["level"] for row in theirs]
    assert [row["ok"] for row in table] == [2 * row["ok"] for row in theirs]
    assert [row["rps"] for row in table] == [pytest.approx(row["rps"], abs=0.002) for row in theirs]
    assert all(row["latency_ms"] is None for row in table) and merged["steps"]["knee"] is None
    assert any(note.startswith("steps: the latency of level(s) 1, 2, 4, 8") for note in merged["notes"])
    assert "knee: not found again (the merge could not keep a level's latency" in format_summary(merged)


def test_runs_that_never_overlapped_are_refused_naming_the_files_and_their_times() -> None:
    first = golden("open")  # 09:00:00 for 20 s
    second = later(first, 60)
    with pytest.raises(ConfigError) as refused:
        merge_reports([first, second], ["a.json", "b.json"])
    message = str(refused.value)
    assert "never all ran at once" in message and "--sequential" in message
    assert "a.json from 2026-11-23T09:00:00.000+00:00 to 2026-11-23T09:00:20.000+00:00" in message
    assert "b.json from 2026-11-23T09:01:00.000+00:00 to 2026-11-23T09:01:20.000+00:00" in message
    third = later(first, 10)  # overlaps both
    with pytest.raises(ConfigError, match="neither all ran at once nor followed one another"):
        merge_reports([first, second, third], ["a.json", "b.json", "c.json"])
    with pytest.raises(ConfigError, match="--sequential: the runs overlapped in time"):
        merge_reports([first, third], ["a.json", "c.json"], sequential=True)


def test_sequential_runs_pool_percentiles_and_do_not_sum_throughput(tmp_path: Path) -> None:
    first = golden("open")
    second = later(first, 3600)  # an hour later
    merged = merge_reports([second, first], ["b.json", "a.json"], sequential=True)
    together = merge_reports([first, first], ["a.json", "a.json"])
    assert merged["merged_as"] == "sequential"
    assert merged["throughput_rps"] == pytest.approx(first["throughput_rps"], abs=0.002)
    assert together["throughput_rps"] == pytest.approx(2 * first["throughput_rps"], abs=0.002)
    assert merged["corrected_latency_ms"] == together["corrected_latency_ms"]  # the same requests pooled
    assert merged["requests"]["ok"] == together["requests"]["ok"]
    assert (merged["wall_s"], merged["measured_s"]) == (40.0, 40.0)
    assert merged["rate"]["sent_per_s"] == first["rate"]["sent_per_s"] and merged["rate"]["sending_s"] == 40.0
    assert merged["rate"]["offered_per_s"] == 50 and merged["rate"]["not_sent"] == 24
    # One run after the other on one clock: the earlier one first, the later one from its 20th second.
    seconds = [row["second"] for row in merged["per_second"]]
    assert seconds == [row["second"] for row in first["per_second"]] + [
        20 + row["second"] for row in first["per_second"]
    ]
    assert len(merged["windows"]["rows"]) == 2 * len(first["windows"]["rows"])
    assert max(r["sent_at_s"] for r in merged["request_log"]) > 20
    assert "one after another (percentiles pooled" in format_summary(merged)
    assert_every_block_kept_or_noted(first, merged)
    assert_readable(merged, tmp_path)


def test_bursts_one_after_another_keep_their_own_verdicts_in_a_note() -> None:
    first = golden("burst")
    merged = merge_reports([first, later(first, 60)], ["a.json", "b.json"], sequential=True)
    assert merged["burst"] is None
    assert (
        "burst: runs one after another are no burst together; each run's verdict: concurrent, concurrent"
        in (merged["notes"])
    )


def test_blocks_of_each_runs_own_window_and_unknown_blocks_are_noted() -> None:
    report = {**golden("local_processes"), "from_the_future": {"x": 1}}
    merged = merge_reports([report, report], ["a.json", "b.json"])
    assert merged["local_processes"] is None
    notes = " | ".join(merged["notes"])
    assert "local_processes: the local endpoint's processes were sampled over each run's own window" in notes
    assert "from_the_future: not merged (the merge has no rule for it" in notes


def test_a_merged_report_merges_again_with_its_notes_named_by_their_run() -> None:
    report = golden("open")
    once = merge_reports([report, report], ["a.json", "b.json"])
    twice = merge_reports([once, once], ["ab.json", "ab2.json"])
    assert twice["requests"]["sent"] == 4 * report["requests"]["sent"]
    assert twice["rate"]["intended"] == 4 * report["rate"]["intended"]
    assert not [note for note in twice["notes"] if "not merged" in note]


def test_differing_configurations_are_not_kept_and_say_so() -> None:
    merged = merge_reports([golden("stream_closed"), golden("steps")], ["a.json", "b.json"], mixed=True)
    assert merged["config"] is None
    assert any(note.startswith("config: differs between a.json, b.json") for note in merged["notes"])
    assert merged["target"] == golden("steps")["target"]  # the same target: kept


def test_node_reports_name_every_node() -> None:
    report = golden("open")
    nodes = [{**report, "node": {"rank": rank, "of": 2, "host": "h"}} for rank in range(2)]
    merged = merge_reports(nodes, ["node 0", "node 1"])
    assert [node["rank"] for node in merged["nodes"]] == [0, 1] and merged["start_spread_s"] == 0
    assert not any(note.startswith("node:") for note in merged["notes"])


def _open_run(url: str, path: Path) -> subprocess.Popen[str]:
    args = ("run", url, "-R", "40", "-c", "8", "-d", "4s", "--report", str(path))
    return subprocess.Popen([sys.executable, "-m", "moetui", *args], stdout=subprocess.PIPE, text=True)


def test_real_open_runs_side_by_side_add_up_and_one_after_is_refused_unless_sequential(
    fast_server: FastServer, tmp_path: Path
) -> None:
    url = fast_server.url("/sleep?ms=20")
    paths = [tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"]
    side_by_side = [_open_run(url, path) for path in paths[:2]]
    for process in side_by_side:
        process.communicate(timeout=120)
        assert process.returncode in (0, 1, 4)  # 4: a loaded machine's generator
    after = _open_run(url, paths[2])
    after.communicate(timeout=120)
    a, b = (json.loads(path.read_text()) for path in paths[:2])

    done = moetui("merge", str(paths[0]), str(paths[1]), "-o", str(tmp_path / "ab.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    merged = json.loads((tmp_path / "ab.json").read_text())
    assert merged["merged_as"] == "overlapping"
    for key in ("intended", "not_sent"):
        assert merged["rate"][key] == a["rate"][key] + b["rate"][key]
    assert merged["rate"]["offered_per_s"] == 80
    assert merged["rate"]["sent_per_s"] == pytest.approx(a["rate"]["sent_per_s"] + b["rate"]["sent_per_s"], abs=0.002)
    assert merged["requests"]["sent"] == a["requests"]["sent"] + b["requests"]["sent"]

    refused = moetui("merge", str(paths[0]), str(paths[2]), "-o", str(tmp_path / "ac.json"))
    assert refused.returncode == 2 and not (tmp_path / "ac.json").exists()
    assert f"{paths[0]} from {a['started_at'][:19]}" in refused.stderr and str(paths[2]) in refused.stderr
    assert "--sequential" in refused.stderr

    sequential = moetui("merge", "--sequential", str(paths[0]), str(paths[2]), "-o", str(tmp_path / "ac.json"))
    assert sequential.returncode == 0, sequential.stderr
    assert "one after another" in sequential.stdout
    assert json.loads((tmp_path / "ac.json").read_text())["merged_as"] == "sequential"
    assert "--sequential" in moetui("merge", "--help").stdout


def _on_two_local_nodes(url: str, tmp_path: Path, load: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A `--nodes 2 --local-nodes` run of `load`: the merged report and the two nodes' own."""
    config = tmp_path / "run.toml"
    config.write_text(f'[target.url]\nurl = "{url}"\n\n[load]\n{load}\n')
    report = tmp_path / "merged.json"
    done = moetui("--run", str(config), "--nodes", "2", "--local-nodes", "--report", str(report))
    assert done.returncode in (0, 1, 4), done.stdout + done.stderr  # 4: a loaded machine's generator
    nodes = [json.loads((tmp_path / "merged.json.nodes" / f"node-{k}.json").read_text()) for k in range(2)]
    return json.loads(report.read_text()), nodes


def test_an_open_run_over_two_nodes_holds_the_sums_of_the_nodes_rates(fast_server: FastServer, tmp_path: Path) -> None:
    load = 'mode = "open"\nrate = 40\nclients = 4\nduration = "3s"'
    merged, nodes = _on_two_local_nodes(fast_server.url("/sleep?ms=20"), tmp_path, load)
    rates = [node["rate"] for node in nodes]
    assert [rate["offered_per_s"] for rate in rates] == [20, 20] and merged["rate"]["offered_per_s"] == 40
    for key in ("intended", "not_sent", "clients"):
        assert merged["rate"][key] == sum(rate[key] for rate in rates)
    assert merged["rate"]["sent_per_s"] == pytest.approx(sum(rate["sent_per_s"] for rate in rates), abs=0.002)
    assert merged["received"]["bodies"] == sum(node["received"]["bodies"] for node in nodes)
    assert len(merged["request_log"]) == sum(len(node["request_log"]) for node in nodes)
    assert merged["merged_as"] == "overlapping"
    assert [t["name"] for t in merged["thresholds"]] == [t["name"] for t in nodes[0]["thresholds"]]


def test_a_sweep_over_two_nodes_adds_the_nodes_shares_of_each_level(fast_server: FastServer, tmp_path: Path) -> None:
    load = 'mode = "steps"\nduration = "10s"'
    sweep = '\n[steps]\nlevels = [2, 4]\nstep_duration = "1s"\nthreshold_ms = 1000'
    merged, nodes = _on_two_local_nodes(fast_server.url("/sleep?ms=20"), tmp_path, load + sweep)
    assert [[row["level"] for row in node["steps"]["table"]] for node in nodes] == [[1, 2], [1, 2]]
    table = merged["steps"]["table"]
    assert [row["level"] for row in table] == [2, 4]  # the plan's levels again
    assert [row["ok"] for row in table] == [sum(n["steps"]["table"][i]["ok"] for n in nodes) for i in range(2)]
    said = " ".join(note for note in merged["notes"] if note.startswith("steps:"))
    for row in table:  # a ladder drawn from the windows (said so), or said why not
        assert f"{row['level']:g}" in said, merged["notes"]

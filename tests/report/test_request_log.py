"""--requests / --request-log / [output] requests: every request on disk, one row per request sent (the
server's count), warm-up rows marked, latencies agreeing with the report; with several generator processes
their parts joined into one file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from moetui.engine.request_log import COLUMNS
from tests.http_server import FastServer
from tests.report.conftest import moetui


@pytest.mark.parametrize("workers", [1, 2])
def test_one_row_per_request_the_server_saw(server: FastServer, tmp_path: Path, workers: int) -> None:
    log, report_path = tmp_path / "requests.csv", tmp_path / "report.json"
    done = moetui(
        "run", server.url("/sleep?ms=10"), "-c", "4", "-d", "2s", "--workers", str(workers),
        "--set", "load.warmup=0.5s", "--request-log", str(log), "--report", str(report_path),
    )  # fmt: skip
    assert done.returncode in (0, 4), done.stdout + done.stderr
    report = json.loads(report_path.read_text())
    with log.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == report["requests"]["sent"] == server.counts()["requests"] > 0
    phases = [row["phase"] for row in rows]
    assert phases.count("warmup") == report["requests"]["warmup"] > 0
    assert phases.count("measured") == report["requests"]["completed"]
    assert {row["worker"] for row in rows} == {str(w) for w in range(workers)}
    assert not list(tmp_path.glob("requests.csv.part*"))
    assert all(row["status"] == "200" for row in rows)
    measured = sorted(float(row["latency_ms"]) for row in rows if row["phase"] == "measured")
    # The report's p50 is HdrHistogram's (3 significant digits) of the same latencies.
    assert measured[(len(measured) + 1) // 2 - 1] == pytest.approx(report["latency_ms"]["p50"], rel=0.01)


def test_open_mode_rows_carry_the_intended_send_as_json_lines(server: FastServer, tmp_path: Path) -> None:
    config = tmp_path / "open.toml"
    config.write_text(
        f'[target.url]\nurl = "{server.url("/fast")}"\n[load]\nmode = "open"\nrate = 50\nduration = "1s"\n'
        '[output]\nrequests = "out/requests.jsonl"\n'
    )
    done = moetui("--run", str(config))
    assert done.returncode in (0, 4), done.stdout + done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "requests.jsonl").read_text().splitlines()]
    assert len(rows) == server.counts()["requests"] > 0
    for row in rows:
        assert row["intended_at_s"] <= row["sent_at_s"]
        assert row["corrected_latency_ms"] >= row["latency_ms"] > 0

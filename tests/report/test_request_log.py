"""--requests / --request-log / [output] requests: every request on disk, one row per request sent (the
server's count), warm-up rows marked, latencies agreeing with the report; with several generator processes
their parts joined into one file."""

from __future__ import annotations

import csv
import json
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from moetui.engine.request_log import COLUMNS
from tests.http_server import FastServer
from tests.report.conftest import moetui

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    # Each request's x-ms-client-request-id (and the same x-request-id) is in its row, unique across workers.
    seen = server.request_ids()
    assert all(client == other for client, other in seen)
    assert sorted(client for client, _ in seen) == sorted(row["client_request_id"] for row in rows)
    assert len({row["client_request_id"] for row in rows}) == len(rows)
    assert all(GUID.fullmatch(row["client_request_id"]) for row in rows)
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


def _fill_limit(kind: str, tmp_path: Path) -> tuple[Path, Callable[[], None] | None]:
    """Where a request log runs out of room, and what the child runs first to make it so.

    "tmpfs": a 64 KB tmpfs mounted for the test (root only: skipped, saying why, where mount is refused);
    "rlimit": RLIMIT_FSIZE of 128 KB in the child, SIGXFSZ ignored so a write past it fails with EFBIG
    (no privileges needed; the ~52 KB report stays under it, the 5,000-row log (~190 KB) does not).
    """
    if kind == "rlimit":

        def limit() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))

        return tmp_path / "requests.csv", limit
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root (CAP_SYS_ADMIN): {done.stderr.decode().strip()}")
    return mount / "requests.csv", None


@pytest.mark.parametrize("kind", ["tmpfs", "rlimit"])
def test_a_full_disk_stops_the_log_and_keeps_the_summary_and_report(
    server: FastServer, tmp_path: Path, kind: str
) -> None:
    log, limit = _fill_limit(kind, tmp_path)
    report_path = tmp_path / "report.json"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "moetui", "run", server.url("/fast"), "-c", "4", "-n", "5000",
             "--request-log", str(log), "--report", str(report_path)],
            capture_output=True, text=True, timeout=180, preexec_fn=limit,
        )  # fmt: skip
    finally:
        if kind == "tmpfs":
            subprocess.run(["umount", str(log.parent)], check=True)
    assert done.returncode == 5, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    said = f"the request log {log} stopped: "
    assert said in done.stderr and ("No space left on device" in done.stderr or "File too large" in done.stderr)
    assert "requests     5,000 measured" in done.stdout and "exit status 5" in done.stdout
    report = json.loads(report_path.read_text())
    assert report["requests"]["completed"] == 5000 == server.counts()["requests"]
    assert any(note.startswith(said) for note in report["notes"])


@pytest.mark.parametrize("workers", [1, 2])
def test_dev_full_as_the_log_is_reported_with_exit_5(server: FastServer, tmp_path: Path, workers: int) -> None:
    report_path = tmp_path / "report.json"
    done = moetui(
        "run", server.url("/fast"), "-c", "2", "-n", "50", "--workers", str(workers),
        "--request-log", "/dev/full", "--report", str(report_path),
    )  # fmt: skip
    assert done.returncode == 5, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "the request log /dev/full" in done.stderr
    assert json.loads(report_path.read_text())["requests"]["completed"] == 50


def test_a_directory_as_the_log_is_refused_before_any_request(server: FastServer, tmp_path: Path) -> None:
    done = moetui("run", server.url("/fast"), "-n", "5", "--request-log", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--requests: the request log cannot be written there: {tmp_path} is a directory" in done.stderr
    assert server.counts()["requests"] == 0

"""A burst stopped while its requests are in flight says how many it abandoned, and judges no threshold:
its error_rate 0 (nothing answered, nothing failed) is no pass. The summary, the HTML report and the app's
report screen say the same."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from moetui.report.html import render_html
from moetui.report.summary import format_summary
from moetui.tui.app import make_app
from moetui.tui.screens.report import ReportScreen
from moetui.tui.widgets.report_tables import Outcomes, Thresholds
from tests.fixtures import canned
from tests.http_server import FastServer


def _stopped_burst(server: FastServer, tmp_path: Path) -> tuple[str, Path]:
    """A burst of 3 against a 60 s sleep, stopped (SIGINT) once the server has all 3: (stdout, report path)."""
    report_path = tmp_path / "stopped.json"
    flags = ("-n", "3", "-c", "3", "--set", "load.mode=burst", "--report", str(report_path))
    process = subprocess.Popen(
        [sys.executable, "-m", "moetui", "run", server.url("/sleep?ms=60000"), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while server.counts()["requests"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.counts()["requests"] == 3, "the burst never reached the server"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, stdout + stderr
    return stdout, report_path


async def test_a_stopped_burst_says_what_it_abandoned_and_judges_nothing(server: FastServer, tmp_path: Path) -> None:
    stdout, report_path = _stopped_burst(server, tmp_path)
    report = json.loads(report_path.read_text())
    assert report["interrupted"] is True and report["requests"]["in_flight_at_end"] == 3
    assert report["thresholds"] and report["thresholds"][0]["name"] == "error_rate"  # still in the JSON
    summary = format_summary(report)
    assert summary in stdout
    assert "3 requests abandoned in flight when the run was stopped" in summary
    lines = summary.splitlines()
    start = lines.index("thresholds (not judged: the run was stopped)")
    assert lines[start + 1].startswith("  -     error_rate: 0 ")
    assert not any(line.startswith(("  pass", "  FAIL")) for line in lines)

    page = render_html(report)
    assert 'id="tile-abandoned"' in page and "<td>not judged (default)</td>" in page
    assert "Not judged: 3 requests abandoned" in page and '<span class="good">pass</span>' not in page

    config, finished = canned.burst_finished()
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = ReportScreen(config, replace(finished, report=report, exit_status=130))
        await app.push_screen(screen)
        await pilot.pause()
        outcomes = str(screen.query_one(Outcomes).render())
        thresholds = screen.query_one(Thresholds).render()
    assert "abandoned" in outcomes and "3" in outcomes and "no responses" not in outcomes
    assert "pass" not in str(thresholds)

"""`moetui --run` of an open loop against a target too slow for its rate: the run ends at its duration,
says what was not sent and fails; with the default clients a URL target is not throttled by the cap."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.headless.test_headless import run_moetui, url_config
from tests.helpers import assert_ran
from tests.http_server import FastServer

ENV = dict(os.environ, MOETUI_TEST_KEY="k3y")


def test_a_target_too_slow_for_the_rate_ends_on_time_and_fails_on_not_sent(server: FastServer, tmp_path: Path) -> None:
    """3 s answers, 2 clients, 20/s for 5 s: 4 sends leave, 96 never do. Before, all 100 were sent,
    two at a time, for 150 s, and the run exited 0."""
    config = url_config(
        tmp_path, server.url("/sleep?ms=3000"), 'mode = "open"\nrate = 20\nclients = 2\nduration = "5s"\ntimeout = "5s"'
    )
    started = time.monotonic()
    result = run_moetui("--run", str(config), "--report", str(tmp_path / "r.json"), env=ENV)
    assert time.monotonic() - started < 5 + 5 + 10  # duration + request timeout + start-up on a slow machine
    # The verdict is the subject, so exit 1 exactly (and valid, below): 4 sends of 3 s answers and a timetable
    # the cap holds back leave the generator idle, far from its limits on a loaded 2-core machine.
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    requests = report["requests"]
    assert requests["sent"] + requests["not_sent"] == 100
    assert requests["not_sent"] >= 90 and requests["sent"] == server.counts()["requests"]
    assert report["wall_s"] < 5 + 5 + 1
    assert report["rate"]["offered_per_s"] == 20 and report["rate"]["sent_per_s"] < 2
    check = next(c for c in report["thresholds"] if c["name"] == "max_not_sent")
    assert not check["passed"] and check["limit"] == 0.01
    assert report["generator"]["valid"] and report["generator"]["notes"]  # the target's doing, not the generator's
    assert f"not sent     {requests['not_sent']} of 100 intended: the target could not take 20/s at 2 clients" in (
        result.stdout
    )
    assert "FAIL  max_not_sent" in result.stdout


def test_a_url_target_without_max_concurrency_is_not_throttled_by_the_default_clients(
    server: FastServer, tmp_path: Path
) -> None:
    """100 ms answers at 50/s: one client (the old default) held it to 10/s, and a 4 s plan ran 20 s."""
    config = url_config(tmp_path, server.url("/sleep?ms=100"), 'mode = "open"\nrate = 50\nduration = "2s"')
    result = run_moetui("--run", str(config), "--report", str(tmp_path / "r.json"), env=ENV)
    report = json.loads((tmp_path / "r.json").read_text())
    assert_ran(result.returncode, report, result.stdout + result.stderr)  # about the cap; drift is the machine's
    assert report["requests"]["not_sent"] == 0 and report["requests"]["sent"] == 100
    assert report["rate"]["clients"] == 500  # 50/s x 10 s timeout, at most 500
    assert report["wall_s"] < 2 + 1.5


def test_merge_adds_the_not_sent_counts() -> None:
    from moetui.report.merge import merge_reports
    from moetui.report.summary import format_summary

    def report(sent: int, not_sent: int) -> dict[str, object]:
        requests = {"sent": sent, "completed": sent, "ok": sent, "failed": 0, "not_sent": not_sent}
        return {
            "started_at": "2026-01-01T00:00:00+00:00",
            "wall_s": 5.0,
            "mode": "open",
            "requests": {**requests, "by_status": {"200": sent}, "by_error": {}},
            "throughput_rps": sent / 5,
        }

    merged = merge_reports([report(10, 90), report(20, 80)], ["a.json", "b.json"])
    assert merged["requests"]["not_sent"] == 170
    assert "not sent     170 of 200 intended" in format_summary(merged)

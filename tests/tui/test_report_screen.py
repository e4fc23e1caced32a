"""The report screen: drawn from the report dict alone (a saved report draws the same), verdict colour by
exit status, thresholds pass/FAIL, and exports into the runs directory with the whole path shown."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from moetui.config.load import load_config
from moetui.errors import ExitStatus
from moetui.paths import runs_dir
from moetui.report.codec import read_report, write_report
from moetui.session.process import Finished
from moetui.tui.app import make_app
from moetui.tui.screens.report import ReportScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from tests.fixtures import canned


def rendered(screen: ReportScreen, selector: str) -> str:
    """What a widget draws, as plain text (Rich tables included)."""
    console = Console(width=120, color_system=None, file=io.StringIO())
    with console.capture() as capture:
        console.print(screen.query_one(selector).render())
    return capture.get()


async def test_a_saved_report_draws_the_same_screen(tmp_path: Path) -> None:
    config, finished = canned.open_finished()
    assert finished.report is not None
    path = tmp_path / "saved.json"
    write_report(finished.report, path)
    reloaded = Finished(read_report(path), finished.exit_status)
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    pictures = []
    async with app.run_test(size=(120, 40)) as pilot:
        for shown in (finished, reloaded):
            screen = ReportScreen(config, shown)
            await app.push_screen(screen)
            await pilot.pause()
            parts = ("#report-banner", "#report-latency", "#report-histogram", "#report-rate", "#report-outcomes")
            pictures.append([rendered(screen, part) for part in (*parts, "#report-thresholds")])
            app.pop_screen()
            await pilot.pause()
    assert pictures[0] == pictures[1]
    banner, latency, histogram, rate, outcomes, thresholds = pictures[0]
    assert f"exit 1 · {ExitStatus.THRESHOLD_FAILED.meaning}" in banner
    assert "corrected" in latency and "in model" in latency and "outside" in latency
    assert histogram.count("≤") == 10 and " 20 " in histogram  # the fixture's 20 slow responses, last bucket
    assert "50.0/s" in rate and "12" in rate and "1,052 intended" in rate
    assert "429" in outcomes and "too many pending requests" in outcomes
    assert "FAIL" in thresholds and "max_not_sent" in thresholds


@pytest.mark.parametrize(
    ("changes", "word", "look"),
    [
        ({}, "PASSED", "-ok"),
        ({"passed": False, "exit_status": 1}, "FAILED", "-bad"),
        ({"valid": False, "passed": False, "exit_status": 4}, "INVALID MEASUREMENT", "-warn"),
        ({"interrupted": True, "exit_status": 130}, "INTERRUPTED", "-warn"),
    ],
)
async def test_the_banner_says_the_verdict_word_in_its_tone(
    tmp_path: Path, changes: dict[str, Any], word: str, look: str
) -> None:
    """The HTML report's word (moetui.report.verdict) and tone: an invalid or interrupted run is not judged."""
    config, finished = canned.burst_finished()
    report: Any = {**(finished.report or {}), **changes}
    status = int(report["exit_status"])
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ReportScreen(config, Finished(report, status))
        await app.push_screen(screen)
        await pilot.pause()
        banner = screen.query_one("#report-banner")
        assert banner.has_class(look)
        assert f"{word} · exit {status} · {ExitStatus(status).meaning}" in rendered(screen, "#report-banner")


async def test_exports_go_to_the_runs_directory_and_the_notice_shows_the_whole_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert runs_dir() == tmp_path / "data" / "moetui" / "runs"
    config, finished = canned.burst_finished()
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await app.push_screen(ReportScreen(config, finished))
        await pilot.pause()
        await pilot.press("j", "t")
        await pilot.pause()
        notices = [notification.message for notification in app._notifications]
        app.state.target_table = {"local": {"sleep": 0.3, "workers": 3, "max_concurrency": 3}}
        await app.push_screen(RunSetupScreen())
        await pilot.pause()
        app.screen.query_one("#save-path").value = "mine.toml"
        await pilot.press("ctrl+s")
        await pilot.pause()
        notices = [notification.message for notification in app._notifications]
    reports = list(runs_dir().glob("moetui-report-*.json"))
    tomls = list(runs_dir().glob("moetui-run-*.toml"))
    assert len(reports) == 1 and len(tomls) == 1
    assert json.loads(reports[0].read_text())["burst"]["verdict"] == "concurrent"
    assert reports[0].stat().st_mode & 0o777 == 0o644  # no secrets in a report: an ordinary file
    assert load_config(tomls[0]) == config
    assert (runs_dir() / "mine.toml").exists()
    for path in (reports[0], tomls[0], runs_dir() / "mine.toml"):
        assert any(str(path) in notice for notice in notices), notices
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob("*.toml"))  # not the current directory


async def test_a_streamed_burst_marks_each_first_token_on_its_lane(tmp_path: Path) -> None:
    config, finished = canned.stream_burst_finished()
    assert finished.report is not None
    path = tmp_path / "stream.json"
    write_report(finished.report, path)
    log = read_report(path)["request_log"]
    assert [round(row["first_token_s"], 3) for row in log] == [0.4, 1.2, 0.4]
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(ReportScreen(config, Finished(read_report(path), finished.exit_status)))
        await pilot.pause()
        lanes = rendered(app.screen, "#report-burst").splitlines()
        # Three answers overlap: three lanes, each with one mark, the second's further in (1.2 s, not 0.4 s).
        marks = [line.index("▸") - line.index("━") for line in lanes[:3]]
        assert all(line.count("▸") == 1 for line in lanes[:3])
        assert marks[1] > marks[0] == marks[2] > 0
        assert "▸ first token" in lanes[3]
        app.pop_screen()
        await app.push_screen(ReportScreen(*canned.burst_finished()))
        await pilot.pause()
        assert "▸" not in rendered(app.screen, "#report-burst")

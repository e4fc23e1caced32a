"""The report screen's wiring: `h` writes the HTML report where `j` puts the JSON one (or says what is
missing), and a second run is compared with the first side by side, as `moetui compare` judges them."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from moetui.paths import runs_dir
from moetui.tui.app import make_app
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.report import HTML_MISSING, ReportScreen
from tests.fixtures import canned
from tests.tui.test_flow import wait_for

HAS_HTML = importlib.util.find_spec("moetui.report.html") is not None


async def press_h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config, finished = canned.stream_finished()
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await app.push_screen(ReportScreen(config, finished))
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        return [notification.message for notification in app._notifications]


@pytest.mark.skipif(HAS_HTML, reason="moetui.report.html is there")
async def test_h_says_what_is_missing_without_the_html_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notices = await press_h(tmp_path, monkeypatch)
    assert HTML_MISSING in notices
    assert not (tmp_path / "data").exists() or not list(runs_dir().glob("*.html"))


@pytest.mark.skipif(not HAS_HTML, reason="moetui.report.html is not on this branch")
async def test_h_writes_the_html_report_where_j_exports_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notices = await press_h(tmp_path, monkeypatch)
    pages = list(runs_dir().glob("moetui-report-*.html"))
    assert len(pages) == 1 and pages[0].stat().st_size > 0
    assert any(str(pages[0]) in notice for notice in notices), notices


async def test_the_second_run_is_compared_with_the_first(tmp_path: Path) -> None:
    """Two runs through the live screen: the second report shows both side by side, the first none."""
    runs = [canned.burst_finished(), canned.open_finished()]
    made: list[canned.FakeRun] = []

    def factory(config: object, base_dir: Path, refresh: object) -> canned.FakeRun:
        made.append(canned.FakeRun([], runs[len(made)][1]))
        return made[-1]

    app = make_app(run_factory=factory, base_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screens = []
        for config, _ in runs:
            await app.push_screen(LiveScreen(config, refresh_hz=0.001))
            await pilot.pause()
            app.screen.pull()
            screens.append(await wait_for(pilot, ReportScreen))
            await pilot.pause()
        first, second = screens
        assert not first.query("#report-compare")
        await app.workers.wait_for_complete()  # the comparison's bootstrap runs in a thread
        await pilot.pause()
        table = second.query_one("#report-compare", Static).content  # the rich Group the Static shows
        console = Console(width=120, color_system=None, file=io.StringIO())
        with console.capture() as capture:
            console.print(table)
        compare = capture.get()
    assert app.state.previous_report is runs[1][1].report
    assert "previous" in compare and "this run" in compare
    assert "burst" in compare and "open" in compare  # each run's mode in its column
    # Through moetui.report.compare: its verdicts and intervals, and its note on the burst's single window.
    assert "95% interval" in compare and "faster" in compare  # 0.2 -> 48 ok/s
    assert "more errors" in compare  # 0 of 3 failed, then 41 of 1,000
    assert "the previous run holds only 1 per-second histogram (" in compare

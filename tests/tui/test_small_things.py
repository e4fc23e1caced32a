"""Small things seen on screen: one Quit in the help, one New run in the palette, no unit without a figure,
a proper plural, lanes told apart without colour."""

from __future__ import annotations

from pathlib import Path

from moetui.report.summary import format_summary
from moetui.tui.app import make_app
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.report import ReportScreen
from moetui.tui.widgets.timeline import Timeline
from tests.fixtures import canned


async def test_help_lists_quit_once_and_the_palette_new_run_once(tmp_path: Path) -> None:
    config, finished = canned.burst_finished()
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        for screen in (LiveScreen(config), ReportScreen(config, finished)):
            await app.push_screen(screen)
            await pilot.pause()
            # the key panel (?) lists the active bindings that are not system bindings, one row per action
            quits = {
                (namespace, binding.action)
                for namespace, binding, _, _ in app.screen.active_bindings.values()
                if binding.description == "Quit" and not binding.system
            }
            assert len(quits) == 1, quits
            titles = [command.title for command in app.get_system_commands(app.screen)]
            assert titles.count("New run") == 1
            if isinstance(screen, LiveScreen):
                screen.ended = True  # leave without the quit question
            app.pop_screen()
            await pilot.pause()


def test_no_drift_figure_has_no_unit_and_one_process_is_singular() -> None:
    _, finished = canned.burst_finished()
    report = finished.report
    assert report is not None and report["generator"]["drift_p99_ms"] is None  # a burst: nothing to drift
    summary = format_summary(report)
    assert "send drift p99 —," in summary and "- ms" not in summary
    assert "1 process" in summary and "process(es)" not in summary


async def test_lanes_tell_in_flight_from_answered_by_glyph(tmp_path: Path) -> None:
    running, _ = canned.burst_snapshot(done=False)
    done, _ = canned.burst_snapshot(done=True)
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([]), base_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = Timeline()
        await app.screen.mount(timeline)
        timeline.snapshot = running
        await pilot.pause()
        assert "┅" in str(timeline.render()) and "━" not in str(timeline.render()).splitlines()[0]
        timeline.snapshot = done
        await pilot.pause()
        assert "━" in str(timeline.render()).splitlines()[0]

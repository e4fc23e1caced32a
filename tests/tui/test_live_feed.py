"""The live screen feeds its widgets one way (one reactive snapshot, data-bound), and they take their colours
from the theme: ctrl+t's light theme recolours every part."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from moetui.tui.app import make_app
from moetui.tui.screens.live import LiveScreen
from moetui.tui.widgets.base import SnapshotWidget
from moetui.tui.widgets.inflight import InFlight
from moetui.tui.widgets.latency_chart import LatencyChart
from moetui.tui.widgets.percentile_ladder import PercentileLadder
from moetui.tui.widgets.rate_chart import RateChart
from moetui.tui.widgets.requests_table import RequestsTable
from moetui.tui.widgets.status_codes import StatusCodes
from moetui.tui.widgets.timeline import Timeline
from tests.fixtures import canned


def colours(text: Text) -> set[str]:
    """The colours of a rendered text's spans, as the terminal would draw them."""
    found = set()
    for span in text.spans:
        style = span.style
        if not isinstance(style, str) and style.color is not None:
            found.add(style.color.get_truecolor().hex)
        elif isinstance(style, str):
            found.add(style)  # a colour name: the same in every theme
    return found


async def test_every_live_widget_takes_the_one_snapshot(tmp_path: Path) -> None:
    snapshots = [canned.open_snapshot(), canned.steps_snapshot()]
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun(snapshots), base_dir=tmp_path)
    config = canned.config({"load": {"mode": "open", "rate": 50, "duration": 60}})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LiveScreen(config, refresh_hz=0.001)  # the test pulls
        await app.push_screen(screen)
        await pilot.pause()
        for expected in snapshots:
            screen.pull()
            await pilot.pause()
            assert screen.snapshot is expected
            widgets = [*screen.query(SnapshotWidget), screen.query_one(RequestsTable)]
            assert len(widgets) >= 8
            assert all(widget.snapshot is expected for widget in widgets)
        assert screen.query_one(RequestsTable).row_count > 0


async def test_the_light_theme_recolours_the_live_widgets(tmp_path: Path) -> None:
    app = make_app(run_factory=lambda c, b, r: canned.FakeRun([canned.open_snapshot()]), base_dir=tmp_path)
    config = canned.config({"load": {"mode": "open", "rate": 50, "duration": 60}})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LiveScreen(config, refresh_hz=0.001)
        await app.push_screen(screen)
        await pilot.pause()
        screen.pull()
        await pilot.pause()
        parts = (InFlight, Timeline, PercentileLadder, StatusCodes, LatencyChart, RateChart)

        def drawn() -> list[set[str]]:
            pictures = []
            for part in parts:
                rendered = screen.query_one(part).render()
                text = rendered if isinstance(rendered, Text) else Text()
                if not isinstance(rendered, Text):  # the ladder's table: its row styles
                    for row in rendered.rows:
                        if row.style:
                            text.append("x", style=row.style)
                pictures.append(colours(text))
            return pictures

        dark = drawn()
        app.theme = "textual-light"
        await pilot.pause()
        light = drawn()
    for part, before, after in zip(parts, dark, light, strict=True):
        assert before, part
        assert before.isdisjoint(after), (part, before, after)

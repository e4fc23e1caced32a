"""The live screen's charts: as tall as the layout makes them, nothing drawn for zero (issue 26 item 5: no
full-height error bar while there are no errors, nor a tokens/s bar before a stream finished), and the
screen filled at 120x40 and still holding every chart at 80x24."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.renderables.sparkline import Sparkline

from moetui.tui.app import make_app
from moetui.tui.screens.live import LiveScreen
from moetui.tui.widgets.base import ms
from moetui.tui.widgets.chart import EIGHTHS, Column, chart
from moetui.tui.widgets.latency_chart import LatencyChart, TtftChart
from moetui.tui.widgets.rate_chart import RateChart, TokenChart
from moetui.tui.widgets.rates import from_zero
from tests.fixtures import canned

OK, BAD, MUTED = Style(color="green"), Style(color="red"), Style(dim=True)
BLOCKS = set(EIGHTHS.strip())


def styled(text: Text, style: Style) -> str:
    """The characters of `text` drawn in `style`'s colour, in front or behind."""
    colour = style.color
    return "".join(
        text.plain[span.start : span.end]
        for span in text.spans
        if isinstance(span.style, Style) and colour in (span.style.color, span.style.bgcolor)
    )


def test_no_errors_draw_no_error_bar() -> None:
    for columns in ([Column(0, ((5.0, OK), (0.0, BAD)))], [Column(s, ((5.0, OK), (0.0, BAD))) for s in range(9)]):
        text = chart(columns, 40, 10, str, MUTED)
        assert not set(styled(text, BAD)) & BLOCKS
        assert "█" in styled(text, OK)


def test_an_all_zero_series_draws_nothing() -> None:
    text = chart([Column(0, ((0.0, OK), (0.0, BAD)))], 40, 10, str, MUTED)
    assert not set(text.plain) & BLOCKS
    assert text.plain.count("\n") == 9  # 9 rows of plot and the axis, however empty


def test_a_small_error_count_is_still_seen_and_the_chart_takes_its_height() -> None:
    columns = [Column(s, ((1000.0, OK), (1.0 if s == 3 else 0.0, BAD))) for s in range(5)]
    text = chart(columns, 60, 20, str, MUTED)
    lines = text.plain.split("\n")
    assert len(lines) == 20
    assert set(lines[0][9:]) & BLOCKS  # the tallest column reaches the top row
    assert set(styled(text, BAD)) & BLOCKS  # one error in a thousand: at least an eighth, in the error look
    assert lines[-1].startswith(" " * 8 + "└0 s") and lines[-1].rstrip().endswith("5 s")


def test_a_mark_above_the_scale_points_up() -> None:
    text = chart([Column(0, ((10.0, OK),), ((100.0, "·", BAD),))], 30, 6, ms, MUTED, top=20.0)
    assert "↑" in styled(text, BAD)


def test_the_matrix_sparklines_start_from_zero() -> None:
    console = Console(width=20, color_system=None)
    with console.capture() as capture:
        console.print(Sparkline(from_zero([0.0]), width=20))
    assert "█" not in capture.get()  # a one-point series of 0 errors is no wall


async def test_the_charts_fill_120x40_and_fit_80x24(tmp_path: Path) -> None:
    heights = {}
    for size in ((120, 40), (80, 24)):
        app = make_app(run_factory=lambda c, b, r: canned.FakeRun([canned.stream_snapshot()]), base_dir=tmp_path)
        async with app.run_test(size=size) as pilot:
            screen = LiveScreen(canned.stream_config(), refresh_hz=0.001)
            await app.push_screen(screen)
            await pilot.pause()
            screen.pull()
            await pilot.pause()
            charts = [screen.query_one(kind) for kind in (LatencyChart, TtftChart, RateChart, TokenChart)]
            heights[size] = [c.content_size.height for c in charts]
            bottom = max(w.region.bottom for w in screen.query("#live-middle, #requests") if w.display)
            assert bottom >= size[1] - 1  # down to the footer: no empty rows left
            assert screen.query_one("#requests").display == (size == (120, 40))
            for part in charts:
                assert "no " not in str(part.render())[:3]  # every chart has something to draw
    assert all(short >= 3 for short in heights[(80, 24)])
    assert all(tall > short for tall, short in zip(heights[(120, 40)], heights[(80, 24)], strict=True))

"""Throughput and errors per second as one-row sparklines, with the run's totals (the matrix screen's; the
live screen draws them as tall charts: rate_chart)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Label, Sparkline

from moetui.engine.snapshot import EngineSnapshot

#: Seconds of history the sparklines show.
SECONDS_SHOWN = 60


def from_zero(values: list[float]) -> list[float]:
    """`values` with a 0 before them: textual's Sparkline scales from the series' own minimum and draws a
    one-point series at full height (a full error-coloured bar for 0 errors); a leading 0 anchors the scale
    at zero, so 0 draws as the lowest bar and a flat series is not a wall."""
    return [0.0, *values]


class Rates(Vertical):
    DEFAULT_CSS = """
    Rates { height: auto; }
    Rates Sparkline { height: 1; }
    Rates #errors-line > .sparkline--max-color { color: $error; }
    """

    def compose(self) -> ComposeResult:
        yield Label("ok/s", id="ok-label")
        yield Sparkline([], id="ok-line")
        yield Label("errors/s", id="errors-label")
        yield Sparkline([], id="errors-line")

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """The engine's state to draw (bound to the live screen's); None before the first."""

    def watch_snapshot(self, snapshot: EngineSnapshot | None) -> None:
        """New figures into the sparklines and labels (updated in place: nothing is mounted)."""
        if snapshot is None:  # none yet, or a new run began (the matrix screen's next cell): empty again
            self.query_one("#ok-line", Sparkline).data = []
            self.query_one("#errors-line", Sparkline).data = []
            self.query_one("#ok-label", Label).update("ok/s")
            self.query_one("#errors-label", Label).update("errors/s")
            return
        rows = snapshot.per_second[-SECONDS_SHOWN:]
        ok = [float(row.ok) for row in rows]
        failed = [float(row.failed) for row in rows]
        self.query_one("#ok-line", Sparkline).data = from_zero(ok)
        self.query_one("#errors-line", Sparkline).data = from_zero(failed)
        self.query_one("#ok-label", Label).update(
            f"ok/s  now {snapshot.last_second_rps:,.0f}  run {snapshot.throughput_rps:,.1f}  ({snapshot.ok:,} ok)"
        )
        last_failed = rows[-1].failed if rows else 0
        self.query_one("#errors-label", Label).update(f"errors/s  now {last_failed:,}  ({snapshot.failed:,} failed)")

"""Latency over time, one column a second as tall as the panel: p50 under p99 of the second's successful
responses, its max as a dot above (↑ beyond the scale) and, in open mode, the coordinated-omission
corrected p99 as a dash; a streaming run's time to first token the same way (`TtftChart`)."""

from __future__ import annotations

from collections import defaultdict

from rich.text import Text
from textual.reactive import reactive

from moetui.engine.snapshot import EngineSnapshot
from moetui.tui.widgets.base import SnapshotWidget, ms
from moetui.tui.widgets.chart import Column, chart

#: Head room over the tallest p99 (the max may go beyond: it is marked ↑ rather than squash the rest).
HEADROOM = 1.15


class LatencyChart(SnapshotWidget):
    DEFAULT_CSS = """
    LatencyChart { height: 1fr; min-height: 4; text-wrap: nowrap; text-overflow: clip; }
    """

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """Sized by the layout: a new snapshot repaints it, with no layout pass."""

    EMPTY = "latency per second: no second finished yet"

    def render(self) -> Text:
        snapshot = self.snapshot
        columns = self.columns(snapshot) if snapshot is not None else []
        if not columns:
            return Text(self.EMPTY, style=self.look("muted"))
        reach = max(sum(value for value, _ in c.stack) for c in columns)
        corrected = max((value for c in columns for value, _, _ in c.marks[1:]), default=0.0)  # not the max
        top = max(reach, corrected) * HEADROOM
        size = self.content_size
        # a partly filled top cell shows the segment holding most of it: p50 is the figure read first
        return chart(columns, size.width, size.height, ms, self.look("muted"), top, self.legend(), top_wins=False)

    def columns(self, snapshot: EngineSnapshot) -> list[Column]:
        """p50 then p99 stacked, the max and the corrected p99 as marks, for each second with a response."""
        low, tail = self.look("bar"), self.look("muted")
        peak, fixed = self.look("bad"), self.look("warn")
        columns = []
        for row in snapshot.per_second:
            if row.p50_ms is None:
                continue
            p99 = row.p99_ms or row.p50_ms
            marks = [(row.max_ms or p99, "·", peak)]
            if snapshot.mode == "open" and row.p99_corrected_ms is not None:
                marks.append((row.p99_corrected_ms, "━", fixed))
            columns.append(Column(row.second, ((row.p50_ms, low), (p99 - row.p50_ms, tail)), tuple(marks)))
        return columns

    #: (glyph, look, name) of each part the legend names.
    LEGEND: tuple[tuple[str, str, str], ...] = (("█", "bar", "p50"), ("█", "muted", "p99"), ("·", "bad", "max"))
    #: Open mode marks the coordinated-omission corrected p99 (end-to-end latency has one; TTFT has not).
    CORRECTED = True

    def legend(self) -> Text:
        snapshot = self.snapshot
        corrected = self.CORRECTED and snapshot is not None and snapshot.mode == "open"
        parts = (*self.LEGEND, ("━", "warn", "p99 corrected")) if corrected else self.LEGEND
        text = Text()
        for glyph, look, name in parts:
            text.append(" " if text else "")
            text.append(glyph, style=self.look(look))
            text.append(f" {name}")
        return text


class TtftChart(LatencyChart):
    """Time to first token of the latest streams (the snapshot's recent requests), by the second the first
    token came: median under the slowest."""

    EMPTY = "time to first token: no stream answered yet"
    LEGEND = (("█", "bar", "median"), ("█", "muted", "slowest"))
    CORRECTED = False

    def columns(self, snapshot: EngineSnapshot) -> list[Column]:
        seconds: defaultdict[int, list[float]] = defaultdict(list)
        for record in snapshot.recent:
            if record.first_token_s is not None:
                seconds[int(record.sent_at_s + record.first_token_s)].append(record.first_token_s * 1000)
        low, tail = self.look("bar"), self.look("muted")
        columns = []
        for second in sorted(seconds):
            values = sorted(seconds[second])
            median = values[len(values) // 2]
            columns.append(Column(second, ((median, low), (values[-1] - median, tail))))
        return columns

"""Responses per second over the run as tall as the panel, errors stacked on the successes (nothing drawn
for a second without errors), under a line of the figures now and over the run; a streaming run's output
tokens per second the same way (`TokenChart`)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from moetui.engine.snapshot import EngineSnapshot
from moetui.tui.widgets.base import SnapshotWidget
from moetui.tui.widgets.chart import Column, chart
from moetui.tui.widgets.token_rates import stream_facts


def per_second(value: float) -> str:
    return f"{value:,.0f}/s"


class RateChart(SnapshotWidget):
    DEFAULT_CSS = """
    RateChart { height: 1fr; min-height: 4; text-wrap: nowrap; text-overflow: clip; }
    """

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """Sized by the layout: a new snapshot repaints it, with no layout pass."""

    def render(self) -> Text:
        snapshot = self.snapshot
        if snapshot is None:
            return Text("no responses yet", style=self.look("muted"))
        head = self.head(snapshot)
        size = self.content_size
        plot = chart(
            self.columns(snapshot), size.width, size.height - len(head.split()), per_second, self.look("muted")
        )
        return Text("\n").join([head, plot])

    def head(self, snapshot: EngineSnapshot) -> Text:
        last = snapshot.per_second[-1] if snapshot.per_second else None
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"{snapshot.last_second_rps:,.0f} ok/s", style=self.look("ok"))
        failed = last.failed if last else 0
        text.append(f"  {failed:,} errors/s", style=self.look("bad") if failed else self.look("muted"))
        run = f"  run {snapshot.throughput_rps:,.1f} ok/s"  # the counts are in "responses"
        if len(text) + len(run) <= self.content_size.width:
            text.append(run, style=self.look("muted"))
        return text

    def columns(self, snapshot: EngineSnapshot) -> list[Column]:
        ok, bad = self.look("ok"), self.look("bad")
        return [Column(row.second, ((row.ok, ok), (row.failed, bad))) for row in snapshot.per_second]


class TokenChart(RateChart):
    """Output tokens per second (of the streams that finished in each second), the token counts, the "does
    it really stream?" verdict so far and goodput."""

    def head(self, snapshot: EngineSnapshot) -> Text:
        summary = snapshot.streaming
        if summary is None:
            return Text("no stream finished yet", style=self.look("muted"))
        now = snapshot.per_second[-1].output_tokens if snapshot.per_second else 0
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"{now:,} tokens/s", style=self.look("bar"))
        run = f"  run {summary.output_tokens_per_s:,.1f}/s, {summary.streams:,} streams"
        if len(text) + len(run) <= self.content_size.width:
            text.append(run)
        # the facts a line each where they do not fit side by side, as many as leave the chart 3 rows
        lines: list[str] = []
        for part in stream_facts(summary).split(" · "):
            if lines and len(lines[-1]) + 3 + len(part) <= self.content_size.width:
                lines[-1] += " · " + part
            else:
                lines.append(part)
        text.append("\n" + "\n".join(lines[: max(1, self.content_size.height - 5)]), style=self.look("muted"))
        return text

    def columns(self, snapshot: EngineSnapshot) -> list[Column]:
        look = self.look("bar")
        return [Column(row.second, ((row.output_tokens, look),)) for row in snapshot.per_second]

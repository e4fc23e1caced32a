"""The throughput-latency curve of a sweep, drawn point by point as the steps finish, with the SLO line
and the knee."""

from __future__ import annotations

from rich.text import Text

from moetui.tui.widgets.base import SnapshotWidget, ms

#: Rows of the plot.
HEIGHT = 8


class SweepCurve(SnapshotWidget):
    DEFAULT_CSS = """
    SweepCurve { height: auto; text-wrap: nowrap; text-overflow: clip; min-height: 4; }
    """

    def __init__(self, percentile: float = 99.0, threshold_ms: float = 1000.0, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.percentile = percentile
        """The knee percentile of the sweep (steps.percentile)."""
        self.threshold_ms = threshold_ms
        """The SLO line: a level whose percentile reaches it is over (steps.threshold_ms)."""

    def render(self) -> Text:
        snapshot = self.snapshot
        steps = snapshot.steps if snapshot is not None else ()
        label = f"p{self.percentile:g}"
        if not steps:
            level = snapshot.step_level if snapshot is not None else None
            running = f"sweep: first level{'' if level is None else f' ({level:g})'} running ..."
            return Text(running, style=self.look("muted"))
        points = [(s.rps, s.percentiles_ms.get(self.percentile), s.level, s.error_rate) for s in steps]
        top = max([self.threshold_ms * 1.2, *(p for _, p, _, _ in points if p is not None)])
        right = max(r for r, _, _, _ in points) * 1.1 or 1.0
        width = max(20, self.content_size.width - 10)
        grid = [[" "] * width for _ in range(HEIGHT)]
        slo_row = HEIGHT - 1 - int(self.threshold_ms / top * (HEIGHT - 1))
        for x in range(width):
            grid[slo_row][x] = "┄"
        for rps, latency, _, _ in points:
            if latency is None:
                continue
            x = min(width - 1, int(rps / right * (width - 1)))
            y = HEIGHT - 1 - min(HEIGHT - 1, int(latency / top * (HEIGHT - 1)))
            grid[y][x] = "●" if latency < self.threshold_ms else "✕"
        text = Text(no_wrap=True, overflow="crop")
        for row_index, row in enumerate(grid):
            axis = ms(top * (HEIGHT - 1 - row_index) / (HEIGHT - 1)) if row_index in (0, slo_row) else ""
            text.append(f"{axis:>8}│", style=self.look("muted"))
            text.append("".join(row) + "\n", style=self.look("warn" if row_index == slo_row else "bar"))
        text.append(" " * 8 + "└" + "─" * width + f" ok/s (to {right:,.0f})\n", style=self.look("muted"))
        for rps, latency, level, errors in points:
            text.append(f"  level {level:g}: {rps:,.1f} ok/s, {label} {ms(latency)}, errors {errors:.1%}\n")
        return text

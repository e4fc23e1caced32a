"""The report's percentile table: measured, corrected (open mode), in the model, outside it and failed,
side by side with each column's request count."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from moetui.report.model import ladder_values, latency_ladders, model_time_label
from moetui.tui.widgets.base import ms
from moetui.tui.widgets.report_base import LADDER, ReportPart

#: (report key, column heading) of the latency blocks, in column order; a column shows when its block exists.
COLUMNS = (
    ("latency_ms", "measured"),
    ("corrected_latency_ms", "corrected"),
    ("model_latency_ms", "in model"),
    ("outside_model_latency_ms", "outside"),
    ("failed_latency_ms", "failed"),
)


class LatencyTable(ReportPart):
    DEFAULT_CSS = """
    LatencyTable { text-wrap: nowrap; text-overflow: clip; }
    """

    def render(self) -> Table | Text:
        ladders = latency_ladders(self.report)
        headings = dict(COLUMNS, model_latency_ms=model_time_label(self.report, short=True))
        blocks = [(headings[key], ladder) for key, _ in COLUMNS if (ladder := ladders[key])]
        if not blocks:
            return Text("no responses to measure", style=self.look("muted"))
        table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
        table.add_column("", style="bold", width=5)
        for heading, _ in blocks:
            table.add_column(heading, justify="right", width=9)
        figures = [ladder_values(block) for _, block in blocks]
        for key, label in LADDER.items():
            if not any(key in values for values in figures):
                continue
            style = self.look("warn") if key in ("p99", "p99_9", "max") else None
            table.add_row(label, *(ms(values.get(key)) for values in figures), style=style)
        counts = [f"{count:,}" if (count := block.get("count")) is not None else "—" for _, block in blocks]
        table.add_row("n", *counts, style=self.look("muted"))
        return table

"""The percentile ladder p50 to p99.99 and max, with the coordinated-omission corrected column in open mode,
and bars of latency by percentile (the shape of the tail)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from moetui.engine.histogram import PERCENTILE_LABELS
from moetui.tui.widgets.base import SnapshotWidget, bar, ms

LABELS = PERCENTILE_LABELS


class PercentileLadder(SnapshotWidget):
    DEFAULT_CSS = """
    PercentileLadder { height: auto; }
    """

    def render(self) -> Table | Text:
        snapshot = self.snapshot
        if snapshot is None or not snapshot.percentiles_ms:
            return Text("no successful responses yet", style=self.look("muted"))
        corrected = snapshot.corrected_ms if snapshot.mode == "open" else {}
        table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
        table.add_column("", style="bold", width=6)
        table.add_column("measured", justify="right", width=9)
        if corrected:
            table.add_column("corrected", justify="right", width=9)
        table.add_column("", ratio=1)
        top = max([*snapshot.percentiles_ms.values(), *corrected.values()])
        width = max(5, self.content_size.width - (34 if corrected else 22))
        tail = self.look("bad")
        for percentile, label in LABELS.items():
            value = snapshot.percentiles_ms.get(percentile)
            shown = corrected.get(percentile, value) if corrected else value
            row = [label, ms(value)]
            if corrected:
                row.append(ms(corrected.get(percentile)))
            row.append(bar((shown or 0) / top, width))
            table.add_row(*row, style=tail if percentile >= 99.9 else None)
        return table

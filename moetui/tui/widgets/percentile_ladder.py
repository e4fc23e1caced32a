"""The percentile ladder p50 to p99.99 and max, with the coordinated-omission corrected column in open mode,
and bars of latency by percentile (the shape of the tail); for a streaming run, the same ladder of time to
first token, inter-token gaps and time per output token side by side (`StreamLadder`)."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text

from moetui.engine.histogram import PERCENTILE_LABELS
from moetui.engine.snapshot import EngineSnapshot
from moetui.tui.widgets.base import SnapshotWidget, bar, ms

LABELS = PERCENTILE_LABELS
#: A column of the ladder: its heading, and its values (percentile -> ms) in a snapshot.
Column = tuple[str, Callable[[EngineSnapshot], dict[float, float]]]


def _measured(snapshot: EngineSnapshot) -> dict[float, float]:
    return snapshot.percentiles_ms


def _corrected(snapshot: EngineSnapshot) -> dict[float, float]:
    return snapshot.corrected_ms if snapshot.mode == "open" else {}


class PercentileLadder(SnapshotWidget):
    """Columns of percentiles (the first must have values for anything to show); bars of the last column
    with values when `bars`."""

    DEFAULT_CSS = """
    PercentileLadder { height: auto; }
    """

    #: End to end latency of successful responses, and the corrected one in open mode.
    COLUMNS: tuple[Column, ...] = (("measured", _measured), ("corrected", _corrected))
    #: Whether rows end in a bar.
    BARS = True
    EMPTY = "no successful responses yet"

    def render(self) -> Table | Text:
        snapshot = self.snapshot
        first = self.COLUMNS[0][1](snapshot) if snapshot is not None else {}
        if snapshot is None or not first:
            return Text(self.EMPTY, style=self.look("muted"))
        columns = [(heading, values) for heading, get in self.COLUMNS if (values := get(snapshot))]
        # the columns that fit (a label of 6, each value 9 wide, or 7 without bars, and 2 between); the first
        # always shows (80 columns: TTFT, ITL and TPOT; 120: end to end too)
        value_width = 9 if self.BARS else 7
        room = self.content_size.width - (15 if self.BARS else 7)
        columns = columns[: max(1, room // (value_width + 2))]
        table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
        table.add_column("", style="bold", width=6)
        for heading, _ in columns:
            table.add_column(heading, justify="right", width=value_width)
        if self.BARS:
            table.add_column("", ratio=1)
        shown = columns[-1][1]
        top = max(value for _, values in columns for value in values.values()) or 1.0
        width = max(5, self.content_size.width - 10 - 12 * len(columns))
        tail = self.look("bad")
        for percentile, label in LABELS.items():
            row = [label, *(ms(values.get(percentile)) for _, values in columns)]
            if self.BARS:
                row.append(bar((shown.get(percentile) or 0) / top, width))
            table.add_row(*row, style=tail if percentile >= 99.9 else None)
        return table


class StreamLadder(PercentileLadder):
    """A streaming run's token timing: time to first token, inter-token gaps, time per output token, and
    end to end when the panel is wide enough (120 columns: yes; 80: no)."""

    COLUMNS: tuple[Column, ...] = (
        ("TTFT", lambda s: s.streaming.ttft_ms if s.streaming else {}),
        ("ITL", lambda s: s.streaming.itl_ms if s.streaming else {}),
        ("TPOT", lambda s: s.streaming.tpot_ms if s.streaming else {}),
        ("e2e", _measured),
    )
    BARS = False
    EMPTY = "no stream finished yet"

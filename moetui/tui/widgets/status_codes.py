"""Responses by status code with Azure's meaning, errors by kind, and the generator's health."""

from __future__ import annotations

from rich.text import Text

from moetui.engine.failures import ERROR_MEANINGS
from moetui.report.statuses import AZURE_STATUS_MEANINGS
from moetui.tui.widgets.base import SnapshotWidget, ms


class StatusCodes(SnapshotWidget):
    DEFAULT_CSS = """
    StatusCodes { height: auto; }
    """

    def render(self) -> Text:
        snapshot = self.snapshot
        text = Text()
        if snapshot is None:
            return Text("no responses yet", style="dim")
        for code, count in sorted(snapshot.statuses.items()):
            style = "green" if 200 <= code < 300 else "red"
            text.append(f"{code} ", style=f"bold {style}")
            text.append(f"x{count:<8,}", style=style)
            text.append(f"{AZURE_STATUS_MEANINGS.get(code, '')}\n", style="dim")
        for kind, count in sorted(snapshot.errors.items()):
            text.append(f"{kind} ", style="bold red")
            text.append(f"x{count:<8,}", style="red")
            text.append(f"{ERROR_MEANINGS.get(kind, '')}\n", style="dim")
        if snapshot.late:
            text.append(f"late x{snapshot.late:,}: held back by the clients cap\n", style="yellow")
        health = snapshot.health
        state = Text("generator ok", style="green") if health.valid else Text("INVALID MEASUREMENT", style="bold red")
        text.append(state)
        lag, drift = ms(health.loop_lag_p99_ms), ms(health.drift_p99_ms)
        figures = f"lag p99 {lag}  drift p99 {drift}  CPU {health.cpu_share:.0%}"
        # on one line when it fits, else on a line of its own (not broken mid-phrase at 80 columns)
        fits = len(state) + 2 + len(figures) <= self.content_size.width
        text.append(("  " if fits else "\n  ") + figures, style="dim")
        for reason in health.reasons:
            text.append(f"\n  {reason}", style="red")
        return text

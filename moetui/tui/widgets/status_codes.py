"""Responses by status code with Azure's meaning, errors by kind, and the generator's health."""

from __future__ import annotations

from rich.text import Text

from moetui.engine.failures import ERROR_MEANINGS
from moetui.report.statuses import AZURE_STATUS_MEANINGS
from moetui.tui.widgets.base import BOLD, SnapshotWidget, ms


class StatusCodes(SnapshotWidget):
    DEFAULT_CSS = """
    StatusCodes { height: auto; }
    """

    def render(self) -> Text:
        snapshot = self.snapshot
        text = Text()
        muted, bad = self.look("muted"), self.look("bad")
        if snapshot is None:
            return Text("no responses yet", style=muted)
        for code, count in sorted(snapshot.statuses.items()):
            style = self.look("ok") if 200 <= code < 300 else bad
            text.append(f"{code} ", style=style + BOLD)
            text.append(f"x{count:<8,}", style=style)
            text.append(f"{AZURE_STATUS_MEANINGS.get(code, '')}\n", style=muted)
        for kind, count in sorted(snapshot.errors.items()):
            text.append(f"{kind} ", style=bad + BOLD)
            text.append(f"x{count:<8,}", style=bad)
            text.append(f"{ERROR_MEANINGS.get(kind, '')}\n", style=muted)
        if snapshot.late:
            text.append(f"late x{snapshot.late:,}: held back by the clients cap\n", style=self.look("warn"))
        health = snapshot.health
        if health.valid:
            state = Text("generator ok", style=self.look("ok"))
        else:
            state = Text("INVALID MEASUREMENT", style=bad + BOLD)
        text.append(state)
        lag, drift = ms(health.loop_lag_p99_ms), ms(health.drift_p99_ms)
        figures = f"lag p99 {lag}  drift p99 {drift}  CPU {health.cpu_share:.0%}"
        # on one line when it fits, else on a line of its own (not broken mid-phrase at 80 columns)
        fits = len(state) + 2 + len(figures) <= self.content_size.width
        text.append(("  " if fits else "\n  ") + figures, style=muted)
        for reason in health.reasons:
            text.append(f"\n  {reason}", style=bad)
        return text

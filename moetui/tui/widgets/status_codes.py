"""The generator's health first (an invalid measurement must not be cropped off a short panel), then
responses by status code with Azure's meaning and errors by kind, a line each, cut at the panel's edge."""

from __future__ import annotations

from rich.text import Text

from moetui.engine.failures import ERROR_MEANINGS
from moetui.report.statuses import AZURE_STATUS_MEANINGS
from moetui.tui.widgets.base import BOLD, SnapshotWidget, ms


class StatusCodes(SnapshotWidget):
    DEFAULT_CSS = """
    StatusCodes { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def render(self) -> Text:
        snapshot = self.snapshot
        text = Text()
        muted, bad = self.look("muted"), self.look("bad")
        if snapshot is None:
            return Text("no responses yet", style=muted)
        health = snapshot.health
        if health.valid:
            state = Text("generator ok", style=self.look("ok"))
        else:
            state = Text("INVALID MEASUREMENT", style=bad + BOLD)
        text.append(state)
        lag, drift = ms(health.loop_lag_p99_ms), ms(health.drift_p99_ms)
        figures = f"lag p99 {lag}  drift p99 {drift}  CPU {health.cpu_share:.0%}"
        text.append("  " + figures, style=muted)  # one line, cut at a narrow panel's edge: the rows are few
        for reason in health.reasons:
            text.append(f"\n  {reason}", style=bad)
        text.append("\n")
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
        text.rstrip()
        return text

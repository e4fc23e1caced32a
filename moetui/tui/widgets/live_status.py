"""The live screen's top line: mode, phase, elapsed and remaining time, level and counts (start-up progress
before the first snapshot)."""

from __future__ import annotations

from textual.reactive import reactive

from moetui.engine.snapshot import EngineSnapshot
from moetui.tui.widgets.base import SnapshotWidget


def status_line(snapshot: EngineSnapshot | None, progress: str) -> str:
    """Phase, elapsed and remaining time, and counts; `progress` until the first snapshot."""
    if snapshot is None:
        return progress
    elapsed = snapshot.taken_at_s
    line = f"{snapshot.mode} · {snapshot.phase} · {elapsed:.1f} s"
    if snapshot.planned_s:
        line += f" of {snapshot.planned_s:g} s, {max(0.0, snapshot.planned_s - elapsed):.0f} s left"
    if snapshot.step_level is not None:
        line += f" · level {snapshot.step_level:g}"
    return line + f" · {snapshot.sent:,} sent · {snapshot.completed:,} done"


class LiveStatus(SnapshotWidget):
    DEFAULT_CSS = """
    LiveStatus { height: auto; }
    """

    progress: reactive[str] = reactive("starting ...")
    """The last line of start-up progress (bound to the live screen's)."""

    def render(self) -> str:
        return status_line(self.snapshot, self.progress)

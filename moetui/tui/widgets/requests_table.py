"""The requests in flight (oldest first), then the latest finished: id, sent at, elapsed, status (with
Azure's meaning when it failed)."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import DataTable

from moetui.engine.snapshot import EngineSnapshot
from moetui.report.statuses import AZURE_STATUS_MEANINGS

#: Rows shown: the newest requests first.
ROWS = 12


class RequestsTable(DataTable[str]):
    DEFAULT_CSS = """
    RequestsTable { height: 1fr; min-height: 4; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.add_column("id", width=7)
        self.add_column("sent at", width=10)
        self.add_column("elapsed", width=12)
        self.add_column("status", width=44)

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """The engine's state to list (bound to the live screen's); None before the first."""

    def watch_snapshot(self, snapshot: EngineSnapshot | None) -> None:
        """Replace the rows with the snapshot's newest requests (rows only: no widget is mounted)."""
        if snapshot is None:
            return
        self.clear()
        now = snapshot.taken_at_s
        for request_id, age in snapshot.oldest_in_flight[:ROWS]:
            self.add_row(str(request_id), f"{now - age:8.3f} s", f"{age * 1000:9.1f} ms", "in flight")
        room = ROWS - min(ROWS, len(snapshot.oldest_in_flight))
        for record in reversed(snapshot.recent[-room:] if room else ()):
            if record.status is None:
                status: str = record.error or "error"
            elif record.status >= 400:
                status = f"{record.status} {AZURE_STATUS_MEANINGS.get(record.status, '')}".strip()
            else:
                status = str(record.status)
            self.add_row(str(record.id), f"{record.sent_at_s:8.3f} s", f"{record.elapsed_s * 1000:9.1f} ms", status)

"""The deployment's logs in a scrollable view over the screen (Azure's get_logs, or the local server's log)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Log


class LogsDialog(ModalScreen[None]):
    """Read-only; escape closes it."""

    DEFAULT_CSS = """
    LogsDialog { align: center middle; }
    LogsDialog > Vertical { width: 95%; height: 90%; border: thick $primary; background: $surface; }
    LogsDialog Label { text-style: bold; color: $secondary; padding: 0 1; }
    LogsDialog Log { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.title_text}  (escape closes)")
            yield Log(highlight=False, auto_scroll=True)

    def on_mount(self) -> None:
        log = self.query_one(Log)
        log.write(self.text)
        log.focus()
        # The newest lines matter most; the size is only known after the first layout.
        self.call_after_refresh(log.scroll_end, animate=False)

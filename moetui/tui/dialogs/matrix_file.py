"""Asks for a matrix file to open on the matrix screen; a file with problems is answered in place, with
every problem named, and nothing starts."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from moetui.errors import MoetuiError
from moetui.tui.state import MatrixOpen


class MatrixFileDialog(ModalScreen[MatrixOpen | None]):
    """Dismissed with the matrix read and checked, or None (escape)."""

    DEFAULT_CSS = """
    MatrixFileDialog { align: center middle; }
    MatrixFileDialog > Vertical {
        width: 72; height: auto; max-height: 90%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    MatrixFileDialog Label { width: 100%; margin-bottom: 1; }
    MatrixFileDialog #matrix-file-error { color: $text-error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, base_dir: Path, value: str = "") -> None:
        super().__init__()
        self.base_dir = base_dir
        """Where a relative path starts (the folder moetui was started in)."""
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                "A matrix file: a run configuration with a [matrix] table naming the settings to compare "
                "(examples/matrix.toml). Enter opens it; escape goes back."
            )
            yield Input(self.value, placeholder="examples/matrix.toml", id="matrix-file")
            yield Static("", id="matrix-file-error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        path = path if path.is_absolute() else self.base_dir / path
        try:
            matrix = MatrixOpen.read(path)
        except MoetuiError as exc:
            self.query_one("#matrix-file-error", Static).update(exc.message)
            return
        self.dismiss(matrix)

    def action_cancel(self) -> None:
        self.dismiss(None)

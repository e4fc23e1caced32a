"""The CLI's face of a matrix (`moetui profile`): a MatrixListener printing what it hears, progress to
`err`, the answer (table, chart, recommendation), the report's path and the exit line to `out`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from moetui.errors import ExitStatus
from moetui.matrix.run import MatrixListener, format_answer
from moetui.redact import printable


class MatrixPrinter(MatrixListener):
    """Print a matrix's events as lines; the app's matrix screen hears the same events (moetui.matrix.process)."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def said(self, line: str) -> None:
        self._write(self.err, line)

    def answered(self, report: dict[str, Any]) -> None:
        self._write(self.out, printable(format_answer(report)))  # cell names and notes come from files

    def report_written(self, path: Path) -> None:
        self._write(self.out, f"report: {path}")

    def ended(self, status: ExitStatus) -> None:
        if status == ExitStatus.INTERRUPTED:
            return  # no answer came: the progress lines said why
        self._write(self.out, status.line)

    @staticmethod
    def _write(stream: TextIO, line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

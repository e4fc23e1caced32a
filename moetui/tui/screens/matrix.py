"""Matrix screen: deployments compared as the cells of a matrix (moetui.matrix), each measured under the same
load through the session, one after the other in a thread of its own (the engine never shares the UI's
loop); the table fills cell by cell, the current cell's progress shows above it, and the answer (the
recommendation and the cost-latency chart) ends it."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static
from textual.worker import Worker, WorkerState

from moetui.config.schema import Config
from moetui.deployments.base import DeploymentInfo, EndpointCredentials
from moetui.errors import MoetuiError
from moetui.matrix.axes import Cell
from moetui.matrix.config import MatrixSpec
from moetui.tui.app import MoetuiApp
from moetui.tui.state import TUI_KEY_ENV

#: The table's columns, as the matrix's text table names them (moetui.matrix.recommend.format_table).
COLUMNS = ("cell", "settings", "ok/s", "p50 ms", "p99 ms", "errors", "SLO")
#: How often the current cell's elapsed time is redrawn.
TICK_S = 0.5


@dataclass(frozen=True)
class MatrixCell:
    """A deployment to compare: the matrix cell, its checked configuration, and its size for the price."""

    cell: Cell
    config: Config
    instance_type: str
    instance_count: int


def compare_cells(
    deployments: Sequence[DeploymentInfo], credentials: Sequence[EndpointCredentials], load: dict[str, Any]
) -> list[MatrixCell]:
    """Each deployment as a cell (`deployments = [...]`) under `load`, aimed at its scoring URI; its key goes
    into an environment variable of its own (TUI_KEY_ENV + _CELLn), never into a file or the report.

    Raises:
        ConfigError: A cell's configuration is not valid.
    """
    from moetui.config.load import config_from_dict

    cells = []
    for index, (info, found) in enumerate(zip(deployments, credentials, strict=True)):
        key_env = f"{TUI_KEY_ENV}_CELL{index}"
        os.environ[key_env] = found.key
        url: dict[str, Any] = {"url": found.scoring_uri, "key_env": key_env, "max_concurrency": info.capacity}
        if found.deployment:
            url["deployment"] = found.deployment
        name = f"{info.endpoint}/{info.name}"
        config = config_from_dict({"target": {"url": url}, "load": dict(load)}, source=f"matrix cell {name}")
        cell = Cell(name=name, settings={}, deployment=info.name)
        cells.append(MatrixCell(cell, config, info.instance_type or "unknown", info.instance_count))
    return cells


class _Lines(io.StringIO):
    """A text stream handing each whole line to `say` (the matrix's Progress writes to a stream)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._part = ""

    def write(self, text: str) -> int:
        *lines, self._part = (self._part + text).split("\n")
        for line in lines:
            if line.strip():
                self._say(line.strip())
        return len(text)


class MatrixScreen(Screen[None]):
    """Measure the cells one after the other; escape stops the cell under way and the rest."""

    app = getters.app(MoetuiApp)
    BINDINGS = [
        Binding("s", "stop", "Stop"),
        Binding("escape", "back", "Back"),
    ]

    class CellStarted(Message):
        """Cell `index` (of `total`) began."""

        def __init__(self, index: int, total: int, cell: Cell) -> None:
            super().__init__()
            self.index, self.total, self.cell = index, total, cell

    class CellMeasured(Message):
        """Cell `index` was measured: its row of the table (moetui.matrix.recommend.cell_summary's figures)."""

        def __init__(self, index: int, row: dict[str, Any]) -> None:
            super().__init__()
            self.index, self.row = index, row

    class Said(Message):
        """A progress line of the cell under way (a probe, the run's progress)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class Answered(Message):
        """Every cell was measured: the matrix's report (table, recommendation, chart)."""

        def __init__(self, report: dict[str, Any]) -> None:
            super().__init__()
            self.report = report

    def __init__(
        self,
        cells: Sequence[MatrixCell],
        load: dict[str, Any],
        state_path: Path | None = None,
        *,
        start: bool = True,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.measure_on_mount = start
        """Measure on mount (tests of the pictures feed the messages themselves)."""
        self.now = now
        """The clock elapsed times are read from (tests freeze it)."""
        self.cells = list(cells)
        self.load = load
        """The fixed load every cell is measured under ([load] as TOML holds it)."""
        self.spec = MatrixSpec(
            path=Path("deployments compared in the app"),
            base={"load": load},
            cells=tuple(c.cell for c in self.cells),
            search="fixed",
        )
        self.state_path = state_path
        """Where finished cells are kept while the matrix runs (the runs directory when None)."""
        self.report: dict[str, Any] | None = None
        """The matrix's report once every cell is measured."""
        self.current = 0
        """The cell under way (0-based)."""
        self.stopping = False
        self.failure: str | None = None
        """Why the matrix stopped early (a cell's error), shown in place of the progress."""
        self._started = now()
        self._cell_since = now()
        self._line = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runs: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="matrix-body"):
            yield Label(f"Comparing {len(self.cells)} deployments as matrix cells", classes="title")
            yield Static(self._load_text(), id="matrix-load")
            yield Static("", id="matrix-progress")
            table: DataTable[str] = DataTable(id="matrix-table", cursor_type="row", zebra_stripes=True)
            table.add_columns(*COLUMNS)
            yield table
            yield Static("", id="matrix-answer")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#matrix-table", DataTable)
        for entry in self.cells:
            table.add_row(entry.cell.name, entry.cell.describe(), "waiting", "", "", "", "")
        self.set_interval(TICK_S, self._draw_progress)
        if self.measure_on_mount:
            self._measure()

    def _load_text(self) -> str:
        return "Load, the same for every cell: " + ", ".join(f"{key} {value}" for key, value in self.load.items())

    # -- the worker ----------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="matrix", description="measure the matrix")
    def _measure(self) -> None:
        asyncio.run(self._measure_all())

    async def _measure_all(self) -> None:
        from moetui.matrix.prices import cost_per_hour, find_prices
        from moetui.matrix.recommend import cell_summary
        from moetui.matrix.run import Progress, matrix_report, measure_cell
        from moetui.matrix.state import MatrixState
        from moetui.paths import in_runs_dir

        self._loop = asyncio.get_running_loop()
        spec = self.spec
        kinds = [(c.instance_type, c.instance_count) for c in self.cells]
        # No region: prices only from the cache or [prices]; the app looks nothing up on its own.
        prices = find_prices([k[0] for k in kinds], spec.prices, "the app", None)
        state = MatrixState(self.state_path or in_runs_dir(Path("moetui-compare.state.json")), spec.fingerprint)

        def say(line: str) -> None:
            self.post_message(self.Said(line))  # post_message is thread-safe

        progress = Progress(_Lines(say), len(self.cells), 0.0)
        folder = self.app.base_dir
        for index, entry in enumerate(self.cells):
            if self.stopping:
                return
            self.post_message(self.CellStarted(index, len(self.cells), entry.cell))
            measurement = await measure_cell(spec, entry.cell, entry.config, folder, progress, self._runs)
            if self.stopping:
                return
            measurement["round"] = 1
            state.add(state.key(0, entry.cell.name), measurement)
            instance_type, count = kinds[index]
            row = {
                "name": entry.cell.name,
                "describe": entry.cell.describe(),
                "instance_count": count,
                "cost_per_hour": cost_per_hour(prices[instance_type], count),
                "measurements": [measurement],
            }
            self.post_message(self.CellMeasured(index, cell_summary(row, spec.search)))
        report = matrix_report(spec, kinds, prices, state)
        state.remove()
        self.post_message(self.Answered(report))

    def action_stop(self) -> None:
        """Stop the cell under way; the cells after it are not measured."""
        if self.stopping or self.report is not None:
            return
        self.stopping = True
        loop = self._loop
        if loop is not None and self._runs:
            run = self._runs[-1]
            loop.call_soon_threadsafe(run.stop)  # the Run lives on the worker's loop
        self.query_one("#matrix-progress", Static).update("Stopping: the cell under way ends early.")

    def action_back(self) -> None:
        self.action_stop()
        self.app.pop_screen()

    # -- showing -------------------------------------------------------------------------------------

    @on(CellStarted)
    def _cell_started(self, message: CellStarted) -> None:
        self.current, self._cell_since, self._line = message.index, self.now(), ""
        table = self.query_one("#matrix-table", DataTable)
        table.update_cell_at(Coordinate(message.index, 2), "measuring", update_width=True)
        table.move_cursor(row=message.index)
        self._draw_progress()

    @on(Said)
    def _said(self, message: Said) -> None:
        self._line = message.line
        self._draw_progress()

    @on(CellMeasured)
    def _cell_measured(self, message: CellMeasured) -> None:
        row = message.row
        table = self.query_one("#matrix-table", DataTable)
        figures = (
            f"{row['rate_rps']:.2f}",
            _ms(row.get("p50_ms")),
            _ms(row.get("p99_ms")),
            f"{row['error_rate']:.2%}" if row.get("error_rate") is not None else "-",
            "met" if row["meets_slo"] else "missed",
        )
        for column, value in enumerate(figures, start=2):
            table.update_cell_at(Coordinate(message.index, column), value, update_width=True)

    @on(Answered)
    def _answered(self, message: Answered) -> None:
        from moetui.matrix.recommend import format_chart, format_recommendation

        self.report = message.report
        elapsed = self.now() - self._started
        self.query_one("#matrix-progress", Static).update(
            f"{len(self.cells)} of {len(self.cells)} cells measured in {elapsed:.0f} s."
        )
        answer = format_recommendation(message.report["recommendation"]) + "\n\n"
        answer += format_chart(message.report["cells"])
        self.query_one("#matrix-answer", Static).update(answer)

    def _draw_progress(self) -> None:
        if self.report is not None or self.stopping or self.failure is not None:
            return
        entry = self.cells[self.current]
        text = (
            f"[b]cell {self.current + 1} of {len(self.cells)}[/b]: {entry.cell.name} · {entry.cell.describe()} · "
            f"{self.now() - self._cell_since:.0f} s"
        )
        if self._line:
            text += f"\n{self._line}"
        self.query_one("#matrix-progress", Static).update(text)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """A cell that failed ends the matrix, with its message (never a traceback)."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        message = error.message if isinstance(error, MoetuiError) else f"{type(error).__name__}: {error}"
        title = error.title if isinstance(error, MoetuiError) else "Matrix"
        self.failure = message
        self.query_one("#matrix-progress", Static).update(f"The matrix stopped: {message}")
        self.notify(message.splitlines()[0], title=title, severity="error", timeout=8)

    def on_unmount(self) -> None:
        for entry in self.cells:
            key_env = entry.config.target.url.key_env if entry.config.target.url else None
            if key_env:
                os.environ.pop(key_env, None)  # each cell's key lived in the environment for its run only


def _ms(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"

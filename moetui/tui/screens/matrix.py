"""Matrix screen: a matrix measured cell by cell in a child process (moetui.matrix.process), as the live
screen's run is: the table fills as results arrive, the current cell's run shows in the live screen's
widgets (status, latency ladder, throughput), the cost-latency chart grows with each cell, and the
recommendation ends it.

Two ways in: a matrix file (`moetui profile FILE --live`, or `p` on the target screen), whose axes it
runs as `moetui profile` does, state file and report included; or deployments selected on the deployment
screen (space) and compared (m) as cells under the run setup's load.

The widgets are fed as the live screen feeds them (memray's pattern): `pull` sets the `snapshot`
reactive inside `app.batch_update()` and each widget is data-bound to it."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import getters
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.coordinate import Coordinate
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from moetui.deployments.base import DeploymentInfo, EndpointCredentials
from moetui.engine.snapshot import EngineSnapshot
from moetui.matrix.axes import Cell
from moetui.matrix.cells import PreparedCell
from moetui.matrix.config import MatrixSpec
from moetui.matrix.process import CellMeasured, CellStarted, MatrixProcess, Planned, Said
from moetui.session.child import AZURE_CLEANUP_GRACE_S, STOP_GRACE_S
from moetui.session.process import Finished
from moetui.tui.host import MoetuiHost
from moetui.tui.state import TUI_KEY_ENV
from moetui.tui.widgets.live_status import LiveStatus
from moetui.tui.widgets.percentile_ladder import PercentileLadder
from moetui.tui.widgets.rates import Rates

#: The table's columns, as the matrix's text table names them (moetui.matrix.recommend.format_table).
COLUMNS = ("cell", "settings", "ok/s", "p50 ms", "p99 ms", "errors", "$/h", "$/1k inf", "SLO")
#: Progress lines of the cell under way shown under it (a goodput search's last probes).
LINES_SHOWN = 3
#: Screen refreshes per second (as the live screen's: the matrix runs in another process).
REFRESH_HZ = 5.0


def compare_cells(
    deployments: Sequence[DeploymentInfo], credentials: Sequence[EndpointCredentials], load: dict[str, Any]
) -> tuple[MatrixSpec, list[PreparedCell]]:
    """Deployments as the cells of a matrix (`deployments = [...]`) under `load`, each aimed at its scoring
    URI; its key goes into an environment variable of its own (TUI_KEY_ENV + _CELLn), which the matrix's
    child process inherits, never into a file or the report. The same deployments under the same load are
    the same matrix: a stopped comparison resumes.

    Raises:
        ConfigError: A cell's configuration is not valid.
    """
    from moetui.config.load import config_from_dict
    from moetui.config.timing import request_timeout_s

    cells = []
    for index, (info, found) in enumerate(zip(deployments, credentials, strict=True)):
        key_env = f"{TUI_KEY_ENV}_CELL{index}"
        os.environ[key_env] = found.key
        url: dict[str, Any] = {"url": found.scoring_uri, "key_env": key_env, "max_concurrency": info.capacity}
        if found.deployment:
            url["deployment"] = found.deployment
        name = f"{info.endpoint}/{info.name}"
        # A URL target knows no request_timeout_ms: the deployment's gives the timeout, by the one rule.
        cell_load = {"timeout": request_timeout_s(None, info.request_timeout_ms or None), **load}
        config = config_from_dict({"target": {"url": url}, "load": cell_load}, source=f"matrix cell {name}")
        cell = Cell(name=name, settings={}, deployment=info.name)
        cells.append(PreparedCell(cell, config, info.instance_type or "unknown", info.instance_count))
    fingerprint = hashlib.sha256(
        json.dumps(
            [[c.cell.name, found.scoring_uri] for c, found in zip(cells, credentials, strict=True)] + [load]
        ).encode()
    ).hexdigest()[:16]
    spec = MatrixSpec(
        path=Path("deployments compared in the app"),
        base={"load": dict(load)},
        cells=tuple(c.cell for c in cells),
        search="fixed",
        fingerprint=fingerprint,
    )
    return spec, cells


class MatrixScreen(Screen[None]):
    """Measure the cells one after the other in a child process; `s` stops (the state file keeps the
    finished cells); escape goes back once the matrix has ended."""

    app = getters.app(MoetuiHost)
    BINDINGS = [
        Binding("s", "stop", "Stop"),
        Binding("escape", "back", "Back"),
    ]

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """The current cell's newest snapshot (None between cells), bound to the live widgets."""
    progress: reactive[str] = reactive("starting ...")
    """The current cell's last progress line, shown by the status line until its run's first snapshot."""

    def __init__(
        self,
        spec: MatrixSpec,
        *,
        state_path: Path,
        prepared: Sequence[PreparedCell] | None = None,
        overrides: Sequence[str] = (),
        report_path: Path | None = None,
        fresh: bool = False,
        title: str | None = None,
        start: bool = True,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.prepared = list(prepared) if prepared is not None else None
        self.overrides = list(overrides)
        self.report_path = report_path
        """Where the matrix's report is written when it ends."""
        self.state_path = state_path
        self.fresh = fresh
        self.heading = title or f"Matrix {spec.path}: {len(spec.cells)} cells"
        self.measure_on_mount = start
        """Start the child on mount (tests of the pictures feed the events themselves)."""
        self.now = now
        """The clock elapsed times are read from (tests freeze it)."""
        self.handle: MatrixProcess | None = None
        self.rows: dict[int, dict[str, Any]] = {}
        """Each measured cell's figures so far, by index."""
        self.report: dict[str, Any] | None = None
        """The matrix's report once every cell is measured."""
        self.finished: Finished | None = None
        """How the matrix ended (report, stopped, or failed)."""
        self.current: int | None = None
        """The cell under way (0-based); None before the first."""
        self.round_text = ""
        self.stopping = False
        self.quitting = False
        """A quit was confirmed: the app exits once the matrix has ended."""
        self._started = now()
        self._cell_since = now()
        self._left_s = 0.0
        """The estimate of what was left when the current cell began."""
        self._lines: list[str] = []
        """The cell under way's last progress lines."""

    @property
    def running(self) -> bool:
        """The matrix began (its child started, or a cell was heard of) and its end has not been shown."""
        return (self.handle is not None or self.current is not None) and self.finished is None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="matrix-body"):
            yield Label(self.heading, classes="title")
            yield Static(self._load_text(), id="matrix-load", markup=False)
            yield Static("", id="matrix-progress")
            table: DataTable[str] = DataTable(id="matrix-table", cursor_type="row", zebra_stripes=True)
            table.add_columns(*self._columns())
            yield table
            yield Static("", id="matrix-answer")
            yield LiveStatus(id="matrix-status").data_bind(MatrixScreen.snapshot, MatrixScreen.progress)
            with Horizontal(id="matrix-live"):
                yield PercentileLadder(id="matrix-ladder").data_bind(MatrixScreen.snapshot)
                yield Rates(id="matrix-rates").data_bind(MatrixScreen.snapshot)
            yield Static("", id="matrix-chart", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#matrix-ladder").border_title = "latency of successful responses (this cell)"
        self.query_one("#matrix-rates").border_title = "throughput and errors per second (this cell)"
        self.query_one("#matrix-chart").border_title = "cost per 1,000 inferences against p99"
        self.query_one("#matrix-answer").display = False  # until the end: no blank lines mid-run
        table = self.query_one("#matrix-table", DataTable)
        for cell in self.spec.cells:
            table.add_row(cell.name, cell.describe(), "waiting", *[""] * (len(COLUMNS) - 3))
        self._draw_chart()
        self.set_interval(1 / REFRESH_HZ, self.pull)
        if self.measure_on_mount:
            self.handle = MatrixProcess(
                self.spec,
                prepared=self.prepared,
                overrides=self.overrides,
                report_path=self.report_path,
                state_path=self.state_path,
                fresh=self.fresh,
            )
            self.handle.start()

    def _columns(self) -> tuple[str, ...]:
        return COLUMNS[:2] + (("goodput/s",) if self.spec.search == "goodput" else ("ok/s",)) + COLUMNS[3:]

    def _load_text(self) -> str:
        if self.spec.search == "goodput" and self.spec.slo is not None:
            g, slo = self.spec.goodput, self.spec.slo
            return (
                f"Goodput search per cell: the highest rate at which p99 <= {slo.p99_ms:g} ms and errors <= "
                f"{slo.error_rate:.0%} (probes of {g.probe_s:g} s, to {g.precision:.0%})"
            )
        load = self.spec.base.get("load", {})
        text = "Load, the same for every cell: " + ", ".join(f"{key} {value}" for key, value in load.items())
        if self.spec.rounds > 1:
            text += f"; {self.spec.rounds} rounds"
        return text

    # -- reading the child ---------------------------------------------------------------------------

    def pull(self) -> None:
        """Read the child's events and newest snapshot, in one batch; show its end once."""
        if self.handle is not None and self.finished is None:
            snapshot = self.handle.poll()
            with self.app.batch_update():
                for event in self.handle.take_events():
                    self.show(event)
                self.snapshot = snapshot
            if self.handle.finished is not None:
                self.finish(self.handle.finished)
        self._draw_progress()

    def show(self, event: object) -> None:
        """One event of the child (tests of the pictures call it with canned ones)."""
        if isinstance(event, Planned):
            self._planned(event)
        elif isinstance(event, CellStarted):
            self.current, self._cell_since, self._lines = event.index, self.now(), []
            self._left_s = event.left_s
            self.round_text = f" round {event.round_index + 1}/{event.rounds}" if event.rounds > 1 else ""
            self.progress = "starting ..."
            table = self.query_one("#matrix-table", DataTable)
            table.update_cell_at(Coordinate(event.index, 2), "measuring", update_width=True)
            table.move_cursor(row=event.index)
            self.refresh_bindings()  # Stop shows once a cell is under way
        elif isinstance(event, Said):
            self._lines = [*self._lines, event.line.strip()][-LINES_SHOWN:]
            self.progress = self._lines[-1]
        elif isinstance(event, CellMeasured):
            self._measured(event.index, event.row)
        self._draw_progress()  # at once, not at the next pull: the text follows the events it shows

    def _planned(self, event: Planned) -> None:
        if not event.asks:  # the table lists the cells: only the estimate and the prices are news
            lines = [line for line in event.text.splitlines() if line.startswith(("Estimate", "Prices"))]
            self.query_one("#matrix-load", Static).update("\n".join([self._load_text(), *lines]))
            return
        self.query_one("#matrix-load", Static).update(self._load_text() + "\n" + event.text)
        from moetui.tui.dialogs.confirm import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if self.handle is None:
                return
            if yes:
                self.handle.go()
            else:
                self.stopping = True
                self.handle.stop()

        question = "This matrix creates a deployment per cell (the plan is on the screen). Create them and go on?"
        self.app.push_screen(ConfirmDialog(question, confirm_label="Create"), answered)

    def _measured(self, index: int, row: dict[str, Any]) -> None:
        self.rows[index] = row
        table = self.query_one("#matrix-table", DataTable)
        spread = row.get("spread") or {}
        plus = f" ±{spread['relative'] / 2:.0%}" if spread.get("relative") else ""
        figures = (
            f"{row['rate_rps']:.2f}{plus}",
            _number(row.get("p50_ms"), 1),
            _number(row.get("p99_ms"), 1),
            f"{row['error_rate']:.2%}" if row.get("error_rate") is not None else "-",
            _number(row.get("cost_per_hour"), 3, "no price"),
            _number(row.get("cost_per_1000"), 4),
            ("met" if row["meets_slo"] else "missed") + self._rounds_left(row),
        )
        for column, value in enumerate(figures, start=2):
            table.update_cell_at(Coordinate(index, column), value, update_width=True)
        self._draw_chart()

    def _rounds_left(self, row: dict[str, Any]) -> str:
        """ " (1/2)" while a cell has rounds still to measure."""
        done = row.get("rounds_measured", self.spec.rounds)
        return f" ({done}/{self.spec.rounds})" if done < self.spec.rounds else ""

    def finish(self, finished: Finished) -> None:
        """The matrix ended: its answer, or why it stopped (the finished cells stay in the state file)."""
        from moetui.matrix.recommend import format_recommendation

        self.finished = finished
        self.snapshot = None
        self.query_one("#matrix-live").display = False
        self.query_one("#matrix-status").display = False
        answer = self.query_one("#matrix-answer", Static)
        answer.display = True
        if finished.matrix is not None:
            self.report = finished.matrix
            for index, row in enumerate(finished.matrix["cells"]):
                self._measured(index, {**row, "rounds_measured": self.spec.rounds})
            text = format_recommendation(finished.matrix["recommendation"])
            notes = [f"{c['name']}: {c['note']}." for c in finished.matrix["cells"] if c.get("note")]
            if notes:
                text += "\n" + "\n".join(notes)
            if self.report_path is not None:
                text += f"\nReport: {self.report_path}"
            answer.update(escape(text))
        else:
            if self.current is not None and self.current not in self.rows:  # the cell under way: not measured
                table = self.query_one("#matrix-table", DataTable)
                table.update_cell_at(Coordinate(self.current, 2), "stopped", update_width=True)
            kept = f"{len(self.rows)} cell(s) measured are kept in {self.state_path}"
            if finished.error:
                answer.update(f"[b]The matrix stopped:[/b] {escape(finished.error)}\n{escape(kept)}.")
                self.notify(finished.error.splitlines()[0], title=finished.error_title or "Matrix", severity="error")
            else:
                answer.update(escape(f"Stopped. {kept}; open the same matrix again to measure only the rest."))
        self._draw_chart()
        self._draw_progress()
        self.refresh_bindings()  # Stop leaves the footer
        if self.quitting:
            self.app.exit(finished.exit_status, return_code=finished.exit_status)

    # -- keys ----------------------------------------------------------------------------------------

    def action_stop(self) -> None:
        """Stop the cell under way; the finished cells are kept, the rest are not measured."""
        if not self.running or self.stopping:
            return
        self.stopping = True
        if self.handle is not None:
            self.handle.stop()
        self.refresh_bindings()
        how = "deleting the deployments it created, then " if self.handle is not None and self.handle.creates else ""
        self.notify(f"Stopping: the cell under way ends early; {how}the finished cells are kept.", title="Stop")

    def action_back(self) -> None:
        if self.running:
            self.notify("The matrix is still running: stop it with s first.", title="Matrix", severity="warning")
            return
        self.app.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stop is offered only while the matrix runs (the footer hides it after)."""
        if action == "stop":
            return self.running and not self.stopping
        return True

    def ask_to_quit(self) -> None:
        """Quit mid-matrix only when confirmed; then stop as `s` does, and leave once it has ended."""
        from moetui.tui.dialogs.confirm import ConfirmDialog

        question = "Quit now? The matrix stops; the finished cells stay in its state file for the next run."

        def answered(yes: bool | None) -> None:
            if yes and self.running:
                self.quitting = True
                self.action_stop()

        self.app.push_screen(ConfirmDialog(question, confirm_label="Stop and quit"), answered)

    def kill(self) -> None:
        if self.handle is not None:
            self.handle.kill(AZURE_CLEANUP_GRACE_S if self.handle.creates else STOP_GRACE_S)

    def on_unmount(self) -> None:
        if self.handle is not None and self.handle.finished is None:
            self.kill()
        for entry in self.prepared or ():
            key_env = entry.config.target.url.key_env if entry.config.target.url else None
            if key_env:
                os.environ.pop(key_env, None)  # each cell's key lived in the environment for the matrix only

    # -- drawing -------------------------------------------------------------------------------------

    def _draw_progress(self) -> None:
        widget = self.query_one("#matrix-progress", Static)
        total = len(self.spec.cells)
        elapsed = self.now() - self._started
        if self.finished is not None:
            measured = len(self.rows)
            widget.update(f"{measured} of {total} cells measured; {elapsed:.0f} s in all.")
            return
        if self.stopping:
            widget.update("Stopping: the cell under way ends early; the finished cells are kept.")
            return
        if self.current is None:
            widget.update(f"Starting: checking {total} cells and their prices ({elapsed:.0f} s).")
            return
        cell = self.spec.cells[self.current]
        on_cell = self.now() - self._cell_since
        text = (
            f"[b]cell {self.current + 1} of {total}{self.round_text}[/b]: {escape(cell.name)} · "
            f"{escape(cell.describe())} · "
            f"{on_cell:.0f} s; matrix {elapsed:.0f} s, about {max(0.0, self._left_s - on_cell):.0f} s left"
        )
        for line in self._lines:
            text += f"\n{escape(line)}"  # a line may hold brackets ([Errno 111]): text, not markup
        widget.update(text)

    def _draw_chart(self) -> None:
        from moetui.matrix.recommend import format_chart

        rows = [self.rows[i] for i in sorted(self.rows)]
        self.query_one("#matrix-chart", Static).update(format_chart(rows) if rows else "(no cell measured yet)")


def _number(value: float | None, places: int, missing: str = "-") -> str:
    return f"{value:.{places}f}" if value is not None else missing

"""Deployment screen: the deployments of the local endpoint or of an Azure workspace, through the
DeploymentService interface. Create one from scoring_app/, confirm its request settings, read its logs,
delete it; then on to its credentials."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static
from textual.worker import Worker, WorkerState

from moetui.deployments.base import DeploymentInfo, DeploymentRequest, DeploymentService
from moetui.errors import MoetuiError

COLUMNS = ("endpoint", "deployment", "state", "max conc.", "timeout ms", "WORKER_COUNT", "instances", "traffic")
#: How often the elapsed time of a long operation is redrawn.
PROGRESS_TICK_S = 0.5
#: The request settings a user types on the target screen, as the deployment screen names them.
SETTING_NAMES = {
    "worker_count": "WORKER_COUNT",
    "max_concurrent_requests_per_instance": "max_concurrent_requests_per_instance",
    "instance_count": "instance_count",
    "request_timeout_ms": "request_timeout_ms",
    "sleep_s": "SLEEP_SECONDS",
}


def setting_differences(typed: Mapping[str, Any], info: DeploymentInfo) -> list[str]:
    """Each typed setting the deployment does not have, e.g. "WORKER_COUNT 3, you typed 1"."""
    found = []
    for key, name in SETTING_NAMES.items():
        if key in typed and getattr(info, key) != typed[key]:
            have = getattr(info, key)
            found.append(f"{name} {'unset' if have is None else f'{have:g}'}, you typed {typed[key]:g}")
    return found


class DeploymentScreen(Screen[None]):
    """Deployments where the target lives; long operations run in workers with their elapsed time shown."""

    # The footer shows them in this order and an 80-column one cuts the last: the README's key first.
    BINDINGS = [
        Binding("ctrl+n", "next", "Use it", priority=True),
        Binding("c", "create", "Create"),
        Binding("l", "logs", "Logs"),
        Binding("d", "delete", "Delete"),
        Binding("r", "refresh", "Refresh"),
        Binding("space", "toggle_chosen", "Select"),
        Binding("m", "compare", "Compare"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(
        self,
        service: DeploymentService,
        request: DeploymentRequest | None = None,
        *,
        create_when_empty: bool = False,
        typed: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.request = request
        """What the create form starts from; the service's default when None."""
        self.create_when_empty = create_when_empty
        """Open the create form at once when there is nothing to choose from (the local endpoint's first visit)."""
        self.typed: dict[str, Any] = dict(typed or {})
        """The DeploymentRequest settings typed on the target screen (e.g. worker_count=1): a deployment that
        differs is named as such, and c creates one with them."""
        self.deployments: list[DeploymentInfo] = []
        self._busy_worker: Worker[None] | None = None
        self.busy: str | None = None
        """The long operation under way, e.g. "Creating moetui-k3f9x2qa"; None when idle."""
        self._busy_since = 0.0
        self._last_line = ""
        self.chosen: list[tuple[str, str]] = []
        """(endpoint, deployment) of the deployments space selected for a comparison, in selection order."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="deployment-body"):
            yield Label(f"Deployments: {self.service.title}", classes="title")
            table: DataTable[str] = DataTable(id="deployments", cursor_type="row", zebra_stripes=True)
            table.add_columns(*COLUMNS)
            yield table
            yield Static("", id="deployment-mismatch", classes="warning")
            with Horizontal(id="deployment-lower"):
                yield Static("", id="deployment-details")
                yield Static("", id="deployment-progress")
            yield Static("", id="deployment-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(PROGRESS_TICK_S, self._draw_progress)
        self.action_refresh()

    # -- showing -----------------------------------------------------------------------------------

    def _show(self, deployments: list[DeploymentInfo], select: DeploymentInfo | None = None) -> None:
        self.deployments = deployments
        table = self.query_one("#deployments", DataTable)
        table.clear()
        present = {(info.endpoint, info.name) for info in deployments}
        self.chosen = [key for key in self.chosen if key in present]
        for info in deployments:
            table.add_row(
                self._endpoint_cell(info),
                info.name,
                info.state,
                str(info.max_concurrent_requests_per_instance),
                str(info.request_timeout_ms),
                "-" if info.worker_count is None else str(info.worker_count),
                f"{info.instance_count}",
                f"{info.traffic_percent} %",
            )
        if select is not None:
            for row, info in enumerate(deployments):
                if (info.endpoint, info.name) == (select.endpoint, select.name):
                    table.move_cursor(row=row)
        if not deployments:
            self.query_one("#deployment-details", Static).update(
                "No deployments here yet: press c to create one from scoring_app/."
            )
        else:
            self._details()
        table.focus()

    def _endpoint_cell(self, info: DeploymentInfo) -> str:
        """The endpoint's name, marked when it is selected for a comparison."""
        return f"✓ {info.endpoint}" if (info.endpoint, info.name) in self.chosen else info.endpoint

    def action_toggle_chosen(self) -> None:
        """Select the deployment under the cursor for a comparison (m), or leave it out again."""
        info = self.selected()
        if info is None:
            return
        key = (info.endpoint, info.name)
        if key in self.chosen:
            self.chosen.remove(key)
        else:
            self.chosen.append(key)
        table = self.query_one("#deployments", DataTable)
        table.update_cell_at(Coordinate(table.cursor_row, 0), self._endpoint_cell(info), update_width=True)

    def action_compare(self) -> None:
        """Compare the selected deployments as the cells of a matrix, under the run setup's load."""
        if len(self.chosen) < 2:
            self.notify("Select two deployments or more with space first.", title="Compare", severity="warning")
            return
        if self._still_busy():
            return
        chosen = [info for key in self.chosen for info in self.deployments if (info.endpoint, info.name) == key]
        self._compare(chosen)

    @work(exclusive=True, group="deployment-reads", exit_on_error=False, description="compare deployments")
    async def _compare(self, chosen: list[DeploymentInfo]) -> None:
        from moetui.paths import in_runs_dir
        from moetui.tui.screens.matrix import MatrixScreen, compare_cells
        from moetui.tui.screens.run_setup import default_load

        credentials = [await self.service.credentials(info.endpoint, info.name) for info in chosen]
        spec, prepared = compare_cells(chosen, credentials, default_load())
        state = in_runs_dir(Path(f"moetui-compare-{spec.fingerprint}.state.json"))
        title = f"Comparing {len(prepared)} deployments as matrix cells"
        self.app.push_screen(MatrixScreen(spec, prepared=prepared, state_path=state, title=title))

    @on(DataTable.RowHighlighted)
    def _details(self) -> None:
        info = self.selected()
        if info is None:
            return
        rows = "\n".join(f"[b]{name}[/b]: {value}" for name, value in info.settings_rows())
        self.query_one("#deployment-details", Static).update(rows)
        differences = setting_differences(self.typed, info)
        mismatch = self.query_one("#deployment-mismatch", Static)
        mismatch.display = bool(differences)
        mismatch.update(
            f"Not the settings you typed: {'; '.join(differences)}. Press c to create one with them."
            if differences
            else ""
        )

    def selected(self) -> DeploymentInfo | None:
        """The deployment under the table's cursor."""
        row = self.query_one("#deployments", DataTable).cursor_row
        return self.deployments[row] if 0 <= row < len(self.deployments) else None

    def _error(self, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, MoetuiError) else f"{type(exc).__name__}: {exc}"
        title = exc.title if isinstance(exc, MoetuiError) else "Deployment"
        self.query_one("#deployment-error", Static).update(message)
        self.notify(message.splitlines()[0], title=title, severity="error", timeout=8)

    # -- long operations ---------------------------------------------------------------------------
    # Create, delete and list hold the busy state: a second one is refused with a message, never started
    # over the first (an exclusive worker group cancelled a create on any other key, and on Azure the
    # endpoint went on being created unseen). Reads (logs, credentials) run beside them. Failures and the
    # end of the busy state are handled once, in `_worker_changed`.

    def _still_busy(self) -> bool:
        """True, and says so, while a long operation is under way."""
        if self.busy is not None:
            self.notify(f"{self.busy} is still under way.", title="Busy", severity="warning")
        return self.busy is not None

    def _begin(self, what: str) -> bool:
        if self._still_busy():
            return False
        self.busy, self._busy_since, self._last_line = what, time.monotonic(), ""
        self.query_one("#deployment-error", Static).update("")
        self._draw_progress()
        return True

    def _hold(self, worker: Worker[None]) -> None:
        """`worker` carries the busy state begun just before it started."""
        self._busy_worker = worker

    def _progress(self, line: str) -> None:
        """A progress line from the service (which may call from another thread)."""
        self._last_line = line

    def _end(self, line: str = "") -> None:
        self.busy = None
        self._busy_worker = None
        self.query_one("#deployment-progress", Static).update(line)

    def _elapsed_s(self) -> float:
        """Seconds since the long operation under way began."""
        return time.monotonic() - self._busy_since

    def _draw_progress(self) -> None:
        if self.busy is None:
            return
        text = f"[b]{self.busy}[/b] ... {self._elapsed_s():.0f} s"
        if self._last_line:
            text += f"\n{self._last_line}"
        self.query_one("#deployment-progress", Static).update(text)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's failure is shown and a failed or cancelled operation ends the busy state."""
        worker = event.worker
        if event.state not in (WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker is self._busy_worker:
            verb = "failed" if event.state == WorkerState.ERROR else "was cancelled"
            self._end(f"{self.busy} {verb} after {self._elapsed_s():.0f} s.")
        if event.state == WorkerState.ERROR and worker.error is not None:
            self._error(worker.error)

    def action_refresh(self) -> None:
        """List the deployments again."""
        if self._begin("Listing deployments"):
            self._hold(self._list())

    @work(group="deployment-changes", exit_on_error=False, description="list deployments")
    async def _list(self) -> None:
        deployments = await self.service.list_deployments()
        self._end()
        self._show(deployments)
        if not deployments and self.create_when_empty:
            self.create_when_empty = False
            self.action_create()

    def action_create(self) -> None:
        from moetui.tui.dialogs.create_deployment import CreateDeploymentDialog

        if self._still_busy():
            return
        request = self.request or self._typed_request()
        self.app.push_screen(CreateDeploymentDialog(request, self.service.title), self._start_create)

    def _typed_request(self) -> DeploymentRequest:
        """A fresh name with the settings typed on the target screen."""
        return replace(self.service.default_request(), **self.typed)

    def _start_create(self, request: DeploymentRequest | None) -> None:
        if request is not None and self._begin(f"Creating {request.endpoint}/{request.deployment}"):
            self.request = None  # the next create gets a fresh random name
            self._hold(self._create(request))

    @work(group="deployment-changes", exit_on_error=False, description="create a deployment")
    async def _create(self, request: DeploymentRequest) -> None:
        info = await self.service.create(request, self._progress)
        deployments = await self.service.list_deployments()
        self._end(f"Created {info.endpoint}/{info.name} in {self._elapsed_s():.0f} s: check its settings.")
        self._show(deployments, select=info)
        self.notify(f"{info.endpoint}/{info.name} is {info.state}", title="Deployment created")

    @work(exclusive=True, group="deployment-reads", exit_on_error=False, description="read logs")
    async def action_logs(self) -> None:
        """The selected deployment's logs, in a dialog."""
        info = self.selected()
        if info is None:
            self.notify("Select a deployment first.", title="Logs", severity="warning")
            return
        text = await self.service.logs(info.endpoint, info.name)
        from moetui.tui.dialogs.logs import LogsDialog

        self.app.push_screen(LogsDialog(f"Logs of {info.endpoint}/{info.name}", text))

    def action_delete(self) -> None:
        from moetui.tui.dialogs.confirm import ConfirmDialog

        info = self.selected()
        if info is None:
            self.notify("Select a deployment first.", title="Delete", severity="warning")
            return
        if self._still_busy():
            return
        question = f"Delete the endpoint {info.endpoint} and all its deployments? This cannot be undone."

        def answered(yes: bool | None) -> None:
            if yes and self._begin(f"Deleting {info.endpoint}"):
                self._hold(self._delete(info))

        self.app.push_screen(ConfirmDialog(question), answered)

    @work(group="deployment-changes", exit_on_error=False, description="delete an endpoint")
    async def _delete(self, info: DeploymentInfo) -> None:
        await self.service.delete(info.endpoint, self._progress)
        deployments = await self.service.list_deployments()
        self._end(f"Deleted {info.endpoint} in {self._elapsed_s():.0f} s.")
        self._show(deployments)

    def action_next(self) -> None:
        """On to the selected deployment's credentials; asks first when it differs from the typed settings."""
        info = self.selected()
        if info is None:
            self.notify("Create or select a deployment first (c creates one).", title="Deployment", severity="warning")
            return
        if self._still_busy():
            return
        differences = setting_differences(self.typed, info)
        if not differences:
            self._open_credentials(info)
            return
        from moetui.tui.dialogs.confirm import ConfirmDialog

        question = (
            f"{info.endpoint}/{info.name} differs from the settings you typed: {'; '.join(differences)}. "
            "Use it anyway? (Cancel, then c, creates one with your settings.)"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._open_credentials(info)

        self.app.push_screen(ConfirmDialog(question, confirm_label="Use it"), answered)

    @work(exclusive=True, group="deployment-reads", exit_on_error=False, description="read credentials")
    async def _open_credentials(self, info: DeploymentInfo) -> None:
        credentials = await self.service.credentials(info.endpoint, info.name)
        from moetui.tui.screens.credentials import CredentialsScreen

        self.app.push_screen(CredentialsScreen(self.service, info, credentials))

    def action_back(self) -> None:
        self.app.pop_screen()

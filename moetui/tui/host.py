"""MoetuiHost: the app as the screens know it, what they read and call on it, and nothing that pushes a screen.

Screens, dialogs and widgets type `self.app` with `app = getters.app(MoetuiHost)` and import this module,
never moetui.tui.app: the app (MoetuiApp, a MoetuiHost) imports the screens it pushes, and this module
imports none, so the two stand one above the other. The getter checks `isinstance(app, MoetuiHost)`,
which a MoetuiApp passes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

from moetui.config.schema import Config
from moetui.deployments.base import DeploymentService, WorkspaceBrowser
from moetui.local_endpoint.deployments import LocalDeployments
from moetui.session.process import RunHandle
from moetui.tui.state import MatrixOpen, RunSeams, TuiState

if TYPE_CHECKING:
    from moetui.nodes.job import JobSeams

#: Makes a run of a config from a folder with the app's seams (an expiring token's refresh, the local endpoint's
#: processes).
RunFactory = Callable[[Config, Path, RunSeams], RunHandle]
BrowserFactory = Callable[[], WorkspaceBrowser]


def remote_run(config: Config, base_dir: Path, seams: RunSeams) -> RunHandle:
    """The real run: the engine in a process of its own."""
    from moetui.session.process import SessionProcess

    return SessionProcess(
        config, base_dir, refresh_headers=seams.refresh_headers, local_processes=seams.local_processes
    )


def azure_browser() -> WorkspaceBrowser:
    """The real Azure workspace browser (imports the Azure SDK: call it off the UI thread)."""
    from moetui.azure.workspaces import AzureBrowser

    browser: WorkspaceBrowser = AzureBrowser()
    return browser


class MoetuiHost(App[int]):
    """The app's seams and shared state, as the screens read them; MoetuiApp adds the screens and the flow."""

    def __init__(
        self,
        run_factory: RunFactory = remote_run,
        base_dir: Path | None = None,
        live: Config | None = None,
        report_path: Path | None = None,
        local_service: DeploymentService | None = None,
        azure_browser: BrowserFactory = azure_browser,
        job_seams: JobSeams | None = None,
        matrix: MatrixOpen | None = None,
    ) -> None:
        super().__init__()
        self.run_factory = run_factory
        self.local_service: DeploymentService = local_service or LocalDeployments()
        """The local endpoints created on the deployment screen; closed (stopped) when the app ends."""
        self.azure_browser = azure_browser
        """Makes the Azure workspace browser (tests hand an in-memory one)."""
        self.base_dir = base_dir or Path.cwd()
        self.live = live
        """A configuration to run at once, on the live screen (moetui --live)."""
        self.report_path = report_path
        """Where to write the report when a run ends (moetui --live --report)."""
        self.matrix = matrix
        """A matrix file to run at once, on the matrix screen (moetui profile FILE --live)."""
        self.job_seams = job_seams
        """How "Run on Azure" polls and fetches the job's outputs (None: moetui.nodes.job's defaults)."""
        self.state = TuiState()
        """What the screens share (the target chosen, the previous report); written by the app only."""

    def make_run(self, config: Config) -> RunHandle:
        """The run of `config`, made by the run factory (tests hand one of canned snapshots)."""
        seams = RunSeams(self.state.refresh_headers, self.state.local_processes)
        return self.run_factory(config, self.base_dir, seams)

    def open_matrix(self, matrix: MatrixOpen) -> None:
        """The matrix screen, running a matrix file's cells.

        Raises:
            NotImplementedError: always here; MoetuiApp pushes the screen (this module imports no screen).
        """
        raise NotImplementedError("MoetuiApp.open_matrix pushes the matrix screen")

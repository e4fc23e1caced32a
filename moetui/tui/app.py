"""MoetuiApp: from "which endpoint?" to a finished, saved load test without leaving the terminal.

Built by `make_app` (the CLI and the tests use the same factory); the run factory is a parameter so
tests hand it fake runs with canned snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from moetui.config.schema import Config
from moetui.deployments.base import DeploymentService
from moetui.local_endpoint.deployments import LocalDeployments
from moetui.paths import export_path
from moetui.session.process import Finished
from moetui.tui.dialogs.confirm import ConfirmDialog
from moetui.tui.host import BrowserFactory, MoetuiHost, RunFactory, azure_browser, remote_run
from moetui.tui.messages import TargetChosen
from moetui.tui.screens.live import LiveScreen, RunScreen
from moetui.tui.screens.matrix import MatrixScreen
from moetui.tui.screens.report import ReportScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from moetui.tui.screens.target import TargetScreen
from moetui.tui.state import MatrixOpen

if TYPE_CHECKING:
    from moetui.nodes.job import JobSeams

#: The quit question asked again when the run ended while it was open: the answer applies to the ended run.
QUIT_AFTER_END = "The run ended while you were asked. Quit now? Its report is saved, as a quit mid-run saves it."

# The app imports the screens it pushes; they know it as MoetuiHost (moetui.tui.host) and never import
# this module (an import-linter contract in pyproject.toml), so the two import in one direction only.


class MoetuiApp(MoetuiHost):
    """The flow between the screens: mounting, the messages that push the next one, quitting, commands."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "moetui"
    SUB_TITLE = "load testing for ML inference endpoints"
    BINDINGS = [
        Binding("question_mark", "toggle_help", "Help"),
        Binding("ctrl+t", "toggle_dark", "Theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def on_mount(self) -> None:
        self.push_screen(TargetScreen())
        if self.live is not None:
            self.push_screen(LiveScreen(self.live))
        if self.matrix is not None:
            self.open_matrix(self.matrix)

    def open_matrix(self, matrix: MatrixOpen) -> None:
        """The matrix screen, running a matrix file's cells."""
        self.push_screen(
            MatrixScreen(
                matrix.spec,
                state_path=matrix.state_path,
                report_path=matrix.report_path,
                overrides=matrix.overrides,
                fresh=matrix.fresh,
            )
        )

    def on_target_chosen(self, message: TargetChosen) -> None:
        """Keep the target (and how to replay it, and how to refresh its token); on to the run setup."""
        self.state.target_table = message.target
        self.state.replay_table = message.replay
        self.state.refresh_headers = message.refresh_headers
        self.state.request_timeout_ms = message.request_timeout_ms
        self.state.local_processes = message.local_processes
        self.push_screen(RunSetupScreen())

    async def on_unmount(self) -> None:
        await self.local_service.close()

    async def on_live_screen_run_ended(self, message: LiveScreen.RunEnded) -> None:
        finished = message.finished
        if self.live is not None and message.config is self.live:
            self.state.live_exit_status = finished.exit_status
        if message.quitting:
            self._save_and_exit(finished)
            return
        if not any(isinstance(screen, RunScreen) for screen in self.screen_stack):
            return  # left already (a new run from the command palette): nothing to show it on
        # A question open above the ended run (its quit dialog) would be answered to a screen that is gone:
        # it is closed here and asked again, of the run's end, above whatever comes next.
        asked = await self._close_dialogs_above_live()
        if finished.error:
            self.notify(finished.error, title=finished.error_title or "Run failed", severity="error", timeout=10)
            await self.pop_screen()
        else:
            await self._show_report(message.config, finished)
        if asked:
            self.push_screen(
                ConfirmDialog(QUIT_AFTER_END, confirm_label="Quit"),
                lambda yes: self._save_and_exit(finished) if yes else None,
            )

    async def _close_dialogs_above_live(self) -> bool:
        """Pop the screens above the live screen (its quit dialog, the help); whether one was a question."""
        asked = False
        while not isinstance(self.screen, RunScreen) and len(self.screen_stack) > 1:
            asked = asked or isinstance(self.screen, ConfirmDialog)
            await self.pop_screen()
        return asked

    async def _show_report(self, config: Config, finished: Finished) -> None:
        """The ended run's report in the live screen's place (written to --report's path first, when given)."""
        if self.report_path is not None and finished.report is not None:
            from moetui.report.codec import write_report

            write_report(finished.report, self.report_path)
            self.notify(f"Report written to {self.report_path.expanduser().resolve()}", title="Report")
        previous = self.state.previous_report
        if finished.report:
            self.state.previous_report = finished.report
        await self.switch_screen(ReportScreen(config, finished, previous=previous))

    def _save_and_exit(self, finished: Finished) -> None:
        """A confirmed quit: the run's (partial) result is saved (where --report says, else as `j` exports it)."""
        from moetui.report.codec import write_report

        status = finished.exit_status
        if finished.report is None:
            self.exit(status, return_code=status, message=finished.error)
            return
        path = (self.report_path or export_path("moetui-report", ".json")).expanduser().resolve()
        write_report(finished.report, path)
        self.exit(status, return_code=status, message=f"moetui: the run's report was written to {path}")

    def _running_live(self) -> LiveScreen | MatrixScreen | None:
        """The live or matrix screen whose run has not ended, if any."""
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen | MatrixScreen) and screen.running:
                return screen
        return None

    async def action_quit(self) -> None:
        """Quit; mid-run, ask first and keep the partial result (a second quit while stopping kills)."""
        live = self._running_live()
        if live is None:
            status = self.state.live_exit_status or 0
            self.exit(status, return_code=status)
        elif live.quitting:
            live.kill()
            self.exit(130, return_code=130)
        elif self.screen is live:
            live.ask_to_quit()
        # else a dialog is open above the run: it is answered first

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, and the current screen's actions, in the command palette."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("New run", "Back to the target screen", self.action_new_run)
        titles = {"New run"}
        for binding in screen.BINDINGS:
            if (
                isinstance(binding, Binding)
                and binding.description
                and binding.action not in ("app.quit",)
                and binding.description not in titles
            ):
                titles.add(binding.description)
                action = binding.action

                async def run(action: str = action) -> None:
                    await screen.run_action(action)

                yield SystemCommand(binding.description, f"{binding.description} ({binding.key})", run)

    def action_new_run(self) -> None:
        """Drop every screen above the target screen."""
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


def make_app(
    run_factory: RunFactory = remote_run,
    base_dir: Path | None = None,
    live: Config | None = None,
    report: Path | None = None,
    local_service: DeploymentService | None = None,
    azure_browser: BrowserFactory = azure_browser,
    job_seams: JobSeams | None = None,
    matrix: MatrixOpen | None = None,
) -> MoetuiApp:
    return MoetuiApp(run_factory, base_dir, live, report, local_service, azure_browser, job_seams, matrix)


def run_app(
    live: Config | None = None,
    base_dir: Path | None = None,
    report: Path | None = None,
    matrix: MatrixOpen | None = None,
) -> int:
    """`moetui` with no arguments, `moetui --live CONFIG`, or `moetui profile FILE --live`."""
    local = LocalDeployments()
    app = make_app(base_dir=base_dir, live=live, report=report, local_service=local, matrix=matrix)
    try:
        app.run()
    finally:
        local.close_now()  # also when the app died: no local endpoint outlives it
    return app.return_code or 0

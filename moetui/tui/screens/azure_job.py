"""Azure job screen: the run setup's "Run on Azure" submits the run as an Azure ML command job
(moetui.nodes.job.run_job, in an async worker: its SDK calls run in threads), shows each progress line and the
job's state with the time since submission at every poll, and ends on the report screen with the nodes'
merged report, as a live run ends (LiveScreen.RunEnded). Escape cancels the job (the worker's task is
cancelled; run_job then cancels the job with jobs.begin_cancel) and returns to the run setup."""

from __future__ import annotations

import tempfile
from pathlib import Path

from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Label, Log, Static
from textual.worker import Worker, WorkerState

from moetui.config.dump import dump_config
from moetui.config.schema import Config
from moetui.errors import MoetuiError
from moetui.nodes.job import JobEnd, JobPoll, JobSeams, run_job
from moetui.paths import export_path
from moetui.session.process import Finished
from moetui.tui.host import MoetuiHost
from moetui.tui.screens.live import LiveScreen, RunScreen


class AzureJobScreen(RunScreen):
    """One Azure ML job, from submission to its merged report."""

    app = getters.app(MoetuiHost)
    BINDINGS = [Binding("escape", "cancel_job", "Cancel job")]

    def __init__(self, config: Config, compute: str, nodes: int) -> None:
        super().__init__()
        self.config = config
        """The run, its target the deployment's [target.azure] (each node reads the key itself)."""
        self.compute = compute
        self.nodes = nodes
        self.cancelling = False
        """Escape was pressed: the job is being cancelled."""

    class Said(Message):
        """A progress line of the job (posted from run_job's threads too: post_message is thread-safe)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="job-body"):
            plural = "s" if self.nodes > 1 else ""
            yield Label(f"Azure ML job on {self.compute}, {self.nodes} node{plural}", classes="title")
            yield Static("preparing the job ...", id="job-state")
            yield Log(id="job-lines", auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.run_job()

    @work(group="azure-job", exit_on_error=False, description="Azure ML job")
    async def run_job(self) -> JobEnd:
        seams = self.app.job_seams or JobSeams()
        with tempfile.TemporaryDirectory(prefix="moetui-tui-job-") as folder:
            path = Path(folder) / "moetui-run.toml"  # code_folder copies it into the job's code
            dump_config(self.config, path)
            return await run_job(
                path,
                self.nodes,
                nodes_dir=export_path("moetui-job-report", ".nodes"),
                compute=self.compute,
                poll_s=seams.poll_s,
                download=seams.download,
                logs=seams.logs,
                say=self._say,
                polled=self._polled,
            )

    def _say(self, line: str) -> None:
        self.post_message(self.Said(line))

    def _polled(self, poll: JobPoll) -> None:
        if not self.cancelling:
            state = f"job {poll.name}: [b]{poll.state}[/b] · {poll.elapsed_s:.0f} s since submitted"
            self.query_one("#job-state", Static).update(state)

    @on(Said)
    def _said(self, message: Said) -> None:
        self.query_one("#job-lines", Log).write_line(message.line.strip())

    @on(Worker.StateChanged)
    def _ended(self, event: Worker.StateChanged) -> None:
        """The job's end in one place: its report, its error, or back to the run setup once cancelled."""
        worker, state = event.worker, event.state
        if worker.group != "azure-job":
            return
        if state == WorkerState.CANCELLED:
            self.notify("The Azure ML job was cancelled.", title="Run on Azure")
            self.app.pop_screen()
        elif state == WorkerState.ERROR:
            error = worker.error
            if isinstance(error, MoetuiError):
                finished = Finished(None, int(error.exit_status), error.message, error.title)
            else:
                finished = Finished(None, 1, f"{type(error).__name__}: {error}", "Run on Azure")
            self.post_message(LiveScreen.RunEnded(self.config, finished))
        elif state == WorkerState.SUCCESS:
            end = worker.result
            assert isinstance(end, JobEnd)
            if end.merged is None:  # cancelled on Azure's side
                self.notify(f"The Azure ML job {end.name} was cancelled.", title="Run on Azure")
                self.app.pop_screen()
                return
            self.post_message(LiveScreen.RunEnded(end.config, Finished(end.merged, int(end.merged["exit_status"]))))

    def action_cancel_job(self) -> None:
        if self.cancelling:
            return
        self.cancelling = True
        self.query_one("#job-state", Static).update("cancelling the job ...")
        self.workers.cancel_group(self, "azure-job")

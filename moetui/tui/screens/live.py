"""Live run screen: refreshed from the engine's snapshots on a timer; `s` stops the run cleanly and keeps
the partial result; quitting asks first and keeps it too.

One way to feed the widgets (memray's live TUI): `pull` sets the screen's `snapshot` reactive inside
`app.batch_update()`, and every widget has it data-bound (`data_bind(LiveScreen.snapshot)`), repainting
from it alone in its watcher or `render`."""

from __future__ import annotations

from textual import getters
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

from moetui.config.schema import Config
from moetui.engine.snapshot import EngineSnapshot
from moetui.session.child import STOP_GRACE_S
from moetui.session.compose import streams
from moetui.session.process import Finished, RunHandle
from moetui.tui.host import MoetuiHost
from moetui.tui.widgets.inflight import InFlight
from moetui.tui.widgets.latency_chart import LatencyChart, TtftChart
from moetui.tui.widgets.live_status import LiveStatus
from moetui.tui.widgets.percentile_ladder import PercentileLadder, StreamLadder
from moetui.tui.widgets.rate_chart import RateChart, TokenChart
from moetui.tui.widgets.requests_table import RequestsTable
from moetui.tui.widgets.status_codes import StatusCodes
from moetui.tui.widgets.sweep import SweepCurve
from moetui.tui.widgets.timeline import Timeline

#: Screen refreshes per second (a refresh costs 30-40 ms of CPU; the engine runs in another process).
REFRESH_HZ = 5.0
#: Terminal rows under which the screen drops the requests table and shrinks the top panels.
SHORT_BELOW = 34


class RunScreen(Screen[None]):
    """A screen a run ends on (the live screen; an Azure job's, which ends with the nodes' merged report): its
    RunEnded puts the report in its place."""


class LiveScreen(RunScreen):
    """The run as it happens."""

    app = getters.app(MoetuiHost)
    # q is in the footer; the help lists the app's ^q once (system: kept out of the key panel)
    BINDINGS = [Binding("s", "stop", "Stop run"), Binding("q", "app.quit", "Quit", system=True)]

    snapshot: reactive[EngineSnapshot | None] = reactive(None)
    """The newest engine snapshot (None before the first); compared by identity (eq=False), bound to every
    widget of the screen."""
    progress: reactive[str] = reactive("starting ...")
    """The last line of start-up progress, shown until the first snapshot."""

    def __init__(self, config: Config, refresh_hz: float = REFRESH_HZ) -> None:
        super().__init__()
        self.config = config
        self.refresh_hz = refresh_hz
        """Pulls per second (tests pass a tiny rate and pull by hand)."""
        self.run: RunHandle | None = None
        """Made by the app's run factory when the screen mounts."""
        self.ended = False
        """The run's end was reported (exactly once, whatever the poll timer does afterwards)."""
        self.quitting = False
        """A quit was confirmed: the run is stopping and the app exits once its partial result is saved."""

    def compose(self) -> ComposeResult:
        bound = LiveScreen.snapshot
        stream = streams(self.config)
        yield LiveStatus(id="live-status").data_bind(bound, LiveScreen.progress)
        with Horizontal(id="live-top"):
            with Vertical(id="live-left"):
                yield InFlight(id="inflight").data_bind(bound)
                yield Timeline(id="timeline").data_bind(bound)
            with Vertical(id="live-right"):
                # a streaming run's token timing takes the latency ladder's place (end to end is its last column)
                ladder = StreamLadder if stream else PercentileLadder
                yield ladder(id="ladder").data_bind(bound)
        # the charts share what the panels above and the table below leave (fr units): taller with the terminal
        with Horizontal(id="live-charts"):
            yield LatencyChart(id="latency").data_bind(bound)
            if stream:
                yield TtftChart(id="ttft").data_bind(bound)
        with Horizontal(id="live-middle"):
            yield RateChart(id="rates").data_bind(bound)
            if stream:
                yield TokenChart(id="tokens").data_bind(bound)
            yield StatusCodes(id="codes").data_bind(bound)
        if self.config.load.mode == "steps":
            steps = self.config.steps
            yield SweepCurve(steps.percentile, steps.threshold_ms, id="sweep").data_bind(bound)
        yield RequestsTable(id="requests").data_bind(bound)
        yield Footer()

    def on_resize(self) -> None:
        """A short terminal (80x24) keeps the charts readable: the requests table goes, the top panels shrink."""
        self.set_class(self.size.height < SHORT_BELOW, "-short")

    def on_mount(self) -> None:
        titles = {
            "#live-left": "in flight (side by side: at once)",
            "#live-right": "latency of successful responses",
            "#latency": "latency per second, successful responses",
            "#ttft": "time to first token (latest streams)",
            "#rates": "responses per second",
            "#codes": "responses",
            "#requests": "latest requests",
            "#sweep": "sweep: throughput against latency",
            "#tokens": "output tokens per second",
        }
        if streams(self.config):
            titles["#live-right"] = "time to first token, between tokens, per token"
            titles["#latency"] = "end to end per second"
        for selector, title in titles.items():
            for widget in self.query(selector):
                widget.border_title = title
        self.set_class(self.config.load.mode == "steps", "-steps")
        self.run = self.app.make_run(self.config)
        self.run.start()
        self.set_interval(1 / self.refresh_hz, self.pull)

    def pull(self) -> None:
        """Read the newest snapshot and hand it to the widgets in one batch; go to the report when the run
        ended."""
        if self.run is None or self.ended:
            return
        snapshot = self.run.poll()
        with self.app.batch_update():
            self.snapshot = snapshot  # the same object again: no watcher runs
            if snapshot is None and self.run.progress:
                self.progress = self.run.progress[-1]
        if self.run.finished is not None:
            self.ended = True
            self.finish(self.run.finished)

    class RunEnded(Message):
        """The run finished, was stopped, or failed; the app shows the report or the error."""

        def __init__(self, config: Config, finished: Finished, quitting: bool = False) -> None:
            super().__init__()
            self.config = config
            self.finished = finished
            self.quitting = quitting
            """The user confirmed a quit: save the result and exit instead of showing it."""

    def finish(self, finished: Finished) -> None:
        self.post_message(self.RunEnded(self.config, finished, self.quitting))

    def action_stop(self) -> None:
        if self.run is not None:
            self.run.stop()
        self.notify("Stopping: the partial result will be reported.", title="Stop")

    @property
    def running(self) -> bool:
        """The run has started and its end has not been reported."""
        return self.run is not None and not self.ended

    def ask_to_quit(self) -> None:
        """Quit mid-run only when confirmed; then stop as `s` does, so the partial result is kept."""
        from moetui.tui.dialogs.confirm import ConfirmDialog

        question = "Quit now? The run stops and its partial result is saved, as a stop (s) keeps it."

        def answered(yes: bool | None) -> None:
            if yes and self.running:
                self.quitting = True
                self.action_stop()
                self.set_timer(STOP_GRACE_S, self._quit_now)  # the one stop grace, waited here off the UI's loop

        self.app.push_screen(ConfirmDialog(question, confirm_label="Stop and quit"), answered)

    def _quit_now(self) -> None:
        """The stopped run did not end in time: kill it and leave."""
        if self.running:
            self.notify("The run did not end in time; quitting without its result.", severity="error")
            self.kill()
            self.app.exit(3)

    def kill(self) -> None:
        """End the run now: its stop was asked and waited for (or the user quit twice), so SIGTERM at once."""
        if self.run is not None:
            self.run.kill(grace_s=0)

    def on_unmount(self) -> None:
        if self.run is not None and self.run.finished is None:
            self.kill()

"""Live run screen: refreshed from the engine's snapshots on a timer; `s` stops the run cleanly and keeps
the partial result; quitting asks first and keeps it too."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from moetui.config.schema import Config
from moetui.engine.snapshot import EngineSnapshot
from moetui.session.process import Finished, RunHandle
from moetui.tui.widgets.inflight import InFlight
from moetui.tui.widgets.percentile_ladder import PercentileLadder
from moetui.tui.widgets.rates import Rates
from moetui.tui.widgets.requests_table import RequestsTable
from moetui.tui.widgets.status_codes import StatusCodes
from moetui.tui.widgets.sweep import SweepCurve
from moetui.tui.widgets.timeline import Timeline

#: Screen refreshes per second (a refresh costs 30-40 ms of CPU; the engine runs in another process).
REFRESH_HZ = 5.0
#: After a confirmed quit, how long the run may take to send its partial result before it is killed.
QUIT_GRACE_S = 15.0


def status_line(snapshot: EngineSnapshot | None, progress: list[str]) -> str:
    """Phase, elapsed and remaining time, and counts."""
    if snapshot is None:
        return progress[-1] if progress else "starting ..."
    elapsed = snapshot.taken_at_s
    line = f"{snapshot.mode} · {snapshot.phase} · {elapsed:.1f} s"
    if snapshot.planned_s:
        line += f" of {snapshot.planned_s:g} s, {max(0.0, snapshot.planned_s - elapsed):.0f} s left"
    if snapshot.step_level is not None:
        line += f" · level {snapshot.step_level:g}"
    return line + f" · {snapshot.sent:,} sent · {snapshot.completed:,} done"


class LiveScreen(Screen[None]):
    """The run as it happens."""

    # q is in the footer; the help lists the app's ^q once (system: kept out of the key panel)
    BINDINGS = [Binding("s", "stop", "Stop run"), Binding("q", "app.quit", "Quit", system=True)]

    def __init__(self, config: Config, refresh_hz: float = REFRESH_HZ) -> None:
        super().__init__()
        self.config = config
        self.refresh_hz = refresh_hz
        """Pulls per second (tests pass a tiny rate and pull by hand)."""
        self.run: RunHandle | None = None
        """Made by the app's run factory when the screen mounts."""
        self.snapshot: EngineSnapshot | None = None
        self.ended = False
        """The run's end was reported (exactly once, whatever the poll timer does afterwards)."""
        self.quitting = False
        """A quit was confirmed: the run is stopping and the app exits once its partial result is saved."""

    def compose(self) -> ComposeResult:
        yield Static("starting ...", id="live-status")
        with Horizontal(id="live-top"):
            with Vertical(id="live-left"):
                yield InFlight(id="inflight")
                yield Timeline(id="timeline")
            with Vertical(id="live-right"):
                yield PercentileLadder(id="ladder")
        with Horizontal(id="live-middle"):
            yield Rates(id="rates")
            yield StatusCodes(id="codes")
        if self.config.load.mode == "steps":
            yield SweepCurve(id="sweep")
        yield RequestsTable(id="requests")
        yield Footer()

    def on_mount(self) -> None:
        titles = {
            "#live-left": "in flight (side by side: at once)",
            "#live-right": "latency of successful responses",
            "#rates": "throughput and errors per second",
            "#codes": "responses",
            "#requests": "latest requests",
        }
        if self.config.load.mode == "steps":
            titles["#sweep"] = "sweep: throughput against latency"
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        if self.config.load.mode == "steps":
            self.query_one(SweepCurve).configure(self.config.steps.percentile, self.config.steps.threshold_ms)
        self.run = self.app.make_run(self.config)  # type: ignore[attr-defined]
        self.run.start()
        self.set_interval(1 / self.refresh_hz, self.pull)

    def pull(self) -> None:
        """Read the newest snapshot; repaint only when it changed; go to the report when the run ended."""
        if self.run is None or self.ended:
            return
        snapshot = self.run.poll()
        if snapshot is not self.snapshot:
            self.show(snapshot)
        if self.run.finished is not None:
            self.ended = True
            self.finish(self.run.finished)
        elif snapshot is None:
            self.query_one("#live-status", Static).update(status_line(None, self.run.progress))

    def show(self, snapshot: EngineSnapshot | None) -> None:
        self.snapshot = snapshot
        with self.app.batch_update():
            progress = self.run.progress if self.run is not None else []
            self.query_one("#live-status", Static).update(status_line(snapshot, progress))
            for widget in (InFlight, Timeline, PercentileLadder, StatusCodes):
                self.query_one(widget).snapshot = snapshot
            if snapshot is not None:
                self.query_one(Rates).show(snapshot)
                self.query_one(RequestsTable).show(snapshot)
                if self.config.load.mode == "steps":
                    self.query_one(SweepCurve).snapshot = snapshot

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
                self.set_timer(QUIT_GRACE_S, self._quit_now)

        self.app.push_screen(ConfirmDialog(question, confirm_label="Stop and quit"), answered)

    def _quit_now(self) -> None:
        """The stopped run did not end in time: kill it and leave."""
        if self.running:
            self.notify("The run did not end in time; quitting without its result.", severity="error")
            self.kill()
            self.app.exit(3)

    def kill(self) -> None:
        if self.run is not None:
            self.run.kill()

    def on_unmount(self) -> None:
        if self.run is not None and self.run.finished is None:
            self.run.kill()

"""MatrixProcess: a whole matrix (moetui.matrix.run.run_matrix) in a child process, for the app.

The matrix screen must not share an interpreter with the generator: a refresh of a Textual screen costs
30-40 ms of CPU, and when the matrix ran in a thread of the app that lag made a cell's burst invalid on a
busy machine. So the app starts this child (moetui.session.child's ChildProcess: spawned, dying with the
app, stopped through an event); it posts the events below, the current run's newest snapshot, and at the
end a Finished holding the matrix's report (None when it was stopped: the state file keeps what is done).
Before anything is created on Azure, it posts the plan and waits for the front end's go (or stop).
No textual."""

from __future__ import annotations

import functools
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from moetui.engine.run import Run
from moetui.matrix.cells import PreparedCell
from moetui.matrix.config import MatrixSpec
from moetui.matrix.deploy import asks_consent, creates_deployments
from moetui.matrix.run import MatrixListener
from moetui.session.child import ChildProcess, Controls, Finished, Post, Refresh
from moetui.session.watch import watch_snapshots


@dataclass(frozen=True)
class Planned:
    """What the matrix will measure (and create), with the estimate; `asks`: it waits for go or stop."""

    text: str
    asks: bool


@dataclass(frozen=True)
class CellStarted:
    """Cell `index` (0-based) began round `round_index` (0-based) of `rounds`; about `left_s` seconds are
    left, this cell included."""

    index: int
    round_index: int
    rounds: int
    left_s: float = 0.0
    resets_snapshot: ClassVar[bool] = True
    """A new run: the previous cell's snapshot is no longer the current one."""


@dataclass(frozen=True)
class Said:
    """A progress line (a probe, the run's progress, the endpoint starting, a deployment's state)."""

    line: str


@dataclass(frozen=True)
class CellMeasured:
    """Cell `index`'s figures over the rounds measured so far (a table row: cell_summary's, no reports)."""

    index: int
    row: dict[str, Any]


class MatrixProcess(ChildProcess):
    """Run a matrix in a child process.

    Args:
        spec: The matrix.
        prepared: Each cell's configuration made by the front end (deployments compared in the app); None:
            the cells come from the spec's axes, cells or deployments.
        overrides: --set values laid over every cell.
        report_path: Where the matrix's JSON report is written (None: not written).
        state_path: The state file that keeps finished cells (resumed when it matches).
        fresh: Ignore the state file.
        snapshot_hz: Snapshots of the current run per second.
    """

    def __init__(
        self,
        spec: MatrixSpec,
        *,
        prepared: Sequence[PreparedCell] | None = None,
        overrides: Sequence[str] = (),
        report_path: Path | None = None,
        state_path: Path,
        fresh: bool = False,
        snapshot_hz: float = 5.0,
    ) -> None:
        work = functools.partial(
            _matrix_in_child,
            spec,
            None if prepared is None else list(prepared),
            list(overrides),
            report_path,
            state_path,
            fresh,
            snapshot_hz,
        )
        super().__init__(work, name="moetui-matrix")
        self.spec = spec
        self.state_path = state_path
        self.report_path = report_path
        self.creates = creates_deployments(spec)
        """It creates Azure deployments: stopping it deletes them, which can take minutes."""

    def take_events(self) -> list[Any]:
        """The events read by the last polls, oldest first; they are handed out once."""
        events, self.events = self.events, []
        return events


class _Posting(MatrixListener):
    """(In the child.) Each event posted to the front end; the current run's snapshots at `snapshot_hz`."""

    def __init__(self, post: Post, snapshot_hz: float) -> None:
        self.post = post
        self.snapshot_hz = snapshot_hz
        self.report: dict[str, Any] | None = None

    def said(self, line: str) -> None:
        self.post(Said(line))

    def cell_started(self, index: int, round_index: int, rounds: int, left_s: float) -> None:
        self.post(CellStarted(index, round_index, rounds, left_s))

    async def watch(self, run: Run) -> None:
        await watch_snapshots(run, 1 / self.snapshot_hz, lambda snapshot: self.post(snapshot, replace_snapshot=True))

    def cell_measured(self, index: int, row: dict[str, Any]) -> None:
        self.post(CellMeasured(index, row))

    def answered(self, report: dict[str, Any]) -> None:
        self.report = report


def _matrix_in_child(
    spec: MatrixSpec,
    prepared: list[PreparedCell] | None,
    overrides: list[str],
    report_path: Path | None,
    state_path: Path,
    fresh: bool,
    snapshot_hz: float,
    controls: Controls,
    post: Post,
    _refresh: Refresh,
) -> Finished:
    from moetui.aio import run_fast
    from moetui.errors import MoetuiError
    from moetui.matrix.run import run_matrix
    from moetui.session.child import was_terminated

    listener = _Posting(post, snapshot_hz)

    def stopped() -> bool:
        return bool(controls.stop.is_set()) or was_terminated()

    def confirm(plan: str) -> bool:
        asks = asks_consent(spec, plan)
        post(Planned(plan, asks))
        while asks and not stopped():
            if controls.go.wait(0.2):
                return True
        return not stopped()

    try:
        status = run_fast(
            run_matrix(
                spec,
                overrides=overrides,
                report_path=report_path,
                state_path=state_path,
                fresh=fresh,
                listener=listener,
                confirm=confirm,
                prepared=prepared,
                stop_when=stopped,
                signals=(signal.SIGTERM,),  # SIGINT is ignored here: stopping is the front end's call
            )
        )
    except MoetuiError as exc:
        return Finished(None, int(exc.exit_status), exc.message, exc.title)
    except Exception as exc:  # shown to the user, never as a traceback
        return Finished(None, 3, f"{type(exc).__name__}: {exc}", "Matrix error")
    return Finished(None, int(status), matrix=listener.report)

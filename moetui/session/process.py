"""SessionProcess: a whole session (moetui.session.run_session) in a process of its own, for front ends
that must not share an interpreter with the generator; RunHandle, what the TUI needs of one; Finished, the
end it hands the TUI. The child's plumbing (spawn, pipe, mailbox, lifeline, the stop policy) is
moetui.session.child's ChildProcess, shared with the app's matrix (moetui.matrix.process).

A measured Textual screen costs 32-44 ms of CPU per refresh; on the generator's loop that cost the
generator 35-45 % of its rate. So the TUI starts a SessionProcess: a child process resolves the target
(starting the local endpoint if asked), runs the engine, and ships its newest EngineSnapshot over a pipe
at the display's rate; at the end it ships the report. A slow reader never blocks the generator: the
child's sender thread keeps only the newest snapshot and drops the rest.

A token endpoint's headers expire: the front end may pass `refresh_headers`, which stays in this process
(it holds the signed-in service). The child's run asks for headers over a second pipe every minute, as a
headless run asks its target, and a thread here answers.
"""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from moetui.config.schema import Config
from moetui.engine.snapshot import EngineSnapshot
from moetui.session.child import ChildProcess, Controls, Post, Refresh, was_terminated
from moetui.session.child import Finished as Finished
from moetui.session.child import Progress as Progress


class RunHandle(Protocol):
    """What the live screen needs of a run: SessionProcess, or a fake with canned snapshots in tests."""

    progress: list[str]
    finished: Finished | None

    def start(self) -> None: ...
    def poll(self) -> EngineSnapshot | None: ...
    def stop(self) -> None: ...
    def kill(self, grace_s: float = ...) -> None: ...


class SessionProcess(ChildProcess):
    """Run `config` in a child process.

    Args:
        config: What to run.
        base_dir: Where the config's relative paths start.
        snapshot_hz: Snapshots per second shipped to this process.
        refresh_headers: Fresh request headers (a new token), called in a thread of this process when the
            run asks; None when the target's headers do not expire.
        refresh_s: Seconds between the run's asks (the Run's default, a minute, when None).
        local_processes: The processes (role -> PID) of a local endpoint that `config`'s URL reaches, started
            by the front end: the run samples them and its report says target kind "local" (run_session).
    """

    def __init__(
        self,
        config: Config,
        base_dir: Path,
        snapshot_hz: float = 5.0,
        refresh_headers: Callable[[], Mapping[str, str]] | None = None,
        refresh_s: float | None = None,
        local_processes: dict[str, int] | None = None,
    ) -> None:
        work = functools.partial(_run_in_child, config, base_dir, snapshot_hz, refresh_s, local_processes)
        super().__init__(work, refresh_headers)
        self.config = config
        self.base_dir = base_dir
        self.snapshot_hz = snapshot_hz
        self.refresh_s = refresh_s


def _run_in_child(
    config: Config,
    base_dir: Path,
    snapshot_hz: float,
    refresh_s: float | None,
    local_processes: dict[str, int] | None,
    controls: Controls,
    post: Post,
    refresh: Refresh,
) -> Finished:
    from moetui.aio import run_fast
    from moetui.engine.run import Run
    from moetui.errors import MoetuiError
    from moetui.session.run_session import run_session
    from moetui.session.watch import watch_snapshots

    async def forward(run: Run) -> None:
        """Ship each new snapshot; turn the front end's stop into run.stop()."""

        def stop_when_asked() -> None:
            if controls.stop.is_set():
                run.stop()

        await watch_snapshots(
            run, 1 / snapshot_hz, lambda snapshot: post(snapshot, replace_snapshot=True), each_tick=stop_when_asked
        )

    started: list[Run] = []
    main_task: asyncio.Task[Any] | None = None

    def on_sigterm() -> None:
        if started:
            started[0].stop()
        elif main_task is not None:
            main_task.cancel()  # still starting (the local endpoint): unwind it

    async def watch(run: Run) -> None:
        started.append(run)
        await forward(run)

    async def main() -> Finished:
        nonlocal main_task
        main_task = asyncio.current_task()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
        if was_terminated():
            on_sigterm()
        session = await run_session(
            config,
            base_dir,
            on_progress=lambda line: post(Progress(line)),
            watch=watch,
            snapshot_hz=snapshot_hz,
            refresh_headers=refresh,
            refresh_s=refresh_s,
            local_processes=local_processes,
        )
        post(session.result.snapshot, replace_snapshot=True)
        return Finished(session.report, int(session.evaluation.exit_status))

    try:
        return run_fast(main())
    except asyncio.CancelledError:
        return Finished(None, 130, "the engine process was terminated while the run started", "Engine")
    except MoetuiError as exc:
        return Finished(None, int(exc.exit_status), exc.message, exc.title)
    except Exception as exc:  # shown to the user, never as a traceback
        return Finished(None, 3, f"{type(exc).__name__}: {exc}", "Engine error")

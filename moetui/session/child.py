"""The one way moetui starts a child process and the one way it stops one.

ChildProcess: a picklable work run in a spawned child that dies with this process (lifeline), talking back
over a pipe through a one-slot mailbox (the TUI's run: moetui.session.process.SessionProcess; the app's
matrix: moetui.matrix.process.MatrixProcess). `start_command`: a command line as a child (the nodes of a
`--nodes` run). Both are stopped by `stop_children`, the one stop policy:

    ask the child to stop its own way (an event; SIGTERM for a headless `moetui --run`, which reads it as a
    stop), wait STOP_GRACE_S for it to end on its own (it writes its partial report, stops its local
    endpoint), then SIGTERM (unwinds what is left), wait TERM_GRACE_S, then SIGKILL.

Always by PID; to the process group when the child was started in a session of its own. The local
endpoint's supervisor (moetui.local_endpoint) sits below the session and cannot import this: its gunicorn
processes have their own polite signal (SIGINT, a quick shutdown) and its own grace.

Start a ChildProcess before the UI's event loop runs, or with sys.__stderr__ in place: a spawn child cannot
be started while Textual has captured stderr (its fileno is -1).

The child dies with the front end: it gets SIGTERM when the front end dies (even by SIGKILL), and also when
its pipe to the front end breaks; SIGTERM there stops the run (or cancels its start-up), so a local endpoint
it started is stopped and its temporary directory removed. It ignores SIGINT: stopping is the front end's call.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from moetui import lifeline
from moetui.engine.snapshot import EngineSnapshot
from moetui.report.model import Report

#: Seconds a child asked to stop gets to end on its own. A stopped run's generators finish within the
#: engine's 2 s grace (moetui.engine.workers.STOP_GRACE_S), then it judges, writes its report and stops its
#: local endpoint (up to 5 s: moetui.local_endpoint.supervisor.STOP_GRACE_S): 15 s covers both with room
#: on a loaded two-core machine, and is still a wait a user sits through after confirming a quit.
STOP_GRACE_S = 15.0
#: Seconds after SIGTERM before SIGKILL: SIGTERM unwinds a run, and its local endpoint still takes up to 5 s.
TERM_GRACE_S = 10.0
#: The grace of a child whose stop deletes Azure deployments (the app's matrix of created cells): a delete
#: takes minutes, and a child killed mid-delete leaves deployments billing.
AZURE_CLEANUP_GRACE_S = 600.0

Child = multiprocessing.process.BaseProcess | subprocess.Popen[bytes]
"""A child started here: a spawned ChildProcess's process, or a command's."""


@dataclass(frozen=True)
class Progress:
    """A line of start-up progress (starting the local endpoint, resolving the target)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The run's end: its report (no secrets) and exit status, or the error that stopped it."""

    report: Report | None
    exit_status: int
    error: str | None = None
    error_title: str | None = None
    matrix: dict[str, Any] | None = None
    """A matrix run's report instead (moetui.matrix.run.matrix_report: its own schema)."""


def start_command(
    command: Sequence[str],
    *,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    own_group: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `command` as a child (stop it with stop_children).

    Args:
        own_group: Start it in a session of its own, so that each stop signal reaches its children too.
    """
    return subprocess.Popen(list(command), stdout=stdout, stderr=stderr, env=env, cwd=cwd, start_new_session=own_group)


def stop_children(
    children: Iterable[Child],
    *,
    ask: Callable[[], None] | None = None,
    grace_s: float = STOP_GRACE_S,
    own_group: bool = False,
) -> None:
    """Stop every child still running by the one policy (the module docstring), all at once, and reap each.

    Args:
        ask: The children's own stop (an event they watch); None: SIGTERM is their stop, sent first.
        grace_s: How long the asked children may take to end on their own before SIGTERM.
        own_group: The children were started in sessions of their own: signal their process groups.
    """
    children = list(children)
    if ask is not None:
        ask()
    else:
        _signal_all(children, signal.SIGTERM, own_group)
    if _wait_all(children, grace_s):
        return
    if ask is not None:
        _signal_all(children, signal.SIGTERM, own_group)
        if _wait_all(children, TERM_GRACE_S):
            return
    _signal_all(children, signal.SIGKILL, own_group)
    _wait_all(children, None)


def _running(child: Child) -> bool:
    if isinstance(child, subprocess.Popen):
        return child.poll() is None
    return child.pid is not None and child.is_alive()


def _wait_all(children: Sequence[Child], timeout_s: float | None) -> bool:
    """Wait until every child has ended (reaped), at most `timeout_s` (None: for ever); True: all ended."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    for child in children:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if isinstance(child, subprocess.Popen):
            try:
                child.wait(timeout=left)
            except subprocess.TimeoutExpired:
                pass
        elif child.pid is not None:
            child.join(timeout=left)
    return not any(_running(child) for child in children)


def _signal_all(children: Sequence[Child], sig: signal.Signals, own_group: bool) -> None:
    for child in children:
        if not _running(child) or child.pid is None:
            continue
        try:
            if own_group:
                os.killpg(child.pid, sig)
            else:
                os.kill(child.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # ended meanwhile


#: What a child's work is handed to send a message to the front end (a snapshot replaces an unread one).
Post = Callable[..., None]
#: Headers laid over the current ones, asked of the front end (None: the target's headers do not expire).
Refresh = Callable[[Mapping[str, str]], dict[str, str]] | None


@dataclass(frozen=True)
class Controls:
    """The front end's say in the child: `stop` (end early, keep what is done) and `go` (a plan shown
    before anything is created was accepted). multiprocessing Events, made at spawn."""

    stop: Any
    go: Any


class ChildWork(Protocol):
    """What runs in the child: a picklable callable (a module-level function, or a functools.partial of one)
    given the front end's controls, `post` and the header refresh; it returns the end."""

    def __call__(self, controls: Controls, post: Post, refresh: Refresh) -> Finished: ...


class ChildProcess:
    """Run `work` in a child process that dies with this one; read what it posts with `poll`.

    EngineSnapshots are kept newest-only, Progress lines in `progress`, the Finished in `finished`, and
    any other message a work posts (a matrix's cell events) in `events`, in order, for the reader to take.

    Args:
        work: What the child runs.
        refresh_headers: Fresh request headers (a new token), called in a thread of this process when the
            child asks; None when the target's headers do not expire.
        name: The child's process name.
    """

    def __init__(
        self,
        work: ChildWork,
        refresh_headers: Callable[[], Mapping[str, str]] | None = None,
        name: str = "moetui-engine",
    ) -> None:
        self.work = work
        self.refresh_headers = refresh_headers
        self.name = name
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe: multiprocessing.connection.Connection | None = None
        self._controls: Controls | None = None
        self._latest: EngineSnapshot | None = None
        self._ended = False
        """The end is known: set once, with `finished`."""
        self.progress: list[str] = []
        """Start-up lines so far."""
        self.events: list[Any] = []
        """Other messages the work posted, oldest first (the reader pops them)."""
        self.finished: Finished | None = None
        """The run's end, once known; it stays (a reader that took it must not be told the child vanished)."""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Spawn the child (keep sys.stderr a real file while this runs: see the module docstring)."""
        context = multiprocessing.get_context("spawn")
        saved = sys.stderr
        # Textual replaces stderr with an object whose fileno is -1; multiprocessing hands stderr's fileno
        # to the resource tracker it starts with the first Event, and to the child.
        sys.stderr = sys.__stderr__
        try:
            receiver, sender = context.Pipe(duplex=False)
            # (answering here, asking in the child) when the front end holds a refresh
            refresh_pipe = context.Pipe(duplex=True) if self.refresh_headers is not None else None
            asking = refresh_pipe[1] if refresh_pipe else None
            self._controls = Controls(stop=context.Event(), go=context.Event())
            self._process = context.Process(
                target=_child_main,
                args=(self.work, sender, self._controls, asking, os.getpid()),
                name=self.name,
                daemon=True,
            )
            # Inherited through spawn: a Ctrl-C while the child imports cannot raise there.
            with lifeline.signals_blocked(signal.SIGINT, signal.SIGTERM):
                self._process.start()
        finally:
            sys.stderr = saved
        sender.close()
        self._pipe = receiver
        if refresh_pipe is not None and self.refresh_headers is not None:
            answering, asking = refresh_pipe
            asking.close()  # the child's end
            thread = threading.Thread(
                target=_answer_refreshes, args=(answering, self.refresh_headers), name="header-refresh", daemon=True
            )
            thread.start()

    def poll(self) -> EngineSnapshot | None:
        """Read everything the child sent; return the newest snapshot (None before the first).

        Once the end is known (a Finished from the child, or the child gone without one) nothing more is
        read or judged: a dead child after its report is the normal end, not a crash.
        """
        if self._ended:
            return self._latest
        pipe = self._pipe
        while pipe is not None and not pipe.closed and pipe.poll():
            try:
                message = pipe.recv()
            except (EOFError, OSError):
                self._child_gone()
                break
            if isinstance(message, EngineSnapshot):
                self._latest = message
            elif isinstance(message, Progress):
                self.progress.append(message.text)
            elif isinstance(message, Finished):
                self.finished = message
                self._ended = True
                self._close()
                if self._process is not None:
                    self._process.join(timeout=2)  # it exits right after sending its end: reap it by PID
                break
            else:
                if getattr(message, "resets_snapshot", False):
                    self._latest = None  # a new run began in the child: its first snapshot is still to come
                self.events.append(message)
        if self._process is not None and not self._process.is_alive() and not self._ended and pipe is not None:
            if not pipe.closed and pipe.poll():
                return self.poll()
            self._child_gone()
        return self._latest

    def stop(self) -> None:
        """End the load early; the child still sends the partial report."""
        if self._controls is not None:
            self._controls.stop.set()

    def go(self) -> None:
        """Accept the plan the child showed (it waits for this or for stop)."""
        if self._controls is not None:
            self._controls.go.set()

    def kill(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop the child by the one policy (stop_children), by PID; its local endpoint dies with it.

        Args:
            grace_s: How long the stopped child may take to end on its own before SIGTERM (0: the caller
                already waited, as the live screen's quit does on a timer).
        """
        if self._process is not None:
            stop_children([self._process], ask=self.stop, grace_s=grace_s)
        self._close()

    def _child_gone(self) -> None:
        self._ended = True
        code = self._process.exitcode if self._process is not None else None
        self.finished = Finished(None, 3, f"the engine process ended unexpectedly (exit code {code})", "Engine")
        self._close()

    def _close(self) -> None:
        if self._pipe is not None and not self._pipe.closed:
            self._pipe.close()


def _answer_refreshes(pipe: multiprocessing.connection.Connection, refresh: Callable[[], Mapping[str, str]]) -> None:
    """(In the front end's process.) Answer each of the child's asks with fresh headers or the failure,
    until the child is gone."""
    with pipe:
        while True:
            try:
                pipe.recv()
            except (EOFError, OSError):
                return
            try:
                answer: tuple[str, Any] = ("headers", dict(refresh()))
            except Exception as exc:  # the child's run counts it as a failed refresh; never the secret
                answer = ("error", f"{type(exc).__name__}: {exc}")
            try:
                pipe.send(answer)
            except (BrokenPipeError, OSError):
                return


def _asker(pipe: multiprocessing.connection.Connection) -> Callable[[Mapping[str, str]], dict[str, str]]:
    """(In the child.) A refresh that asks the front end over `pipe`: the target's headers with the new ones
    laid over them. The run calls it from one thread at a time."""
    lock = threading.Lock()

    def refresh(current: Mapping[str, str]) -> dict[str, str]:
        with lock:
            pipe.send("headers?")
            kind, value = pipe.recv()
        if kind == "error":
            raise RuntimeError(value)
        return {**current, **value}

    return refresh


def _child_main(
    work: ChildWork,
    pipe: multiprocessing.connection.Connection,
    controls: Controls,
    asking: multiprocessing.connection.Connection | None = None,
    parent_pid: int | None = None,
) -> None:
    """The child process: run `work`, ship what it posts through a one-slot mailbox, ship its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_early_sigterm)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # blocked by the front end
    if parent_pid is not None:
        lifeline.die_with_parent(parent_pid, signal.SIGTERM)
    # Daemonic for the front end (ended at its exit), but a daemonic process may not start children and
    # a run with workers >= 2 starts generator processes ("daemonic processes are not allowed to have
    # children" ended every such TUI run). Those die with this process (moetui.lifeline).
    multiprocessing.current_process().daemon = False
    _quiet_output()
    mailbox: list[Any] = []
    wake = threading.Condition()
    closing = False

    def post(message: Any, *, replace_snapshot: bool = False) -> None:
        with wake:
            if replace_snapshot and mailbox and isinstance(mailbox[-1], EngineSnapshot):
                mailbox[-1] = message  # the reader is behind: it gets the newest snapshot, not every one
            else:
                mailbox.append(message)
            wake.notify()

    def sender() -> None:
        while True:
            with wake:
                while not mailbox and not closing:
                    wake.wait()
                if not mailbox and closing:
                    return
                message = mailbox.pop(0)
            try:
                pipe.send(message)
            except (BrokenPipeError, OSError):
                # The front end is gone: nobody will read this run, so end it (and its local endpoint).
                os.kill(os.getpid(), signal.SIGTERM)
                return

    thread = threading.Thread(target=sender, name="snapshot-sender", daemon=True)
    thread.start()
    finished = work(controls, post, _asker(asking) if asking else None)
    post(finished)
    with wake:
        closing = True
        wake.notify()
    thread.join(timeout=10)
    pipe.close()


_terminated = False
"""SIGTERM came before the run's loop took the signal over."""


def _on_early_sigterm(_signum: int, _frame: object) -> None:
    global _terminated
    _terminated = True


def _quiet_output() -> None:
    """Send this process's stdout and stderr to a log file: they share the terminal the TUI draws on."""
    import os

    from moetui.paths import config_dir, private_dir

    try:
        log_dir = private_dir(config_dir())
        fd = os.open(log_dir / "engine.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def was_terminated() -> bool:
    """SIGTERM came before the work's loop took the signal over (the work should unwind at once)."""
    return _terminated

"""The worker-process fan-out of a Run with `workers > 1`: start one generator process per share of the
plan, wait until each is ready, start them together, merge the deltas they send, pass refreshed headers
on, and stop them. Also the grace rule both a Run and a worker apply when stopped.

Worker processes leave signals to the run's process: they ignore SIGINT (a terminal's Ctrl-C reaches the
whole process group; the run stops them and still reports), treat SIGTERM as a stop, and die with the run's
process (the parent-death signal, a getppid check, and EOF on their pipe), so a `kill -9` of moetui
never leaves load running.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, NoReturn

from moetui import lifeline
from moetui.aio import run_fast
from moetui.engine.generator import generate
from moetui.engine.plan import LoadPlan
from moetui.engine.recorder import Delta

#: After stop(), requests in flight get this long to be answered before they are abandoned.
STOP_GRACE_S = 2.0
#: Seconds a worker process may take to start (imports) before the run gives up.
WORKER_START_S = 60.0


async def run_in_processes(
    plan: LoadPlan,
    stop_event: asyncio.Event,
    add: Callable[[Delta], None],
    *,
    stop_requested: Callable[[], bool],
    on_start: Callable[[], None],
    refresh: Callable[[Callable[[dict[str, str]], None]], Coroutine[Any, Any, None]] | None,
) -> None:
    """Run `plan` split over `plan.workers` generator processes; hand each delta they send to `add`.

    Args:
        plan: The whole plan; each worker gets its `share`.
        stop_event: Set by the run's stop(): the workers finish within STOP_GRACE_S.
        add: Receives each worker's deltas, in this process's loop.
        stop_requested: Whether stop() came (checked while the workers start).
        on_start: Called once every worker is ready, just before the common start.
        refresh: Asks for fresh headers and hands the changed ones to its argument; None when they do not expire.

    Raises:
        RuntimeError: A worker did not start within WORKER_START_S, or exited before it was ready.
    """
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")  # fork would copy this process's loop and threads
    go = context.Event()
    stop = context.Event()
    pipes = []
    processes = []
    # Blocked while they start, the child inherits the mask: a Ctrl-C during its imports cannot
    # raise there (4 tracebacks with workers = 4); it ignores SIGINT before it unblocks.
    with lifeline.signals_blocked(signal.SIGINT, signal.SIGTERM):
        for worker in range(plan.workers):
            receiver, sender = context.Pipe()  # duplex: deltas come back, refreshed headers go out
            process = context.Process(
                target=_worker_main,
                args=(plan.share(worker), worker, sender, go, stop, os.getpid()),
                name=f"moetui-generator-{worker}",
                daemon=True,
            )
            process.start()
            sender.close()
            pipes.append(receiver)
            processes.append(process)
    finished: set[int] = set()

    def deliver(headers: dict[str, str]) -> None:
        for index, pipe in enumerate(pipes):
            if index not in finished:
                try:
                    pipe.send(("headers", headers))
                except OSError:
                    pass  # the worker is gone: its end is read as such

    refresher = None if refresh is None else asyncio.create_task(refresh(deliver))
    try:
        if not await _wait_ready(pipes, stop_requested):
            return  # stopped while the workers started: no load was sent
        on_start()
        go.set()
        done = asyncio.Event()

        def on_readable(index: int, pipe: multiprocessing.connection.Connection) -> None:
            try:
                delta: Delta = pipe.recv()
            except EOFError:
                delta = None  # type: ignore[assignment]
            if delta is None or delta.finished:
                finished.add(index)
                loop.remove_reader(pipe.fileno())
                if len(finished) == len(pipes):
                    done.set()
            if delta is not None:
                add(delta)

        for index, pipe in enumerate(pipes):
            loop.add_reader(pipe.fileno(), on_readable, index, pipe)
        stopper = asyncio.create_task(stop_event.wait())
        waiter = asyncio.create_task(done.wait())
        await asyncio.wait({stopper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not done.is_set():
            stop.set()
            await asyncio.wait({waiter}, timeout=STOP_GRACE_S + 1)
        stopper.cancel()
        waiter.cancel()
    finally:
        await cancel_task(refresher)
        stop.set()
        for index, pipe in enumerate(pipes):
            if index not in finished:
                loop.remove_reader(pipe.fileno())
            pipe.close()
        for process in processes:
            process.join(timeout=STOP_GRACE_S + 1)
            if process.is_alive():
                process.kill()
                process.join()


async def _wait_ready(pipes: list[multiprocessing.connection.Connection], stop_requested: Callable[[], bool]) -> bool:
    """Wait until every worker has started; False when stop() came first (Ctrl-C during start-up)."""
    deadline = time.monotonic() + WORKER_START_S
    for pipe in pipes:
        while not pipe.poll():
            if stop_requested():
                return False
            if time.monotonic() > deadline:
                raise RuntimeError("a generator process did not start")
            await asyncio.sleep(0.01)
        try:
            ready = pipe.recv()
        except EOFError:
            ready = None
        if ready != "ready":
            if stop_requested():
                return False
            raise RuntimeError("a generator process exited before it was ready")
    return not stop_requested()


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def finish_within_grace(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Await `task`; once `stop` is set, give it STOP_GRACE_S to finish, then cancel it."""
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=STOP_GRACE_S)
            if not task.done():
                task.cancel()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        if isinstance(outcome, Exception):
            raise outcome
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()


def _worker_main(
    plan: LoadPlan,
    worker: int,
    pipe: multiprocessing.connection.Connection,
    go: Any,
    stop: Any,
    parent_pid: int,
) -> None:
    """A generator process: wait for the common start, run, send encoded deltas, apply the refreshed
    headers the run sends, exit. Stops on the run's `stop`, on SIGTERM, and at once when the parent is gone."""
    # Signals are the parent's to handle: it stops the workers and writes the partial report.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    terminated = False

    def on_sigterm(_signum: int, _frame: object) -> None:
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # blocked by the parent
    # Nobody reads a dead parent's results: SIGKILL is the quickest end to its load.
    lifeline.die_with_parent(parent_pid, signal.SIGKILL)

    def orphaned() -> NoReturn:
        os._exit(1)  # the parent is gone: stop the load now, nothing is left to report to

    async def main() -> None:
        stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop_event.set)
        if terminated:
            stop_event.set()
        updates: asyncio.Queue[Mapping[str, str]] = asyncio.Queue()

        def on_message() -> None:
            try:
                kind, payload = pipe.recv()
            except (EOFError, OSError):
                orphaned()  # EOF: the run's end of the pipe is closed, so the run is gone
            if kind == "headers":
                updates.put_nowait(payload)

        async def watch_stop() -> None:
            while not stop.is_set():
                if not lifeline.parent_alive(parent_pid):
                    orphaned()
                await asyncio.sleep(0.05)
            stop_event.set()

        def send(delta: Delta) -> None:
            try:
                pipe.send(delta.encoded())
            except OSError:  # BrokenPipeError: the run is gone
                orphaned()

        watcher = asyncio.create_task(watch_stop())
        loop.add_reader(pipe.fileno(), on_message)
        task = asyncio.create_task(generate(plan, send, stop_event, worker=worker, header_updates=updates))
        try:
            await finish_within_grace(task, stop_event)
        finally:
            loop.remove_reader(pipe.fileno())
            watcher.cancel()

    try:
        pipe.send("ready")
    except OSError:
        orphaned()
    while not go.wait(0.1):
        if stop.is_set() or terminated:
            pipe.close()  # stopped before the start: no load
            return
        if not lifeline.parent_alive(parent_pid):
            orphaned()
    run_fast(main())
    pipe.close()

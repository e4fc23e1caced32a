"""The worker-process fan-out of a Run with `workers > 1`: start one generator process per share of the
plan, wait until each is ready, start them together, merge the deltas they send (over engine/link.py; a
delta lost or unreadable is a loss with its cause, never a quiet undercount), pass refreshed headers on,
and stop them. Also the grace rule both a Run and a worker apply when stopped.

Worker processes leave signals to the run's process: they ignore SIGINT (a terminal's Ctrl-C reaches the
whole process group; the run stops them and still reports), treat SIGTERM as a stop, and die with the run's
process (the parent-death signal, a getppid check, and EOF on their link), so a `kill -9` of moetui
never leaves load running.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NoReturn

from moetui import lifeline
from moetui.aio import run_fast
from moetui.engine.generator import generate
from moetui.engine.link import Link, LinkBroken, TooLarge, Undecodable, send_blocking
from moetui.engine.plan import LoadPlan
from moetui.engine.recorder import Delta

#: After stop(), requests in flight get this long to be answered before they are abandoned.
STOP_GRACE_S = 2.0
#: Seconds a worker process may take to start (imports) before the run gives up.
WORKER_START_S = 60.0
#: A worker's first message: it has started.
READY = "ready"


class Lost(NamedTuple):
    """A worker's word that some of its counts will never arrive, and why (a delta over the link's bound)."""

    cause: str


@dataclass
class _Worker:
    """What the run knows of one generator process."""

    index: int
    process: Any
    link: Link
    ready: bool = False
    finished: bool = False
    """Its last delta came."""
    broken: bool = False
    """Its link broke: a loss is recorded already."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    """No more is read from it: its last delta came, its link closed or broke."""


async def run_in_processes(
    plan: LoadPlan,
    stop_event: asyncio.Event,
    add: Callable[[Delta], None],
    *,
    lose: Callable[[str], None],
    stop_requested: Callable[[], bool],
    on_start: Callable[[], None],
    refresh: Callable[[Callable[[dict[str, str]], None]], Coroutine[Any, Any, None]] | None,
) -> None:
    """Run `plan` split over `plan.workers` generator processes; hand each delta they send to `add`.

    Args:
        plan: The whole plan; each worker gets its `share`.
        stop_event: Set by the run's stop(): the workers finish within STOP_GRACE_S.
        add: Receives each worker's deltas, in this process's loop.
        lose: Receives the cause of every loss once the load started: a delta that could not be read or
            never came (a worker that died, a link cut). The totals are then short: the run is invalid.
        stop_requested: Whether stop() came (checked while the workers start).
        on_start: Called once every worker is ready, just before the common start.
        refresh: Asks for fresh headers and hands the changed ones to its argument; None when they do not expire.

    Raises:
        RuntimeError: A worker did not start within WORKER_START_S, or exited before it was ready.
    """
    context = multiprocessing.get_context("spawn")  # fork would copy this process's loop and threads
    go = context.Event()
    stop = context.Event()
    ends: list[socket.socket] = []
    processes = []
    # Blocked while they start, the child inherits the mask: a Ctrl-C during its imports cannot
    # raise there (4 tracebacks with workers = 4); it ignores SIGINT before it unblocks.
    with lifeline.signals_blocked(signal.SIGINT, signal.SIGTERM):
        for number in range(plan.workers):
            ours, theirs = socket.socketpair()  # duplex: deltas come back, refreshed headers go out
            process = context.Process(
                target=_worker_main,
                args=(plan.share(number), number, theirs, go, stop, os.getpid()),
                name=f"moetui-generator-{number}",
                daemon=True,
            )
            process.start()
            theirs.close()
            ends.append(ours)
            processes.append(process)
    workers: list[_Worker] = []
    readers: list[asyncio.Task[None]] = []
    refresher = None
    started = False

    def deliver(headers: dict[str, str]) -> None:
        for worker in workers:
            if not worker.ended.is_set():
                worker.link.send(("headers", headers))  # a worker gone meanwhile: nothing is sent

    try:
        for index, (end, process) in enumerate(zip(ends, processes, strict=True)):
            workers.append(_Worker(index, process, await Link.open(end)))
        readers = [asyncio.create_task(_receive(worker, add, lose)) for worker in workers]
        refresher = None if refresh is None else asyncio.create_task(refresh(deliver))
        if not await _wait_ready(workers, stop_requested):
            return  # stopped while the workers started: no load was sent
        on_start()
        go.set()
        started = True
        all_ended = asyncio.create_task(_all_ended(workers))
        stopper = asyncio.create_task(stop_event.wait())
        await asyncio.wait({stopper, all_ended}, return_when=asyncio.FIRST_COMPLETED)
        if not all_ended.done():
            stop.set()
            await asyncio.wait({all_ended}, timeout=STOP_GRACE_S + 1)
        stopper.cancel()
        all_ended.cancel()
    finally:
        await cancel_task(refresher)
        stop.set()
        for task in readers:
            await cancel_task(task)
        for process in processes:
            process.join(timeout=STOP_GRACE_S + 1)
            if process.is_alive():
                process.kill()
                process.join()
        for each in workers:
            await each.link.close()
            if started and not each.finished and not each.broken:
                lose(
                    f"generator process {each.index} sent no last delta (exit code {each.process.exitcode}): "
                    "its counts since its previous delta are missing"
                )
        for end in ends[len(workers) :]:
            end.close()  # not opened as a link: the start failed


async def _receive(worker: _Worker, add: Callable[[Delta], None], lose: Callable[[str], None]) -> None:
    """Read `worker`'s messages until its last delta or the end of its link. Whatever cannot be read is
    handed to `lose` with its cause: never a quiet undercount."""
    name = f"generator process {worker.index}"
    try:
        while True:
            try:
                message = await worker.link.receive()
            except Undecodable as exc:
                lose(f"{name}: a delta could not be decoded ({exc}): its counts are missing")
                continue
            except LinkBroken as exc:
                worker.broken = True
                lose(f"{name}: its link broke, {exc}: its counts from then on are missing")
                return
            if message is None:
                return  # closed: whether its last delta came is judged once it has exited
            if message == READY:
                worker.ready = True
            elif isinstance(message, Delta):
                try:
                    add(message)
                except Exception as exc:  # a histogram that does not decode: the delta is lost, loudly
                    lose(f"{name}: a delta could not be merged ({type(exc).__name__}: {exc}): its counts are missing")
                if message.finished:
                    worker.finished = True
                    return
            elif isinstance(message, Lost):
                lose(f"{name}: {message.cause}")
            else:
                lose(f"{name}: an unknown message ({type(message).__name__}): its counts may be missing")
    finally:
        worker.ended.set()


async def _all_ended(workers: list[_Worker]) -> None:
    for worker in workers:
        await worker.ended.wait()


async def _wait_ready(workers: list[_Worker], stop_requested: Callable[[], bool]) -> bool:
    """Wait until every worker has started; False when stop() came first (Ctrl-C during start-up)."""
    deadline = time.monotonic() + WORKER_START_S
    while not all(worker.ready for worker in workers):
        if stop_requested():
            return False
        if any(worker.ended.is_set() and not worker.ready for worker in workers):
            raise RuntimeError("a generator process exited before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError("a generator process did not start")
        await asyncio.sleep(0.01)
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
    sock: socket.socket,
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
        link = await Link.open(sock)

        async def receive() -> None:
            while True:
                try:
                    message = await link.receive()
                except Undecodable:
                    continue  # a header update lost: the requests keep the headers they have
                except LinkBroken:
                    orphaned()
                if message is None:
                    orphaned()  # EOF: the run's end of the link is closed, so the run is gone
                if isinstance(message, tuple) and len(message) == 2 and message[0] == "headers":
                    updates.put_nowait(message[1])

        async def watch_stop() -> None:
            while not stop.is_set():
                if not lifeline.parent_alive(parent_pid):
                    orphaned()
                await asyncio.sleep(0.05)
            stop_event.set()

        def send(delta: Delta) -> None:
            try:
                link.send(delta.encoded())
            except TooLarge as exc:
                link.send(Lost(f"a delta was not sent ({exc}): its counts are missing"))

        helpers = [asyncio.create_task(watch_stop()), asyncio.create_task(receive())]
        task = asyncio.create_task(generate(plan, send, stop_event, worker=worker, header_updates=updates))
        try:
            await finish_within_grace(task, stop_event)
        finally:
            for helper in helpers:
                await cancel_task(helper)
            await link.close(flush_s=STOP_GRACE_S)  # the last delta leaves before the process ends

    try:
        send_blocking(sock, READY)
    except OSError:
        orphaned()
    while not go.wait(0.1):
        if stop.is_set() or terminated:
            sock.close()  # stopped before the start: no load
            return
        if not lifeline.parent_alive(parent_pid):
            orphaned()
    run_fast(main())

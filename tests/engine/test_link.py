"""The link between a run and its generator processes, on a real socket pair and uvloop: a delta far over the
socket's buffer, arriving in pieces, comes out whole (multiprocessing's recv() raised BlockingIOError there and
the worker's later deltas were lost in silence); a cut, an oversized or an undecodable message is named.
The run's own reader (workers._receive) merges what arrives and turns every loss into an invalid measurement."""

from __future__ import annotations

import asyncio
import pickle
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from moetui.aio import run_fast
from moetui.engine.aggregate import Aggregator
from moetui.engine.link import HEADER, MAX_MESSAGE_BYTES, Link, TooLarge, pack
from moetui.engine.recorder import Delta, Recorder
from moetui.engine.workers import READY, Lost, _receive, _Worker

T = TypeVar("T")
#: Requests in the big delta: 1.3 MB pickled, 20 times a socket pair's buffer.
BIG = 40_000


def big_delta(requests: int = BIG, *, finished: bool = False) -> Delta:
    """A real generator's delta (histograms encoded, as a worker sends it) of `requests` finished requests."""
    recorder = Recorder(1, 0.0, 0.0, recent_size=100_000)
    for index in range(requests):
        request_id = recorder.begin(index * 0.001)
        recorder.end(request_id, index * 0.001, index * 0.001 + 0.002, 200, None, None)
    return recorder.take(requests * 0.001 + 0.002, finished=finished).encoded()


def trickle(sock: socket.socket, data: bytes, piece: int = 50_000) -> threading.Thread:
    """Write `data` on a blocking socket in pieces with pauses, as a busy worker's writes arrive, then close."""

    def write() -> None:
        with sock:
            for start in range(0, len(data), piece):
                sock.sendall(data[start : start + piece])
                time.sleep(0.002)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def read_trickled(data: bytes, reading: Callable[[Link], Awaitable[T]]) -> T:
    """Trickle `data` into one end of a socket pair; run `reading` on a link over the other end, on uvloop
    (the loop that made multiprocessing's pipe non-blocking under its recv())."""
    ours, theirs = socket.socketpair()
    writer = trickle(theirs, data)

    async def main() -> T:
        link = await Link.open(ours)
        try:
            return await reading(link)
        finally:
            await link.close()

    try:
        return run_fast(main())
    finally:
        writer.join()


def read_worker(data: bytes, index: int = 0) -> tuple[_Worker, Aggregator]:
    """What the run's reader makes of `data` from generator process `index`: its state and the totals."""
    aggregator = Aggregator("closed", workers=1, recent_size=100_000)

    async def reading(link: Link) -> _Worker:
        worker = _Worker(index, None, link)
        await _receive(worker, aggregator.add, aggregator.lost.append)
        return worker

    return read_trickled(data, reading), aggregator


def test_a_delta_far_over_the_socket_buffer_arrives_whole_in_pieces() -> None:
    delta = big_delta()
    data = pack(delta) + pack(big_delta(3, finished=True))
    assert len(data) > 1_000_000

    async def reading(link: Link) -> list[object]:
        return [await link.receive(), await link.receive(), await link.receive()]

    first, second, end = read_trickled(data, reading)
    assert isinstance(first, Delta) and first.sent == BIG and len(first.recent) == BIG
    assert first.recent == delta.recent and first.histograms == delta.histograms
    assert isinstance(second, Delta) and second.finished and second.sent == 3
    assert end is None  # closed between messages: the end, not a loss


def test_the_runs_reader_merges_a_big_delta_and_reports_nothing_lost() -> None:
    worker, aggregator = read_worker(pack(READY) + pack(big_delta()) + pack(big_delta(5, finished=True)))
    assert worker.ready and worker.finished and not worker.broken
    assert aggregator.sent == BIG + 5 and aggregator.ok == BIG + 5 and len(aggregator.recent) == BIG + 5
    assert aggregator.lost == [] and aggregator.health().valid


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (pack(big_delta())[:700_000], "cut after 699,996 of a message's"),
        (HEADER.pack(MAX_MESSAGE_BYTES + 1) + b"x" * 10, "over the 67,108,864-byte bound"),
        (pack(READY)[:2], "cut inside a message's length"),
    ],
    ids=["cut-mid-delta", "oversized", "cut-in-length"],
)
def test_a_broken_link_is_a_named_loss_that_invalidates_the_run(data: bytes, cause: str) -> None:
    worker, aggregator = read_worker(data)
    assert worker.broken and not worker.finished
    (reason,) = aggregator.lost
    assert reason.startswith("generator process 0: its link broke") and cause in reason
    health = aggregator.health()
    assert not health.valid and health.reasons == (reason,)


def test_an_undecodable_delta_is_a_named_loss_and_the_next_one_is_still_read() -> None:
    garbage = pickle.dumps(big_delta(2))[:-1]  # without its STOP opcode
    told = Lost("a delta was not sent (too big)")
    worker, aggregator = read_worker(
        HEADER.pack(len(garbage)) + garbage + pack(told) + pack(big_delta(7, finished=True)), 2
    )
    assert worker.finished and aggregator.sent == 7
    undecodable, lost = aggregator.lost
    assert undecodable.startswith("generator process 2: a delta could not be decoded (")
    assert lost == "generator process 2: a delta was not sent (too big)"
    assert not aggregator.health().valid


def test_a_message_over_the_bound_is_never_sent() -> None:
    with pytest.raises(TooLarge, match="over the"):
        pack(b"x" * (MAX_MESSAGE_BYTES + 1))


def test_a_link_writes_what_the_socket_cannot_take_yet() -> None:
    """Both ends on one loop: the writer queues 1.3 MB the socket takes in pieces while the reader reads."""
    delta = big_delta()

    async def main() -> object:
        ours, theirs = socket.socketpair()
        sender, receiver = await Link.open(theirs), await Link.open(ours)
        try:
            sender.send(delta)
            return await asyncio.wait_for(receiver.receive(), 60)
        finally:
            await sender.close(flush_s=1.0)
            await receiver.close()

    received = run_fast(main())
    assert isinstance(received, Delta) and received.recent == delta.recent

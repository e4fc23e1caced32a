"""The stand-alone concurrency check behind `moetui check` (moetui/commands/check.py): not a load mode (that
is modes/burst.py). N requests sent at the same moment, one connection each.

The 3-request concurrency test: if a deployment serves N requests at once, N requests that each sleep S seconds take
about S in total; served one after another they take about N x S.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from moetui.engine.failures import ErrorKind, classify
from moetui.engine.transport import EXEC_MS_HEADER, parse_exec_ms

#: How much of a response body a record keeps (the sleep scorer's answer is about 50 bytes).
BODY_PREVIEW_BYTES = 200


@dataclass(frozen=True)
class BurstRecord:
    """One request of a burst; times in seconds from the burst's start."""

    index: int
    sent_at_s: float
    elapsed_s: float
    status: int | None
    """HTTP status, or None when no response came (see `error`)."""
    error: ErrorKind | None
    """moetui error kind (timeout, refused, reset, ...) when no response came."""
    exec_ms: float | None
    """x-ms-run-fn-exec-ms: time inside the scorer's run(), when the server says."""
    body: bytes
    deployment: str | None


@dataclass(frozen=True)
class BurstResult:
    records: tuple[BurstRecord, ...]
    wall_s: float


async def run_burst(
    url: str,
    payloads: Sequence[bytes],
    headers: Mapping[str, str],
    *,
    timeout_s: float = 10.0,
    on_sent: Callable[[int, float], None] | None = None,
    on_done: Callable[[BurstRecord], None] | None = None,
) -> BurstResult:
    """Send one request per payload, all at once, each on a connection of its own.

    Args:
        url: Scoring URI.
        payloads: One body per request; len(payloads) is N.
        headers: Headers for every request (key included; never logged here).
        timeout_s: Per-request timeout.
        on_sent: Called with (index, sent_at_s) as each request goes out.
        on_done: Called with each record as its response arrives.

    Returns:
        The records in request order and the wall time from the first send to the last answer.
    """
    count = len(payloads)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    # A session per request: one connection each, so no request waits for another's socket.
    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1, force_close=True), timeout=timeout)
        for _ in range(count)
    ]
    start_gate = asyncio.Event()
    started = 0.0

    async def one(index: int, session: aiohttp.ClientSession, body: bytes) -> BurstRecord:
        await start_gate.wait()
        sent = time.perf_counter()
        if on_sent:
            on_sent(index, sent - started)
        status: int | None = None
        error: ErrorKind | None = None
        exec_ms: float | None = None
        data = b""
        deployment = None
        try:
            async with session.post(url, data=body, headers=dict(headers)) as response:
                data = await response.read()
                status = response.status
                exec_ms = parse_exec_ms(response.headers.get(EXEC_MS_HEADER))
                deployment = response.headers.get("azureml-model-deployment")
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = classify(exc)
        record = BurstRecord(
            index=index,
            sent_at_s=sent - started,
            elapsed_s=time.perf_counter() - sent,
            status=status,
            error=error,
            exec_ms=exec_ms,
            body=data[:BODY_PREVIEW_BYTES],
            deployment=deployment,
        )
        if on_done:
            on_done(record)
        return record

    try:
        tasks = [asyncio.create_task(one(i, s, p)) for i, (s, p) in enumerate(zip(sessions, payloads, strict=True))]
        await asyncio.sleep(0)  # let every task reach the gate, so all leave it in the same loop turn
        started = time.perf_counter()
        start_gate.set()
        records = await asyncio.gather(*tasks)
        wall_s = time.perf_counter() - started
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return BurstResult(records=tuple(records), wall_s=wall_s)

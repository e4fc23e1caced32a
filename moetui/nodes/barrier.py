"""The barrier that starts a run's nodes together: node 0 listens, the others connect with the run's token,
and all start after one common delay."""

from __future__ import annotations

import asyncio
import hmac
import json
import time

from moetui.nodes.env import NodeEnv, NodeError

#: The start time node 0 hands out lies this far after the last node reached the barrier: time for the go
#: message to reach every node (a LAN round trip is under 1 ms) and for a loaded node to wake up.
BARRIER_LEAD_S = 0.5
#: How long a node waits at the barrier for the others (Azure starts a job's nodes once all are allocated,
#: but each pulls the image and installs on its own).
BARRIER_TIMEOUT_S = 600.0
#: The bound moetui states on the spread of the nodes' starts (their reports' started_at): the go message
#: carries a delay, not a wall time, so the machines' clock offset does not enter; what does is its delivery
#: (under 1 ms on a LAN) and each node's wake-up. Measured on this loaded 2-core machine, 2 and 3 local nodes:
#: 2.8 to 12.5 ms over 5 runs (tests/headless/test_nodes.py checks the bound); across machines the reports'
#: wall clocks add their NTP offset.
START_SPREAD_BOUND_S = 0.1


async def barrier(node: NodeEnv, *, timeout_s: float = BARRIER_TIMEOUT_S, lead_s: float = BARRIER_LEAD_S) -> float:
    """Wait until every node has reached this point, then until their common start; return the seconds
    waited. Node 0 listens on MASTER_ADDR:MASTER_PORT; the others connect (retrying while it starts), send
    the run's token and their rank (`TOKEN RANK`), and read one go line, `{"start_in_s": ...}`, sent once
    every rank from 1 on has arrived with the token (anything else is closed unanswered). A delay rather than
    a wall time, so the machines' clock offset does not matter.

    Raises:
        NodeError: The others did not all arrive (or node 0 did not answer) within `timeout_s`.
    """
    started = time.monotonic()
    if node.world_size == 1:
        return 0.0
    try:
        async with asyncio.timeout(timeout_s):
            if node.rank == 0:
                await _lead(node, lead_s)
            else:
                await _follow(node, started + timeout_s)
    except TimeoutError:
        who = (
            "the other nodes did not all"
            if node.rank == 0
            else f"node 0 ({node.master_addr}:{node.master_port}) did not"
        )
        raise NodeError(f"node {node.rank}: {who} reach the start barrier within {timeout_s:g} s") from None
    return time.monotonic() - started


async def _lead(node: NodeEnv, lead_s: float) -> None:
    arrived: dict[int, asyncio.StreamWriter] = {}
    everyone = asyncio.Event()

    async def arrive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            token, _, rank_text = (await reader.readline()).decode().strip().partition(" ")
            rank = int(rank_text)
        except (ValueError, OSError):  # not a number, not UTF-8, a line past the reader's limit, a reset
            token, rank = "", 0
        known = hmac.compare_digest(token.encode(), node.token.encode())
        if not (known and 0 < rank < node.world_size) or rank in arrived:
            writer.close()  # not one of this run's nodes (or a rank twice): it does not count
            return
        arrived[rank] = writer
        if len(arrived) == node.world_size - 1:
            everyone.set()

    server = await asyncio.start_server(arrive, node.master_addr, node.master_port, reuse_address=True)
    try:
        await everyone.wait()
        go = (json.dumps({"start_in_s": lead_s}) + "\n").encode()
        sent_at = time.monotonic()
        for writer in arrived.values():
            writer.write(go)
        await asyncio.gather(*(writer.drain() for writer in arrived.values()))
        await asyncio.sleep(max(0.0, lead_s - (time.monotonic() - sent_at)))
    finally:
        for writer in arrived.values():
            writer.close()
        server.close()


async def _follow(node: NodeEnv, deadline: float) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(node.master_addr, node.master_port)
            break
        except OSError:  # node 0 is not listening yet
            if time.monotonic() > deadline:
                raise TimeoutError from None
            await asyncio.sleep(0.05)
    try:
        writer.write(f"{node.token} {node.rank}\n".encode())
        await writer.drain()
        line = await reader.readline()
        received_at = time.monotonic()
        if not line:
            raise NodeError(f"node {node.rank}: node 0 closed the start barrier before the go (it failed)")
        start_in_s = float(json.loads(line)["start_in_s"])
        await asyncio.sleep(max(0.0, start_in_s - (time.monotonic() - received_at)))
    finally:
        writer.close()

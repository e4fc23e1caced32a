"""One run over several machines (nodes): each node's share of the LoadPlan, the barrier that starts the
nodes together, a node's own report, and the launcher's merge of the node reports into one judged report.

The same node code runs as an Azure ML job's processes (PyTorchDistribution gives RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT; MPI gives OMPI_COMM_WORLD_RANK/_SIZE) and as `--local-nodes` processes on this
machine, which is how it is tested for real. Imports neither textual, rich nor azure.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from moetui.config.schema import Config
from moetui.engine.plan import LoadPlan
from moetui.errors import ConfigError, ExitStatus, MoetuiError
from moetui.paths import write_atomic
from moetui.report.json_report import write_report
from moetui.report.merge import merge_reports
from moetui.report.read import read_report

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
#: A node's report in the output folder, and what a node that failed leaves instead.
REPORT_NAME = "node-{rank}.json"
ERROR_NAME = "node-{rank}.error"
#: Seeds of node k's generators start here apart, so that no two nodes draw the same arrivals.
SEED_STRIDE = 1000


class NodeError(MoetuiError):
    """A node failed (its own error, or it never reached the barrier): the whole run fails."""

    title = "Node failed"
    exit_status = ExitStatus.UNREACHABLE


#: The variable that holds the run's barrier token: the same random value for every node of one run, set by
#: the launcher (--local-nodes' processes, an Azure job's environment). Node 0 lets into the barrier only a
#: connection that sends it: any local process could connect and send a rank before.
TOKEN_ENV = "MOETUI_NODES_TOKEN"


def new_token() -> str:
    """A fresh barrier token for one run over several nodes."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class NodeEnv:
    """Who this node is among the job's nodes, from the environment the job gives its processes."""

    rank: int
    world_size: int
    master_addr: str
    master_port: int
    token: str = ""
    """The run's barrier token (TOKEN_ENV); "" for one node, which has no barrier."""


def node_env(environ: Mapping[str, str]) -> NodeEnv:
    """RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (PyTorchDistribution); OMPI_COMM_WORLD_RANK/_SIZE stand
    in for the first two (MPI). One node needs no master: it has nobody to wait for.

    Raises:
        ConfigError: A variable is missing or not a number (the message names it).
    """

    def number(*names: str, default: int | None = None) -> int:
        for name in names:
            if name in environ:
                try:
                    return int(environ[name])
                except ValueError:
                    raise ConfigError(f"{name}={environ[name]!r} is not a whole number") from None
        if default is None:
            raise ConfigError(f"a node needs {' or '.join(names)} in its environment (set by the job)")
        return default

    rank = number("RANK", "OMPI_COMM_WORLD_RANK", default=0)
    world_size = number("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", default=1)
    if not 0 <= rank < world_size:
        raise ConfigError(f"RANK {rank} is not below WORLD_SIZE {world_size}")
    if world_size == 1:
        return NodeEnv(0, 1, environ.get("MASTER_ADDR", "127.0.0.1"), int(environ.get("MASTER_PORT", "0") or 0))
    if not environ.get("MASTER_ADDR"):
        raise ConfigError("a node of several needs MASTER_ADDR in its environment (set by the job)")
    if len(environ.get(TOKEN_ENV, "")) < 16:
        raise ConfigError(f"a node of several needs {TOKEN_ENV} in its environment (set by moetui for the run)")
    return NodeEnv(rank, world_size, environ["MASTER_ADDR"], number("MASTER_PORT"), environ[TOKEN_ENV])


def node_share(plan: LoadPlan, rank: int, nodes: int) -> LoadPlan:
    """Node `rank`'s part of `plan` when `nodes` machines split it: connections, clients, the request
    budget and step levels divided as LoadPlan.share divides them between worker processes (the first
    `total % nodes` nodes take one more, so the parts add up to the total), the rate divided evenly. The
    node's own generator processes then split its part again.

    Raises:
        ConfigError: A node would get no connection (or client) of its own, or fewer than its workers.
    """
    check_nodes(plan, nodes)
    if nodes == 1:
        return plan
    part = replace(plan, workers=nodes).share(rank)
    return replace(
        part,
        workers=plan.workers,
        seed=None if plan.seed is None else plan.seed + SEED_STRIDE * rank,
    )


def check_nodes(plan: LoadPlan, nodes: int) -> None:
    """Each node needs at least one connection (client, request) of its own, and as many as its workers.

    Raises:
        ConfigError: Naming the setting that is too small.
    """
    if nodes < 1:
        raise ConfigError(f"--nodes {nodes}: at least 1")
    if plan.mode == "burst":
        least, key = plan.burst_size, "load.requests" if plan.requests else "load.connections"
    elif plan.mode == "steps" and plan.steps_over == "connections":
        least, key = int(min(plan.steps_levels)), "steps.levels"
    elif plan.timetable:
        least, key = plan.clients, "load.clients"
    else:
        least, key = plan.connections, "load.connections"
    if plan.requests and plan.mode != "burst" and plan.requests < nodes:
        least, key = min(least, plan.requests), "load.requests"
    needed = nodes * max(1, plan.workers if plan.mode != "burst" else 1)
    if least < needed:
        raise ConfigError(
            f"--nodes {nodes}: {key} comes to {least:g}, but each of {nodes} nodes needs at least "
            f"{needed // nodes} of its own; allowed: --nodes at most {max(1, int(least) // max(1, needed // nodes))}, "
            f"or a larger {key}"
        )


def share_block(plan: LoadPlan) -> dict[str, Any]:
    """What a node's report says about its share (to check that the shares add up to the plan)."""
    return {
        "connections": plan.connections,
        "clients": plan.clients,
        "rate": plan.rate,
        "requests": plan.requests,
        "steps_levels": list(plan.steps_levels),
        "workers": plan.workers,
    }


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


@dataclass
class NodeRun:
    """This process's part in a run over several nodes: its share, the barrier, its report's place."""

    env: NodeEnv
    output_dir: Path
    share: dict[str, Any] | None = None
    waited_s: float | None = None

    def shape_plan(self, plan: LoadPlan) -> LoadPlan:
        part = node_share(plan, self.env.rank, self.env.world_size)
        self.share = share_block(part)
        return part

    async def before_load(self) -> None:
        self.waited_s = await barrier(self.env)

    def block(self) -> dict[str, Any]:
        return {
            "rank": self.env.rank,
            "of": self.env.world_size,
            "host": socket.gethostname(),
            "share": self.share,
            "barrier_waited_s": None if self.waited_s is None else round(self.waited_s, 3),
        }

    @property
    def report_path(self) -> Path:
        return self.output_dir / REPORT_NAME.format(rank=self.env.rank)

    def write_report(self, report: dict[str, Any]) -> None:
        write_report({**report, "node": self.block()}, self.report_path)

    def write_error(self, message: str) -> None:
        """What the launcher names when this node fails (a MoetuiError's message: never a secret)."""
        write_atomic(self.output_dir / ERROR_NAME.format(rank=self.env.rank), message + "\n")


def read_node_reports(output_dir: Path, nodes: int) -> list[dict[str, Any]]:
    """The nodes' reports, node 0 first.

    Raises:
        NodeError: A node wrote no report (its error file's message when it left one).
    """
    reports, missing = [], []
    for rank in range(nodes):
        path = output_dir / REPORT_NAME.format(rank=rank)
        if path.is_file():
            reports.append(read_report(path))
            continue
        error = output_dir / ERROR_NAME.format(rank=rank)
        missing.append(
            f"node {rank}: {error.read_text().strip()}" if error.is_file() else f"node {rank} wrote no report"
        )
    if missing:
        raise NodeError("; ".join(missing))
    return reports


def judging_config(path: Path | None, overrides: Sequence[str], profiler_env: Mapping[str, str] | None) -> Config:
    """The configuration the nodes run, as the launcher reads it to judge their merged report."""
    from moetui.config.load import load_config

    layer = None
    if profiler_env is not None:
        from moetui.config.profiler_env import read_profiler_env

        names_target = path is not None or any(o.strip().startswith("target.") for o in overrides)
        layer = read_profiler_env(profiler_env, needs_target=not names_target).layer
    return load_config(path, overrides, layer=layer)


def merged_node_report(config: Config, output_dir: Path, nodes: int, *, interrupted: bool = False) -> dict[str, Any]:
    """The node reports in `output_dir` merged and judged with `config` (both launchers end here).

    Raises:
        NodeError: A node left no report (named, with its error).
    """
    reports = read_node_reports(output_dir, nodes)
    merged = merge_node_reports(reports, [f"node {rank}" for rank in range(nodes)], config)
    if interrupted:
        merged["interrupted"] = True
        merged["exit_status"] = int(ExitStatus.INTERRUPTED)
    return merged


def merge_node_reports(reports: Sequence[dict[str, Any]], sources: Sequence[str], config: Config) -> dict[str, Any]:
    """One report from the nodes' reports (moetui.report.merge.merge_reports: histograms added exactly, counts
    summed, every block merged or noted, every node named in `nodes`), the configuration's thresholds judged
    on the merged numbers."""
    merged = merge_reports(reports, sources, thresholds=config.thresholds)
    merged["start_spread_bound_s"] = START_SPREAD_BOUND_S
    return cast(dict[str, Any], merged)  # a Report: the launchers' readers are typed on branch nodes


def nodes_lines(report: Mapping[str, Any]) -> list[str]:
    """The summary's lines about the nodes: each one's host, share, start offset and health."""
    nodes = report.get("nodes") or []
    if not nodes:
        return []
    lines = [
        f"nodes        {len(nodes)}, started within {report['start_spread_s'] * 1000:,.1f} ms of each other "
        f"(bound {report['start_spread_bound_s'] * 1000:g} ms on one clock)"
    ]
    for node in nodes:
        share = node.get("share") or {}
        parts = ", ".join(
            f"{key} {value:g}"
            for key, value in share.items()
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "workers"
        )
        health = "ok" if node["valid"] else "INVALID: " + "; ".join(node["reasons"] or ["could not keep up"])
        lines.append(
            f"  node {node.get('rank')} {node.get('host', '?')}: {parts}; {node['ok']:,} ok, "
            f"{node['failed']:,} failed, +{node['start_offset_s'] * 1000:.1f} ms, {health}"
        )
    return lines


#: Set by --local-nodes in each node's environment: the node then dies with moetui (moetui.lifeline).
PARENT_PID_ENV = "MOETUI_NODE_PARENT_PID"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (node 0 binds it a moment later; a race a test machine tolerates)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

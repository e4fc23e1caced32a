"""`--nodes N --local-nodes`: N node processes on this machine, with the environment an Azure ML job gives
(RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT, the node output folder), then the same merge as after
a job. With [target.local] the launcher starts the one local endpoint and every node loads it as a
[target.url] (the key in the nodes' environment): N endpoints would each take only a share of the load.
Every child is stopped by its PID and dies with moetui; one failed node stops the others and fails the run,
naming it. Nothing here prints: progress lines go to `say`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from moetui.config.dump import config_to_dict
from moetui.config.schema import Config
from moetui.config.timing import request_timeout_s
from moetui.errors import ExitStatus
from moetui.local_endpoint.usage import Sampler
from moetui.nodes.env import PARENT_PID_ENV, TOKEN_ENV, NodeError, free_port, new_token
from moetui.nodes.merge import judging_config, merged_node_report
from moetui.nodes.node import ERROR_NAME, shared_target_environ
from moetui.redact import shown_config
from moetui.report.model import LocalProcesses, Report, TargetInfo
from moetui.session.child import start_command, stop_children
from moetui.targets.base import ResolvedTarget

#: Lines of a failed node's log shown with its error.
LOG_TAIL_LINES = 15

Say = Callable[[str], None]
"""A progress line (the endpoint starting, the nodes running)."""


@dataclass(frozen=True)
class SharedEndpoint:
    """The local endpoint the launcher started for all its nodes."""

    target: ResolvedTarget
    environ: dict[str, str]
    """What each node's environment gets to load it (moetui.nodes.node.shared_target_environ)."""
    sampler: Sampler | None
    """Its processes' CPU and memory, sampled while the nodes run."""


@asynccontextmanager
async def shared_endpoint(config: Config, base_dir: Path, say: Say) -> AsyncIterator[SharedEndpoint | None]:
    """[target.local]: the local endpoint, started once for every node and stopped after them (None for any
    other target: each node resolves that itself)."""
    if config.target.local is None:
        yield None
        return
    from moetui.targets.local import LocalTargetSource

    async with (
        LocalTargetSource(config.target.local, base_dir, on_progress=say).open() as target,
        AsyncExitStack() as stack,
    ):
        # The run's own timeout rule, with the deployment's request_timeout_ms the nodes cannot see.
        timeout_s = request_timeout_s(config.load.timeout_s, target.request_timeout_ms)
        environ = shared_target_environ(
            target.url,
            target.headers["Authorization"].removeprefix("Bearer "),
            capacity=target.capacity,
            deployment=config.target.local.deployment,
            timeout_s=timeout_s,
        )
        sampler = (
            await stack.enter_async_context(Sampler(target.processes, target.cpus_per_instance))
            if target.processes
            else None
        )
        say(f"moetui: every node loads one {target.description}")
        yield SharedEndpoint(target, environ, sampler)


def node_environ(base: Mapping[str, str], rank: int, nodes: int, port: int, token: str) -> dict[str, str]:
    """The environment Azure ML's PyTorchDistribution gives node `rank` (as FACTS reads it), on this machine,
    with the run's barrier token."""
    return {
        **base,
        "RANK": str(rank),
        "WORLD_SIZE": str(nodes),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        PARENT_PID_ENV: str(os.getpid()),
        TOKEN_ENV: token,
    }


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


def _last_line(path: Path) -> str:
    tail = _tail(path, 3).splitlines()
    return tail[-1].strip() if tail else ""


async def run_local_nodes(
    path: Path | None,
    nodes: int,
    *,
    nodes_dir: Path,
    overrides: Sequence[str] = (),
    profiler_env: Mapping[str, str] | None = None,
    say: Say,
    progress_interval_s: float = 1.0,
) -> Report:
    """Run the nodes, wait for them, and return their merged, judged report.

    Args:
        nodes_dir: The nodes' output folder (made when missing; old node files in it are removed).
        say: Progress lines (the endpoint starting, the nodes running, node 0's last line).

    Raises:
        MoetuiError: Bad input (before anything starts), the endpoint failing to start, or a node failing
            (NodeError, naming it with its error and log).
    """
    config = judging_config(path, overrides, profiler_env)  # bad input: an error before anything starts
    base_dir = path.resolve().parent if path is not None else Path.cwd()
    nodes_dir.mkdir(parents=True, exist_ok=True)
    for old in nodes_dir.glob("node-*"):
        old.unlink()
    port, token = free_port(), new_token()
    command = [sys.executable, "-m", "moetui", "--run"]
    command += [str(path)] if path is not None else []
    command += ["--node-output", str(nodes_dir), *(["--profiler-env"] if profiler_env is not None else [])]
    for override in overrides:
        # The launcher's endpoint already has the target's settings; a node's target is the one it is given.
        if config.target.local is None or not override.strip().startswith("target."):
            command += ["--set", override]
    base = dict(os.environ if profiler_env is None else profiler_env)
    children: list[subprocess.Popen[bytes]] = []
    logs = [nodes_dir / f"node-{rank}.log" for rank in range(nodes)]
    async with shared_endpoint(config, base_dir, say) as shared:
        say(f"moetui: {nodes} local nodes, output folder {nodes_dir}")
        try:
            for rank in range(nodes):
                with open(logs[rank], "wb") as log, open(nodes_dir / f"node-{rank}.out", "wb") as stdout:
                    children.append(
                        start_command(
                            command,
                            stdout=stdout,
                            stderr=log,
                            env={**node_environ(base, rank, nodes, port, token), **(shared.environ if shared else {})},
                            cwd=Path.cwd(),
                        )
                    )
            interrupted = await _watch(children, logs, nodes_dir, say, progress_interval_s)
        finally:
            stop_children(children)  # SIGTERM is a node's stop: it writes its partial report
    merged = merged_node_report(config, nodes_dir, nodes, interrupted=interrupted)
    if shared is not None:  # the nodes saw a [target.url]: the run was the configuration's local endpoint
        merged["config"] = shown_config(config_to_dict(config))
        merged["target"] = cast(TargetInfo, shared.target.public())
        sampler = shared.sampler
        merged["local_processes"] = cast(LocalProcesses, sampler.block()) if sampler is not None else None
    return merged


async def _watch(
    children: list[subprocess.Popen[bytes]],
    logs: list[Path],
    output_dir: Path,
    say: Say,
    interval_s: float,
) -> bool:
    """Wait for every node; on Ctrl-C or SIGTERM ask them to stop (they write partial reports) and return
    True. A node that fails stops the others and raises NodeError naming it."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    started = time.monotonic()
    last_said = 0.0
    try:
        while any(child.poll() is None for child in children):
            if stopping.is_set():
                say("\nStopping the nodes: the partial result will be reported.")
                await asyncio.to_thread(stop_children, children)  # the one stop policy, off the loop
                return True
            for rank, child in enumerate(children):
                code = child.poll()
                if code not in (None, ExitStatus.OK, ExitStatus.INTERRUPTED):
                    raise NodeError(_failure(rank, code, logs[rank], output_dir))
            now = time.monotonic()
            if now - last_said >= interval_s:
                last_said = now
                running = sum(child.poll() is None for child in children)
                say(f"nodes {running}/{len(children)} running {now - started:5.1f}s  node 0: {_last_line(logs[0])}")
            try:
                await asyncio.wait_for(stopping.wait(), 0.1)
            except TimeoutError:
                pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    for rank, child in enumerate(children):
        if child.returncode not in (ExitStatus.OK, ExitStatus.INTERRUPTED):
            raise NodeError(_failure(rank, child.returncode, logs[rank], output_dir))
    return any(child.returncode == ExitStatus.INTERRUPTED for child in children)


def _failure(rank: int, code: int | None, log: Path, output_dir: Path) -> str:
    error = output_dir / ERROR_NAME.format(rank=rank)
    said = error.read_text().strip() if error.is_file() else f"exit status {code}"
    tail = _tail(log)
    return f"node {rank} failed: {said}" + (f"\nits log ({log}):\n{tail}" if tail else "")

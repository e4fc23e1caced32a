"""`--node-output DIR` (one node of a run over several machines, as an Azure ML job runs it) and
`--nodes N --local-nodes` (N such nodes as processes on this machine, with the environment Azure ML would
give them), and the end both launchers share: merge the node reports, judge, summary, report, exit status.
Imports neither textual nor azure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from moetui.config.schema import Config
from moetui.errors import ConfigError, ExitStatus, MoetuiError
from moetui.nodes import (
    ERROR_NAME,
    PARENT_PID_ENV,
    REPORT_NAME,
    TOKEN_ENV,
    NodeError,
    NodeRun,
    free_port,
    judging_config,
    merged_node_report,
    new_token,
    node_env,
    nodes_lines,
)
from moetui.paths import export_path
from moetui.redact import printable
from moetui.report.codec import check_report_path, write_report
from moetui.report.model import Report
from moetui.report.summary import format_summary

#: How long a node gets to write its partial report after SIGTERM before it is killed.
STOP_GRACE_S = 10.0
#: Lines of a failed node's log shown with its error.
LOG_TAIL_LINES = 15


async def run_node(
    path: Path | None,
    output_dir: Path,
    *,
    overrides: Sequence[str] = (),
    profiler_env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """One node: its share of the run after the barrier, its report as DIR/node-<rank>.json; a failure
    leaves DIR/node-<rank>.error with the message, for the launcher to name."""
    environ = os.environ if environ is None else environ
    if PARENT_PID_ENV in environ:  # started by --local-nodes: never outlive moetui
        from moetui.lifeline import die_with_parent

        die_with_parent(int(environ[PARENT_PID_ENV]))
    node = NodeRun(node_env(environ), output_dir)
    from moetui.headless import run_config

    try:
        return await run_config(path, overrides=overrides, profiler_env=profiler_env, node=node)
    except MoetuiError as exc:
        node.write_error(f"{exc.title}: {exc.message}")
        raise
    except Exception as exc:
        node.write_error(f"{type(exc).__name__}: {exc}")
        raise


def finish(
    config: Config,
    output_dir: Path,
    nodes: int,
    report_path: Path | None,
    out: TextIO,
    *,
    interrupted: bool = False,
) -> int:
    """Merge the node reports in `output_dir`, judge them with `config`, print the summary and the nodes,
    write the report; return the exit status.

    Raises:
        NodeError: A node left no report (named, with its error).
    """
    return print_merged(merged_node_report(config, output_dir, nodes, interrupted=interrupted), report_path, out)


def print_merged(merged: Report, report_path: Path | None, out: TextIO) -> int:
    """Print a merged report's summary and nodes, write it to `report_path`; return the exit status."""
    status = ExitStatus(merged["exit_status"])
    out.write(format_summary(merged) + "\n")
    out.write(printable("\n".join(nodes_lines(merged))) + "\n")
    if report_path is not None:
        try:
            write_report(merged, report_path)
            out.write(f"report: {report_path}\n")
        except OSError as exc:
            out.write(f"moetui: the report could not be written to {report_path}: {exc.strerror or exc}\n")
            status = ExitStatus.REPORT_NOT_WRITTEN
    out.write(f"exit status {int(status)} ({status.name.lower().replace('_', ' ')})\n")
    out.flush()
    return status


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
    report_path: Path | None = None,
    overrides: Sequence[str] = (),
    profiler_env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    progress_interval_s: float = 1.0,
) -> int:
    """`--nodes N --local-nodes`: N node processes here, each with RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1,
    MASTER_PORT and the node output folder an Azure ML job gives, then the same merge as after a job.
    Every child is stopped by its PID and dies with moetui; one failed node stops the others and fails
    the run, naming it."""
    out = out or sys.stdout
    err = err or sys.stderr

    def say(line: str) -> None:
        err.write(line + "\n")
        err.flush()

    config = judging_config(path, overrides, profiler_env)  # bad input: an error before anything starts
    if report_path is not None and (why := check_report_path(report_path)) is not None:
        raise ConfigError(f"--report: the report cannot be written there: {why}.")
    output_dir = (
        report_path.with_name(report_path.name + ".nodes")
        if report_path is not None
        else export_path("moetui-nodes", "")
    )
    if (why := check_report_path(output_dir / REPORT_NAME.format(rank=0))) is not None:
        raise ConfigError(f"--report: the nodes' output folder {output_dir} cannot be written: {why}.")
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob("node-*"):
        old.unlink()
    port, token = free_port(), new_token()
    command = [sys.executable, "-m", "moetui", "--run"]
    command += [str(path)] if path is not None else []
    command += ["--node-output", str(output_dir), *(["--profiler-env"] if profiler_env is not None else [])]
    for override in overrides:
        command += ["--set", override]
    base = dict(os.environ if profiler_env is None else profiler_env)
    children: list[subprocess.Popen[bytes]] = []
    logs = [output_dir / f"node-{rank}.log" for rank in range(nodes)]
    say(f"moetui: {nodes} local nodes, output folder {output_dir}")
    try:
        for rank in range(nodes):
            with open(logs[rank], "wb") as log, open(output_dir / f"node-{rank}.out", "wb") as stdout:
                children.append(
                    subprocess.Popen(
                        command,
                        stdout=stdout,
                        stderr=log,
                        env=node_environ(base, rank, nodes, port, token),
                        cwd=Path.cwd(),
                    )
                )
        interrupted = await _watch(children, logs, output_dir, say, progress_interval_s)
    finally:
        _stop(children)
    return finish(config, output_dir, nodes, report_path, out, interrupted=interrupted)


async def _watch(
    children: list[subprocess.Popen[bytes]],
    logs: list[Path],
    output_dir: Path,
    say: Callable[[str], None],
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
                for child in children:
                    if child.poll() is None:
                        child.send_signal(signal.SIGTERM)
                await _wait_all(children, STOP_GRACE_S)
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


async def _wait_all(children: list[subprocess.Popen[bytes]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(child.poll() is None for child in children) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Stop every child still running, by its PID: SIGTERM, then SIGKILL after a grace."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

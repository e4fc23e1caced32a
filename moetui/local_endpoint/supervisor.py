"""Starts and stops the local endpoint's processes: one inference server per instance, one gateway.

`LocalEndpoint` is an async context manager: entering starts every process and waits until each
answers, exiting (also on error, Ctrl-C or cancellation) stops every one of them by PID and process group.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from moetui.errors import LocalEndpointError
from moetui.local_endpoint.instance import LOOPBACK
from moetui.local_endpoint.settings import DeploymentSettings, LocalEndpointSettings

#: Seconds to wait for every instance to answer its liveness route. The server takes 1-3 s alone; several
#: starting at once on two cores take longer.
STARTUP_TIMEOUT_S = 90.0
#: Seconds a process gets to exit after its polite signal, before SIGKILL.
STOP_GRACE_S = 5.0
_POLL_S = 0.05
#: The longest Unix socket path Linux takes (sun_path is 108 bytes with its NUL), with room to spare.
_UNIX_PATH_MAX = 100
_INIT_FAILED = "User's init function failed"  # the inference server's log line
_WORKER_READY = re.compile(r"Worker with pid (\d+) ready")  # logged by each worker after init()
_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception|Exit)\w*):?(.*)$")


@dataclass(frozen=True)
class RunningEndpoint:
    """A started local endpoint: where to send requests and how."""

    scoring_uri: str
    key: str = field(repr=False)
    port: int
    settings: LocalEndpointSettings
    gateway_pid: int
    instance_pids: tuple[int, ...]
    instance_ports: dict[str, tuple[int, ...]]
    """Each deployment's inference server ports, for calling them directly (benchmarks, tests)."""
    log_dir: Path
    """Each process's output: gateway.log and <deployment>-<instance>.log."""

    @property
    def processes(self) -> dict[str, int]:
        """Its processes by role ({"gateway": ..., "server-0": ...}; descendants count), for sampling."""
        return {"gateway": self.gateway_pid} | {f"server-{i}": pid for i, pid in enumerate(self.instance_pids)}

    @property
    def liveness_uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def headers(self, deployment: str | None = None) -> dict[str, str]:
        """Request headers for this endpoint, as the profiler's SCORING_HEADERS default has them."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        return headers


@dataclass
class _Process:
    label: str
    popen: subprocess.Popen[bytes]
    log_path: Path


class LocalEndpoint:
    """Start the local endpoint on entry, stop all of it on exit.

    Args:
        settings: What to start.
        on_progress: Called with one line of text for each step of start-up.
        startup_timeout_s: How long the instances may take to answer.
    """

    def __init__(
        self,
        settings: LocalEndpointSettings,
        *,
        on_progress: Callable[[str], None] | None = None,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self._progress = on_progress or (lambda _line: None)
        self._startup_timeout_s = startup_timeout_s
        self._processes: list[_Process] = []
        self._log_dir: Path | None = None
        self._keep_logs = False

    async def __aenter__(self) -> RunningEndpoint:
        try:
            return await self._start()
        except (asyncio.CancelledError, KeyboardInterrupt):
            self.stop()  # interrupted (Ctrl-C during a slow init()): nothing to diagnose, nothing left behind
            raise
        except BaseException:
            self._keep_logs = True  # the error message points at these logs
            self.stop()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _start(self) -> RunningEndpoint:
        settings = self.settings
        scorer = settings.scorer.resolve()
        if not scorer.is_file():
            raise LocalEndpointError(f"The scorer {scorer} does not exist: give an entry script with --scorer.")
        if settings.port and not _port_is_free(settings.port):
            raise LocalEndpointError(
                f"Port {settings.port} on {LOOPBACK} is already in use: "
                "choose another with --port, or 0 for any free port."
            )
        self._log_dir = Path(tempfile.mkdtemp(prefix="moetui-local-"))
        key = settings.key or secrets.token_urlsafe(32)
        started = time.monotonic()
        total = settings.total_processes
        self._progress(f"Starting {total} inference server{'s' * (total != 1)} for {scorer.name} ...")

        ports: dict[str, list[int]] = {}
        sockets: dict[str, list[str | None]] = {}
        waits = []
        for deployment in settings.deployments:
            ports[deployment.name], sockets[deployment.name] = [], []
            for index in range(deployment.instance_count):
                port = _free_port()
                # In the private log directory (mode 0700): only this user can connect to the scorer there.
                path = str(self._log_dir / f"{deployment.name}-{index}.sock")
                # A long TMPDIR makes too long a path: the gateway then uses the TCP port.
                unix = path if len(path.encode()) <= _UNIX_PATH_MAX else None
                process = self._start_instance(deployment, index, port, unix, scorer)
                ports[deployment.name].append(port)
                sockets[deployment.name].append(unix)
                waits.append(self._wait_until_live(process, port, deployment.worker_count, started))
        await asyncio.gather(*waits)

        gateway, port = await self._start_gateway(key, ports, sockets)
        self._progress(f"Ready in {time.monotonic() - started:.1f} s.")
        return RunningEndpoint(
            scoring_uri=f"http://{LOOPBACK}:{port}/score",
            key=key,
            port=port,
            settings=settings,
            gateway_pid=gateway.popen.pid,
            instance_pids=tuple(p.popen.pid for p in self._processes if p is not gateway),
            instance_ports={name: tuple(p) for name, p in ports.items()},
            log_dir=self._log_dir,
        )

    def _spawn(
        self,
        label: str,
        args: list[str],
        env: dict[str, str],
        *,
        stdin: int | None = None,
        stdout: int | None = None,
    ) -> _Process:
        assert self._log_dir is not None
        log_path = self._log_dir / f"{label}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                [sys.executable, *args],
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=stdout if stdout is not None else log,
                stderr=log,
                env=env,
                # Its own process group: a terminal's Ctrl-C reaches only us, and we stop the whole group.
                start_new_session=True,
            )
        process = _Process(label, popen, log_path)
        self._processes.append(process)
        return process

    def _start_instance(
        self, deployment: DeploymentSettings, index: int, port: int, unix: str | None, scorer: Path
    ) -> _Process:
        env = dict(os.environ)
        env.pop("GUNICORN_CMD_ARGS", None)
        env.update(deployment.environment)
        env.update(
            WORKER_COUNT=str(deployment.worker_count),
            SLEEP_SECONDS=repr(deployment.sleep_s),
            # An empty model directory: the server scans it for model IDs and warns when unset.
            AZUREML_MODEL_DIR=str(self._model_dir()),
            AML_APP_ROOT=str(scorer.parent),
            PYTHONUNBUFFERED="1",
        )
        args = [
            "-m",
            "moetui.local_endpoint.instance",
            "--port",
            str(port),
            "--workers",
            str(deployment.worker_count),
            "--scorer",
            str(scorer),
            "--parent-pid",
            str(os.getpid()),
        ] + (["--unix", unix] if unix else [])
        if deployment.cpus is not None:
            args += ["--cpus", ",".join(str(cpu) for cpu in instance_cpus(deployment.cpus, index))]
        return self._spawn(f"{deployment.name}-{index}", args, env)

    def _model_dir(self) -> Path:
        assert self._log_dir is not None
        path = self._log_dir / "model"
        path.mkdir(exist_ok=True)
        return path

    async def _wait_until_live(self, process: _Process, port: int, workers: int, started: float) -> None:
        deadline = started + self._startup_timeout_s
        while True:
            code = process.popen.poll()
            if code is not None:
                raise LocalEndpointError(
                    f"Inference server {process.label} exited with status {code} before it answered.\n"
                    f"{_diagnose(process.log_path)}\nFull log: {process.log_path}",
                    title="Local endpoint failed to start",
                )
            # The liveness route answers once the first worker is up; each worker runs init() on its own,
            # and a burst sent before all are up would look serialized.
            if await _answers(port) and _workers_ready(process.log_path) >= workers:
                self._progress(
                    f"  {process.label} live on {LOOPBACK}:{port} with {workers} worker{'s' * (workers != 1)} "
                    f"after {time.monotonic() - started:.1f} s"
                )
                return
            if time.monotonic() > deadline:
                raise LocalEndpointError(
                    f"Inference server {process.label} did not answer within {self._startup_timeout_s:.0f} s.\n"
                    f"{_diagnose(process.log_path)}\nFull log: {process.log_path}",
                    title="Local endpoint failed to start",
                )
            await asyncio.sleep(_POLL_S)

    async def _start_gateway(
        self, key: str, ports: dict[str, list[int]], sockets: dict[str, list[str | None]]
    ) -> tuple[_Process, int]:
        spec = {
            "key": key,
            "port": self.settings.port,
            "parent_pid": os.getpid(),
            "buffer_responses": self.settings.buffer_responses,
            "deployments": [
                {
                    "name": d.name,
                    "traffic_percent": d.traffic_percent,
                    "max_concurrent_requests_per_instance": d.max_concurrent_requests_per_instance,
                    "request_timeout_ms": d.request_timeout_ms,
                    "instance_ports": ports[d.name],
                    "instance_sockets": sockets[d.name],
                }
                for d in self.settings.deployments
            ],
        }
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        process = self._spawn(
            "gateway",
            ["-m", "moetui.local_endpoint.gateway"],
            env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        popen = process.popen
        assert popen.stdin is not None and popen.stdout is not None
        # The key travels on a pipe, never on a command line that `ps` would show.
        popen.stdin.write(json.dumps(spec).encode() + b"\n")
        popen.stdin.close()
        try:
            line = await asyncio.wait_for(asyncio.to_thread(popen.stdout.readline), timeout=30)
        except TimeoutError:
            raise LocalEndpointError(f"The gateway did not start within 30 s. Log: {process.log_path}") from None
        text = line.decode(errors="replace").strip()
        if text.startswith("READY "):
            return process, int(text.split()[1])
        if text.startswith("ERROR "):
            raise LocalEndpointError(
                text.removeprefix("ERROR ").capitalize() + ".", title="Local endpoint failed to start"
            )
        raise LocalEndpointError(
            f"The gateway exited before it was ready.\n{_diagnose(process.log_path)}\nFull log: {process.log_path}",
            title="Local endpoint failed to start",
        )

    def stop(self) -> None:
        """Stop every process started, gateway first, and wait for each (SIGKILL after STOP_GRACE_S).

        Synchronous on purpose: it must finish even when the event loop is being torn down by Ctrl-C.
        """
        processes, self._processes = self._processes, []
        # gunicorn: SIGINT is a quick shutdown; SIGTERM would wait for requests in service (15 s sleeps).
        for process in processes:
            _signal_group(process.popen.pid, signal.SIGTERM if process.label == "gateway" else signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in processes:
            try:
                process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # The master may be gone while a worker lingers: the group goes either way.
            _signal_group(process.popen.pid, signal.SIGKILL)
            process.popen.wait()
            for stream in (process.popen.stdout, process.popen.stdin):
                if stream is not None:
                    stream.close()
        if self._log_dir is not None and not self._keep_logs:
            shutil.rmtree(self._log_dir, ignore_errors=True)


def instance_cpus(cpus: int, index: int) -> list[int]:
    """The CPUs instance `index` of a deployment pinned to `cpus` CPUs runs on: consecutive ones from the
    CPUs this process may use, instance after instance, wrapping round (two 1-CPU instances on a 2-CPU
    machine get one each)."""
    allowed = sorted(os.sched_getaffinity(0))
    return sorted({allowed[(index * cpus + k) % len(allowed)] for k in range(cpus)})


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


async def _answers(port: int) -> bool:
    """True when GET / on the port answers 200 (the inference server's liveness route)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(LOOPBACK, port), timeout=1)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), timeout=2)
        return status.split(b" ")[1:2] == [b"200"]
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def _workers_ready(log_path: Path) -> int:
    """How many workers the inference server's log says are ready ("Worker with pid N ready ...")."""
    try:
        return len(set(_WORKER_READY.findall(log_path.read_text(errors="replace"))))
    except OSError:
        return 0


def _diagnose(log_path: Path, lines: int = 12) -> str:
    """The most telling lines of a failed process's log: the scorer's own exception, or the last lines."""
    try:
        text = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    # The inference server wraps the scorer's exception in its own; the scorer's is the one to show.
    errors = [
        line.strip()
        for line in text
        if _ERROR_LINE.match(line) and not line.lstrip().startswith("azureml_inference_server_http.")
    ]
    marker = next((i for i, line in enumerate(text) if _INIT_FAILED in line), None)
    if marker is not None:
        after = [line.strip() for line in text[marker:] if line.strip() in errors]
        if after:
            return f"The scorer's init() failed: {after[0]}"
    if errors:
        return "Last error: " + errors[-1]
    return "\n".join(text[-lines:]) or "(empty log)"

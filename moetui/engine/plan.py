"""LoadPlan: everything a generator needs to run, resolved from the configuration and the target.
Picklable, so a worker process can be handed one."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from moetui.config.schema import Config, StepsConfig
from moetui.engine.transport import RequestSpec
from moetui.errors import ConfigError
from moetui.targets.base import ResolvedTarget


@dataclass(frozen=True)
class LoadPlan:
    request: RequestSpec
    payloads: tuple[bytes, ...]
    """Request bodies, used in turn."""
    mode: str
    duration_s: float
    warmup_s: float = 0.0
    requests: int | None = None
    """burst: how many at once; closed and open: stop after this many as well."""
    connections: int = 1
    clients: int = 1
    rate: float = 50.0
    arrivals: str = "even"
    seed: int | None = None
    steps_over: str = "connections"
    steps_levels: tuple[float, ...] = ()
    step_duration_s: float = 30.0
    recent_size: int = 200
    workers: int = 1
    request_log: str | None = None
    """Where every request is written as it finishes (CSV, or JSON lines for .jsonl); None: nowhere."""

    @property
    def burst_size(self) -> int:
        return self.requests or self.connections

    @property
    def planned_s(self) -> float | None:
        """Planned length of the run, warm-up included; None for a burst."""
        if self.mode == "burst":
            return None
        return _planned_s(self.mode, self.duration_s, self.warmup_s, self.step_duration_s, len(self.steps_levels))

    @property
    def timetable(self) -> bool:
        """Whether sends follow a timetable (open mode, a sweep over rates), capped by `clients`."""
        return self.mode == "open" or (self.mode == "steps" and self.steps_over == "rate")

    @property
    def pool_size(self) -> int:
        """Connections the transport may need at once."""
        if self.mode == "burst":
            return self.burst_size
        if self.mode == "steps" and self.steps_over == "connections":
            return max(int(level) for level in self.steps_levels)
        return self.clients if self.mode in ("open", "steps") else self.connections

    def share(self, worker: int) -> LoadPlan:
        """This worker's part of the load when `workers` generators split it."""
        if self.workers == 1:
            return self

        def part(total: int) -> int:
            return total // self.workers + (1 if worker < total % self.workers else 0)

        return replace(
            self,
            connections=max(1, part(self.connections)),
            clients=max(1, part(self.clients)),
            rate=self.rate / self.workers,
            requests=part(self.requests) if self.requests else None,
            steps_levels=tuple(
                level / self.workers if self.steps_over == "rate" else max(1, part(int(level)))
                for level in self.steps_levels
            ),
            seed=None if self.seed is None else self.seed + worker,
        )


#: Most clients an open run gets by default when the target does not say how many requests it serves at
#: once: Azure's quota of active connections per endpoint (500), which also stays under the common limit
#: of 1,024 open files. aiohttp opens connections only as they are needed, so an unused cap costs nothing.
DEFAULT_CLIENTS_MAX = 500


#: The per-request timeout when neither the configuration nor the target gives one (the profiler's TIMEOUT).
DEFAULT_TIMEOUT_S = 10.0
#: Added to the deployment's request_timeout_ms: the endpoint answers 408 at its timeout, and that answer
#: (queueing and the network on top) must reach moetui before moetui gives up on its own.
REQUEST_TIMEOUT_MARGIN_S = 5.0


def request_timeout_s(configured_s: float | None, request_timeout_ms: int | None) -> float:
    """The per-request timeout: the configured one, else the deployment's request_timeout_ms plus
    REQUEST_TIMEOUT_MARGIN_S, else DEFAULT_TIMEOUT_S."""
    if configured_s is not None:
        return configured_s
    if request_timeout_ms:
        return request_timeout_ms / 1000 + REQUEST_TIMEOUT_MARGIN_S
    return DEFAULT_TIMEOUT_S


def default_clients(rate_per_s: float, timeout_s: float) -> int:
    """Open mode's cap on requests in flight when the target does not say: by Little's law a rate R whose
    requests last at most the timeout T never has more than R x T in flight, so this cap never throttles
    the rate by itself (capped at DEFAULT_CLIENTS_MAX); a slower target shows up as sends not sent."""
    return max(1, min(DEFAULT_CLIENTS_MAX, math.ceil(rate_per_s * timeout_s)))


#: The body sent when a config names none: the scoring app's sample request.
DEFAULT_PAYLOAD = b'{"request_id": 1}'


def _planned_s(mode: str, duration_s: float, warmup_s: float, step_duration_s: float, levels: int) -> float:
    # duration_s already holds the warm-up (load.duration_s is the whole run); a sweep's is its own.
    return warmup_s + step_duration_s * levels if mode == "steps" else duration_s


def planned_seconds(config: Config) -> float:
    """How long a configuration's load should take, warm-up included (a burst: its request timeout),
    known before the target is resolved (the Azure target checks its token's expiry against it)."""
    load = config.load
    if load.mode == "burst":
        return request_timeout_s(load.timeout_s, None)
    return _planned_s(load.mode, load.duration_s, load.warmup_s, config.steps.step_duration_s, len(config.steps.levels))


def read_payloads(payload: str | None, payload_file: str | None, base_dir: Path) -> tuple[bytes, ...]:
    """Request bodies: the inline payload, each non-empty line of payload_file, or DEFAULT_PAYLOAD.

    The file is read as bytes: bodies are bytes, so a file in another encoding than UTF-8 is sent as it is
    (a non-UTF-8 file raised UnicodeDecodeError after the target had started).

    Raises:
        ConfigError: The payload file cannot be read or holds no line.
    """
    if payload is not None:
        return (payload.encode(),)
    if payload_file is None:
        return (DEFAULT_PAYLOAD,)
    path = (base_dir / Path(payload_file).expanduser()).resolve()
    try:
        lines = tuple(line.strip() for line in path.read_bytes().splitlines() if line.strip())
    except OSError as exc:  # IsADirectoryError, PermissionError, FileNotFoundError
        raise ConfigError(f"load.payload_file: cannot read {path}: {exc.strerror}") from None
    if not lines:
        raise ConfigError(f"load.payload_file: {path} holds no payload (one per line)")
    return lines


def _check_workers(mode: str, workers: int, connections: int, clients: int, steps: StepsConfig) -> None:
    """Each generator process needs at least one connection of its own: more processes than connections
    would open more connections than asked for (4 for connections = 1). Explicit values are refused when
    the file is read; this catches the defaults the target gives.

    Raises:
        ConfigError: load.workers over the connections or clients the run gets.
    """
    if workers <= 1 or mode == "burst":
        return
    if mode == "steps" and steps.over == "connections":
        least, key = min(steps.levels), "steps.levels"
    else:
        least, key = (connections, "load.connections") if mode == "closed" else (clients, "load.clients")
    if workers > least:
        raise ConfigError(
            f"load.workers: {workers} generator processes but {key} comes to {least:g}: each process needs a "
            f"connection of its own; allowed: workers at most {least:g}, or a larger {key}"
        )


def plan_from_config(config: Config, target: ResolvedTarget, base_dir: Path) -> LoadPlan:
    """The LoadPlan for a configuration against a resolved target.

    Connections and clients default to the deployment's max_concurrent_requests_per_instance, as the
    profiler's CONNECTIONS and CLIENTS do. When the target does not say, connections default to 1 and
    clients to default_clients(rate, timeout), so that the cap alone never holds the rate back.
    """
    load = config.load
    known = target.max_concurrent_requests_per_instance
    per_instance = known or 1
    top_rate = max(config.steps.levels) if load.mode == "steps" and config.steps.over == "rate" else load.rate
    timeout_s = request_timeout_s(load.timeout_s, target.request_timeout_ms)
    connections = load.connections or per_instance
    clients = load.clients or known or default_clients(top_rate, timeout_s)
    _check_workers(load.mode, load.workers, connections, clients, config.steps)
    return LoadPlan(
        request=RequestSpec(
            url=target.url,
            method=load.method,
            headers=target.headers,
            timeout_s=timeout_s,
            client=load.client,
            http2=load.http2,
        ),
        payloads=read_payloads(load.payload, load.payload_file, base_dir),
        mode=load.mode,
        duration_s=load.duration_s,
        warmup_s=load.warmup_s,
        requests=load.requests,
        connections=connections,
        clients=clients,
        rate=load.rate,
        arrivals=load.arrivals,
        seed=load.seed,
        steps_over=config.steps.over,
        steps_levels=tuple(config.steps.levels),
        step_duration_s=config.steps.step_duration_s,
        recent_size=config.output.recent_requests,
        workers=1 if load.mode == "burst" else load.workers,
        request_log=str(base_dir / Path(config.output.requests).expanduser()) if config.output.requests else None,
    )

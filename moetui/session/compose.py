"""The composer: a configuration and a resolved target become the engine's LoadPlan. Here the defaults
that need both are decided (connections and clients from the deployment, the request timeout, the
payloads read from disk); the engine below receives the finished plan and imports nothing from here."""

from __future__ import annotations

import math
from pathlib import Path

from moetui.config.files import BODIES_MAX_BYTES, read_named_file
from moetui.config.schema import Config, Mode, StepsConfig, WorkloadConfig
from moetui.config.timing import request_timeout_s
from moetui.engine.plan import LoadPlan
from moetui.engine.streaming import StreamPlan, chat_url
from moetui.engine.transport import RequestSpec
from moetui.engine.workload import workload_bodies
from moetui.errors import ConfigError
from moetui.targets.base import ResolvedTarget

#: Most clients an open run gets by default when the target does not say how many requests it serves at
#: once: Azure's quota of active connections per endpoint (500), which also stays under the common limit
#: of 1,024 open files. aiohttp opens connections only as they are needed, so an unused cap costs nothing.
DEFAULT_CLIENTS_MAX = 500


def default_clients(rate_per_s: float, timeout_s: float) -> int:
    """Open mode's cap on requests in flight when the target does not say: by Little's law a rate R whose
    requests last at most the timeout T never has more than R x T in flight, so this cap never throttles
    the rate by itself (capped at DEFAULT_CLIENTS_MAX); a slower target shows up as sends not sent."""
    return max(1, min(DEFAULT_CLIENTS_MAX, math.ceil(rate_per_s * timeout_s)))


#: The body sent when a config names none: the scoring app's sample request.
DEFAULT_PAYLOAD = b'{"request_id": 1}'


def read_payloads(payload: str | None, payload_file: str | None, base_dir: Path) -> tuple[bytes, ...]:
    """Request bodies: the inline payload, each non-empty line of payload_file, or DEFAULT_PAYLOAD.

    The file is read as bytes: bodies are bytes, so a file in another encoding than UTF-8 is sent as it is
    (a non-UTF-8 file raised UnicodeDecodeError after the target had started).

    Raises:
        ConfigError: The payload file cannot be read (config.files' rules) or holds no line.
    """
    if payload is not None:
        return (payload.encode(),)
    if payload_file is None:
        return (DEFAULT_PAYLOAD,)
    path = (base_dir / Path(payload_file).expanduser()).resolve()
    data = read_named_file(path, "load.payload_file", max_bytes=BODIES_MAX_BYTES)
    lines = tuple(line.strip() for line in data.splitlines() if line.strip())
    if not lines:
        raise ConfigError(f"load.payload_file: {path} holds no payload (one per line)")
    return lines


def _check_workers(mode: Mode, workers: int, connections: int, clients: int, steps: StepsConfig) -> None:
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


def known_request_timeout_ms(config: Config, base_dir: Path) -> int | None:
    """The deployment's request_timeout_ms as far as it is known before the target is resolved (the app's run
    setup shows the timeout it comes to): a local endpoint's is in its deployment settings; a URL names none;
    an Azure deployment's is read when the run resolves it (None here).

    Raises:
        ConfigError: The local endpoint's settings are not valid.
    """
    if config.target.local is not None:
        from moetui.targets.local import local_settings

        return local_settings(config.target.local, base_dir).deployments[0].request_timeout_ms
    return None


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
    if load.stages:
        top_rate = max(stage.rate for stage in load.stages)
    timeout_s = request_timeout_s(load.timeout_s, target.request_timeout_ms)
    connections = load.connections or per_instance
    clients = load.clients or known or default_clients(top_rate, timeout_s)
    _check_workers(load.mode, load.workers, connections, clients, config.steps)
    bodies = config_bodies(config, base_dir)
    return LoadPlan(
        request=RequestSpec(
            url=chat_url(target.url) if load.api == "chat" else target.url,
            method=load.method,
            headers=target.headers,
            timeout_s=timeout_s,
            client=load.client,
            http2=load.http2,
        ),
        payloads=bodies if bodies is not None else _payloads(config, base_dir),
        mode=load.mode,
        duration_s=load.duration_s,
        warmup_s=load.warmup_s,
        requests=load.requests,
        connections=connections,
        clients=clients,
        rate=load.rate,
        arrivals=load.arrivals,
        stages=load.stages,
        seed=load.seed,
        steps_over=config.steps.over,
        steps_levels=tuple(config.steps.levels),
        step_duration_s=config.steps.step_duration_s,
        recent_size=config.output.recent_requests,
        workers=1 if load.mode == "burst" else load.workers,
        stream=stream_plan(config),
        request_log=str(base_dir / Path(config.output.requests).expanduser()) if config.output.requests else None,
    )


def _payloads(config: Config, base_dir: Path) -> tuple[bytes, ...]:
    """The bodies from the payload settings; a GET that names none sends none (not the scoring sample, which
    a static server would leave unread on the connection)."""
    load = config.load
    if load.method == "GET" and load.payload is None and load.payload_file is None:
        return (b"",)
    return read_payloads(load.payload, load.payload_file, base_dir)


def streams(config: Config) -> bool:
    """Whether a run reads its answers as streams: load.stream, else true for api = "chat"."""
    return config.load.stream if config.load.stream is not None else config.load.api == "chat"


def stream_plan(config: Config) -> StreamPlan | None:
    """The streaming part of a LoadPlan (API and goodput SLO); None when answers are read whole."""
    if not streams(config):
        return None
    return StreamPlan(api=config.load.api, slo_ttft_ms=config.slo.ttft_ms, slo_tpot_ms=config.slo.tpot_ms)


def config_bodies(config: Config, base_dir: Path) -> tuple[bytes, ...] | None:
    """The bodies [workload] makes: when the file has [workload], or api = "chat" without a payload (the
    default workload then); None when the payload settings decide.

    Raises:
        ConfigError: See file_prompts.
    """
    load = config.load
    workload = config.workload
    if workload is None and (load.api != "chat" or load.payload is not None or load.payload_file is not None):
        return None
    return workload_bodies(workload or WorkloadConfig(), load.api, streams(config), base_dir)

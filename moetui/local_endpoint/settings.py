"""Settings of the local endpoint, read from scoring_app/deployment.yml (through moetui.deployments.deployment_yaml,
the one reader of deployment YAMLs) and overridden by flags.

The same names and limits as an Azure ML managed online deployment, so that what works locally
is what would be deployed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from moetui.config.schema import MAX_REQUEST_TIMEOUT_MS
from moetui.deployments.deployment_yaml import read_deployment_fields
from moetui.deployments.names import name_problem
from moetui.errors import ConfigError
from moetui.paths import SCORING_APP_DIR

#: Azure's defaults when deployment.yml leaves them out.
DEFAULT_REQUEST_TIMEOUT_MS = 5_000
DEFAULT_MAX_CONCURRENCY = 1
DEFAULT_SLEEP_S = 15.0
_HOST = "127.0.0.1"
#: CPUs this process may run on: the most an instance can be pinned to.
MAX_CPUS = len(os.sched_getaffinity(0))
_LOCAL_INSTANCE_TYPE = re.compile(r"local-(\d+)cpu")
#: The scoring app's scorers, chosen by name (`--scorer stream`, `[target.local] scorer = "stream"`).
SCORERS = {"sleep": "score.py", "stream": "stream_score.py"}


@dataclass(frozen=True)
class DeploymentSettings:
    """One deployment behind the local endpoint, with the request settings Azure would apply."""

    name: str = "blue"
    """Deployment name, routed to by the `azureml-model-deployment` header."""
    traffic_percent: int = 100
    """Share of requests without that header that this deployment gets."""
    instance_count: int = 1
    """Inference server processes (Azure: instances), each with its own port."""
    worker_count: int = 1
    """WORKER_COUNT: gunicorn sync workers per instance, i.e. requests one instance serves at once."""
    max_concurrent_requests_per_instance: int = DEFAULT_MAX_CONCURRENCY
    """Requests the gateway lets into one instance at a time; the rest wait in its queue."""
    request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS
    """A request not answered within this time, queueing included, gets 408."""
    sleep_s: float = DEFAULT_SLEEP_S
    """SLEEP_SECONDS for the sleep scorer."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Other environment variables from deployment.yml, passed to the scorer."""
    cpus: int | None = None
    """CPUs each instance's inference server (master and workers) is pinned to; None: not pinned."""

    @property
    def capacity(self) -> int:
        """Requests in service at once across all instances."""
        return self.max_concurrent_requests_per_instance * self.instance_count

    @property
    def pending_limit(self) -> int:
        """Azure answers 429 beyond 2 x max_concurrent_requests_per_instance x instance_count in flight."""
        return 2 * self.capacity


@dataclass(frozen=True)
class LocalEndpointSettings:
    """Everything the local endpoint needs to start."""

    deployments: tuple[DeploymentSettings, ...] = (DeploymentSettings(),)
    scorer: Path = SCORING_APP_DIR / "score.py"
    """The entry script the inference servers load."""
    port: int = 0
    """Gateway port on 127.0.0.1; 0 takes any free port."""
    key: str | None = field(default=None, repr=False)
    """Endpoint key; None makes a random one. Never printed."""
    host: str = _HOST
    """Always loopback: the local endpoint is never reachable from another machine."""
    buffer_responses: bool = False
    """The gateway reads a streamed answer whole before sending it, instead of passing each chunk on."""

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def total_processes(self) -> int:
        """Inference server processes this endpoint starts (workers not counted)."""
        return sum(d.instance_count for d in self.deployments)


def _validate(settings: LocalEndpointSettings) -> None:
    problems: list[str] = []
    if settings.host != _HOST:
        problems.append(f"host must be {_HOST}: the local endpoint listens on loopback only")
    if not 0 <= settings.port <= 65535:
        problems.append(f"port must be 0 (any free port) to 65535, not {settings.port}")
    if settings.key is not None and (not settings.key or any(c.isspace() for c in settings.key)):
        problems.append("key must be a non-empty string without spaces")
    if not settings.deployments:
        problems.append("at least one deployment is needed")
    names = [d.name for d in settings.deployments]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"deployment {dup!r} is named twice")
    total_traffic = sum(d.traffic_percent for d in settings.deployments)
    if total_traffic not in (0, 100):
        split = ", ".join(f"{d.name}={d.traffic_percent}" for d in settings.deployments)
        problems.append(f"traffic must add up to 100 (or 0 to route only by header), not {total_traffic} ({split})")
    for d in settings.deployments:
        where = f"deployment {d.name!r}: "
        if (problem := name_problem(d.name, "deployment")) is not None:
            problems.append(where + problem)
        checks = {
            "instance_count": (d.instance_count, 1, 64),
            "worker_count (WORKER_COUNT)": (d.worker_count, 1, 256),
            "max_concurrent_requests_per_instance": (d.max_concurrent_requests_per_instance, 1, 1024),
            "request_timeout_ms": (d.request_timeout_ms, 1, MAX_REQUEST_TIMEOUT_MS),
            "traffic_percent": (d.traffic_percent, 0, 100),
        }
        for label, (value, low, high) in checks.items():
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append(f"{where}{label} must be a whole number from {low} to {high}, not {value!r}")
        if d.cpus is not None and not 1 <= d.cpus <= MAX_CPUS:
            problems.append(f"{where}cpus must be a whole number from 1 to {MAX_CPUS} (the CPUs here), not {d.cpus!r}")
        if not 0 <= d.sleep_s <= 3600:
            problems.append(f"{where}sleep must be 0 to 3600 seconds, not {d.sleep_s!r}")
    if problems:
        raise ConfigError("\n".join(problems), title="Local endpoint settings")


def read_deployment_yaml(path: Path) -> DeploymentSettings:
    """Read the request settings of an Azure ML deployment YAML for the local endpoint.

    Args:
        path: The deployment YAML.

    Returns:
        Its name, instance count, WORKER_COUNT, SLEEP_SECONDS, max_concurrent_requests_per_instance and
        request_timeout_ms, with Azure's defaults for what it leaves out.

    Raises:
        ConfigError: As `read_deployment_fields` (moetui.deployments.deployment_yaml).
    """
    found = read_deployment_fields(path)
    return DeploymentSettings(
        name=found.name if found.name is not None else "blue",
        instance_count=found.instance_count if found.instance_count is not None else 1,
        worker_count=found.worker_count if found.worker_count is not None else 1,
        sleep_s=found.sleep_s if found.sleep_s is not None else DEFAULT_SLEEP_S,
        max_concurrent_requests_per_instance=(
            found.max_concurrent_requests_per_instance
            if found.max_concurrent_requests_per_instance is not None
            else DEFAULT_MAX_CONCURRENCY
        ),
        request_timeout_ms=(
            found.request_timeout_ms if found.request_timeout_ms is not None else DEFAULT_REQUEST_TIMEOUT_MS
        ),
        environment=dict(found.environment),
    )


def local_instance_type(cpus: int | None) -> str:
    """The local instance type of an instance pinned to `cpus` CPUs ("local-2cpu"); unpinned: all of them."""
    return f"local-{cpus if cpus is not None else MAX_CPUS}cpu"


def cpus_of_instance_type(instance_type: str | None) -> int | None:
    """The CPUs a local instance type names ("local-1cpu" -> 1); None for None.

    Raises:
        ConfigError: Not of the form local-<N>cpu, or more CPUs than this machine lets us use.
    """
    if instance_type is None:
        return None
    match = _LOCAL_INSTANCE_TYPE.fullmatch(instance_type.strip())
    if match is None:
        raise ConfigError(
            f"instance_type {instance_type!r} is not a local instance type; allowed: local-<N>cpu, N from 1 to "
            f"{MAX_CPUS} (the CPUs here), such as local-1cpu"
        )
    cpus = int(match[1])
    if not 1 <= cpus <= MAX_CPUS:
        raise ConfigError(
            f"instance_type {instance_type!r}: {cpus} CPUs, and this machine lets moetui use {MAX_CPUS}; "
            f"allowed: local-1cpu to local-{MAX_CPUS}cpu"
        )
    return cpus


def parse_traffic(text: str) -> dict[str, int]:
    """Parse a traffic split such as "blue=90,green=10".

    Raises:
        ConfigError: A part is not NAME=PERCENT.
    """
    split: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, percent = part.partition("=")
        if not sep or not percent.strip().isdigit():
            raise ConfigError(f"--traffic: {part!r} is not NAME=PERCENT (for example blue=90,green=10)")
        split[name.strip()] = int(percent)
    if not split:
        raise ConfigError("--traffic: give at least one NAME=PERCENT (for example blue=90,green=10)")
    return split


def scorer_path(value: str | Path | None, base_dir: Path | None = None) -> Path | None:
    """The entry script a `--scorer` or `[target.local] scorer` value names: a name of SCORERS (the
    scoring app's own), else a path, relative to `base_dir` when given; None stays None (the default)."""
    if value is None:
        return None
    if str(value) in SCORERS:
        return SCORING_APP_DIR / SCORERS[str(value)]
    path = Path(value).expanduser()
    return base_dir / path if base_dir is not None else path


def build_settings(
    base: DeploymentSettings,
    *,
    traffic: Mapping[str, int] | None = None,
    scorer: Path | None = None,
    port: int = 0,
    key: str | None = None,
    buffer_responses: bool = False,
    **overrides: Any,
) -> LocalEndpointSettings:
    """Settings from a deployment YAML's values, flag overrides and an optional traffic split.

    Args:
        base: What deployment.yml says.
        traffic: Deployment name -> percent; each deployment gets the same request settings.
        scorer: Entry script; the scoring app's score.py when None.
        port: Gateway port, 0 for any free one.
        key: Endpoint key; random when None.
        buffer_responses: The gateway reads streamed answers whole before sending them.
        **overrides: DeploymentSettings fields whose flag was given (None values are ignored).

    Returns:
        Validated settings.

    Raises:
        ConfigError: A value is out of Azure's range or the traffic does not add up.
    """
    deployment = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    if traffic:
        deployments = tuple(replace(deployment, name=n, traffic_percent=p) for n, p in traffic.items())
    else:
        deployments = (replace(deployment, traffic_percent=100),)
    return LocalEndpointSettings(
        deployments=deployments,
        scorer=scorer or SCORING_APP_DIR / "score.py",
        port=port,
        key=key,
        buffer_responses=buffer_responses,
    )

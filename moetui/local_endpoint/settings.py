"""Settings of the local endpoint, read from scoring_app/deployment.yml and overridden by flags.

The same names and limits as an Azure ML managed online deployment, so that what works locally
is what would be deployed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from moetui.errors import ConfigError
from moetui.paths import SCORING_APP_DIR
from moetui.targets.deployments import name_problem

#: Azure's ceiling for request_settings.request_timeout_ms.
MAX_REQUEST_TIMEOUT_MS = 180_000
#: Azure's defaults when deployment.yml leaves them out.
DEFAULT_REQUEST_TIMEOUT_MS = 5_000
DEFAULT_MAX_CONCURRENCY = 1
DEFAULT_SLEEP_S = 15.0
_HOST = "127.0.0.1"


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
        if not 0 <= d.sleep_s <= 3600:
            problems.append(f"{where}sleep must be 0 to 3600 seconds, not {d.sleep_s!r}")
    if problems:
        raise ConfigError("\n".join(problems), title="Local endpoint settings")


def read_deployment_yaml(path: Path) -> DeploymentSettings:
    """Read the request settings of an Azure ML deployment YAML (such as scoring_app/deployment.yml).

    Args:
        path: The deployment YAML.

    Returns:
        Its name, instance count, WORKER_COUNT, SLEEP_SECONDS, max_concurrent_requests_per_instance and
        request_timeout_ms, with Azure's defaults for what it leaves out.

    Raises:
        ConfigError: The file is missing, is not YAML, or holds a value of the wrong type.
    """
    import yaml  # deferred: only `moetui local` and its tests read YAML

    try:
        doc: Any = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such deployment file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping of deployment settings")
    env = {str(k): str(v) for k, v in (doc.get("environment_variables") or {}).items()}
    request = doc.get("request_settings") or {}

    def number(value: Any, key: str, kind: type) -> Any:
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: {key} must be a number, not {value!r}") from None

    return DeploymentSettings(
        name=str(doc.get("name", "blue")),
        instance_count=number(doc.get("instance_count", 1), "instance_count", int),
        worker_count=number(env.pop("WORKER_COUNT", 1), "environment_variables.WORKER_COUNT", int),
        sleep_s=number(env.pop("SLEEP_SECONDS", DEFAULT_SLEEP_S), "environment_variables.SLEEP_SECONDS", float),
        max_concurrent_requests_per_instance=number(
            request.get("max_concurrent_requests_per_instance", DEFAULT_MAX_CONCURRENCY),
            "request_settings.max_concurrent_requests_per_instance",
            int,
        ),
        request_timeout_ms=number(
            request.get("request_timeout_ms", DEFAULT_REQUEST_TIMEOUT_MS),
            "request_settings.request_timeout_ms",
            int,
        ),
        environment=env,
    )


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


def build_settings(
    base: DeploymentSettings,
    *,
    traffic: Mapping[str, int] | None = None,
    scorer: Path | None = None,
    port: int = 0,
    key: str | None = None,
    **overrides: Any,
) -> LocalEndpointSettings:
    """Settings from a deployment YAML's values, flag overrides and an optional traffic split.

    Args:
        base: What deployment.yml says.
        traffic: Deployment name -> percent; each deployment gets the same request settings.
        scorer: Entry script; the scoring app's score.py when None.
        port: Gateway port, 0 for any free one.
        key: Endpoint key; random when None.
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
    )

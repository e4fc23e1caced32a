"""[target.local]: the local managed endpoint, started for the run and stopped after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from moetui.config.schema import LocalTarget
from moetui.errors import ConfigError
from moetui.local_endpoint import LocalEndpoint, LocalEndpointSettings
from moetui.local_endpoint.settings import (
    SCORERS,
    build_settings,
    cpus_of_instance_type,
    read_deployment_yaml,
    scorer_path,
)
from moetui.paths import SCORING_APP_DIR
from moetui.targets.base import ResolvedTarget


def local_settings(config: LocalTarget, base_dir: Path) -> LocalEndpointSettings:
    """Local endpoint settings: the deployment file's, with the config's values over them."""
    deployment_file = (
        base_dir / config.deployment_file if config.deployment_file else SCORING_APP_DIR / "deployment.yml"
    )
    base = read_deployment_yaml(deployment_file)
    scorer = scorer_path(config.scorer, base_dir)
    if scorer is not None and not scorer.is_file():
        raise ConfigError(
            f"[target.local] scorer: {scorer} does not exist; allowed: {', '.join(SCORERS)} or the path of an "
            "entry script (relative to the configuration file's folder)."
        )
    if config.environment:
        base = replace(base, environment={**base.environment, **config.environment})
    return build_settings(
        base,
        scorer=scorer,
        buffer_responses=bool(config.buffer),
        sleep_s=config.sleep,
        worker_count=config.workers,
        max_concurrent_requests_per_instance=config.max_concurrency,
        instance_count=config.instances,
        request_timeout_ms=config.timeout_ms,
        cpus=cpus_of_instance_type(config.instance_type),
    )


class LocalTargetSource:
    """A Target for [target.local]."""

    def __init__(self, config: LocalTarget, base_dir: Path, on_progress: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.settings = local_settings(config, base_dir)
        self.on_progress = on_progress

    @asynccontextmanager
    async def open(self) -> AsyncIterator[ResolvedTarget]:
        async with LocalEndpoint(self.settings, on_progress=self.on_progress) as endpoint:
            deployment = self.settings.deployments[0]
            yield ResolvedTarget(
                kind="local",
                url=endpoint.scoring_uri,
                headers=endpoint.headers(self.config.deployment),
                deployment=self.config.deployment or deployment.name,
                max_concurrent_requests_per_instance=deployment.max_concurrent_requests_per_instance,
                instance_count=deployment.instance_count,
                request_timeout_ms=deployment.request_timeout_ms,
                processes=endpoint.processes,
                cpus_per_instance=deployment.cpus,
                description=(
                    f"local endpoint {endpoint.scoring_uri}: WORKER_COUNT {deployment.worker_count}, "
                    f"max_concurrent_requests_per_instance {deployment.max_concurrent_requests_per_instance}, "
                    f"{deployment.instance_count} instance(s), request_timeout_ms {deployment.request_timeout_ms}, "
                    + (
                        f"sleep {deployment.sleep_s:g} s"
                        if self.settings.scorer.name == "score.py"
                        else f"scorer {self.settings.scorer.name}"
                    )
                    + (", gateway buffers streams" if self.settings.buffer_responses else "")
                    + (f", pinned to {deployment.cpus} CPU(s)" if deployment.cpus is not None else "")
                ),
            )

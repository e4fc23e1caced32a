"""Local endpoint settings from the flags that `moetui local` and `moetui check` share."""

from __future__ import annotations

import argparse

from moetui.local_endpoint.settings import (
    LocalEndpointSettings,
    build_settings,
    parse_traffic,
    read_deployment_yaml,
    scorer_path,
)


def settings_from_args(args: argparse.Namespace, **defaults: object) -> LocalEndpointSettings:
    """The deployment file's settings, with `defaults` over them and the flags given over both."""
    base = read_deployment_yaml(args.deployment_file)
    overrides = {
        name: getattr(args, name)
        for name in (
            "sleep_s",
            "worker_count",
            "max_concurrent_requests_per_instance",
            "instance_count",
            "request_timeout_ms",
        )
    }
    for name, value in defaults.items():
        if overrides.get(name) is None:
            overrides[name] = value
    return build_settings(
        base,
        traffic=parse_traffic(args.traffic) if args.traffic else None,
        scorer=scorer_path(args.scorer),
        port=args.port,
        key=args.key,
        buffer_responses=getattr(args, "buffer_responses", False),
        **overrides,
    )


def describe(settings: LocalEndpointSettings) -> list[str]:
    """One line per deployment: traffic and the request settings that decide concurrency; then the
    scorer when it is not the sleep scorer, and the gateway's buffering when on."""
    sleep_scorer = settings.scorer.name == "score.py"
    lines = [
        f"{d.name} {d.traffic_percent}%: {d.instance_count} instance{'s' * (d.instance_count != 1)} x "
        f"WORKER_COUNT {d.worker_count}, "
        f"max_concurrent_requests_per_instance {d.max_concurrent_requests_per_instance}, "
        f"request_timeout_ms {d.request_timeout_ms}" + (f", sleep {d.sleep_s:g} s" if sleep_scorer else "")
        for d in settings.deployments
    ]
    if not sleep_scorer:
        lines.append(f"scorer {settings.scorer}")
    if settings.buffer_responses:
        lines.append("gateway buffers streamed answers (--buffer)")
    return lines

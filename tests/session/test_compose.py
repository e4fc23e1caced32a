"""A configuration's planned length, known before the target is resolved, is the plan's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from moetui.config.load import config_from_dict
from moetui.config.timing import planned_seconds
from moetui.session.compose import plan_from_config
from moetui.targets.base import ResolvedTarget


@pytest.mark.parametrize(
    ("load", "steps", "seconds"),
    [
        ({"mode": "closed", "duration": "60s", "warmup": "10s"}, {}, 60),  # duration holds the warm-up
        ({"mode": "open", "duration": "2m", "warmup": "5s", "rate": 10}, {}, 120),
        ({"mode": "steps", "warmup": "10s"}, {"levels": [1, 2, 4], "step_duration": "20s"}, 70),
        ({"mode": "burst", "requests": 3, "timeout": "30s"}, {}, 30),
    ],
)
def test_planned_seconds_match_the_plan(load: dict[str, object], steps: dict[str, object], seconds: float) -> None:
    config = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:1/score"}}, "load": load, "steps": steps})
    assert planned_seconds(config) == seconds
    plan = plan_from_config(config, ResolvedTarget(url="http://127.0.0.1:1/score", headers={}, kind="url"), Path("."))
    assert plan.planned_s == (None if load["mode"] == "burst" else seconds)


@pytest.mark.parametrize(
    ("load", "steps", "max_concurrency", "clients"),
    [
        ({"mode": "open", "rate": 50, "timeout": "10s"}, {}, None, 500),  # 50/s x 10 s in flight at worst
        ({"mode": "open", "rate": 20, "timeout": "2s"}, {}, None, 40),
        ({"mode": "open", "rate": 0.1, "timeout": "1s"}, {}, None, 1),
        ({"mode": "open", "rate": 5000, "timeout": "10s"}, {}, None, 500),  # capped
        ({"mode": "steps", "timeout": "2s"}, {"over": "rate", "levels": [10, 80]}, None, 160),  # the top level
        ({"mode": "open", "rate": 50}, {}, 4, 4),  # the target says: the profiler's CLIENTS default
        ({"mode": "open", "rate": 50, "clients": 7}, {}, None, 7),
    ],
)
def test_clients_default_never_holds_the_rate_back(
    load: dict[str, object], steps: dict[str, object], max_concurrency: int | None, clients: int
) -> None:
    """Without the target's concurrency, 1 client held a 100 ms endpoint at 10 req/s whatever the rate: the
    default is rate x timeout (Little's law), at most 500."""
    config = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:1/score"}}, "load": load, "steps": steps})
    target = ResolvedTarget(
        url="http://127.0.0.1:1/score", headers={}, kind="url", max_concurrent_requests_per_instance=max_concurrency
    )
    assert plan_from_config(config, target, Path(".")).clients == clients


@pytest.mark.parametrize(
    ("timeout", "request_timeout_ms", "seconds"),
    [
        (None, 60_000, 65.0),  # the scoring app's 60 s request timeout: its 408 arrives before moetui gives up
        (None, None, 10.0),  # the target does not say: the profiler's TIMEOUT default
        ("3s", 60_000, 3.0),  # the configuration wins
    ],
)
def test_the_request_timeout_follows_the_deployment_unless_set(
    timeout: str | None, request_timeout_ms: int | None, seconds: float
) -> None:
    load = {"mode": "closed"} if timeout is None else {"mode": "closed", "timeout": timeout}
    config = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:1/score"}}, "load": load})
    target = ResolvedTarget(
        url="http://127.0.0.1:1/score", headers={}, kind="url", request_timeout_ms=request_timeout_ms
    )
    assert plan_from_config(config, target, Path(".")).request.timeout_s == seconds


def test_an_empty_config_does_not_time_out_the_default_scorer() -> None:
    """An empty config runs the local endpoint's deployment.yml: a 15 s scorer behind request_timeout_ms
    60000. With a fixed 10 s default every request timed out; the default now outlasts the scorer."""
    from moetui.config.load import config_from_dict as load_dict
    from moetui.targets.local import local_settings

    config = load_dict({})
    assert config.target.local is not None
    deployment = local_settings(config.target.local, Path(".")).deployments[0]
    target = ResolvedTarget(
        url="http://127.0.0.1:1/score", headers={}, kind="local", request_timeout_ms=deployment.request_timeout_ms
    )
    assert plan_from_config(config, target, Path(".")).request.timeout_s > deployment.sleep_s


@pytest.mark.parametrize(
    ("load", "steps"),
    [
        ({"mode": "closed", "workers": 4}, {}),  # connections default to the target's 2
        ({"mode": "open", "rate": 10, "workers": 4}, {}),  # clients too
        ({"mode": "steps", "workers": 3}, {"levels": [2, 4]}),
    ],
)
def test_more_workers_than_the_default_connections_are_refused(
    load: dict[str, object], steps: dict[str, object]
) -> None:
    from moetui.errors import ConfigError

    config = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:1/score"}}, "load": load, "steps": steps})
    target = ResolvedTarget(
        url="http://127.0.0.1:1/score", headers={}, kind="url", max_concurrent_requests_per_instance=2
    )
    with pytest.raises(ConfigError, match=r"load\.workers"):
        plan_from_config(config, target, Path("."))

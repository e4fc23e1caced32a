"""The burst and capacity verdicts use the capacity in force when the load began: Azure Monitor's
DeploymentCapacity for the run's first minute, not the instance count read before it (autoscale)."""

from __future__ import annotations

from moetui.session.run_session import capacity_at_start
from moetui.targets.base import ResolvedTarget


def target(instances: int) -> ResolvedTarget:
    return ResolvedTarget(
        kind="azure",
        url="https://e/score",
        headers={},
        max_concurrent_requests_per_instance=3,
        instance_count=instances,
    )


def test_the_first_minutes_instance_count_gives_the_capacity() -> None:
    metrics = {
        "capacity": {
            "minimum": 2,
            "maximum": 4,
            "changes": [{"time": "t0", "instances": 2}, {"time": "t1", "instances": 4}],
        }
    }
    assert capacity_at_start(target(4), metrics) == 6  # 3 x 2 at the start, though 4 instances were read


def test_without_the_metric_the_targets_own_capacity_stands() -> None:
    assert capacity_at_start(target(2), None) == 6
    assert capacity_at_start(target(2), {"metrics": {}, "errors": ["403"]}) == 6
    assert capacity_at_start(target(2), {"capacity": {"changes": []}}) == 6

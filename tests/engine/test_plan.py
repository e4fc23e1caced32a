"""A configuration's planned length, known before the target is resolved, is the plan's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from moetui.config.load import config_from_dict
from moetui.engine.plan import plan_from_config, planned_seconds
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

"""Helpers to run the engine against the fast test server."""

from __future__ import annotations

from typing import Any

import pytest

from moetui.config.schema import Config
from moetui.engine.plan import LoadPlan
from moetui.engine.run import Run, RunResult
from moetui.engine.transport import RequestSpec
from moetui.report.build import build
from moetui.report.judge import Evaluation, judge


def plan_for(url: str, mode: str, **fields: Any) -> LoadPlan:
    client = fields.pop("client", "aiohttp")
    http2 = fields.pop("http2", False)
    return LoadPlan(
        request=RequestSpec(
            url=url,
            method="POST",
            headers=fields.pop("headers", {"Content-Type": "application/json"}),
            timeout_s=fields.pop("timeout_s", 5),
            client=client,
            http2=http2,
        ),
        payloads=(b'{"request_id": 1}',),
        mode=mode,
        duration_s=fields.pop("duration_s", 2.0),
        **fields,
    )


async def run_plan(url: str, mode: str, **fields: Any) -> RunResult:
    return await Run(plan_for(url, mode, **fields)).run()


def judged(result: RunResult, config: Config) -> Evaluation:
    """A run judged as a session judges it: its report built (no target to describe), then the one judge."""
    return judge(build(result, config, {}, 10.0, capacity=None), config.thresholds)


@pytest.fixture(params=["aiohttp", "httpx"])
def client(request: pytest.FixtureRequest) -> str:
    """Both transports, against the same servers."""
    return str(request.param)

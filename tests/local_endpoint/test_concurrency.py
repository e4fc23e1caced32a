"""The 3-request concurrency test on the local endpoint: 3 requests at once take one sleep with WORKER_COUNT 3
and three sleeps with WORKER_COUNT 1, and the burst verdict tells the two apart."""

from __future__ import annotations

import json

import pytest

from moetui.engine.burst_check import run_burst
from moetui.engine.judge import CONCURRENT, SERIALIZED, judge_burst
from moetui.local_endpoint import DeploymentSettings, LocalEndpoint, LocalEndpointSettings

# Wall-time bounds of one sleep against three: a neighbour's load would stretch them (serial).
pytestmark = [pytest.mark.slow, pytest.mark.serial]
SLEEP_S = 1.5


@pytest.mark.parametrize(
    ("workers", "verdict", "low_s", "high_s"),
    [(3, CONCURRENT, 0.9 * SLEEP_S, 1.8 * SLEEP_S), (1, SERIALIZED, 2.7 * SLEEP_S, 4.5 * SLEEP_S)],
    ids=["worker-count-3", "worker-count-1"],
)
async def test_three_requests_take_one_sleep_only_with_three_workers(
    workers: int,
    verdict: str,
    low_s: float,
    high_s: float,
) -> None:
    deployment = DeploymentSettings(
        worker_count=workers,
        max_concurrent_requests_per_instance=3,
        request_timeout_ms=30_000,
        sleep_s=SLEEP_S,
    )
    payloads = [json.dumps({"request_id": i}).encode() for i in (1, 2, 3)]
    async with LocalEndpoint(LocalEndpointSettings(deployments=(deployment,))) as endpoint:
        result = await run_burst(endpoint.scoring_uri, payloads, endpoint.headers(), timeout_s=30)

    assert [r.status for r in result.records] == [200, 200, 200]
    assert low_s < result.wall_s < high_s
    assert [json.loads(r.body).split(" complete")[0] for r in result.records] == [
        "request 1",
        "request 2",
        "request 3",
    ]
    judged = judge_burst(result.records, result.wall_s, capacity=deployment.capacity)
    assert judged.verdict == verdict
    assert judged.as_expected == (workers == 3)
    assert max(r.sent_at_s for r in result.records) < 0.2 * SLEEP_S  # all sent at once

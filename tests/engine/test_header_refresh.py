"""Request headers refreshed during a run (a token fetched again before it expires), against a real server
on 127.0.0.1 that accepts two tokens and counts the requests that carried each: in process and in worker
processes, with both clients. A refresh that fails is counted and the run goes on with the headers it had."""

from __future__ import annotations

import hashlib

import pytest

from moetui.engine.run import Run
from tests.engine.conftest import plan_for
from tests.http_server import FastServer

TOKEN_A = "fake-token-a-0123456789"
TOKEN_B = "fake-token-b-9876543210"


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def headers(token: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}


def url(server: FastServer) -> str:
    return server.url(f"/auth-any?sha256={sha256(TOKEN_A)},{sha256(TOKEN_B)}")


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_refreshed_token_is_sent_from_then_on(server: FastServer, client: str, workers: int) -> None:
    calls: list[str] = []

    def refresh() -> dict[str, str]:
        """Token A (unchanged) until the server has seen requests with it, token B from then on."""
        switched = bool(calls and calls[-1] == TOKEN_B) or sha256(TOKEN_A) in server.tokens()["seen"]
        calls.append(TOKEN_B if switched else TOKEN_A)
        return headers(calls[-1])

    plan = plan_for(
        url(server), "closed", connections=4, duration_s=2.0, client=client, workers=workers, headers=headers(TOKEN_A)
    )
    result = await Run(plan, refresh_headers=refresh, refresh_s=0.1).run()

    snapshot, tokens = result.snapshot, server.tokens()
    assert snapshot.ok > 20 and snapshot.statuses == {200: snapshot.ok}  # no 401: every request carried A or B
    assert tokens["seen"][sha256(TOKEN_A)] > 0 and tokens["seen"][sha256(TOKEN_B)] > 0
    assert sum(tokens["seen"].values()) == snapshot.sent
    # Every connection of every worker sent B last: each generator swapped its headers.
    assert set(tokens["last"]) == {sha256(TOKEN_B)} and tokens["last"][sha256(TOKEN_B)] >= workers
    assert TOKEN_B in calls and calls.count(TOKEN_B) >= 2  # asked again after the switch: B stays
    assert snapshot.health.header_refreshes == 1  # only a change is handed on
    assert snapshot.health.header_refresh_failures == 0


async def test_a_failing_refresh_is_counted_and_the_run_goes_on(server: FastServer) -> None:
    def refresh() -> dict[str, str]:
        raise RuntimeError(f"token service unreachable (the old token was {TOKEN_A})")

    plan = plan_for(url(server), "closed", connections=2, duration_s=1.5, headers=headers(TOKEN_A))
    result = await Run(plan, refresh_headers=refresh, refresh_s=0.1).run()

    snapshot = result.snapshot
    assert snapshot.ok > 20 and snapshot.statuses == {200: snapshot.ok}  # token A kept
    assert server.tokens()["seen"] == {sha256(TOKEN_A): snapshot.sent}
    health = snapshot.health
    assert health.header_refresh_failures >= 3 and health.header_refreshes == 0
    assert health.header_refresh_error is not None
    assert health.header_refresh_error.startswith("RuntimeError: token service unreachable")
    assert TOKEN_A not in health.header_refresh_error  # the message is kept, the secret is not
    # A failed refresh never makes the measurement invalid (whether one process kept up with a fast server
    # on 127.0.0.1 is the machine's to decide, not this test's).
    assert not any("refresh" in reason or "token" in reason for reason in health.reasons), health.reasons

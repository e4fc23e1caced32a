"""The streaming scorer behind the real inference server and the gateway: chunks pass as they come (or all
at the end with the buffer switch), OpenAI's chat routes and keys, usage, max_tokens, request_timeout_ms."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from moetui.local_endpoint import DeploymentSettings, LocalEndpointSettings, RunningEndpoint
from moetui.local_endpoint.settings import SCORERS
from moetui.paths import SCORING_APP_DIR

pytestmark = pytest.mark.slow

TTFT_S = 0.4
TOKEN_S = 0.1
TOKENS = 8
STREAM_ENV = {
    "STREAM_TTFT_MS": str(TTFT_S * 1000),
    "STREAM_TOKEN_MS": str(TOKEN_S * 1000),
    "STREAM_TOKENS": str(TOKENS),
}
#: The last token is due at TTFT + (TOKENS - 1) x TOKEN = 1.1 s.
LAST_S = TTFT_S + (TOKENS - 1) * TOKEN_S
CHAT = {
    "messages": [{"role": "user", "content": "three words here"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def _settings(buffer: bool) -> LocalEndpointSettings:
    deployments = [
        DeploymentSettings(
            name="blue",
            worker_count=2,
            max_concurrent_requests_per_instance=2,
            request_timeout_ms=10_000,
            environment=STREAM_ENV,
        )
    ]
    if not buffer:
        # Routed to by header only; its request_timeout_ms ends a stream mid-way.
        deployments.append(
            DeploymentSettings(name="short", traffic_percent=0, request_timeout_ms=600, environment=STREAM_ENV)
        )
        # Two workers, but one request in service at a time: a second stream must wait for the first.
        deployments.append(
            DeploymentSettings(
                name="one",
                traffic_percent=0,
                worker_count=2,
                max_concurrent_requests_per_instance=1,
                request_timeout_ms=10_000,
                environment=STREAM_ENV,
            )
        )
    return LocalEndpointSettings(
        deployments=tuple(deployments), scorer=SCORING_APP_DIR / SCORERS["stream"], buffer_responses=buffer
    )


@pytest.fixture(scope="module")
def streaming(start_endpoint: Callable[[LocalEndpointSettings], RunningEndpoint]) -> RunningEndpoint:
    return start_endpoint(_settings(buffer=False))


@pytest.fixture(scope="module")
def buffered(start_endpoint: Callable[[LocalEndpointSettings], RunningEndpoint]) -> RunningEndpoint:
    return start_endpoint(_settings(buffer=True))


async def chat(
    endpoint: RunningEndpoint,
    body: dict[str, Any],
    *,
    path: str = "/v1/chat/completions",
    headers: dict[str, str] | None = None,
) -> tuple[int, list[tuple[float, str]], bytes]:
    """POST to `path`; return the status, each SSE event's data with the seconds after sending at which it
    arrived, and the raw body."""
    url = f"http://127.0.0.1:{endpoint.port}{path}"
    sent = time.perf_counter()
    events: list[tuple[float, str]] = []
    raw = b""
    sent_headers = headers if headers is not None else endpoint.headers()
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=sent_headers) as response:
        pending = b""
        async for piece in response.content.iter_any():
            arrived = time.perf_counter() - sent
            raw += piece
            pending += piece
            while b"\n\n" in pending:
                event, pending = pending.split(b"\n\n", 1)
                events.append((arrived, event.decode().removeprefix("data: ")))
        return response.status, events, raw


def tokens_of(events: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return [(at, data) for at, data in events if data != "[DONE]" and json.loads(data)["choices"]]


async def test_chunks_arrive_as_the_scorer_sends_them(streaming: RunningEndpoint) -> None:
    status, events, _ = await chat(streaming, CHAT)
    assert status == 200
    tokens = tokens_of(events)
    assert len(tokens) == TOKENS
    assert [json.loads(data)["choices"][0]["delta"]["content"] for _, data in tokens] == ["tok "] * TOKENS
    first_s, last_s = tokens[0][0], tokens[-1][0]
    # The first token at about TTFT (0.4 s), long before the last (1.1 s): nothing held back.
    assert TTFT_S * 0.9 <= first_s < TTFT_S + 0.4
    assert last_s >= LAST_S * 0.95
    assert last_s - first_s >= (TOKENS - 1) * TOKEN_S * 0.8
    usage = json.loads(events[-2][1])["usage"]
    assert usage == {"prompt_tokens": 3, "completion_tokens": TOKENS, "total_tokens": 3 + TOKENS}
    assert events[-1][1] == "[DONE]"


async def test_the_buffer_switch_sends_everything_at_the_end(buffered: RunningEndpoint) -> None:
    status, events, _ = await chat(buffered, CHAT)
    assert status == 200
    tokens = tokens_of(events)
    assert len(tokens) == TOKENS
    assert tokens[0][0] >= LAST_S * 0.95  # the first token waits for the last one
    assert events[-1][0] - events[0][0] < 0.1
    assert json.loads(events[-2][1])["usage"]["completion_tokens"] == TOKENS


async def test_max_tokens_and_no_usage_unless_asked(streaming: RunningEndpoint) -> None:
    status, events, _ = await chat(streaming, {"messages": [], "stream": True, "max_tokens": 3})
    assert status == 200
    assert len(tokens_of(events)) == 3
    assert all("usage" not in json.loads(data) for _, data in events[:-1])
    assert json.loads(events[-2][1])["choices"][0]["finish_reason"] == "length"


async def test_not_streamed_is_one_json_answer(streaming: RunningEndpoint) -> None:
    status, _, raw = await chat(streaming, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    assert status == 200
    answer = json.loads(raw)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "tok tok "
    assert answer["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/v1/chat/completions", "authorization"),
        ("/v1/chat/completions", "api-key"),
        ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "api-key"),
        ("/openai/deployments/gpt-4o/chat/completions", "authorization"),
    ],
)
async def test_chat_routes_take_the_key_either_way(streaming: RunningEndpoint, path: str, header: str) -> None:
    good = f"Bearer {streaming.key}" if header == "authorization" else streaming.key
    wrong = "Bearer wrong-key" if header == "authorization" else "wrong-key"
    body = {"stream": True, "max_tokens": 2}
    status, events, _ = await chat(streaming, body, path=path, headers={header: good})
    assert status == 200 and len(tokens_of(events)) == 2
    status, _, raw = await chat(streaming, body, path=path, headers={header: wrong})
    assert status == 401
    assert "not valid" in json.loads(raw)["message"]
    status, _, _ = await chat(streaming, body, path=path, headers={})
    assert status == 401


async def test_score_takes_only_the_bearer_key(streaming: RunningEndpoint) -> None:
    status, _, _ = await chat(streaming, {"max_tokens": 1}, path="/score", headers={"api-key": streaming.key})
    assert status == 401
    status, _, _ = await chat(streaming, {"stream": True, "max_tokens": 1}, path="/score")
    assert status == 200


async def test_request_timeout_cuts_a_stream(streaming: RunningEndpoint) -> None:
    # "short" has request_timeout_ms 600: tokens due at 0.4 and 0.5 s arrive, then the connection closes
    # without the last chunk, which the client sees as a broken body.
    arrived: list[float] = []
    sent = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{streaming.port}/v1/chat/completions",
            json=CHAT,
            headers=streaming.headers("short"),
        ) as response,
    ):
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            async for _piece in response.content.iter_any():
                arrived.append(time.perf_counter() - sent)
    cut_s = time.perf_counter() - sent
    assert arrived, "no token arrived before the cut"
    assert 0.55 <= cut_s < LAST_S


async def test_a_stream_holds_its_place_until_it_ends(streaming: RunningEndpoint) -> None:
    headers = streaming.headers("one")
    first, second = await asyncio.gather(chat(streaming, CHAT, headers=headers), chat(streaming, CHAT, headers=headers))
    ends = sorted(events[-1][0] for _, events, _ in (first, second))
    starts = sorted(tokens_of(events)[0][0] for _, events, _ in (first, second))
    assert first[0] == second[0] == 200
    # The second stream's first token comes only after the first stream ended (its slot freed then).
    assert starts[1] >= ends[0] + TTFT_S * 0.9

"""Streamed answers against tests/http_server.py's streaming routes on 127.0.0.1: time to first token,
inter-token gaps, token counts and their source, goodput, the buffered verdict, cut streams, and the
stall that only the corrected TTFT shows. Time bounds are generous: the machine is shared."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from moetui.engine.capped_lines import MAX_LINE_BYTES
from moetui.engine.failures import ANSWER_ERROR, EMPTY_ANSWER, LINE_TOO_LONG, STREAM_CUT
from moetui.engine.run import Run, RunResult
from moetui.engine.streaming import StreamPlan, StreamSummary
from tests.engine.conftest import plan_for
from tests.http_server import FastServer

CHAT = "/v1/chat/completions?ttft_ms=200&gap_ms=20&tokens=50"


async def stream_run(url: str, mode: str, stream: StreamPlan | None = None, **fields: Any) -> RunResult:
    plan = replace(plan_for(url, mode, **fields), stream=stream or StreamPlan())
    return await Run(plan).run()


def summary_of(result: RunResult) -> StreamSummary:
    assert result.snapshot.streaming is not None
    return result.snapshot.streaming


@pytest.mark.serial  # TTFT, gaps and token rates against the server's timetable
async def test_ttft_gaps_and_tokens_match_the_server(server: FastServer, client: str) -> None:
    slo = StreamPlan(slo_ttft_ms=400, slo_tpot_ms=40)
    result = await stream_run(server.url(CHAT), "closed", slo, connections=4, duration_s=2.5, client=client)
    streaming = summary_of(result)
    assert result.snapshot.ok == streaming.streams == server.counts()["requests"] >= 4
    assert 199 <= streaming.ttft_ms[50.0] <= 200 + 40  # loopback and parsing: 215.8 on a loaded machine
    assert 18.5 <= streaming.itl_ms[50.0] <= 22
    assert 19 <= streaming.tpot_ms[50.0] <= 22
    assert streaming.output_tokens == 50 * streaming.streams
    assert streaming.token_source == "usage"
    assert streaming.counts["multi"] == streaming.streams
    # 50 tokens in about 200 + 49 x 20 = 1,180 ms: about 42 tokens per second per request.
    assert 35 <= streaming.tokens_rate_per_s[50.0] <= 43
    assert streaming.goodput_share == 1.0
    assert streaming.verdict() == ("streamed", 0.0)
    assert not streaming.ttft_corrected_ms  # closed loop: no timetable


async def test_goodput_is_zero_under_a_tighter_slo(server: FastServer) -> None:
    slo = StreamPlan(slo_ttft_ms=100, slo_tpot_ms=40)
    streaming = summary_of(await stream_run(server.url(CHAT), "closed", slo, connections=2, duration_s=1.5))
    assert streaming.streams >= 2
    assert streaming.goodput_share == 0.0
    assert streaming.goodput_per_s == 0.0


async def test_a_buffering_server_is_caught(server: FastServer) -> None:
    url = server.url("/v1/chat/completions?ttft_ms=20&gap_ms=10&tokens=30&buffered=1")
    streaming = summary_of(await stream_run(url, "closed", connections=2, duration_s=1.5))
    verdict, share = streaming.verdict()
    assert verdict == "buffered" and share == 1.0
    assert streaming.ttft_ms[50.0] >= 0.9 * streaming.e2e_ms[50.0]
    assert streaming.itl_ms[50.0] < 1  # every token arrived at once


async def test_a_stall_shows_in_corrected_ttft_only(server: FastServer) -> None:
    url = server.url("/stream-stall-once?ms=1000&ttft_ms=5&gap_ms=2&tokens=3")
    result = await stream_run(url, "open", rate=50, clients=1, duration_s=3.0)
    streaming = summary_of(result)
    assert result.snapshot.late > 20  # sends held back by the one client during the stall
    assert streaming.ttft_ms[90.0] < 100  # once sent, each stream's first token came fast
    assert streaming.ttft_corrected_ms[90.0] > 200  # the streams behind the stall waited for their turn
    assert streaming.ttft_ms[100.0] > 900  # the stalled one itself


async def test_a_cut_stream_is_a_broken_stream(server: FastServer, client: str) -> None:
    url = server.url("/stream-cut?after=10&gap_ms=2")
    result = await stream_run(url, "closed", connections=2, duration_s=0.8, client=client)
    snapshot = result.snapshot
    assert snapshot.ok == 0
    assert set(snapshot.errors) == {STREAM_CUT}
    assert summary_of(result).counts["cut"] == snapshot.errors[STREAM_CUT] == snapshot.failed > 0


async def test_tokens_are_counted_when_the_server_reports_no_usage(server: FastServer) -> None:
    url = server.url("/v1/chat/completions?gap_ms=1&tokens=7&usage=0")
    streaming = summary_of(await stream_run(url, "closed", connections=2, duration_s=0.5, requests=10))
    assert streaming.streams == 10
    assert streaming.output_tokens == 70
    assert streaming.token_source == "counted"
    assert streaming.counts["no_input"] == 10


async def test_a_scorer_stream_of_text_lines(server: FastServer) -> None:
    """api = "scoring": bare lines of text, one token each, and no [DONE] needed."""
    url = server.url("/v1/chat/completions?ttft_ms=30&gap_ms=5&tokens=5&format=text")
    streaming = summary_of(await stream_run(url, "closed", StreamPlan(api="scoring"), connections=1, requests=5))
    assert streaming.streams == 5 and streaming.output_tokens == 25
    assert 29 <= streaming.ttft_ms[50.0] <= 45


async def test_a_chat_stream_without_done_is_cut(server: FastServer) -> None:
    """The same text stream read as chat: it ended without `data: [DONE]`, so the answer is not whole."""
    url = server.url("/v1/chat/completions?tokens=3&format=text")
    result = await stream_run(url, "closed", StreamPlan(api="chat"), connections=1, requests=3)
    assert result.snapshot.errors == {STREAM_CUT: 3}


async def test_an_over_long_event_fails_its_request_and_the_run_goes_on(server: FastServer, client: str) -> None:
    """Every other stream holds a 10 MB event (over the cap; aiohttp's own readline gives up at 512 KiB):
    that request is a failure of its own kind, and the streams between them are read whole."""
    assert MAX_LINE_BYTES < 10_000_000
    url = server.url("/stream-long-line?mb=10&every=2&after=2")
    result = await stream_run(url, "closed", connections=1, requests=6, timeout_s=60, client=client)
    snapshot = result.snapshot
    assert snapshot.errors == {LINE_TOO_LONG: 3}
    assert snapshot.ok == summary_of(result).streams == 3 == server.counts()["requests"] - 3
    assert server.counts()["connections"] == 3  # each long event's connection dropped, the next one new
    assert summary_of(result).output_tokens == 3 * 10
    # Each long event was read up to the cap, then left: far from the 30 MB the server had for them.
    assert 3 * MAX_LINE_BYTES <= result.aggregator.body_bytes < 3 * (MAX_LINE_BYTES + 1_000_000)


async def test_an_event_over_aiohttps_limit_but_under_the_cap_is_read(server: FastServer, client: str) -> None:
    result = await stream_run(server.url("/stream-long-line?mb=1"), "closed", connections=1, requests=2, client=client)
    assert result.snapshot.errors == {} and result.snapshot.ok == 2
    assert "cut" not in summary_of(result).counts and summary_of(result).output_tokens == 20


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("error", ANSWER_ERROR),
        ("object-error", ANSWER_ERROR),
        ("late-error", ANSWER_ERROR),
        ("empty", EMPTY_ANSWER),
        ("done-only", EMPTY_ANSWER),
    ],
)
async def test_a_chat_2xx_that_is_no_answer_is_a_failure(server: FastServer, client: str, body: str, kind: str) -> None:
    url = server.url(f"/chat-answer?body={body}")
    result = await stream_run(url, "closed", connections=1, requests=3, client=client)
    assert result.snapshot.errors == {kind: 3}
    assert result.snapshot.ok == 0 and result.snapshot.statuses == {}


@pytest.mark.parametrize("pretty", ["", "&pretty=1"])
async def test_a_non_streamed_completion_is_one_answer_with_its_usage(
    server: FastServer, client: str, pretty: str
) -> None:
    """A `chat.completion` sent as JSON, on one line or indented over many: one whole answer, its usage read."""
    url = server.url(f"/chat-answer?body=completion{pretty}")
    result = await stream_run(url, "closed", connections=1, requests=4, client=client)
    streaming = summary_of(result)
    assert result.snapshot.errors == {} and result.snapshot.ok == streaming.streams == 4
    assert streaming.output_tokens == 4 * 10 and streaming.token_source == "usage"  # max_tokens: the server's 10
    assert streaming.counts["input_tokens"] == 4 * 7


async def test_the_answer_rule_is_chat_s_only(server: FastServer) -> None:
    """A scorer's stream is not an OpenAI answer: an empty 200 or one with an `error` key is its own business."""
    scoring = StreamPlan(api="scoring")
    for body in ("empty", "error"):
        result = await stream_run(server.url(f"/chat-answer?body={body}"), "closed", scoring, connections=1, requests=2)
        assert result.snapshot.errors == {} and result.snapshot.statuses == {200: 2}


async def test_each_streamed_request_carries_its_first_token(server: FastServer) -> None:
    result = await stream_run(server.url(CHAT), "burst", requests=3)
    records = list(result.aggregator.recent)
    assert len(records) == 3
    for record in records:
        assert record.first_token_s is not None
        # The server holds the first token 200 ms; the whole answer takes about 1.2 s.
        assert 0.19 <= record.first_token_s <= 0.5
        assert record.first_token_s < record.elapsed_s


async def test_a_run_that_does_not_stream_has_no_first_token(server: FastServer) -> None:
    result = await Run(plan_for(server.url("/fast"), "burst", requests=3)).run()
    assert [r.first_token_s for r in result.aggregator.recent] == [None, None, None]

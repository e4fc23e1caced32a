"""Streamed responses of generative endpoints: reading server-sent events (OpenAI chat completion chunks, or
a scorer's stream of text) as they arrive, per-request token timing, and what a run's streams come to.

The engine side only: lanes that read a stream and record it, the recording itself (histograms in
microseconds, counters), the summary a snapshot and the report carry, the "does it really stream?"
verdict and the streaming thresholds. No textual, rich or azure here.

Per request: time to first token (the first content chunk), every inter-token gap, time per output token
((e2e - ttft) / (tokens - 1)), end-to-end time, and the token counts the server reported in its `usage`
(else counted from the chunks: one content delta = one token, and the report says which).

What a 2xx answer comes to is judged in one place for both lanes (StreamingTransport.judge): a line over
capped_lines.MAX_LINE_BYTES, a stream cut after its first token, and for chat an answer carrying an `error`
object or with neither content nor usage are failures of their own kinds; a non-streamed `chat.completion`
(`application/json`) is one whole answer, its tokens from its `usage`.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import Counter
from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from moetui.engine.capped_lines import CappedLines
from moetui.engine.failures import (
    ANSWER_ERROR,
    EMPTY_ANSWER,
    LINE_TOO_LONG,
    STREAM_CUT,
    ErrorKind,
    classify,
    classify_httpx,
)
from moetui.engine.histogram import record_many
from moetui.engine.transport import (
    EXEC_MS_HEADER,
    SERVED_BY_HEADER,
    BodyCounter,
    Outcome,
    parse_exec_ms,
    put_request_id,
    request_id_headers,
)

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

    from moetui.engine.clock import Clock
    from moetui.engine.transport import Transport

APIS: tuple[str, ...] = ("scoring", "chat")
#: The path an OpenAI-compatible server answers chat completions on (added to a URL with no path).
CHAT_PATH = "/v1/chat/completions"
#: Histograms a streaming run adds (microseconds, like every latency). "tokens_rate" holds each request's
#: output tokens per second times 1000, so that its ladder in "ms" reads in tokens per second.
STREAM_HISTOGRAMS = ("ttft", "ttft_corrected", "itl", "tpot", "tokens_rate")
#: A multi-token stream whose first token came after this share of its end-to-end time looks buffered.
BUFFERED_TTFT_SHARE = 0.9
#: ... and a run is "buffered" when more than this share of its multi-token streams look so (median > 0.9).
BUFFERED_RUN_SHARE = 0.5
#: Counters a Delta's `stream` dict may hold (summed across deltas and workers).
COUNTERS = ("streams", "output_tokens", "input_tokens", "counted", "no_input", "good", "multi", "buffered", "cut")


@dataclass(frozen=True)
class StreamPlan:
    """How a streaming run reads and judges its answers (part of a LoadPlan: picklable)."""

    api: str = "chat"
    """"chat": OpenAI-compatible chat completions (SSE, `data: [DONE]` ends a whole answer); "scoring": a
    scorer's stream (SSE `data:` events or lines of text, one per token; no [DONE] needed)."""
    slo_ttft_ms: float | None = None
    """Goodput: a request is good when its TTFT (corrected in open mode) is at most this ..."""
    slo_tpot_ms: float | None = None
    """... and its time per output token at most this (None: not judged)."""


def chat_url(url: str) -> str:
    """`url` with CHAT_PATH when it has no path of its own (`http://host:8000`); as given otherwise (the
    Azure OpenAI form `https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/completions
    ?api-version=...` keeps its path and query)."""
    parts = urllib.parse.urlsplit(url)
    if parts.path in ("", "/"):
        return urllib.parse.urlunsplit(parts._replace(path=CHAT_PATH))
    return url


# -- recording -------------------------------------------------------------------------------------


class StreamRecorder:
    """Per-stream results kept as tuples and recorded a batch at a time, as the Recorder does.

    Args:
        warmup_until: Streams sent before this clock time are left out.
        slo_ttft_ms, slo_tpot_ms: Goodput's limits (None: that limit is not judged).
    """

    def __init__(self, warmup_until: float, slo_ttft_ms: float | None, slo_tpot_ms: float | None) -> None:
        self.warmup_until = warmup_until
        self._slo_ttft_us = None if slo_ttft_ms is None else slo_ttft_ms * 1000
        self._slo_tpot_us = None if slo_tpot_ms is None else slo_tpot_ms * 1000
        self._pending: list[tuple[Any, ...]] = []
        self.counts: Counter[str] = Counter()
        self.first_token_s: float | None = None
        """The TTFT (s) of the stream that just finished, until the StreamingRecorder's end takes it."""

    def add(
        self,
        sent: float,
        intended: float | None,
        stamps: list[float],
        done: float,
        output_tokens: int | None,
        input_tokens: int | None,
        cut: bool,
    ) -> None:
        """One stream: `stamps` are the clock times of its content chunks; token counts as the server
        reported them (None: not reported); `cut` when it broke after its first token."""
        self._pending.append((sent, intended, stamps, done, output_tokens, input_tokens, cut))

    def settle(self, hist: Mapping[str, HdrHistogram]) -> None:
        """Record the pending streams into `hist` (the Recorder's current histograms) and the counters."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        ttft: list[int] = []
        corrected: list[int] = []
        gaps: list[int] = []
        tpot: list[int] = []
        rate: list[int] = []
        counts = self.counts
        slo_ttft, slo_tpot = self._slo_ttft_us, self._slo_tpot_us
        for sent, intended, stamps, done, reported_out, reported_in, cut in pending:
            if sent < self.warmup_until:
                continue
            if cut:
                counts["cut"] += 1
                continue
            if not stamps:
                continue  # an answer with no content: nothing to time
            counts["streams"] += 1
            first = stamps[0]
            ttft_us = int((first - sent) * 1_000_000) or 1
            ttft.append(ttft_us)
            judged_ttft_us = ttft_us
            if intended is not None:
                judged_ttft_us = max(int((first - intended) * 1_000_000), ttft_us)
                corrected.append(judged_ttft_us)
            previous = first
            for stamp in stamps[1:]:
                gaps.append(int((stamp - previous) * 1_000_000) or 1)
                previous = stamp
            if reported_out is None:
                tokens = len(stamps)
                counts["counted"] += 1
            else:
                tokens = reported_out
            counts["output_tokens"] += tokens
            if reported_in is None:
                counts["no_input"] += 1
            else:
                counts["input_tokens"] += reported_in
            e2e_s = done - sent
            tpot_us = None
            if tokens >= 2:
                tpot_us = int((done - first) * 1_000_000 / (tokens - 1)) or 1
                tpot.append(tpot_us)
                counts["multi"] += 1
                if first - sent > BUFFERED_TTFT_SHARE * e2e_s:
                    counts["buffered"] += 1
            if e2e_s > 0:
                rate.append(int(tokens / e2e_s * 1000) or 1)
            if (slo_ttft is None or judged_ttft_us <= slo_ttft) and (
                slo_tpot is None or tpot_us is None or tpot_us <= slo_tpot
            ):
                counts["good"] += 1
        record_many(hist["ttft"], ttft)
        record_many(hist["ttft_corrected"], corrected)
        record_many(hist["itl"], gaps)
        record_many(hist["tpot"], tpot)
        record_many(hist["tokens_rate"], rate)

    def take(self) -> dict[str, int]:
        """The counters since the previous take."""
        taken, self.counts = dict(self.counts), Counter()
        return taken


# -- reading a stream --------------------------------------------------------------------------------


class _Reader:
    """Parses an answer as it arrives: SSE `data:` events (OpenAI chunks, JSON with text, or plain text),
    bare lines of text, or (chat, `application/json`) one whole JSON answer; notes the time of each content
    chunk, the usage the server reports, whether the answer ended whole and whether it carried an error.
    Lines come through CappedLines, whatever the client."""

    __slots__ = ("chat", "done", "error", "input_tokens", "lines", "now", "output_tokens", "stamps")

    def __init__(self, now: Any, chat: bool) -> None:
        self.now = now
        self.chat = chat
        self.stamps: list[float] = []
        self.output_tokens: int | None = None
        self.input_tokens: int | None = None
        self.done = False
        """A chat answer ended whole: `data: [DONE]`, or a non-streamed completion."""
        self.error = False
        """An event carried an `error` object (or was one: `"object": "error"`)."""
        self.lines = CappedLines()

    def start(self, content_type: str | None) -> None:
        """A 2xx answer's head came: a chat answer sent as JSON is one document (a non-streamed completion,
        often pretty-printed over many lines), not a stream of lines."""
        media = (content_type or "").partition(";")[0].strip().lower()
        if self.chat and (media == "application/json" or media.endswith("+json")):
            self.lines = CappedLines(whole=True)

    def feed(self, chunk: bytes) -> bool:
        """Reads the lines `chunk` completes; True when a line went over the cap: read no further."""
        for line in self.lines.feed(chunk):
            self.line(line)
        return self.lines.too_long

    def end(self) -> None:
        """The body ended cleanly: its last line without a line break, or the whole JSON answer."""
        rest = self.lines.end()
        if not self.lines.whole:
            self.line(rest)
            return
        try:
            event = json.loads(rest)
        except ValueError:
            event = None
        if isinstance(event, dict):
            self.event(event)
            return
        for line in rest.split(b"\n"):  # not one JSON object after all: read it as lines
            self.line(line)

    def line(self, raw: bytes) -> None:
        line = raw.strip()
        if not line or line.startswith(b":"):
            return  # an SSE comment or the blank line between events
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data == b"[DONE]":
                self.done = True
                return
        elif line.startswith((b"event:", b"id:", b"retry:")):
            return
        else:
            data = line
        self.payload(data)

    def payload(self, data: bytes) -> None:
        if not data.startswith(b"{"):
            self.stamps.append(self.now())  # a scorer's plain text: one event or line, one token
            return
        try:
            event = json.loads(data)
        except ValueError:
            self.stamps.append(self.now())
            return
        if isinstance(event, dict):
            self.event(event)

    def event(self, event: dict[str, Any]) -> None:
        if event.get("error") or event.get("object") == "error":
            self.error = True
        if _has_content(event):
            self.stamps.append(self.now())
        if event.get("object") == "chat.completion":
            self.done = True  # a non-streamed answer is whole in itself: no [DONE] follows
        usage = event.get("usage")
        if isinstance(usage, dict):
            out, into = usage.get("completion_tokens"), usage.get("prompt_tokens")
            self.output_tokens = out if isinstance(out, int) else self.output_tokens
            self.input_tokens = into if isinstance(into, int) else self.input_tokens


#: What a chat delta or message generates: text, reasoning, a tool call's name and arguments, a refusal.
_CONTENT_KEYS = ("content", "reasoning_content", "tool_calls", "function_call", "refusal")


def _has_content(event: dict[str, Any]) -> bool:
    """Whether an event carries generated output: an OpenAI chunk's choices[].delta (or the non-streamed
    message, the legacy text) with any of _CONTENT_KEYS, or a scorer's {"token"|"text"|"content": ...}."""
    choices = event.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            if isinstance(delta, dict) and any(delta.get(key) for key in _CONTENT_KEYS):
                return True
            if choice.get("text"):
                return True
        return False
    return any(isinstance(event.get(key), str) and event[key] for key in ("token", "text", "content"))


class StreamingTransport:
    """A Transport whose lanes read every answer as a stream and record its token timing. Wraps the
    aiohttp or httpx transport (their session, clients, headers and body counter stay theirs), so the
    choice is made once, when lanes are made: the non-streaming path is not touched.

    Args:
        inner: The transport open_transport made.
        streams: Where each stream is recorded.
        clock: The engine clock (the same one the load models time requests with).
        plan: The API spoken.
    """

    def __init__(self, inner: Transport, streams: StreamRecorder, clock: Clock, plan: StreamPlan) -> None:
        self._inner = inner
        self._streams = streams
        self._clock = clock
        self._chat = plan.api == "chat"

    @property
    def received(self) -> BodyCounter:
        return self._inner.received

    def set_headers(self, headers: Mapping[str, str]) -> None:
        self._inner.set_headers(headers)

    def lane(self) -> _AiohttpStreamLane | _HttpxStreamLane:
        inner = self._inner.lane()
        session = getattr(inner, "session", None)
        if isinstance(session, aiohttp.ClientSession):
            return _AiohttpStreamLane(inner, self)
        return _HttpxStreamLane(inner, self)

    async def close(self) -> None:
        await self._inner.close()

    def reader(self) -> _Reader:
        """A reader for one request's answer."""
        return _Reader(self._clock.now, self._chat)

    def outcome(
        self,
        reader: _Reader,
        sent: float,
        intended: float | None,
        size: int,
        status: int | None,
        exec_ms: float | None,
        error: ErrorKind | None,
        served: str | None = None,
    ) -> Outcome:
        """What one request of either client's lane came to: a 2xx answer (or none) is judged as a stream
        (finish), another status is an answer like any other."""
        error = self.finish(reader, sent, intended, size, error) if status is None or 200 <= status < 300 else None
        if error is not None:
            return None, error, None, None
        return status, None, exec_ms, served

    def finish(
        self, reader: _Reader, sent: float, intended: float | None, size: int, error: ErrorKind | None
    ) -> ErrorKind | None:
        """Record one stream; returns the request's error kind (judge)."""
        done = self._clock.now()
        self.received.add(size)
        error = self.judge(reader, error)
        if error is None or error == STREAM_CUT:
            cut = error is not None
            self._streams.add(sent, intended, reader.stamps, done, reader.output_tokens, reader.input_tokens, cut)
        if reader.stamps:
            self._streams.first_token_s = reader.stamps[0] - sent
        return error

    def judge(self, reader: _Reader, error: ErrorKind | None) -> ErrorKind | None:
        """The one rule for what a 2xx answer (or none) came to, whichever client read it:
        - a line over the cap is LINE_TOO_LONG (reading stopped there, whatever came before);
        - a failure after the first token is STREAM_CUT (half an answer), else the failure's own kind;
        and for chat (an OpenAI-compatible server says what went wrong in the body):
        - an `error` object is ANSWER_ERROR, even inside a 200 and after some tokens;
        - neither content nor usage is EMPTY_ANSWER (a 200 with an empty body, `{}`, or only [DONE]);
        - content that never ended with `data: [DONE]` (and was no non-streamed completion) is STREAM_CUT.
        """
        if reader.lines.too_long:
            return LINE_TOO_LONG
        if error is not None:
            return STREAM_CUT if reader.stamps else error
        if not self._chat:
            return None
        if reader.error:
            return ANSWER_ERROR
        if not reader.stamps and reader.output_tokens is None and reader.input_tokens is None:
            return EMPTY_ANSWER
        if reader.stamps and not reader.done:
            return STREAM_CUT  # the connection ended cleanly but the answer did not
        return None


class _AiohttpStreamLane:
    def __init__(self, inner: Any, owner: StreamingTransport) -> None:
        self._session: aiohttp.ClientSession = inner.session
        self._spec = inner.spec
        self._owner = owner

    async def send(self, body: bytes, intended: float | None = None, request_id: str | None = None) -> Outcome:
        owner = self._owner
        sent = owner._clock.now()
        reader = owner.reader()
        size = 0
        status = None
        exec_ms = None
        served = None
        error = None
        try:
            put_request_id(self._session, request_id)
            async with self._session.request(self._spec.method, self._spec.url, data=body or None) as response:
                status = response.status
                exec_ms = parse_exec_ms(response.headers.get(EXEC_MS_HEADER))
                served = response.headers.get(SERVED_BY_HEADER)
                content = response.content
                answer = 200 <= status < 300
                if answer:
                    reader.start(response.headers.get("Content-Type"))
                # Chunks as they arrive, split by the reader under its cap (not aiohttp's readline, which
                # raises LineTooLong past 512 KiB); never the whole body.
                while chunk := await content.readany():
                    size += len(chunk)
                    if answer and reader.feed(chunk):
                        break  # a line over the cap: the rest is left unread, and aiohttp closes the connection
                if answer:
                    reader.end()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = classify(exc)
        return owner.outcome(reader, sent, intended, size, status, exec_ms, error, served)


class _HttpxStreamLane:
    def __init__(self, inner: Any, owner: StreamingTransport) -> None:
        self._client = inner.client
        self._spec = inner.spec
        self._owner = owner

    async def send(self, body: bytes, intended: float | None = None, request_id: str | None = None) -> Outcome:
        import httpx

        owner = self._owner
        sent = owner._clock.now()
        reader = owner.reader()
        size = 0
        status = None
        exec_ms = None
        served = None
        error = None
        reading_body = False
        try:
            async with self._client.stream(
                self._spec.method, self._spec.url, content=body, headers=request_id_headers(request_id)
            ) as response:
                reading_body = True
                status = response.status_code
                exec_ms = parse_exec_ms(response.headers.get(EXEC_MS_HEADER))
                served = response.headers.get(SERVED_BY_HEADER)
                answer = 200 <= status < 300
                if answer:
                    reader.start(response.headers.get("Content-Type"))
                # Chunks as they arrive, split by the same reader and cap as aiohttp's lane (aiter_lines has
                # no cap at all).
                async with aclosing(response.aiter_bytes() if answer else response.aiter_raw()) as chunks:
                    async for chunk in chunks:
                        size += len(chunk)
                        if answer and reader.feed(chunk):
                            break  # a line over the cap: closing the unread response drops its connection
                if answer:
                    reader.end()
        except httpx.HTTPError as exc:
            error = classify_httpx(exc, reading_body=reading_body)
        return owner.outcome(reader, sent, intended, size, status, exec_ms, error, served)


# -- what a run's streams come to ---------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSummary:
    """A streaming run's figures at one moment (snapshot and report). Ladders in ms; `tokens_rate_per_s`
    in output tokens per second per request."""

    ttft_ms: dict[float, float]
    ttft_corrected_ms: dict[float, float]
    itl_ms: dict[float, float]
    tpot_ms: dict[float, float]
    e2e_ms: dict[float, float]
    e2e_corrected_ms: dict[float, float]
    tokens_rate_per_s: dict[float, float]
    counts: dict[str, int]
    measured_s: float
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None
    completed: int = 0
    """Requests finished (the streams, the cut ones and every other failure): goodput's denominator."""

    @property
    def streams(self) -> int:
        return self.counts.get("streams", 0)

    @property
    def output_tokens(self) -> int:
        return self.counts.get("output_tokens", 0)

    @property
    def output_tokens_per_s(self) -> float:
        return self.output_tokens / self.measured_s if self.measured_s > 0 else 0.0

    @property
    def token_source(self) -> str:
        """ "usage" (every stream's count came from the server), "counted" (every one counted from the
        chunks), "mixed", or "none"."""
        counted = self.counts.get("counted", 0)
        if not self.streams:
            return "none"
        return "counted" if counted == self.streams else "usage" if counted == 0 else "mixed"

    @property
    def goodput_share(self) -> float | None:
        if self.slo_ttft_ms is None and self.slo_tpot_ms is None:
            return None
        return self.counts.get("good", 0) / self.completed if self.completed else None

    @property
    def goodput_per_s(self) -> float | None:
        if self.goodput_share is None:
            return None
        return self.counts.get("good", 0) / self.measured_s if self.measured_s > 0 else 0.0

    def verdict(self) -> tuple[str, float | None]:
        """("streamed" | "buffered" | "unknown", the share of multi-token streams whose first token came
        after BUFFERED_TTFT_SHARE of their end-to-end time). "buffered" when more than half did: the median
        TTFT/e2e is above 0.9, so a proxy or scorer that sends everything at the end is caught; "unknown"
        without streams of 2 tokens or more."""
        multi = self.counts.get("multi", 0)
        if not multi:
            return "unknown", None
        share = self.counts.get("buffered", 0) / multi
        return ("buffered" if share > BUFFERED_RUN_SHARE else "streamed"), share


def summarize(
    ladder: Any, counts: Mapping[str, int], measured_s: float, completed: int, plan: StreamPlan | None
) -> StreamSummary:
    """A StreamSummary from an aggregator's `ladder(name)` and its summed counters."""
    return StreamSummary(
        ttft_ms=ladder("ttft"),
        ttft_corrected_ms=ladder("ttft_corrected"),
        itl_ms=ladder("itl"),
        tpot_ms=ladder("tpot"),
        e2e_ms=ladder("ok"),
        e2e_corrected_ms=ladder("ok_corrected"),
        tokens_rate_per_s=ladder("tokens_rate"),
        counts=dict(counts),
        measured_s=measured_s,
        slo_ttft_ms=plan.slo_ttft_ms if plan else None,
        slo_tpot_ms=plan.slo_tpot_ms if plan else None,
        completed=completed,
    )

"""Streaming scorer: a stand-in for a generative model that answers like OpenAI's chat completions API.

A request body such as `{"messages": [{"role": "user", "content": "hi"}], "stream": true, "max_tokens": 8,
"stream_options": {"include_usage": true}}` gets Server-Sent Events:

    data: {"id": "chatcmpl-…", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {…}}], …}
    …one chunk per token ("tok "), the last with "finish_reason"…
    data: {…, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 8, "total_tokens": 9}}
    data: [DONE]

The usage chunk comes only when `stream_options.include_usage` is true, as OpenAI sends it. Without
`"stream": true` the answer is one JSON `chat.completion` (usage included), after the whole generation time.

Timings, from the environment (the deployment's environment_variables), fixed per worker at init():
- STREAM_TTFT_MS (default 100): from run() being called to the first token;
- STREAM_TOKEN_MS (default 20): between two tokens;
- STREAM_TOKENS (default 32): tokens per answer; a request's `max_tokens` (or `max_completion_tokens`)
  sets it for that request;
- STREAM_JITTER_MS (default 0): each time above moves by a uniform draw in [-J, +J] ms (never below 0),
  from a generator seeded with STREAM_SEED (default 0) in each worker.
Token i is sent at TTFT + i x TOKEN (+ jitter) after run() was called, whatever the sends cost, so the
times do not drift.

This file runs inside azureml-inference-server-http 1.5.1, locally and on Azure: run() returns a Flask
`Response` over a generator, which the server passes through as is (its routes.py), and gunicorn sends
each piece as a chunk. With gunicorn's sync workers an open stream holds its worker until the end.
It imports only the standard library, Flask and the inference server's own AMLResponse.
"""

import json
import logging
import math
import os
import random
import time
import uuid

from azureml_inference_server_http.api.aml_response import AMLResponse
from flask import Response

DEFAULTS = {"STREAM_TTFT_MS": 100.0, "STREAM_TOKEN_MS": 20.0, "STREAM_TOKENS": 32, "STREAM_JITTER_MS": 0.0}
#: Longest time any one setting may be: Azure's request_timeout_ms tops out at 180 s.
MAX_MS = 3_600_000.0
MAX_TOKENS = 100_000
TOKEN_TEXT = "tok "
DEFAULT_MODEL = "moetui-stream"

logger = logging.getLogger("stream_scorer")
settings = dict(DEFAULTS)
seed = 0
rng = random.Random(0)


def _number(value, source, high, whole=False):
    """`value` as a number from 0 (1 for whole numbers) to `high`, or raise ValueError naming `source`."""
    low = 1 if whole else 0
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool):
        raise ValueError(f"{source} must be {kind} from {low} to {high:g}, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be {kind} from {low} to {high:g}, not {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high or (whole and not number.is_integer()):
        raise ValueError(f"{source} must be {kind} from {low} to {high:g}, not {value!r}")
    return int(number) if whole else number


def init():
    """Read the STREAM_* variables once; a bad value fails init(), so the server refuses to start."""
    global seed, rng
    for name, default in DEFAULTS.items():
        whole = name == "STREAM_TOKENS"
        settings[name] = _number(os.environ.get(name, default), name, MAX_TOKENS if whole else MAX_MS, whole)
    text = os.environ.get("STREAM_SEED", "0").strip()
    if not text.lstrip("-").isdigit():
        raise ValueError(f"STREAM_SEED must be a whole number, not {text!r}")
    seed = int(text)
    rng = random.Random(seed)
    logger.info(
        "stream scorer ready: TTFT %.1f ms, %.1f ms per token, %d tokens, jitter %.1f ms (seed %d), pid %d",
        settings["STREAM_TTFT_MS"],
        settings["STREAM_TOKEN_MS"],
        settings["STREAM_TOKENS"],
        settings["STREAM_JITTER_MS"],
        seed,
        os.getpid(),
    )


def _error(message, status=400):
    return AMLResponse({"error": {"message": message, "type": "invalid_request_error"}}, status, json_str=True)


def _prompt_tokens(messages):
    """Whitespace-separated words in the messages' text (string content or text parts)."""
    words = 0
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            text = part.get("text") if isinstance(part, dict) else part
            if isinstance(text, str):
                words += len(text.split())
    return words


def _schedule(tokens):
    """Seconds after run() was called at which each token is due (jitter drawn here, once per request)."""
    jitter_s = settings["STREAM_JITTER_MS"] / 1000

    def jittered(seconds):
        return max(0.0, seconds + rng.uniform(-jitter_s, jitter_s)) if jitter_s else seconds

    due = []
    at = jittered(settings["STREAM_TTFT_MS"] / 1000)
    for _ in range(tokens):
        due.append(at)
        at += jittered(settings["STREAM_TOKEN_MS"] / 1000)
    return due


def _sleep_until(deadline):
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)


def run(raw_data):
    """A chat completion of `max_tokens` (else STREAM_TOKENS) tokens, streamed when the request asks."""
    started = time.perf_counter()
    text = raw_data.decode("utf-8", "replace") if isinstance(raw_data, bytes) else (raw_data or "")
    try:
        body = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return _error(f"request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return _error('request body must be a JSON object such as {"messages": [...], "stream": true}')
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    try:
        tokens = settings["STREAM_TOKENS"] if limit is None else _number(limit, "max_tokens", MAX_TOKENS, whole=True)
    except ValueError as exc:
        return _error(str(exc))
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    prompt_tokens = _prompt_tokens(body.get("messages"))
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": tokens, "total_tokens": prompt_tokens + tokens}
    common = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": body.get("model") if isinstance(body.get("model"), str) else DEFAULT_MODEL,
    }
    due = [started + at for at in _schedule(tokens)]

    if body.get("stream") is not True:
        _sleep_until(due[-1])
        answer = {
            **common,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": TOKEN_TEXT * tokens},
                    "finish_reason": "length",
                }
            ],
            "usage": usage,
        }
        return AMLResponse(answer, 200, json_str=True)

    def events():
        chunk = {**common, "object": "chat.completion.chunk"}
        for index, deadline in enumerate(due):
            _sleep_until(deadline)
            delta = {"role": "assistant", "content": TOKEN_TEXT} if index == 0 else {"content": TOKEN_TEXT}
            last = index == len(due) - 1
            choice = {"index": 0, "delta": delta, "finish_reason": "length" if last else None}
            yield f"data: {json.dumps({**chunk, 'choices': [choice]})}\n\n"
        if include_usage:
            yield f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    return Response(events(), status=200, mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})

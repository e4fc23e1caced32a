"""Sleep scorer for the concurrency test (15 s by default, as the 3-request concurrency test uses it).

`run()` sleeps for SLEEP_SECONDS (environment variable, default 15) and says how long it took, so that the
total time of N parallel requests shows whether a deployment serves them at once (about one sleep) or one
after another (about N sleeps). A request body `{"request_id": 1, "sleep": 0.5}` names the request and may
override the sleep; `{"fail": true}` makes `run()` raise, to exercise the endpoint's error path.

This file runs inside azureml-inference-server-http, locally and on Azure: it imports only the standard
library and the inference server's own AMLResponse.
"""

import json
import logging
import math
import os
import time

from azureml_inference_server_http.api.aml_response import AMLResponse

DEFAULT_SLEEP_SECONDS = 15.0
# Azure's request_timeout_ms tops out at 180 s; an hour is far past anything that could be answered.
MAX_SLEEP_SECONDS = 3600.0

logger = logging.getLogger("sleep_scorer")
sleep_seconds = DEFAULT_SLEEP_SECONDS


def _seconds(value, source):
    """Return `value` as a number of seconds, or raise ValueError naming `source`."""
    if isinstance(value, bool):
        raise ValueError(f"{source} must be a number of seconds, not {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a number of seconds, not {value!r}") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise ValueError(f"{source} must be between 0 and {MAX_SLEEP_SECONDS:g} seconds, not {value!r}")
    return seconds


def init():
    """Read SLEEP_SECONDS once; a bad value fails init() so the server refuses to start."""
    global sleep_seconds
    sleep_seconds = _seconds(os.environ.get("SLEEP_SECONDS", DEFAULT_SLEEP_SECONDS), "SLEEP_SECONDS")
    logger.info("sleep scorer ready: %.3f s per request, pid %d", sleep_seconds, os.getpid())


def _bad_request(message):
    return AMLResponse({"error": message}, 400, json_str=True)


def run(raw_data):
    """Sleep, then return "request N complete. Elapsed time: S seconds"."""
    started = time.perf_counter()
    text = raw_data.decode("utf-8", "replace") if isinstance(raw_data, bytes) else (raw_data or "")
    try:
        body = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return _bad_request(f"request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return _bad_request('request body must be a JSON object such as {"request_id": 1}')
    try:
        seconds = _seconds(body["sleep"], '"sleep"') if "sleep" in body else sleep_seconds
    except ValueError as exc:
        return _bad_request(str(exc))
    if body.get("fail"):
        raise RuntimeError('run() failed because the request asked it to ("fail": true)')

    time.sleep(seconds)
    elapsed = time.perf_counter() - started
    name = f"request {body['request_id']}" if "request_id" in body else "request"
    return f"{name} complete. Elapsed time: {elapsed:.4f} seconds"

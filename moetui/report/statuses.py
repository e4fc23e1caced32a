"""What an HTTP status means from an Azure ML managed online endpoint: the report, the summary and the TUI's
status tables read this one table. Plain data: no engine, no UI."""

from __future__ import annotations

#: Azure ML managed online endpoints' meanings of the status codes a load test sees most.
AZURE_STATUS_MEANINGS = {
    200: "ok",
    400: "bad request",
    401: "no, expired or wrong key or token",
    403: "forbidden",
    404: "no such deployment, or none with positive traffic",
    408: "request timeout (request_timeout_ms)",
    424: "model error: the scorer answered non-200",
    429: "too many pending requests, or over the endpoint's rate limit",
    500: "internal server error",
    502: "the model container crashed or did not answer",
    503: "service unavailable: no capacity yet, or scaling",
    504: "gateway timeout",
}

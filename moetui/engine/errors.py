"""Transport failures by kind, classified by exception class (never by message text)."""

from __future__ import annotations

import asyncio
import errno

import aiohttp

TIMEOUT = "timeout"
REFUSED = "refused"
RESET = "reset"
DISCONNECTED = "disconnected"
READ_ERROR = "read_error"
PROTOCOL = "protocol"
OTHER = "other"


def classify(exc: BaseException) -> str:
    """The moetui error kind of an aiohttp or asyncio failure."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return REFUSED
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return DISCONNECTED
    if isinstance(exc, aiohttp.ClientPayloadError):
        return READ_ERROR
    if isinstance(exc, aiohttp.ClientResponseError):
        return PROTOCOL
    if isinstance(exc, aiohttp.ClientOSError):
        return RESET if exc.errno in (errno.ECONNRESET, errno.EPIPE) else READ_ERROR
    return OTHER


def classify_httpx(exc: BaseException) -> str:
    """The moetui error kind of an httpx failure (httpx/_exceptions.py's tree)."""
    import httpx  # deferred: the aiohttp path never needs it

    if isinstance(exc, httpx.TimeoutException):
        return TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return REFUSED
    if isinstance(exc, httpx.RemoteProtocolError):
        return PROTOCOL
    if isinstance(exc, httpx.ReadError):
        return READ_ERROR
    if isinstance(exc, httpx.WriteError):
        return RESET
    return OTHER


#: What each error kind means, for summaries.
ERROR_MEANINGS = {
    TIMEOUT: "no answer within the per-request timeout",
    REFUSED: "connection refused or host unreachable",
    RESET: "connection reset by the server",
    DISCONNECTED: "server closed the connection before answering",
    READ_ERROR: "the response could not be read whole",
    PROTOCOL: "the response was not valid HTTP",
    OTHER: "another client-side failure",
}

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

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

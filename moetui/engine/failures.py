"""Failure kinds: a request that got no HTTP answer, classified by exception class (never by message
text), or a streamed answer that was not a whole one (streaming.py judges those), and what each kind means.
Azure's meanings of HTTP statuses are the report's (report/statuses.py)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Iterable
from typing import Final, Literal

import aiohttp

from moetui.engine.capped_lines import MAX_LINE_BYTES

#: Every error kind a request can end in. Plain strings, so that the JSON report and the pickled Delta carry
#: them as they are.
ErrorKind = Literal[
    "timeout",
    "connect_timeout",
    "refused",
    "tls",
    "reset",
    "disconnected",
    "read_error",
    "protocol",
    "other",
    "stream_cut",
    "line_too_long",
    "answer_error",
    "empty_answer",
]
TIMEOUT: Final = "timeout"
CONNECT_TIMEOUT: Final = "connect_timeout"
REFUSED: Final = "refused"
TLS: Final = "tls"
RESET: Final = "reset"
DISCONNECTED: Final = "disconnected"
READ_ERROR: Final = "read_error"
PROTOCOL: Final = "protocol"
OTHER: Final = "other"
# Streamed answers (streaming.StreamingTransport.judge): a 2xx that was not a whole answer.
STREAM_CUT: Final = "stream_cut"
LINE_TOO_LONG: Final = "line_too_long"
ANSWER_ERROR: Final = "answer_error"
EMPTY_ANSWER: Final = "empty_answer"

#: Kinds that mean no connection was made: the target could not be reached. The others happened after
#: connecting (a reset, garbage, half an answer): the target was reached and answered badly.
CONNECT_KINDS: frozenset[ErrorKind] = frozenset({REFUSED, CONNECT_TIMEOUT})
#: Kinds that mean nothing came back at all: not reached, or reached and silent until the per-request
#: timeout (a target that accepts connections and never answers). A reset, a close or garbage is an
#: answer of sorts: the target is there, and broken.
NO_ANSWER_KINDS: frozenset[ErrorKind] = CONNECT_KINDS | {TIMEOUT}


def never_answered(answered: int, errors: Iterable[str]) -> bool:
    """Whether a target never answered: not one HTTP status (`answered` responses), and every failure one
    of NO_ANSWER_KINDS. The exit-3 verdict, of a run and of a merged report alike; the early end of a run
    (modes/context.Reach) applies the same kinds while it runs."""
    kinds = set(errors)
    return answered == 0 and bool(kinds) and kinds <= NO_ANSWER_KINDS


def classify(exc: BaseException) -> ErrorKind:
    """The moetui error kind of an aiohttp or asyncio failure."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # before TimeoutError: it is one
        return CONNECT_TIMEOUT
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return TIMEOUT
    if isinstance(exc, aiohttp.ClientSSLError):  # before ClientConnectorError: the certificate errors are both
        return TLS
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


def classify_httpx(exc: BaseException, *, reading_body: bool = False) -> ErrorKind:
    """The moetui error kind of an httpx failure (httpx/_exceptions.py's tree), named as aiohttp's
    failure of the same cause is (measured on loopback against tests/http_server.py's fault routes).

    Args:
        exc: The failure.
        reading_body: It came while the body was read, after the status and headers: half an answer.
    """
    import ssl

    import httpx  # deferred: the aiohttp path never needs it

    causes = _causes(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return CONNECT_TIMEOUT
    if isinstance(exc, httpx.TimeoutException):
        return TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return TLS if any(isinstance(cause, ssl.SSLError) for cause in causes) else REFUSED
    # A reset surfaces as ReadError or WriteError over ConnectionResetError (aiohttp: ClientOSError ECONNRESET).
    if any(isinstance(cause, (ConnectionResetError, BrokenPipeError)) for cause in causes):
        return RESET
    if reading_body and isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError)):
        return READ_ERROR  # aiohttp: ClientPayloadError
    if isinstance(exc, httpx.RemoteProtocolError):
        # httpcore raises its own error, with no h11 error under it, when the server closes before
        # answering (aiohttp: ServerDisconnectedError); bytes h11 cannot parse carry h11's error.
        return PROTOCOL if any(type(cause).__module__.startswith("h11") for cause in causes) else DISCONNECTED
    if isinstance(exc, httpx.ReadError):
        return READ_ERROR
    if isinstance(exc, httpx.WriteError):
        return RESET
    return OTHER


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions under it (__cause__, else __context__), at most 10 deep."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


#: What each error kind means, for summaries.
ERROR_MEANINGS: dict[ErrorKind, str] = {
    TIMEOUT: "no answer within the per-request timeout (connected)",
    CONNECT_TIMEOUT: "could not connect within the per-request timeout: not reached",
    REFUSED: "connection refused, host unreachable or unknown: not reached",
    TLS: "the TLS handshake failed (certificate or protocol)",
    RESET: "connection reset by the server (reached, then dropped)",
    DISCONNECTED: "server closed the connection before answering (reached)",
    READ_ERROR: "half an answer: the body could not be read whole (reached)",
    PROTOCOL: "the server sent something that is not valid HTTP (reached)",
    OTHER: "another client-side failure",
    STREAM_CUT: "the stream broke after its first token, or a chat stream ended without data: [DONE] "
    "(a partial answer)",
    LINE_TOO_LONG: f"a line of a streamed answer (an event, or a whole JSON answer) over {MAX_LINE_BYTES >> 20} MiB: "
    "the rest was not read and the connection was dropped",
    ANSWER_ERROR: "a 2xx chat answer carrying an error object",
    EMPTY_ANSWER: "a 2xx chat answer with no content and no usage",
}

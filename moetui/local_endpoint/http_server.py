"""A minimal HTTP/1.1 server on a bare asyncio Protocol with httptools' parser, for the gateway.

aiohttp's server (request objects, stream machinery, response preparation) cost the gateway about as
much CPU per request as the inference server behind it on two cores; this does only what the gateway
needs: keep-alive, pipelined requests answered in order, Content-Length or chunked request bodies,
`Expect: 100-continue`, and a 400 for what does not parse.

It also stands up to abuse, within `Limits`: a request head larger than max_header_bytes or with more
than max_header_count headers gets 431; a body over max_body_bytes gets 413 (refused from its
Content-Length before a byte of it is read; a chunked body is cut when it passes the limit); a request
the `admit` hook refuses from its head alone (no key: 401) is answered before its body is read, and
the body is then discarded as it arrives, never buffered; a connection that does not finish its request
head within head_timeout_s, its body within body_timeout_s, or stays idle between requests for
idle_timeout_s is closed.

With `stream_bodies`, a request body that has a Content-Length is not gathered: the handler is called once
the head is admitted, with `Request.body_stream` (a RequestBody) to read the body from as it arrives; past
BODY_HIGH_WATER_BYTES unread, the client's socket stops being read (back-pressure rather than memory).

A response may carry a body still being produced (`Response.stream`): its head goes out at once and each
piece as it comes, in chunked transfer encoding (to an HTTP/1.0 client: gathered, then sent whole); while
the client reads slower than the pieces come, the next piece waits for the socket to drain. A stream
whose `read()` raises is cut: the connection is closed without the last chunk, so the client sees an
incomplete body, never a complete-looking one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Protocol

import httptools

from moetui.local_endpoint.pieces import PieceQueue

#: Bytes of a streamed request body held unread before the client's socket stops being read.
BODY_HIGH_WATER_BYTES = 256 * 1024


class RequestBody(PieceQueue):
    """A request body as it arrives (`start_server(stream_bodies=True)`), read piece by piece by the handler.

    Fed by the connection; `read()` returns each piece as it came, b"" once the whole body (`length` bytes)
    is in, and raises ConnectionError when the client left (or was timed out) before that. When the handler
    is done with it (`close()`), what is still to come is dropped as it arrives.
    """

    def __init__(self, transport: asyncio.Transport, length: int) -> None:
        super().__init__(transport, BODY_HIGH_WATER_BYTES, ConnectionError)
        self.length = length
        """The body's Content-Length."""
        self._closed = False

    def close(self) -> None:
        """The handler is done: drop what is queued and what is still to come."""
        self._closed = True
        self.drop()

    # from the connection
    def feed(self, piece: bytes) -> None:
        if not self._closed:
            self.put(piece)

    def end(self, *, cut: bool) -> None:
        if cut:
            self.fail("the client's connection ended before the whole request body")
        else:
            self.finish()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes = b""
    body_stream: RequestBody | None = None
    """With stream_bodies and a Content-Length: the body as it arrives (`body` is then empty)."""


class BodyStream(Protocol):
    """A response body produced as it goes."""

    async def read(self) -> bytes:
        """The next piece; b"" at the end. Raises (any Exception) when the body is cut short."""
        ...

    def close(self) -> None:
        """Called once, whatever happened (end, cut, client gone): free what the stream holds."""
        ...


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: BodyStream | None = None
    """When set, the body (`body` is then ignored), sent piece by piece as it comes."""


Handler = Callable[[Request], Awaitable[Response]]
Admit = Callable[[Request], "Response | None"]
"""Called once a request's head is in (its body still empty): a Response refuses the request then and
there, None lets its body be read and the handler called."""


@dataclass(frozen=True)
class Limits:
    """What one connection may send before it is refused or closed."""

    max_body_bytes: int = 100 * 1024 * 1024
    """A larger body gets 413 and the connection is closed."""
    max_header_bytes: int = 32 * 1024
    """Request line and headers together; more gets 431 and the connection is closed."""
    max_header_count: int = 100
    """More headers get 431 and the connection is closed."""
    head_timeout_s: float = 10.0
    """From a request's first byte (or the connection's opening) to the end of its head."""
    body_timeout_s: float = 60.0
    """From the end of a request's head to the end of its body."""
    idle_timeout_s: float = 60.0
    """Between a response and the next request's first byte on a kept-alive connection."""
    linger_s: float = 1.0
    """After a closing error response, how long what the client still sends is read and dropped, so
    that it reads the response instead of a reset."""


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing, answer `response` (None: nothing), and close."""

    def __init__(self, response: Response | None) -> None:
        super().__init__(response and response.status)
        self.response = response


_REASONS = {status.value: status.phrase for status in HTTPStatus}


_date = (0, "")


def _http_date() -> str:
    """The Date header, formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def _encode(response: Response, keep_alive: bool, *, chunked: bool = False) -> bytes:
    """The response's head and body; with `chunked`, its head alone, for a body sent in chunks."""
    lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(response.body)}")
    lines.append(f"Date: {_http_date()}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if chunked else head + response.body


class _Connection(asyncio.Protocol):
    def __init__(
        self,
        handler: Handler,
        connections: set[_Connection],
        admit: Admit | None,
        limits: Limits,
        stream_bodies: bool = False,
    ) -> None:
        self._handler = handler
        self._stream_bodies = stream_bodies
        self._streaming: RequestBody | None = None
        """The body of the request being received, when it is streamed to its handler."""
        self._connections = connections
        self._admit = admit
        self._limits = limits
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._url = b""
        self._headers: dict[str, str] = {}
        self._request: Request | None = None
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._discarding = False
        """The request was answered from its head: its body is dropped as it arrives."""
        self._in_head = True
        """Between a request's first byte (or the connection's opening) and the end of its head."""
        self._head_bytes = 0
        """The head's URL and headers as httptools hands them over."""
        self._header_count = 0
        self._head_chunk_bytes = 0
        """Bytes of the chunks that held nothing but the unfinished head (httptools keeps a header's
        value to itself until it ends, so a 10 MB header is seen only this way while it arrives)."""
        self._closing = False
        """A closing response is on its way: what the client sends now is ignored."""
        self._timer: asyncio.TimerHandle | None = None
        self._previous: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._drained: asyncio.Future[None] | None = None
        """Set while the transport's write buffer is over its high-water mark (pause_writing)."""

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)
        self._arm(self._limits.head_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        was_in_head = self._in_head
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refused):
                refusal = exc.__context__.response
                if refusal is None:
                    self._close()
                else:
                    self._reply_and_close(refusal)
                return
            self._reply_and_close(Response(400, b'{"message": "malformed HTTP request"}'))
            return
        except httptools.HttpParserUpgrade:
            self._reply_and_close(Response(400, b'{"message": "upgrades are not supported"}'))
            return
        except httptools.HttpParserError:
            self._reply_and_close(Response(400, b'{"message": "malformed HTTP request"}'))
            return
        if was_in_head and self._in_head:
            self._head_chunk_bytes += len(data)
            if self._head_chunk_bytes > self._limits.max_header_bytes:
                self._reply_and_close(_too_large_head(f"more than {self._limits.max_header_bytes} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._disarm()
        if self._streaming is not None:
            self._streaming.end(cut=True)
            self._streaming = None
        for task in self._tasks:
            task.cancel()
        self._transport = None
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    # -- httptools callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_bytes = 0
        self._discarding = False
        self._head_bytes = self._head_chunk_bytes = 0
        self._header_count = 0
        if not self._in_head:  # the first request's head timer runs from the connection's opening
            self._in_head = True
            self._arm(self._limits.head_timeout_s)

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > self._limits.max_header_bytes:
            raise _Refused(_too_large_head(f"more than {self._limits.max_header_bytes} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        self._header_count += 1  # repeated names count: the dict keeps only the last
        self._head_bytes += len(name) + len(value) + 4
        if self._header_count > self._limits.max_header_count:
            raise _Refused(_too_large_head(f"more than {self._limits.max_header_count} headers"))
        if self._head_bytes > self._limits.max_header_bytes:
            raise _Refused(_too_large_head(f"more than {self._limits.max_header_bytes} bytes"))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self._limits.body_timeout_s)
        length = self._headers.get("content-length")
        if length is not None and int(length) > self._limits.max_body_bytes:  # httptools checked the digits
            raise _Refused(_too_large_body(self._limits.max_body_bytes))
        self._request = request = Request(
            method=self._parser.get_method().decode("latin-1"),
            path=httptools.parse_url(self._url).path.decode("latin-1"),
            headers=self._headers,
        )
        if self._admit is not None:
            refusal = self._admit(request)
            if refusal is not None:
                self._discarding = True
                self._dispatch(_ready(refusal), self._parser.should_keep_alive())
                return
        if self._headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._stream_bodies and length is not None and self._transport is not None:
            # Handed over now: the handler sends the body on as it comes instead of holding it whole.
            self._streaming = request.body_stream = RequestBody(self._transport, int(length))
            self._request = None
            chunked_ok = self._parser.get_http_version() != "1.0"
            self._dispatch(self._handler(request), self._parser.should_keep_alive(), chunked_ok)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self._limits.max_body_bytes:
            # Already answered from its head: nothing more to say, only to stop reading.
            raise _Refused(None if self._discarding else _too_large_body(self._limits.max_body_bytes))
        if self._streaming is not None:
            self._streaming.feed(body)
        elif not self._discarding:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self._disarm()
        if self._streaming is not None:
            self._streaming.end(cut=False)
            self._streaming = None
            return
        request = self._request
        if self._discarding or request is None:
            self._maybe_idle()
            return
        self._request = None
        request.body = b"".join(self._body)
        chunked_ok = self._parser.get_http_version() != "1.0"
        self._dispatch(self._handler(request), self._parser.should_keep_alive(), chunked_ok)

    # -- answering ---------------------------------------------------------------------------------

    def _dispatch(self, response: Awaitable[Response], keep_alive: bool, chunked_ok: bool = True) -> None:
        previous = self._previous
        done: asyncio.Future[None] = self._loop.create_future()
        self._previous = done
        task = asyncio.create_task(self._answer(response, keep_alive, previous, done, chunked_ok))
        self._tasks.add(task)
        task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        """Start the idle timer when every request read has been answered and no other is arriving
        (no timer runs between a request's end and its answer: the handler bounds that time)."""
        if not self._tasks and not self._in_head and self._timer is None and not self._closing:
            self._arm(self._limits.idle_timeout_s)

    async def _answer(
        self,
        response_coro: Awaitable[Response],
        keep_alive: bool,
        previous: asyncio.Future[None] | None,
        done: asyncio.Future[None],
        chunked_ok: bool = True,
    ) -> None:
        response: Response | None = None
        try:
            response = await response_coro
            if previous is not None:
                await previous  # pipelined requests are answered in the order they came
            if response.stream is not None:
                if chunked_ok:
                    await self._send_stream(response, response.stream, keep_alive)
                    return
                try:
                    response.body = await _gather(response.stream)
                except Exception:
                    self._close()  # cut short: no answer rather than a complete-looking one
                    return
            if self._transport is not None and not self._transport.is_closing():
                self._transport.write(_encode(response, keep_alive))
                if not keep_alive:
                    self._close()
        finally:
            if response is not None and response.stream is not None:
                response.stream.close()
            if not done.done():
                done.set_result(None)

    async def _send_stream(self, response: Response, stream: BodyStream, keep_alive: bool) -> None:
        """The head now, then each piece of `stream` as a chunk as it comes; a cut stream closes the
        connection without the last chunk."""
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(_encode(response, keep_alive, chunked=True))
        while True:
            try:
                piece = await stream.read()
            except Exception:
                self._close()  # no last chunk: the client sees the body cut short
                return
            if self._transport is None or self._transport.is_closing():
                return
            if not piece:
                break
            self._transport.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            if self._drained is not None:
                await self._drained  # a slow reader: wait for the socket rather than queue what comes
        self._transport.write(b"0\r\n\r\n")
        if not keep_alive:
            self._close()

    def _reply_and_close(self, response: Response) -> None:
        """Answer `response` with Connection: close (after the answers already owed), then close."""
        self._closing = True
        self._disarm()
        self._dispatch(_ready(response), keep_alive=False)

    def _close(self) -> None:
        """Close after what was written: send FIN, read and drop for linger_s, then close."""
        self._closing = True
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
            self._arm(self._limits.linger_s)
        else:
            transport.close()

    def _arm(self, timeout_s: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _ready(response: Response) -> Response:
    return response


async def _gather(stream: BodyStream) -> bytes:
    """A streamed body whole, for an HTTP/1.0 client, which cannot take chunks (raises as `read`)."""
    pieces = []
    while piece := await stream.read():
        pieces.append(piece)
    return b"".join(pieces)


def _too_large_head(why: str) -> Response:
    message = f'{{"message": "request header fields too large: {why}"}}'
    return Response(431, message.encode(), {"Content-Type": "application/json"})


def _too_large_body(limit_bytes: int) -> Response:
    message = f'{{"message": "request body larger than {limit_bytes} bytes"}}'
    return Response(413, message.encode(), {"Content-Type": "application/json"})


async def start_server(
    handler: Handler,
    host: str,
    port: int,
    backlog: int = 4096,
    *,
    admit: Admit | None = None,
    limits: Limits | None = None,
    stream_bodies: bool = False,
) -> tuple[asyncio.Server, set[_Connection]]:
    """Listen on host:port; returns the server and its live connections (to close them on shutdown).

    Args:
        handler: answers a request whose body has been read.
        admit: decides from a request's head alone whether it is refused (see `Admit`).
        limits: sizes and times a connection is held to (`Limits()` when None).
        stream_bodies: call the handler once the head is admitted, with the body to read as it arrives
            (`Request.body_stream`) when it has a Content-Length; a chunked body is still gathered first.
    """
    connections: set[_Connection] = set()
    loop = asyncio.get_running_loop()
    chosen = limits or Limits()
    server = await loop.create_server(
        lambda: _Connection(handler, connections, admit, chosen, stream_bodies), host, port, backlog=backlog
    )
    return server, connections

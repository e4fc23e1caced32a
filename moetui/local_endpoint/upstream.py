"""One HTTP/1.1 request to an inference server over a fresh connection (its Unix socket, or loopback
TCP), on a bare asyncio Protocol. The inference server's sync workers close every connection after the
response, so there is no pool to keep; aiohttp's client did the same job at several times the CPU per
request (name resolution in a thread, connector bookkeeping), which made the gateway the bottleneck.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httptools

from moetui.local_endpoint.pieces import PieceQueue

#: Bytes of a streamed body held for a slow client before the inference server's socket stops being read
#: (its worker then blocks in send: back-pressure rather than memory).
STREAM_HIGH_WATER_BYTES = 256 * 1024


class UpstreamError(Exception):
    """The inference server could not be reached or closed the connection before a whole response."""


class BodySource(Protocol):
    """A request body sent on as it arrives (http_server.RequestBody)."""

    async def read(self) -> bytes:
        """The next piece; b"" at the end. Raises (any Exception) when the body is cut short."""
        ...


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    stream: UpstreamStream | None = None
    """The body still arriving (`body` is then empty): read it with `stream.read()`."""


class UpstreamStream(PieceQueue):
    """The body of a response being streamed, decoded (chunked framing removed) piece by piece.

    Fed by the connection's protocol; `read()` returns each piece as it came, b"" at the end, and raises
    UpstreamError when the connection ended before the body was whole.
    """

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        super().__init__(transport, STREAM_HIGH_WATER_BYTES, UpstreamError)
        self._ended = False
        self._parser = httptools.HttpResponseParser(self)
        self.feed(head)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.put(body)

    def on_message_complete(self) -> None:
        self.finish()

    # from the protocol
    def feed(self, data: bytes) -> None:
        if self.complete or self.error is not None:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.end(f"the inference server's streamed response does not parse ({exc})")

    def end(self, error: str | None) -> None:
        """The connection ended: the body is whole if the parser saw its end, or else if `error` is None
        (a body without framing ends with the connection); otherwise it was cut, for `error`."""
        if self._ended:
            return
        self._ended = True
        if error is None:
            self.finish()
        else:
            self.fail(error)

    def close(self) -> None:
        """Drop the connection (a no-op once the body is whole and the server closed it)."""
        self._transport.abort()


class _Exchange(asyncio.Protocol):
    def __init__(
        self,
        request: bytes,
        done: asyncio.Future[UpstreamResponse],
        stream: bool = False,
        body: BodySource | None = None,
    ) -> None:
        self._request = request
        self._body = body
        self._pump: asyncio.Task[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        """Set while the transport's write buffer is over its high-water mark."""
        self._done = done
        self._stream_wanted = stream
        self._stream: UpstreamStream | None = None
        self._buffer = bytearray()
        self._head: tuple[int, dict[str, str]] | None = None
        self._body_start = 0
        self._length: int | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        transport.write(self._request)  # type: ignore[attr-defined]
        if self._body is not None:
            self._pump = asyncio.get_running_loop().create_task(self._send_body(self._body))

    async def _send_body(self, body: BodySource) -> None:
        """Each piece of the client's body as it arrives, waiting while the inference server reads slower
        (nothing is held here beyond the transport's buffer and the client side's high-water mark)."""
        try:
            while piece := await body.read():
                if self._transport is None or self._transport.is_closing():
                    return  # answered (or gone) before the whole body: the rest is not wanted
                self._transport.write(piece)
                if self._drained is not None:
                    await self._drained
        except Exception as exc:  # the client's body was cut: the request cannot be completed
            if not self._done.done():
                self._done.set_exception(UpstreamError(f"the request body ended early ({exc})"))
            self.abort()

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._stream is not None:
            self._stream.feed(data)
            return
        self._buffer += data
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._head = _parse_head(bytes(self._buffer[:end]))
            self._body_start = end + 4
            length = self._head[1].get("content-length")
            self._length = int(length) if length and length.isdigit() else None
            if self._length is None and self._stream_wanted and self._transport is not None:
                # No length: a body produced as it goes. Hand it over now, and what came with the head.
                self._stream = UpstreamStream(self._transport, bytes(self._buffer))
                self._done.set_result(UpstreamResponse(self._head[0], self._head[1], b"", self._stream))
                return
        if self._length is not None and len(self._buffer) - self._body_start >= self._length:
            self._finish()
            if self._transport is not None:
                self._transport.close()

    def eof_received(self) -> bool:
        if self._stream is not None and self._head is not None:
            chunked = self._head[1].get("transfer-encoding", "").lower() == "chunked"
            cut = "the inference server closed the connection before the end of its streamed response"
            self._stream.end(cut if chunked else None)
        self._finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.resume_writing()
        if self._stream is not None:
            self._stream.end("the connection to the inference server was lost during its streamed response")
        if not self._done.done():
            self._finish()

    def _finish(self) -> None:
        if self._done.done():
            return
        if self._head is None:
            self._done.set_exception(UpstreamError("the inference server closed the connection without a response"))
            return
        status, headers = self._head
        body = bytes(self._buffer[self._body_start :])
        if self._length is not None:
            if len(body) < self._length:
                self._done.set_exception(UpstreamError("the inference server's response was cut short"))
                return
            body = body[: self._length]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = _dechunk(body)
        self._done.set_result(UpstreamResponse(status, headers, body))

    def abort(self) -> None:
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()
        if self._transport is not None:
            self._transport.abort()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise UpstreamError(f"not an HTTP status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    position = 0
    while True:
        end = data.find(b"\r\n", position)
        if end < 0:
            return bytes(out)
        size = int(data[position:end].split(b";")[0] or b"0", 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        position = end + 2 + size + 2


def build_request(method: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    """The request bytes: the gateway's own headers only, Content-Length always, connection closed after."""
    return build_head(method, port, headers, len(body)) + body


def build_head(method: str, port: int, headers: dict[str, str], length: int) -> bytes:
    """The request's head alone, for a body of `length` bytes sent after it (exchange's `body`)."""
    lines = [
        f"{method} /score HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Length: {length}",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def exchange(
    port: int,
    request: bytes,
    unix_path: str | None = None,
    *,
    stream: bool = False,
    body: BodySource | None = None,
) -> UpstreamResponse:
    """Send `request` on a new connection to the Unix socket `unix_path`, or else to 127.0.0.1:`port`,
    and read the whole response; with `stream`, a response without Content-Length is returned once its
    head is in, its body left to `UpstreamResponse.stream` (whose `close()` the caller then owes). With
    `body`, `request` is the head alone (build_head) and the body follows it piece by piece as it comes.

    Raises:
        UpstreamError: Connection refused or reset, or no whole response.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[UpstreamResponse] = loop.create_future()
    protocol = _Exchange(request, done, stream, body)
    try:
        if unix_path is not None:
            # A connection per request: on a Unix socket it costs both sides less CPU than a TCP
            # handshake and teardown on loopback (bench/gateway_bench.py).
            await loop.create_unix_connection(lambda: protocol, unix_path)
        else:
            # A numeric host: no resolver thread. Measured with uvloop, this costs 40 % less CPU than
            # sock_connect on a socket of our own followed by create_connection(sock=...).
            await loop.create_connection(lambda: protocol, "127.0.0.1", port)
    except OSError as exc:
        where = unix_path or f"port {port}"
        raise UpstreamError(f"cannot connect to the inference server on {where}: {exc.strerror}") from None
    try:
        answer = await done
    except BaseException:
        protocol.abort()  # frees the socket when cancelled (408)
        raise
    if answer.stream is None:
        protocol.abort()  # a no-op after a whole response
    return answer

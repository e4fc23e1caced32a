"""A minimal HTTP/1.1 server on a bare asyncio Protocol with httptools' parser, for the gateway.

aiohttp's server (request objects, stream machinery, response preparation) cost the gateway about as
much CPU per request as the inference server behind it on two cores; this does only what the gateway
needs: keep-alive, pipelined requests answered in order, Content-Length or chunked request bodies,
`Expect: 100-continue`, and a 400 for what does not parse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus

import httptools


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]
_REASONS = {status.value: status.phrase for status in HTTPStatus}


_date = (0, "")


def _http_date() -> str:
    """The Date header, formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def _encode(response: Response, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    lines.append(f"Content-Length: {len(response.body)}")
    lines.append(f"Date: {_http_date()}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class _Connection(asyncio.Protocol):
    def __init__(self, handler: Handler, connections: set[_Connection]) -> None:
        self._handler = handler
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._previous: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reply_and_close(Response(400, b'{"message": "upgrades are not supported"}'))
        except httptools.HttpParserError:
            self._reply_and_close(Response(400, b'{"message": "malformed HTTP request"}'))

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        for task in self._tasks:
            task.cancel()
        self._transport = None

    # -- httptools callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        request = Request(
            method=self._parser.get_method().decode("latin-1"),
            path=httptools.parse_url(self._url).path.decode("latin-1"),
            headers=self._headers,
            body=b"".join(self._body),
        )
        keep_alive = self._parser.should_keep_alive()
        previous = self._previous
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._previous = done
        task = asyncio.create_task(self._answer(request, keep_alive, previous, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- answering ---------------------------------------------------------------------------------

    async def _answer(
        self,
        request: Request,
        keep_alive: bool,
        previous: asyncio.Future[None] | None,
        done: asyncio.Future[None],
    ) -> None:
        try:
            response = await self._handler(request)
            if previous is not None:
                await previous  # pipelined requests are answered in the order they came
            if self._transport is not None and not self._transport.is_closing():
                self._transport.write(_encode(response, keep_alive))
                if not keep_alive:
                    self._transport.close()
        finally:
            if not done.done():
                done.set_result(None)

    def _reply_and_close(self, response: Response) -> None:
        if self._transport is not None:
            self._transport.write(_encode(response, keep_alive=False))
            self._transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def start_server(
    handler: Handler, host: str, port: int, backlog: int = 4096
) -> tuple[asyncio.Server, set[_Connection]]:
    """Listen on host:port; returns the server and its live connections (to close them on shutdown)."""
    connections: set[_Connection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(handler, connections), host, port, backlog=backlog)
    return server, connections

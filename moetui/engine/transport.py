"""The seam between the engine and HTTP clients: aiohttp (default, fast HTTP/1.1) or httpx (HTTP/2).

A Transport hands out lanes; a lane sends one request at a time. With aiohttp all lanes share one
session and its connection pool; with httpx each lane has a client of its own, because one shared
httpx AsyncClient slows down as connections grow (measured: 328 req/s at 32 connections against
raw aiohttp's 6,641; see bench/).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from moetui import __version__
from moetui.engine.failures import ErrorKind, classify, classify_httpx

EXEC_MS_HEADER = "x-ms-run-fn-exec-ms"
#: Bodies up to this size (by Content-Length) are read in one go, the fastest way for the small answers
#: of a scorer; larger or unsized ones are read chunk by chunk and dropped, so memory stays bounded
#: whatever the answer (50 MB bodies over 8 connections took 439 MB read whole).
WHOLE_BODY_BYTES = 65536

#: Every request carries a unique id in both (Azure's SDKs send the first, most other gateways log the second),
#: so a run's request log joins the endpoint's own traffic logs.
CLIENT_REQUEST_ID = "x-ms-client-request-id"
REQUEST_ID = "x-request-id"


@dataclass(frozen=True)
class RequestIds:
    """A generator's request ids: a random GUID-shaped prefix of its own and the recorder's request number in
    the last 12 hex digits (8-4-4-4-12, as Azure shows them). Made per request with one format, no uuid4 call
    and no lock; unique across the generator processes of a run by their prefixes."""

    prefix: str = field(default_factory=lambda: str(uuid.uuid4())[:24])

    def text(self, number: int) -> str:
        # hex + zfill: half the cost of f"{number:012x}" (0.35 against 0.75 us on a busy 2-core machine).
        return self.prefix + hex(number)[2:].zfill(12)


def put_request_id(session: aiohttp.ClientSession, request_id: str | None) -> None:
    """Give the next request of `session` its id: in the session's own headers, which aiohttp copies as the
    request starts (before its first await, so no other request can take them). Passing per-request headers
    instead made aiohttp merge them into that copy in a Python loop: 1.65 us against 0.94 us this way (the
    copy alone 0.21 us; bench/README.md)."""
    if request_id is not None:
        headers = session.headers
        headers[CLIENT_REQUEST_ID] = request_id
        headers[REQUEST_ID] = request_id


def request_id_headers(request_id: str | None) -> dict[str, str] | None:
    """A request's id headers, for clients that take per-request headers (httpx)."""
    return None if request_id is None else {CLIENT_REQUEST_ID: request_id, REQUEST_ID: request_id}


#: The deployment that served a response, as Azure ML (and the local endpoint's gateway) names it.
SERVED_BY_HEADER = "azureml-model-deployment"

#: (status or None, error kind or None, x-ms-run-fn-exec-ms or None, azureml-model-deployment or None): what
#: one request came to.
Outcome = tuple[int | None, ErrorKind | None, float | None, str | None]


@dataclass(frozen=True)
class RequestSpec:
    """What every request of a run sends (the key is inside `headers`; never log them)."""

    url: str
    method: str
    headers: Mapping[str, str]
    timeout_s: float
    client: str = "aiohttp"
    http2: bool = False


class BodyCounter:
    """Bytes of response bodies received since the last take: counted, never kept."""

    __slots__ = ("bodies", "largest", "total")

    def __init__(self) -> None:
        self.total = 0
        self.bodies = 0
        self.largest = 0

    def add(self, size: int) -> None:
        self.total += size
        self.bodies += 1
        if size > self.largest:
            self.largest = size

    def take(self) -> tuple[int, int, int]:
        """(bytes, bodies, largest body) since the previous take."""
        taken = self.total, self.bodies, self.largest
        self.total = self.bodies = self.largest = 0
        return taken


class Lane(Protocol):
    async def send(self, body: bytes, intended: float | None = None, request_id: str | None = None) -> Outcome:
        """Send one request and read the whole response; `intended` is its timetable slot (open mode), which
        only a streaming lane reads (for the corrected time to first token); `request_id` is sent as its
        x-ms-client-request-id and x-request-id (RequestIds.text)."""
        ...


class Transport(Protocol):
    def lane(self) -> Lane:
        """A sender for one connection's worth of requests."""
        ...

    def set_headers(self, headers: Mapping[str, str]) -> None:
        """Send `headers` from the next request on (a refreshed token); requests in flight keep theirs."""
        ...

    @property
    def received(self) -> BodyCounter:
        """Response body bytes read by every lane."""
        ...

    async def close(self) -> None: ...


def open_transport(spec: RequestSpec, connections: int) -> Transport:
    """The transport `spec.client` names, sized for `connections` requests in flight."""
    if spec.client == "httpx":
        return HttpxTransport(spec, connections)
    return AiohttpTransport(spec, connections)


def parse_exec_ms(value: str | None) -> float | None:
    """The x-ms-run-fn-exec-ms header as milliseconds; None when absent or not a number."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class AiohttpTransport:
    def __init__(self, spec: RequestSpec, connections: int) -> None:
        self._spec = spec
        connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections, ttl_dns_cache=None)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=spec.timeout_s),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # a load test must not carry state between requests
            headers=self._with_agent(spec.headers),
        )
        # aiohttp resends an idempotent request (GET, PUT) once, silently, when a kept-alive connection
        # is reset under it: a server saw 3,605 resets where the client counted 607. A load test counts
        # every attempt. There is no public switch; aiohttp's own test client sets this attribute, and
        # tests/engine/test_transport.py fails if a new aiohttp retries again.
        self._session._retry_connection = False
        self.received = BodyCounter()

    def lane(self) -> AiohttpTransport:
        return self

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session (a streaming lane sends through it)."""
        return self._session

    @property
    def spec(self) -> RequestSpec:
        return self._spec

    @staticmethod
    def _with_agent(headers: Mapping[str, str]) -> dict[str, str]:
        # A fixed User-Agent: skipping aiohttp's costs more per request (measured, bench/engine_bench.py).
        return {"User-Agent": f"moetui/{__version__}", **headers}

    def set_headers(self, headers: Mapping[str, str]) -> None:
        # The session's headers, not per-request ones: aiohttp merges per-request headers into a copy of
        # the session's in a Python loop (-3 % of the closed loop's rate, measured). Each request copies
        # them as it starts, so requests in flight keep theirs.
        current = self._session.headers
        current.clear()
        current.update(self._with_agent(headers))

    async def send(self, body: bytes, intended: float | None = None, request_id: str | None = None) -> Outcome:
        try:
            put_request_id(self._session, request_id)
            # data=None for an empty body: b"" makes aiohttp start a body-writer task per request (-10 %).
            async with self._session.request(self._spec.method, self._spec.url, data=body or None) as response:
                size = response.content_length
                if size is not None and size <= WHOLE_BODY_BYTES:
                    self.received.add(len(await response.read()))
                else:
                    size, content = 0, response.content
                    while chunk := await content.readany():  # each chunk dropped as soon as it is counted
                        size += len(chunk)
                    self.received.add(size)
                headers = response.headers
                return response.status, None, parse_exec_ms(headers.get(EXEC_MS_HEADER)), headers.get(SERVED_BY_HEADER)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, classify(exc), None, None

    async def close(self) -> None:
        await self._session.close()


class HttpxTransport:
    """A client per lane, all made here, before the load starts: making them is not load (about 10 ms
    each), and a run whose clock started first would count that time against its send rate."""

    def __init__(self, spec: RequestSpec, connections: int) -> None:
        import ssl

        import httpx  # deferred: only runs that choose httpx pay for its import

        # One TLS context for every lane: httpx builds a new one per client otherwise (~50 ms each).
        tls = ssl.create_default_context()
        self._clients = [
            httpx.AsyncClient(
                verify=tls,
                http2=spec.http2,
                timeout=httpx.Timeout(spec.timeout_s),
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                headers=dict(spec.headers),
            )
            for _ in range(connections)
        ]
        self.received = BodyCounter()
        self._lanes = [_HttpxLane(client, spec, self.received) for client in self._clients]
        self._next = 0

    def lane(self) -> _HttpxLane:
        """The pool's clients in turn (a sweep asks for lanes again at each level)."""
        lane = self._lanes[self._next % len(self._lanes)]
        self._next += 1
        return lane

    def set_headers(self, headers: Mapping[str, str]) -> None:
        for client in self._clients:
            client.headers = dict(headers)  # replaces the client's headers (httpx's defaults kept)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


class _HttpxLane:
    def __init__(self, client: Any, spec: RequestSpec, received: BodyCounter) -> None:
        self._client = client
        self._spec = spec
        self._received = received
        self.client = client
        """The lane's own client (a streaming lane sends through it)."""
        self.spec = spec

    async def send(self, body: bytes, intended: float | None = None, request_id: str | None = None) -> Outcome:
        import httpx

        reading_body = False
        try:
            async with self._client.stream(
                self._spec.method, self._spec.url, content=body, headers=request_id_headers(request_id)
            ) as response:
                reading_body = True
                size = 0
                async for chunk in response.aiter_raw():  # counted and dropped: memory stays bounded
                    size += len(chunk)
                self._received.add(size)
                headers = response.headers
                exec_ms = parse_exec_ms(headers.get(EXEC_MS_HEADER))
                return response.status_code, None, exec_ms, headers.get(SERVED_BY_HEADER)
        except httpx.HTTPError as exc:
            return None, classify_httpx(exc, reading_body=reading_body), None, None

"""The local endpoint's front end: behaves like an Azure ML managed online endpoint's.

Run as `python -m moetui.local_endpoint.gateway` by the supervisor, which writes one JSON line (the
gateway spec, key included) to its stdin; it answers "READY <port>" or "ERROR <message>" on stdout.

What it does, as Azure ML documents its endpoints:
- `POST /score` needs `Authorization: Bearer <key>`, else 401, decided from the request's head before
  any of its body is read (the body of a refused request is dropped as it arrives, never kept); an admitted
  body with a Content-Length is sent on to the inference server as it arrives, never held whole (a 90 MB
  body: +0.9 MB peak RSS in the gateway, against +270 MB when it was gathered, joined and copied), so a
  request holds its place in flight from its head on (a client gone while its request is queued is seen
  once the request leaves the queue, or at request_timeout_ms);
- `azureml-model-deployment: <name>` routes to that deployment (even at 0 % traffic), an unknown name
  gets 404; otherwise the traffic split picks one, and 404 when no deployment has positive weight;
- at most max_concurrent_requests_per_instance requests in service per instance; later ones queue;
  more than 2 x max_concurrent_requests_per_instance x instance_count in flight get 429;
- a request not answered within request_timeout_ms (queueing included) gets 408;
- a non-200 from the scorer becomes 424 with ms-azureml-model-error-statuscode/-reason;
- every response has x-request-id, and the azureml-model-deployment and x-ms-run-fn-exec-ms of the
  deployment that served it; clients keep their connections alive; `GET /` is the liveness route.

Beyond /score, the OpenAI routes a generative scorer is called on: `POST /v1/chat/completions` and Azure
OpenAI's `POST /openai/deployments/{name}/chat/completions` (any query, such as api-version) go to the
scorer as /score does, the key as `Authorization: Bearer <key>` or `api-key: <key>`; {name} does not
route (the azureml-model-deployment header and the traffic split do, as for /score).

A scorer's answer without Content-Length (a generator: Server-Sent Events) is passed on as it comes,
chunk by chunk, holding its slot until its end; request_timeout_ms bounds the whole answer, so a stream
still running then is cut (the connection closes without the last chunk). With "buffer_responses" in the
spec the whole answer is read first and sent in one piece, as a buffering proxy would.

Sizes and times a client is held to (413, 431, closed connections) are `http_server.Limits`; the spec's
optional "limits" object overrides its fields (tests use short times).
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import random
import re
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from moetui.aio import run_fast
from moetui.local_endpoint.http_server import Limits, Request, Response, start_server
from moetui.local_endpoint.instance import LOOPBACK, die_with_parent
from moetui.local_endpoint.slots import SlotPool
from moetui.local_endpoint.upstream import UpstreamError, UpstreamStream, build_head, build_request, exchange

_CLIENT_REQUEST_ID = re.compile(r"[^A-Za-z0-9_-]")
#: OpenAI's chat route and Azure OpenAI's, served like /score.
_CHAT_ROUTE = re.compile(r"/v1/chat/completions|/openai/deployments/[^/]+/chat/completions")
# Headers of the scorer's response that the front end passes on (upstream names are lower case).
_PASSED_ON = (
    ("content-type", "Content-Type"),
    ("cache-control", "Cache-Control"),
    ("x-ms-run-fn-exec-ms", "x-ms-run-fn-exec-ms"),
    ("x-ms-run-function-failed", "x-ms-run-function-failed"),
)
_NO_DEPLOYMENT = (
    "No valid deployments to route to. Please check that the endpoint has at least one deployment with "
    "positive weight values or use a deployment specific header to route."
)


@dataclass
class Deployment:
    """A deployment as the gateway sees it: its limits, its instances' ports and what is in flight."""

    name: str
    traffic_percent: int
    max_concurrent_requests_per_instance: int
    request_timeout_ms: int
    instance_ports: list[int]
    instance_sockets: list[str | None]
    """Each instance's Unix socket, where the gateway connects (None: its TCP port)."""
    in_flight: int = 0
    slots: SlotPool = field(init=False)

    def __post_init__(self) -> None:
        self.slots = SlotPool(len(self.instance_ports), self.max_concurrent_requests_per_instance)

    @property
    def pending_limit(self) -> int:
        return 2 * self.max_concurrent_requests_per_instance * len(self.instance_ports)


class Gateway:
    """The request handler and its state; one per gateway process."""

    def __init__(self, key: str, deployments: list[Deployment], *, buffer_responses: bool = False) -> None:
        self._bearer = f"Bearer {key}".encode()
        self._key = key.encode()
        self.buffer_responses = buffer_responses
        """Read a streamed answer whole before sending it (the default passes it on as it comes)."""
        self.deployments = {d.name: d for d in deployments}
        self._weighted = [d for d in deployments if d.traffic_percent > 0]
        self._weights = [d.traffic_percent for d in self._weighted]

    def _route(self, requested: str | None) -> Deployment | None:
        if requested:
            return self.deployments.get(requested)
        if not self._weighted:
            return None
        if len(self._weighted) == 1:
            return self._weighted[0]
        return random.choices(self._weighted, self._weights)[0]

    def admit(self, request: Request) -> Response | None:
        """The answer to a request that its head alone decides (its body not read yet): liveness, an
        unknown route or method, a missing or wrong key; None for a scoring request to serve."""
        path = request.path
        score = path == "/score" and request.method in ("POST", "GET")
        chat = not score and request.method == "POST" and _CHAT_ROUTE.fullmatch(path) is not None
        if score or chat:
            auth = request.headers.get("authorization", "").encode()
            if auth and hmac.compare_digest(auth, self._bearer):
                return None
            api_key = request.headers.get("api-key", "").encode() if chat else b""
            if api_key and hmac.compare_digest(api_key, self._key):
                return None
            reason = "missing" if not (auth or api_key) else "not valid"
            if chat:
                message = f"Key {reason}: send 'Authorization: Bearer <key>' or 'api-key: <key>'"
            else:
                message = f"Authorization header {reason}: send 'Authorization: Bearer <key>'"
            return _error(401, message, _front_headers(request))
        headers = _front_headers(request)
        if path == "/" and request.method in ("GET", "HEAD"):
            return Response(200, b"Healthy", headers)
        if path != "/score" and _CHAT_ROUTE.fullmatch(path) is None:
            return _error(
                404, f"No route for {path}; the scoring routes are POST /score and POST /v1/chat/completions", headers
            )
        return _error(405, f"{request.method} is not allowed on {path}", headers)

    async def handle(self, request: Request) -> Response:
        """Serve a scoring request that `admit` let through, its body read or arriving (`body_stream`)."""
        try:
            return await self._handle(request)
        finally:
            if request.body_stream is not None:  # answered (404, 429, 408 too): the rest is dropped
                request.body_stream.close()

    async def _handle(self, request: Request) -> Response:
        refusal = self.admit(request)  # the server asked already; callers without it still get it
        if refusal is not None:
            return refusal
        headers = _front_headers(request)
        deployment = self._route(request.headers.get("azureml-model-deployment"))
        if deployment is None:
            return _error(404, _NO_DEPLOYMENT, headers)
        headers["azureml-model-deployment"] = deployment.name
        if deployment.in_flight >= deployment.pending_limit:
            return _error(
                429,
                f"Too many pending requests: more than {deployment.pending_limit} in flight "
                f"(2 x max_concurrent_requests_per_instance x instance_count)",
                headers,
            )

        deployment.in_flight += 1
        owed = True
        try:
            response = await self._serve(request, deployment, headers)
            owed = response.stream is None  # a stream gives its place back when it ends (_Relay.close)
            return response
        finally:
            if owed:
                deployment.in_flight -= 1

    async def _serve(self, request: Request, deployment: Deployment, headers: dict[str, str]) -> Response:
        upstream = {"x-request-id": headers["x-request-id"]}
        if "content-type" in request.headers:
            upstream["Content-Type"] = request.headers["content-type"]
        if "x-ms-client-request-id" in headers:
            upstream["x-ms-client-request-id"] = headers["x-ms-client-request-id"]
        deadline = asyncio.get_running_loop().time() + deployment.request_timeout_ms / 1000
        relay: _Relay | None = None
        try:
            async with asyncio.timeout_at(deadline):
                index = await deployment.slots.acquire()
                try:
                    port = deployment.instance_ports[index]
                    body = request.body_stream  # sent on as it arrives: a 90 MB body is never held whole
                    request_bytes = (
                        build_request(request.method, port, upstream, request.body)
                        if body is None
                        else build_head(request.method, port, upstream, body.length)
                    )
                    answer = await exchange(
                        port,
                        request_bytes,
                        deployment.instance_sockets[index],
                        stream=not self.buffer_responses,
                        body=body,
                    )
                    if answer.stream is not None:
                        relay = _Relay(answer.stream, deployment, index, deadline)
                finally:
                    if relay is None:
                        deployment.slots.release(index)
        except TimeoutError:
            return _error(
                408,
                f"Request timed out after {deployment.request_timeout_ms} ms (request_timeout_ms)",
                headers,
            )
        except UpstreamError as exc:
            return _error(502, f"The model container did not answer: {exc}", headers)
        for upstream_name, name in _PASSED_ON:
            if upstream_name in answer.headers:
                headers[name] = answer.headers[upstream_name]
        if answer.status != 200:
            headers["ms-azureml-model-error-statuscode"] = str(answer.status)
            headers["ms-azureml-model-error-reason"] = "model_error"
            return Response(424, answer.body, headers, relay)
        return Response(200, answer.body, headers, relay)


class _Relay:
    """A scorer's streamed answer on its way to the client: it keeps its slot and its place in flight
    until it ends, and is cut at the request's deadline (request_timeout_ms from its arrival)."""

    def __init__(self, stream: UpstreamStream, deployment: Deployment, index: int, deadline: float) -> None:
        self._stream = stream
        self._deployment = deployment
        self._index = index
        self._deadline = deadline
        self._closed = False

    async def read(self) -> bytes:
        """The next piece (b"" at the end). Raises TimeoutError past the deadline, UpstreamError when
        the inference server's answer was cut."""
        async with asyncio.timeout_at(self._deadline):
            return await self._stream.read()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stream.close()
        self._deployment.slots.release(self._index)
        self._deployment.in_flight -= 1


def _front_headers(request: Request) -> dict[str, str]:
    """The headers the front end puts on every answer."""
    headers = {"x-request-id": _request_id(), "server": "azureml-frontdoor"}
    client_id = request.headers.get("x-ms-client-request-id")
    if client_id:
        headers["x-ms-client-request-id"] = _CLIENT_REQUEST_ID.sub("", client_id)[:40]
    return headers


def _request_id() -> str:
    """A random GUID, as Azure's front end sets x-request-id (uuid.uuid4() costs several times more)."""
    h = f"{random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _error(status: int, message: str, headers: dict[str, str]) -> Response:
    headers["Content-Type"] = "application/json"
    return Response(status, json.dumps({"message": message}).encode(), headers)


def build_gateway(spec: dict[str, Any]) -> Gateway:
    """A Gateway from the supervisor's spec:
    {"key": ..., "deployments": [{..., "instance_ports": [...], "instance_sockets": [...]}]}."""
    deployments = [
        Deployment(
            name=d["name"],
            traffic_percent=d["traffic_percent"],
            max_concurrent_requests_per_instance=d["max_concurrent_requests_per_instance"],
            request_timeout_ms=d["request_timeout_ms"],
            instance_ports=list(d["instance_ports"]),
            instance_sockets=list(d["instance_sockets"]),
        )
        for d in spec["deployments"]
    ]
    return Gateway(spec["key"], deployments, buffer_responses=bool(spec.get("buffer_responses", False)))


async def serve(spec: dict[str, Any], stop: asyncio.Event) -> None:
    """Serve until `stop` is set; print READY <port> once listening on 127.0.0.1."""
    gateway = build_gateway(spec)
    port = spec.get("port", 0)
    limits = Limits(**spec.get("limits", {}))
    try:
        server, connections = await start_server(
            gateway.handle, LOOPBACK, port, admit=gateway.admit, limits=limits, stream_bodies=True
        )
    except OSError as exc:
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc.strerror})"
        print(f"ERROR port {port} on {LOOPBACK} {reason}", flush=True)
        return
    try:
        print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
        await stop.wait()
    finally:
        server.close()
        for connection in list(connections):
            connection.close()
        await server.wait_closed()


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    die_with_parent(spec["parent_pid"])

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(spec, stop)

    run_fast(run())


if __name__ == "__main__":
    main()

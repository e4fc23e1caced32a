"""A small, fast HTTP server on 127.0.0.1 for engine tests, in a process of its own (in a thread it would
share the GIL with the generator under test and show up as the generator's own event-loop lag).

Routes: /fast, /served?ms=N (odd requests answered by "blue", even ones by "green" after N ms, every
other one a 503: azureml-model-deployment names each; requests' ids at GET /_ids), /sleep?ms=N,
/status/{code}, /stall-once?ms=N (the first request after a reset stalls,
the rest are fast), /exec?ms=N (answers with x-ms-run-fn-exec-ms: N; with &outside_ms=M it sleeps M ms
more, time outside the model as a gateway or a queue would add), /auth?sha256=H (200 when the request's
`Authorization: Bearer <key>` has that SHA-256, else 401: the key itself never appears in a URL),
/auth-any?sha256=H1,H2 (200 for a Bearer key with any of those SHA-256s, else 401; counts the requests per
key and remembers each connection's last key: GET /_tokens), /secret?sha256=H&header=NAME&param=NAME (200 when
each named header and query parameter has a value with that SHA-256, else 401), /hang (never answers),
/reset-every?n=K (every K-th request to it is answered with a TCP reset, so kept-alive connections are
reset under the client), /garbage (bytes that are not HTTP, then close), /close (closes without
answering), /half (headers promising 1,000 bytes, 10 sent, then close), /big?mb=N (an N MB body streamed
in 64 KB chunks, never built in memory).

Streaming routes (OpenAI chat completion chunks as server-sent events, each token on its own timetable
from the request's arrival, so gaps do not add up errors): /v1/chat/completions?ttft_ms=T&gap_ms=G&tokens=N
(N tokens, the first after T ms, then one every G ms; N defaults to the body's max_tokens; &usage=0 leaves
the usage chunk out; &buffered=1 sends everything at the end, as a buffering proxy; &format=text sends bare
lines of text, as a scorer might, with no [DONE]), /stream-cut?after=N (N tokens, then the connection is
dropped), /stream-long-line?mb=M&after=N&every=K (every K-th request to it, default every one, gets after N
tokens one event of M MB, written 64 KB at a time, then the rest of its stream), /chat-answer?body=B (a 200
answer that is no stream: B = "completion" a non-streamed chat.completion with usage, &pretty=1 indented
over many lines as OpenAI sends it; "error" an OpenAI error object; "object-error" vLLM's {"object": "error"};
"empty" no body; "done-only" just `data: [DONE]`; "late-error" two tokens, then an error event, then [DONE]),
/stream-stall-once?ms=S (the first stream after a reset waits S ms before its first token),
/openai/deployments/{name}/chat/completions?api-version=V&sha256=H (Azure OpenAI's form: 401 unless the
`api-key` header has that SHA-256). It counts requests and connections (GET /_counts, POST /_reset)
so tests compare the engine's counts with what the server saw, and requests per `azureml-model-deployment`
header (GET /_deployments: what an Azure endpoint would have routed to each deployment). /msi is an Azure ML
compute node's managed-identity endpoint (MSI_ENDPOINT): a token only for the identity's `clientid`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

#: The secret an Azure ML node's MSI_SECRET holds, which its MSI endpoint (/msi) checks.
MSI_SECRET = "node-msi-secret-for-tests"


@dataclass
class FastServer:
    base_url: str
    pid: int

    def url(self, path: str) -> str:
        return self.base_url + path

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.base_url + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def counts(self) -> dict[str, int]:
        """{"requests": ..., "connections": ...} since the last reset (the /_counts call not included)."""
        return self._call("GET", "/_counts")  # type: ignore[no-any-return]

    def tokens(self) -> dict[str, dict[str, int]]:
        """/auth-any since the last reset: {"seen": {sha256: requests}, "last": {sha256: connections whose
        last request carried that key}}."""
        return self._call("GET", "/_tokens")  # type: ignore[no-any-return]

    def deployments(self) -> dict[str, int]:
        """Requests per `azureml-model-deployment` header value since the last reset ("" without one)."""
        return self._call("GET", "/_deployments")  # type: ignore[no-any-return]

    def request_ids(self) -> list[list[str]]:
        """[x-ms-client-request-id, x-request-id] of each request since the last reset ("" when absent)."""
        return self._call("GET", "/_ids")  # type: ignore[no-any-return]

    def reset(self) -> None:
        self._call("POST", "/_reset")


def make_app() -> web.Application:
    state = {"requests": 0, "connections": set(), "stalled": False, "resettable": 0, "long": 0, "served": 0}
    seen: dict[str, int] = {}
    last: dict[int, str] = {}
    routed: dict[str, int] = {}
    ids: list[tuple[str, str]] = []

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/_"):
            state["requests"] += 1  # type: ignore[operator]
            # The client's address and port, not id(transport): a closed connection's transport is freed and
            # the next one can reuse its id (3 connections dropped one after another were counted as 1).
            state["connections"].add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
            header = request.headers.get("azureml-model-deployment", "")
            routed[header] = routed.get(header, 0) + 1
            ids.append((request.headers.get("x-ms-client-request-id", ""), request.headers.get("x-request-id", "")))
        await request.read()
        return await handler(request)  # type: ignore[no-any-return]

    async def fast(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def sleep(request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.query.get("ms", "100")) / 1000)
        return web.Response(text="slept")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.Event().wait()  # never set: the client's timeout or its close ends the request
        return web.Response(text="never")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def stall_once(request: web.Request) -> web.Response:
        first, state["stalled"] = not state["stalled"], True
        if first:
            await asyncio.sleep(int(request.query.get("ms", "1000")) / 1000)
        return web.Response(text="ok")

    async def exec_ms(request: web.Request) -> web.Response:
        ms = int(request.query.get("ms", "20"))
        await asyncio.sleep((ms + int(request.query.get("outside_ms", "0"))) / 1000)
        return web.Response(text="ok", headers={"x-ms-run-fn-exec-ms": f"{ms:.3f}"})

    async def auth(request: web.Request) -> web.Response:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        digest = hashlib.sha256(key.encode()).hexdigest()
        ok = scheme == "Bearer" and hmac.compare_digest(digest, request.query.get("sha256", ""))
        return web.Response(status=200 if ok else 401, text="ok" if ok else "unauthorized")

    async def auth_any(request: web.Request) -> web.Response:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        digest = hashlib.sha256(key.encode()).hexdigest()
        ok = scheme == "Bearer" and digest in request.query.get("sha256", "").split(",")
        if ok:
            seen[digest] = seen.get(digest, 0) + 1
            last[id(request.transport)] = digest
        return web.Response(status=200 if ok else 401, text="ok" if ok else "unauthorized")

    async def secret(request: web.Request) -> web.Response:
        # Each `header=NAME` and `param=NAME` must carry a value whose SHA-256 is `sha256`.
        values = [request.headers.get(name, "") for name in request.query.getall("header", [])]
        values += [request.query.get(name, "") for name in request.query.getall("param", [])]
        want = request.query.get("sha256", "")
        ok = bool(values) and all(hmac.compare_digest(hashlib.sha256(v.encode()).hexdigest(), want) for v in values)
        return web.Response(status=200 if ok else 401, text="ok" if ok else "unauthorized")

    def abort(request: web.Request, data: bytes = b"", linger: bool = True) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        if data:
            transport.write(data)
        sock = transport.get_extra_info("socket")
        if linger and sock is not None:
            # SO_LINGER 0: close sends RST, as a crashed or overloaded peer does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort() if linger else transport.close()
        return web.Response()  # never sent: the connection is gone

    async def reset_every(request: web.Request) -> web.StreamResponse:
        state["resettable"] += 1  # type: ignore[operator]
        if state["resettable"] % int(request.query.get("n", "2")) == 0:  # type: ignore[operator]
            return abort(request)
        return web.Response(text="ok")

    async def garbage(request: web.Request) -> web.StreamResponse:
        return abort(request, b"\x00\x01 this is not HTTP\r\n\r\n", linger=False)

    async def close(request: web.Request) -> web.StreamResponse:
        return abort(request, linger=False)

    async def half(request: web.Request) -> web.StreamResponse:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n"
        return abort(request, head + b"0123456789", linger=False)

    async def big(request: web.Request) -> web.StreamResponse:
        size = int(float(request.query.get("mb", "50")) * 1_000_000)
        response = web.StreamResponse(headers={"Content-Length": str(size)})
        await response.prepare(request)
        chunk = b"x" * 65536
        while size > 0:
            await response.write(chunk[: min(size, len(chunk))])
            size -= len(chunk)
        await response.write_eof()
        return response

    async def stream(
        request: web.Request, *, stall_s: float = 0.0, cut_after: int | None = None, long_after: int | None = None
    ) -> web.StreamResponse:
        arrived = asyncio.get_running_loop().time()
        query = request.query
        try:
            asked = json.loads(await request.read() or b"{}")
        except ValueError:
            asked = {}
        prompt = json.dumps(asked.get("messages", ""))
        count = int(query.get("tokens", asked.get("max_tokens", 10)))
        if cut_after is not None:
            count = max(count, cut_after + 10)
        ttft_s, gap_s = float(query.get("ttft_ms", "0")) / 1000 + stall_s, float(query.get("gap_ms", "0")) / 1000
        text = query.get("format") == "text"
        response = web.StreamResponse(headers={"Content-Type": "text/plain" if text else "text/event-stream"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        pending: list[bytes] = []

        async def send(data: bytes, due: float) -> None:
            if query.get("buffered") == "1":
                pending.append(data)
                await asyncio.sleep(max(0.0, due - loop.time()))
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            await response.write(data)

        for index in range(count):
            if cut_after is not None and index == cut_after:
                return abort(request, linger=False)
            if long_after is not None and index == long_after:
                try:
                    await long_event(response, int(float(query.get("mb", "10")) * 1_000_000))
                except ConnectionError:
                    return response  # the client stopped reading and closed the connection
            chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"w{index} "}}]}
            line = f"w{index}\n" if text else f"data: {json.dumps(chunk)}\n\n"
            await send(line.encode(), arrived + ttft_s + index * gap_s)
        if not text:
            if query.get("usage", "1") == "1":
                usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": count, "total_tokens": 0}
                await send(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode(), loop.time())
            await send(b"data: [DONE]\n\n", loop.time())
        if pending:
            await response.write(b"".join(pending))
        await response.write_eof()
        return response

    async def long_event(response: web.StreamResponse, size: int) -> None:
        """One SSE event whose content is `size` bytes, never built whole."""
        await response.write(b'data: {"choices": [{"index": 0, "delta": {"content": "')
        piece = b"x" * 65536
        while size > 0:
            await response.write(piece[: min(size, len(piece))])
            size -= len(piece)
        await response.write(b'"}}]}\n\n')

    async def stream_long_line(request: web.Request) -> web.StreamResponse:
        state["long"] += 1  # type: ignore[operator]
        long = state["long"] % int(request.query.get("every", "1")) == 0  # type: ignore[operator]
        return await stream(request, long_after=int(request.query.get("after", "2")) if long else None)

    async def chat_answer(request: web.Request) -> web.StreamResponse:
        kind = request.query.get("body", "completion")
        asked = json.loads(await request.read() or b"{}")
        tokens = int(asked.get("max_tokens", 10))
        error = {"error": {"message": "The model is overloaded", "type": "server_error", "code": None}}
        if kind == "completion":
            answer = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "w " * tokens}}],
                "usage": {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": 7 + tokens},
            }
            return web.json_response(
                answer, dumps=lambda o: json.dumps(o, indent=2 if "pretty" in request.query else None)
            )
        if kind == "error":
            return web.json_response(error)
        if kind == "object-error":
            return web.json_response(
                {"object": "error", "message": "bad request", "type": "BadRequestError", "code": 400}
            )
        if kind == "empty":
            return web.Response(status=200)
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "w "}}]}
        events = [] if kind == "done-only" else [chunk, chunk, error]
        text = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        return web.Response(text=text, content_type="text/event-stream")

    async def chat(request: web.Request) -> web.StreamResponse:
        return await stream(request)

    async def stream_cut(request: web.Request) -> web.StreamResponse:
        return await stream(request, cut_after=int(request.query.get("after", "10")))

    async def stream_stall_once(request: web.Request) -> web.StreamResponse:
        first, state["stalled"] = not state["stalled"], True
        return await stream(request, stall_s=int(request.query.get("ms", "1000")) / 1000 if first else 0.0)

    async def azure_openai(request: web.Request) -> web.StreamResponse:
        key = request.headers.get("api-key", "")
        ok = "api-version" in request.query and hmac.compare_digest(
            hashlib.sha256(key.encode()).hexdigest(), request.query.get("sha256", "")
        )
        if not ok:
            return web.Response(status=401, text="unauthorized")
        return await stream(request)

    async def msi(request: web.Request) -> web.Response:
        """An Azure ML compute node's managed-identity endpoint (MSI_ENDPOINT, API 2017-09-01): a token only
        for a request with the node's secret and the identity's `clientid` (without it a cluster with a
        system-assigned identity answers no token: azure-sdk-for-python#30427); `refused-` ids are refused."""
        if request.headers.get("secret") != MSI_SECRET:
            return web.json_response({"error": "invalid_request", "error_description": "bad secret"}, status=401)
        client_id = request.query.get("clientid", "")
        if not client_id or client_id.startswith("refused-"):
            return web.json_response(
                {"error": "invalid_request", "error_description": "No token received for this identity"}, status=400
            )
        return web.json_response(
            {
                "access_token": f"node-token-for-{client_id}",
                "expires_on": int(time.time()) + 3600,
                "resource": request.query.get("resource", ""),
                "token_type": "Bearer",
            }
        )

    async def tokens(request: web.Request) -> web.Response:
        by_last: dict[str, int] = {}
        for digest in last.values():
            by_last[digest] = by_last.get(digest, 0) + 1
        return web.json_response({"seen": seen, "last": by_last})

    async def counts(request: web.Request) -> web.Response:
        return web.json_response({"requests": state["requests"], "connections": len(state["connections"])})  # type: ignore[arg-type]

    async def deployments(request: web.Request) -> web.Response:
        return web.json_response(routed)

    async def served(request: web.Request) -> web.Response:
        """Odd requests served by "blue" (200 at once), even ones by "green" (after ms=, every other one a 503):
        as an endpoint's traffic split names its deployments in azureml-model-deployment."""
        state["served"] += 1  # type: ignore[operator]
        number = int(state["served"])  # type: ignore[call-overload]
        if number % 2:
            return web.Response(text="ok", headers={"azureml-model-deployment": "blue"})
        await asyncio.sleep(int(request.query.get("ms", "20")) / 1000)
        code = 503 if number % 4 == 0 else 200
        return web.Response(status=code, text="green", headers={"azureml-model-deployment": "green"})

    async def request_ids(request: web.Request) -> web.Response:
        return web.json_response(ids)

    async def reset(request: web.Request) -> web.Response:
        state.update(requests=0, connections=set(), stalled=False, resettable=0, long=0, served=0)
        seen.clear()
        last.clear()
        ids.clear()
        routed.clear()
        return web.json_response({})

    app = web.Application(middlewares=[count])
    app.router.add_route("*", "/fast", fast)
    app.router.add_route("*", "/served", served)
    app.router.add_route("*", "/sleep", sleep)
    app.router.add_route("*", "/hang", hang)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_route("*", "/stall-once", stall_once)
    app.router.add_route("*", "/exec", exec_ms)
    app.router.add_route("*", "/auth", auth)
    app.router.add_route("*", "/auth-any", auth_any)
    app.router.add_route("*", "/secret", secret)
    app.router.add_route("*", "/reset-every", reset_every)
    app.router.add_route("*", "/garbage", garbage)
    app.router.add_route("*", "/close", close)
    app.router.add_route("*", "/half", half)
    app.router.add_route("*", "/big", big)
    app.router.add_route("*", "/v1/chat/completions", chat)
    app.router.add_route("*", "/stream-cut", stream_cut)
    app.router.add_route("*", "/stream-stall-once", stream_stall_once)
    app.router.add_route("*", "/stream-long-line", stream_long_line)
    app.router.add_route("*", "/chat-answer", chat_answer)
    app.router.add_route("*", "/openai/deployments/{name}/chat/completions", azure_openai)
    app.router.add_get("/msi", msi)
    app.router.add_get("/_tokens", tokens)
    app.router.add_get("/_counts", counts)
    app.router.add_get("/_deployments", deployments)
    app.router.add_get("/_ids", request_ids)
    app.router.add_post("/_reset", reset)
    return app


async def _serve() -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    print(f"READY {site._server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


@contextmanager
def serve_in_process() -> Iterator[FastServer]:
    """Serve on 127.0.0.1, any free port, in a child process stopped (by PID) when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.http_server"],
        stdout=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("READY "), f"test server did not start: {line!r}"
        yield FastServer(f"http://127.0.0.1:{int(line.split()[1])}", process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(_serve())
    except ImportError:
        asyncio.run(_serve())
    except KeyboardInterrupt:
        pass

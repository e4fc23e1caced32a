"""The gateway under abuse, over raw sockets: the key is checked before a body is read, sizes and times are
bounded (413, 431, closed connections), and good requests keep being served meanwhile.

Most cases run against a second gateway process with short limits (the spec's "limits"), in front of the
module endpoint's real inference servers; the 200 MB cases run against the endpoint's own gateway with
the default limits.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from moetui.local_endpoint import DeploymentSettings, LocalEndpointSettings, RunningEndpoint
from moetui.local_endpoint.http_server import Limits

pytestmark = pytest.mark.slow

SETTINGS = LocalEndpointSettings(
    deployments=(
        DeploymentSettings(
            name="blue",
            traffic_percent=100,
            worker_count=2,
            max_concurrent_requests_per_instance=2,
            request_timeout_ms=10_000,
            sleep_s=0.0,
        ),
    )
)
SHORT = {
    "max_body_bytes": 1_000_000,
    "max_header_bytes": 16_384,
    "max_header_count": 50,
    "head_timeout_s": 1.0,
    "body_timeout_s": 1.5,
    "idle_timeout_s": 1.5,
    "linger_s": 0.5,
}
BODY = b'{"request_id": 7, "sleep": 0}'
MB = 1024 * 1024


@dataclass
class Gateway:
    port: int
    key: str
    pid: int

    def head(self, *, key: bool = True, extra: str = "", length: int | None = len(BODY)) -> bytes:
        lines = ["POST /score HTTP/1.1", "Host: x", "Content-Type: application/json"]
        if key:
            lines.append(f"Authorization: Bearer {self.key}")
        lines.append("Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest.fixture(scope="module")
def endpoint(start_endpoint: Callable[[LocalEndpointSettings], RunningEndpoint]) -> RunningEndpoint:
    return start_endpoint(SETTINGS)


@pytest.fixture(scope="module")
def gateway(endpoint: RunningEndpoint) -> Iterator[Gateway]:
    """A gateway process with SHORT limits in front of the endpoint's inference servers; stopped by PID."""
    deployment = SETTINGS.deployments[0]
    ports = list(endpoint.instance_ports[deployment.name])
    spec = {
        "key": endpoint.key,
        "port": 0,
        "parent_pid": os.getpid(),
        "limits": SHORT,
        "deployments": [
            {
                "name": deployment.name,
                "traffic_percent": deployment.traffic_percent,
                "max_concurrent_requests_per_instance": deployment.max_concurrent_requests_per_instance,
                "request_timeout_ms": deployment.request_timeout_ms,
                "instance_ports": ports,
                "instance_sockets": [None] * len(ports),
            }
        ],
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "moetui.local_endpoint.gateway"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(spec).encode() + b"\n")
        process.stdin.close()
        ready = process.stdout.readline().decode()
        assert ready.startswith("READY "), ready
        yield Gateway(int(ready.split()[1]), endpoint.key, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def read_until_closed(sock: socket.socket, timeout_s: float) -> tuple[bytes, float]:
    """Everything the gateway sends until it closes the connection; and the seconds that took."""
    started = time.monotonic()
    sock.settimeout(timeout_s)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


#: What read_response read past the response it returned, by socket.
_unread: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_response(sock: socket.socket) -> bytes:
    """One response head and its Content-Length body. Bytes read past it (the next pipelined response, which
    a loaded machine delivers in the same read) are kept for the next call on the same socket."""
    received = _unread.pop(sock, b"")
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"closed {length - len(body)} bytes short of {head!r}"
        body += chunk
    if len(body) > length:
        _unread[sock] = body[length:]
    return head + b"\r\n\r\n" + body[:length]


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, MB."""
    text = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def test_the_short_gateway_overrides_every_limit(gateway: Gateway) -> None:
    assert set(SHORT) == set(Limits.__dataclass_fields__)


def test_401_is_answered_before_the_body_arrives(gateway: Gateway) -> None:
    """The head says no key: the answer comes while the declared 500 KB body is still unsent."""
    with gateway.connect() as sock:
        sock.sendall(gateway.head(key=False, length=500_000))
        sock.settimeout(5)
        response = read_response(sock)
    assert status_of(response) == 401


def test_a_refused_body_is_dropped_and_the_connection_serves_on(gateway: Gateway) -> None:
    """The 401 request's body is read past (not taken for the next request); the next one is served."""
    junk = b"x" * 300_000
    with gateway.connect() as sock:
        sock.sendall(gateway.head(key=False, length=len(junk)) + junk + gateway.head() + BODY)
        first, second = read_response(sock), read_response(sock)
    assert (status_of(first), status_of(second)) == (401, 200)
    assert b"request 7 complete" in second


def test_413_from_content_length_before_reading(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        sock.sendall(gateway.head(length=SHORT["max_body_bytes"] + 1))
        received, _ = read_until_closed(sock, timeout_s=5)
    assert status_of(received) == 413
    assert b"Connection: close" in received


def test_a_chunked_body_is_cut_past_the_limit(gateway: Gateway) -> None:
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
    sent = 0
    with gateway.connect() as sock:
        sock.sendall(gateway.head(length=None))
        try:
            while sent < 4 * SHORT["max_body_bytes"]:
                sock.sendall(chunk)
                sent += 64 * 1024
        except OSError:  # closed by the gateway while we were still sending: that is the point
            pass
        received, _ = read_until_closed(sock, timeout_s=5)
    assert status_of(received) == 413


@pytest.mark.parametrize(
    "extra",
    [
        "X-Big: " + "a" * (10 * MB) + "\r\n",
        "".join(f"X-H{i}: v\r\n" for i in range(10_000)),
    ],
    ids=["10MB-header", "10000-headers"],
)
def test_431_for_a_head_too_large(gateway: Gateway, extra: str) -> None:
    with gateway.connect() as sock:
        try:
            sock.sendall(gateway.head(extra=extra) + BODY)
        except OSError:  # closed while the head was still arriving
            pass
        received, _ = read_until_closed(sock, timeout_s=5)
    assert status_of(received) == 431


def test_a_silent_connection_is_closed(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        received, elapsed = read_until_closed(sock, timeout_s=10)
    assert received == b""
    assert SHORT["head_timeout_s"] - 0.2 < elapsed < SHORT["head_timeout_s"] + 5


def test_an_idle_kept_alive_connection_is_closed(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        sock.sendall(gateway.head() + BODY)
        assert status_of(read_response(sock)) == 200
        received, elapsed = read_until_closed(sock, timeout_s=10)
    assert received == b""
    assert SHORT["idle_timeout_s"] - 0.2 < elapsed < SHORT["idle_timeout_s"] + 5


@pytest.mark.parametrize("part", ["head", "body"])
def test_a_one_byte_at_a_time_sender_is_closed(gateway: Gateway, part: str) -> None:
    """Slow loris: one byte every 0.1 s (each byte resets no timer); closed at the head or body timeout."""
    head = gateway.head()
    data = head + BODY
    sent = len(head) if part == "body" else 0
    started = time.monotonic()
    with gateway.connect() as sock:
        sock.sendall(data[:sent])
        try:
            while sent < len(data) and time.monotonic() - started < 15:
                sock.sendall(data[sent : sent + 1])
                sent += 1
                time.sleep(0.1)
            received, _ = read_until_closed(sock, timeout_s=10)
        except OSError:  # closed by the gateway while we were still sending
            received = b""
    elapsed = time.monotonic() - started
    limit_s = SHORT["head_timeout_s"] if part == "head" else SHORT["body_timeout_s"]
    assert b"200 OK" not in received
    assert sent < len(data)  # closed before the request was whole
    assert elapsed < limit_s + 5


def test_many_idle_connections_are_all_closed(gateway: Gateway) -> None:
    sockets = [gateway.connect() for _ in range(300)]
    try:
        deadline = time.monotonic() + SHORT["head_timeout_s"] + 10
        for sock in sockets:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            assert sock.recv(1) == b""
    finally:
        for sock in sockets:
            sock.close()


def test_good_requests_are_served_during_abuse(gateway: Gateway) -> None:
    """While a thread opens idle connections, sends oversized and unauthenticated bodies and huge heads,
    normal requests on fresh connections still get 200 promptly."""
    stop = threading.Event()
    abusers: list[socket.socket] = []

    def abuse() -> None:
        junk = b"x" * (256 * 1024)
        while not stop.is_set() and len(abusers) < 2_000:
            for data in (
                b"",  # idle
                gateway.head(key=False, length=None) + b"%x\r\n%s\r\n" % (len(junk), junk),
                gateway.head(length=10**9),
                gateway.head(extra="X-Big: " + "a" * 100_000 + "\r\n"),
                b"POST /sco",  # slow loris, never finished
            ):
                sock = gateway.connect()
                abusers.append(sock)
                try:
                    sock.sendall(data)
                except OSError:
                    pass

    thread = threading.Thread(target=abuse, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        for _ in range(10):
            started = time.monotonic()
            with gateway.connect() as sock:
                sock.sendall(gateway.head() + BODY)
                assert status_of(read_response(sock)) == 200
            assert time.monotonic() - started < 5
        assert len(abusers) > 20  # the abuse was really going on
    finally:
        stop.set()
        thread.join(timeout=10)
        for sock in abusers:
            sock.close()


# -- the endpoint's own gateway, default limits -------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_200mb_unauthenticated_body_is_neither_kept_nor_read_whole(endpoint: RunningEndpoint, chunked: bool) -> None:
    """Measured before the limits: +400 MB peak and 200 MB kept per such body."""
    total = 200 * MB
    before_rss, _ = rss_mb(endpoint.gateway_pid)
    block = b"x" * MB
    lines = ["POST /score HTTP/1.1", "Host: x", "Content-Type: application/json"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for _ in range(total // MB):
                sock.sendall(b"100000\r\n" + block + b"\r\n" if chunked else block)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # closed by the gateway
            pass
        received, _ = read_until_closed(sock, timeout_s=10)
    after_rss, peak = rss_mb(endpoint.gateway_pid)
    assert status_of(received) == (401 if chunked else 413)
    assert peak - before_rss < 50, (before_rss, peak)
    assert after_rss - before_rss < 20, (before_rss, after_rss)


def test_an_authenticated_90mb_body_is_sent_on_as_it_arrives(endpoint: RunningEndpoint) -> None:
    """Measured when the gateway gathered the body, joined it and copied it into the upstream request: peak
    RSS +270 MB for one 90 MB body, 90 MB still held after; streamed: +0.9 MB."""
    body = b'{"request_id": 9, "pad": "' + b"x" * (90 * MB) + b'"}'
    head = (
        f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {endpoint.key}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    before_rss, _ = rss_mb(endpoint.gateway_pid)
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=60) as sock:
        sock.sendall(head + body)
        assert status_of(read_response(sock)) == 200
        # The same connection serves on; an unknown deployment's body is dropped as it comes, not kept.
        sock.sendall(head.replace(b"\r\n\r\n", b"\r\nazureml-model-deployment: nope\r\n\r\n", 1) + body)
        assert status_of(read_response(sock)) == 404
        sock.sendall(head.replace(str(len(body)).encode(), str(len(BODY)).encode()) + BODY)
        assert status_of(read_response(sock)) == 200
    after_rss, peak = rss_mb(endpoint.gateway_pid)
    assert peak - before_rss < 30, (before_rss, peak)
    assert after_rss - before_rss < 20, (before_rss, after_rss)


def test_a_body_cut_midway_frees_its_slot(endpoint: RunningEndpoint) -> None:
    head = (
        f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {endpoint.key}\r\nContent-Length: {10 * MB}\r\n\r\n"
    ).encode()
    # Each takes one of the deployment's 2 slots and sends its first MB on; then its client is gone. Once
    # the body is cut, the upstream request is dropped and the slot freed: the next request is served well
    # before request_timeout_ms (10 s), which it would otherwise wait out in the queue and get 408.
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
            sock.sendall(head + b'{"request_id": 1, "pad": "' + b"x" * MB)
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=30) as sock:
        sock.sendall(head.replace(str(10 * MB).encode(), str(len(BODY)).encode()) + BODY)
        assert status_of(read_response(sock)) == 200

"""The gateway against real inference servers: Azure's status codes, routing, the queue, loopback only."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Callable

import aiohttp
import pytest
from multidict import CIMultiDict

from moetui.local_endpoint import DeploymentSettings, LocalEndpointSettings, RunningEndpoint
from tests.helpers import descendants, listening_addresses

pytestmark = pytest.mark.slow

# blue takes the traffic: 4 workers behind max_concurrent_requests_per_instance 3, so any queueing seen
# is the gateway's doing, not gunicorn's. green gets requests only by header, and times out fast.
SETTINGS = LocalEndpointSettings(
    deployments=(
        DeploymentSettings(
            name="blue",
            traffic_percent=100,
            worker_count=4,
            max_concurrent_requests_per_instance=3,
            request_timeout_ms=10_000,
            sleep_s=0.0,
        ),
        DeploymentSettings(
            name="green",
            traffic_percent=0,
            worker_count=1,
            max_concurrent_requests_per_instance=1,
            request_timeout_ms=800,
            sleep_s=0.0,
        ),
    )
)


@pytest.fixture(scope="module")
def endpoint(start_endpoint: Callable[[LocalEndpointSettings], RunningEndpoint]) -> RunningEndpoint:
    return start_endpoint(SETTINGS)


async def post(
    endpoint: RunningEndpoint,
    body: object,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, CIMultiDict[str], bytes, float]:
    """POST once on a fresh connection; return status, headers, body and seconds taken."""
    sent = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        data = raw if raw is not None else json.dumps(body).encode()
        async with session.post(
            endpoint.scoring_uri, data=data, headers=headers if headers is not None else endpoint.headers()
        ) as response:
            content = await response.read()
            return response.status, CIMultiDict(response.headers), content, time.perf_counter() - sent


async def test_scores_with_the_key_and_says_who_served(endpoint: RunningEndpoint) -> None:
    status, headers, body, _ = await post(endpoint, {"request_id": 7, "sleep": 0})
    assert status == 200
    assert json.loads(body).startswith("request 7 complete. Elapsed time: ")
    assert headers["azureml-model-deployment"] == "blue"
    assert len(headers["x-request-id"]) == 36
    assert float(headers["x-ms-run-fn-exec-ms"]) >= 0


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-key", "bearer", ""],
    ids=["missing", "wrong", "empty-bearer", "empty"],
)
async def test_401_without_the_right_key(endpoint: RunningEndpoint, authorization: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, response_headers, body, _ = await post(endpoint, {"request_id": 1}, headers=headers)
    assert status == 401
    assert "x-request-id" in response_headers
    assert endpoint.key not in body.decode()


async def test_header_routes_to_a_zero_traffic_deployment(endpoint: RunningEndpoint) -> None:
    status, headers, _, _ = await post(endpoint, {"sleep": 0}, headers=endpoint.headers("green"))
    assert (status, headers["azureml-model-deployment"]) == (200, "green")


async def test_traffic_split_sends_nothing_to_zero_percent(endpoint: RunningEndpoint) -> None:
    served = [(await post(endpoint, {"sleep": 0}))[1]["azureml-model-deployment"] for _ in range(10)]
    assert served == ["blue"] * 10


async def test_404_for_an_unknown_deployment(endpoint: RunningEndpoint) -> None:
    status, _, body, _ = await post(endpoint, {"sleep": 0}, headers=endpoint.headers("purple"))
    assert status == 404
    assert "deployment" in json.loads(body)["message"]


async def test_408_when_the_model_runs_past_request_timeout_ms(endpoint: RunningEndpoint) -> None:
    status, headers, body, elapsed = await post(endpoint, {"sleep": 2.0}, headers=endpoint.headers("green"))
    assert status == 408
    assert headers["azureml-model-deployment"] == "green"
    assert "800 ms" in json.loads(body)["message"]
    assert 0.7 < elapsed < 1.9  # answered at the timeout, not when the model finished


@pytest.mark.parametrize(
    ("raw", "model_status"),
    [(b'{"fail": true}', "500"), (b"{not json", "400"), (b'{"sleep": "soon"}', "400")],
    ids=["run-raises", "bad-json", "bad-sleep"],
)
async def test_424_when_the_scorer_fails(endpoint: RunningEndpoint, raw: bytes, model_status: str) -> None:
    status, headers, body, _ = await post(endpoint, None, raw=raw)
    assert status == 424
    assert headers["ms-azureml-model-error-statuscode"] == model_status
    assert headers["ms-azureml-model-error-reason"] == "model_error"
    assert body  # the scorer's own explanation is passed on


async def test_fourth_request_waits_for_a_slot(endpoint: RunningEndpoint) -> None:
    """max_concurrent_requests_per_instance 3 with 4 workers free: the gateway, not gunicorn, queues the 4th."""
    results = await asyncio.gather(*(post(endpoint, {"request_id": i, "sleep": 1.0}) for i in range(4)))
    assert [r[0] for r in results] == [200] * 4
    elapsed = sorted(r[3] for r in results)
    assert all(0.9 < e < 1.7 for e in elapsed[:3]), elapsed
    assert 1.9 < elapsed[3] < 3.5, elapsed
    # It queued before the scorer, so its time in run() is one sleep, not two.
    exec_ms = [float(r[1]["x-ms-run-fn-exec-ms"]) for r in results]
    assert all(900 < ms < 1500 for ms in exec_ms), exec_ms


async def test_429_beyond_twice_the_capacity(endpoint: RunningEndpoint) -> None:
    """2 x max_concurrent_requests_per_instance (3) x instance_count (1) = 6 in flight; the 7th is refused."""
    results = await asyncio.gather(*(post(endpoint, {"sleep": 1.0}) for _ in range(7)))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] * 6 + [429]
    refused = next(r for r in results if r[0] == 429)
    assert refused[3] < 0.9  # refused at once, not after waiting
    assert refused[1]["azureml-model-deployment"] == "blue"


def test_keeps_client_connections_alive(endpoint: RunningEndpoint) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    sockets = []
    for i in range(3):
        connection.request("POST", "/score", body=json.dumps({"request_id": i, "sleep": 0}), headers=endpoint.headers())
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is not None and all(s is sockets[0] for s in sockets)


def test_liveness_route_needs_no_key(endpoint: RunningEndpoint) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"Healthy")
    connection.close()


def test_nothing_listens_beyond_loopback(endpoint: RunningEndpoint) -> None:
    pids = {endpoint.gateway_pid, *endpoint.instance_pids}
    for pid in list(pids):
        pids |= descendants(pid)
    addresses = listening_addresses(pids)
    ports = {port for _, port in addresses}
    assert endpoint.port in ports
    assert set(endpoint.instance_ports["blue"]) | set(endpoint.instance_ports["green"]) <= ports
    assert {address for address, _ in addresses} == {"127.0.0.1"}


def _raw_exchange(port: int, data: bytes, expect_responses: int) -> bytes:
    """Send raw bytes on one connection; read until `expect_responses` whole responses or EOF."""

    def whole(received: bytes) -> int:
        count, position = 0, 0
        while (end := received.find(b"\r\n\r\n", position)) >= 0:
            head = received[position:end].decode("latin-1").lower()
            length = int(head.split("content-length:")[1].split("\r\n")[0]) if "content-length:" in head else 0
            if len(received) < end + 4 + length:
                break
            count, position = count + 1, end + 4 + length
        return count

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while whole(received) < expect_responses and (chunk := sock.recv(65536)):
            received += chunk
        return received


def test_pipelined_requests_are_answered_in_order(endpoint: RunningEndpoint) -> None:
    auth = f"Authorization: Bearer {endpoint.key}\r\nContent-Type: application/json\r\n"
    bodies = [b'{"request_id": 1, "sleep": 0.3}', b'{"request_id": 2, "sleep": 0}']
    data = b"".join(
        f"POST /score HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies
    )
    received = _raw_exchange(endpoint.port, data, 2)
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert received.index(b"request 1 complete") < received.index(b"request 2 complete")


def test_a_malformed_request_gets_400_and_no_crash(endpoint: RunningEndpoint) -> None:
    received = _raw_exchange(endpoint.port, b"NOT HTTP AT ALL\r\n\r\n", 1)
    assert received.startswith(b"HTTP/1.1 400 ")
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    connection.request("GET", "/")
    assert connection.getresponse().status == 200  # the gateway still serves
    connection.close()


def test_each_instance_also_listens_on_a_private_unix_socket(endpoint: RunningEndpoint) -> None:
    """The gateway's way in: a Unix socket per instance, in the endpoint's own 0700 directory."""
    assert endpoint.log_dir.stat().st_mode & 0o777 == 0o700
    for name, ports in endpoint.instance_ports.items():
        for index in range(len(ports)):
            path = endpoint.log_dir / f"{name}-{index}.sock"
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(10)
                sock.connect(str(path))
                body = b'{"request_id": 7}'
                sock.sendall(
                    b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
            assert received.startswith(b"HTTP/1.1 200") and b"request 7 complete" in received

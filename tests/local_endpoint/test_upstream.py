"""The gateway's upstream exchange over a Unix socket, against a small real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from moetui.local_endpoint.upstream import UpstreamError, build_request, exchange


async def test_a_unix_socket_is_used_when_given(tmp_path: Path) -> None:
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-ms-run-fn-exec-ms: 1.5\r\n\r\nok")
        await writer.drain()
        writer.close()

    path = str(tmp_path / "instance.sock")
    server = await asyncio.start_unix_server(answer, path)
    try:
        # Port 1 on loopback is closed: only the socket can have answered.
        response = await exchange(1, build_request("POST", 1, {}, b""), path)
    finally:
        server.close()
        await server.wait_closed()
    assert (response.status, response.body, response.headers["x-ms-run-fn-exec-ms"]) == (200, b"ok", "1.5")
    assert seen[0].startswith(b"POST /score HTTP/1.1\r\n")


async def test_a_missing_socket_is_an_upstream_error_naming_it(tmp_path: Path) -> None:
    path = str(tmp_path / "gone.sock")
    with pytest.raises(UpstreamError, match=r"gone\.sock"):
        await exchange(1, build_request("POST", 1, {}, b""), path)

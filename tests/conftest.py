"""Shared fixtures: a local endpoint per test module, the user's config and data directories isolated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from moetui.local_endpoint import LocalEndpoint, LocalEndpointSettings, RunningEndpoint
from tests.http_server import FastServer, serve_in_process


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real ~/.config/moetui, nor exports into ~/.local/share/moetui."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture(scope="module")
def start_endpoint() -> Iterator[Callable[[LocalEndpointSettings], RunningEndpoint]]:
    """Start local endpoints that live until the end of the module, stopped by PID afterwards.

    Start-up is the only async part: the processes outlive the short loop that waits for them, so
    tests with their own event loops can share one endpoint.
    """
    started: list[LocalEndpoint] = []

    def start(settings: LocalEndpointSettings) -> RunningEndpoint:
        endpoint = LocalEndpoint(settings)
        started.append(endpoint)
        return asyncio.run(endpoint.__aenter__())

    yield start
    for endpoint in started:
        endpoint.stop()


@pytest.fixture(scope="session")
def fast_server() -> Iterator[FastServer]:
    """A fast aiohttp server on 127.0.0.1 that counts what it sees."""
    with serve_in_process() as server:
        yield server


@pytest.fixture
def server(fast_server: FastServer) -> FastServer:
    """The session's test server with its counts reset."""
    fast_server.reset()
    return fast_server

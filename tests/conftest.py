"""Shared fixtures: a local endpoint per test module, the user's config and data directories isolated."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Callable, Generator, Iterator

import pytest

from moetui.local_endpoint import LocalEndpoint, LocalEndpointSettings, RunningEndpoint
from tests.http_server import FastServer, serve_in_process


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups into the test ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` deals tests to its processes one at a time (pytest-xdist's loadgroup), not a file at a
    time, so the two finish close together; a test whose fixture lives for its module or package (a local
    endpoint, the report package's runs) is grouped with that module's or package's other tests, so one
    process starts the fixture once and runs them together (dealt by file, tests/report/test_html.py and
    test_hgrm.py each made the package's runs)."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        definitions = item._fixtureinfo.name2fixturedefs.values()
        scopes = {definition.scope for chain in definitions for definition in chain}
        module = item.nodeid.split("::")[0]
        if "package" in scopes:
            item.add_marker(pytest.mark.xdist_group(module.rpartition("/")[0]))
        elif scopes & {"module", "class"}:
            item.add_marker(pytest.mark.xdist_group(module))


#: A file that each test appends "nodeid<TAB>wall s<TAB>CPU s" to (MOETUI_TEST_CPU_LOG=path make test): which tests
#: wait (on sleeps, timeouts, other processes) and which compute, the figures that choose TEST_WORKERS. CPU is
#: this process's and its reaped children's (moetui runs, endpoints stopped at a module's end: its last test).
CPU_LOG = os.environ.get("MOETUI_TEST_CPU_LOG")


def _cpu_s() -> float:
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None]:
    if CPU_LOG is None:
        yield
        return
    wall, cpu = time.monotonic(), _cpu_s()
    yield
    line = f"{item.nodeid}\t{time.monotonic() - wall:.3f}\t{_cpu_s() - cpu:.3f}\n"
    with open(CPU_LOG, "a", encoding="utf-8") as log:  # one short append a line: xdist's processes share it
        log.write(line)


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

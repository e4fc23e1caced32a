"""A headless run with worker processes ends with moetui: kill -9 leaves no load running, a terminal's Ctrl-C
(SIGINT to the whole process group) stops the run cleanly, at start-up and mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import descendants, kill_all, wait_gone
from tests.http_server import FastServer


def start_moetui(config: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    # A session of its own: killpg reaches moetui and its children as a terminal's Ctrl-C would, and not pytest.
    return subprocess.Popen(
        [sys.executable, "-m", "moetui", "--run", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def workers_config(tmp_path: Path, url: str, load: str = 'duration = "60s"') -> Path:
    config = tmp_path / "run.toml"
    config.write_text(
        f'[target.url]\nurl = "{url}"\nkey_env = "MOETUI_TEST_KEY"\n\n'
        f'[load]\nmode = "closed"\nconnections = 4\nworkers = 2\n{load}\n'
    )
    return config


@pytest.fixture
def key_env() -> dict[str, str]:
    return dict(os.environ, MOETUI_TEST_KEY="k3y-that-must-never-leak")


def wait_for_requests(server: FastServer, at_least: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while server.counts()["requests"] < at_least:
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.1)


def test_kill_9_of_moetui_stops_its_workers_load(server: FastServer, tmp_path: Path, key_env: dict[str, str]) -> None:
    process = start_moetui(workers_config(tmp_path, server.url("/sleep?ms=5")), env=key_env)
    children: set[int] = set()
    try:
        wait_for_requests(server, 200)
        children = descendants(process.pid)
        assert len(children) >= 2  # the two generators (and multiprocessing's resource tracker)
        process.kill()
        process.wait(timeout=10)
        # Within 2 s every child is gone and the server sees no more requests.
        assert wait_gone(children, timeout_s=2.0) == set()
        seen = server.counts()["requests"]
        time.sleep(1.0)
        assert server.counts()["requests"] == seen
    finally:
        process.kill()
        process.communicate(timeout=10)
        kill_all(children)


def interrupt_group(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group


def test_ctrl_c_mid_run_with_workers_reports_and_exits_130(
    server: FastServer, tmp_path: Path, key_env: dict[str, str]
) -> None:
    report_path = tmp_path / "partial.json"
    config = workers_config(tmp_path, server.url("/sleep?ms=5"))
    process = start_moetui(config, "--report", str(report_path), env=key_env)
    children: set[int] = set()
    try:
        wait_for_requests(server, 100)
        children = descendants(process.pid)
        interrupt_group(process)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        kill_all(children)
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    report = json.loads(report_path.read_text())
    assert report["interrupted"] is True
    assert report["requests"]["ok"] > 50
    assert wait_gone(children, timeout_s=5.0) == set()


def test_ctrl_c_while_workers_start_exits_130_without_a_traceback(
    server: FastServer, tmp_path: Path, key_env: dict[str, str]
) -> None:
    process = start_moetui(workers_config(tmp_path, server.url("/fast")), env=key_env)
    children: set[int] = set()
    try:
        assert process.stderr is not None
        # The target is resolved and the Run starts its workers now; they take ~1 s to import.
        for line in process.stderr:
            if "load against" in line:
                break
        time.sleep(0.2)
        children = descendants(process.pid)
        interrupt_group(process)
        stdout, rest = process.communicate(timeout=30)
    finally:
        process.kill()
        kill_all(children)
    assert process.returncode == 130, stdout + rest
    assert "Traceback" not in rest and "Error" not in rest, rest
    assert server.counts()["requests"] == 0
    assert wait_gone(children, timeout_s=5.0) == set()

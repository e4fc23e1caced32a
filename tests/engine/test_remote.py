"""RemoteRun: the engine in a child process, read by a front end that polls."""

from __future__ import annotations

import time
from pathlib import Path

from moetui.config.load import config_from_dict
from moetui.engine.remote import RemoteRun
from tests.http_server import FastServer


def wait_finished(remote: RemoteRun, timeout_s: float = 60) -> list[int]:
    seen = []
    deadline = time.monotonic() + timeout_s
    while remote.finished is None and time.monotonic() < deadline:
        snapshot = remote.poll()
        if snapshot is not None:
            seen.append(snapshot.completed)
        time.sleep(0.1)
    return seen


def test_runs_in_a_child_and_ships_snapshots_then_the_report(server: FastServer) -> None:
    config = config_from_dict(
        {
            "target": {"url": {"url": server.url("/sleep?ms=5")}},
            "load": {"mode": "closed", "duration": 2, "connections": 2},
        }
    )
    remote = RemoteRun(config, Path("."), snapshot_hz=5)
    remote.start()
    try:
        seen = wait_finished(remote)
    finally:
        remote.kill()
    assert remote.finished is not None and remote.finished.error is None
    assert len(seen) >= 5 and seen == sorted(seen)  # live snapshots, growing
    report = remote.finished.report
    assert report is not None and report["requests"]["ok"] == server.counts()["requests"]
    assert remote.finished.exit_status == 0


def test_stop_ends_early_with_a_partial_report(server: FastServer) -> None:
    config = config_from_dict(
        {"target": {"url": {"url": server.url("/sleep?ms=5")}}, "load": {"mode": "closed", "duration": 60}}
    )
    remote = RemoteRun(config, Path("."))
    remote.start()
    started = time.monotonic()
    try:
        while (snapshot := remote.poll()) is None or snapshot.completed < 10:
            assert time.monotonic() - started < 30
            time.sleep(0.05)
        remote.stop()
        wait_finished(remote, 30)
    finally:
        remote.kill()
    assert remote.finished is not None and remote.finished.report is not None
    assert remote.finished.report["interrupted"] is True
    assert remote.finished.exit_status == 130
    assert time.monotonic() - started < 30


def test_a_target_error_comes_back_as_a_message(tmp_path: Path) -> None:
    config = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:9/score", "key_env": "MOETUI_NO_SUCH_VAR"}}})
    remote = RemoteRun(config, tmp_path)
    remote.start()
    try:
        wait_finished(remote, 30)
    finally:
        remote.kill()
    assert remote.finished is not None
    assert remote.finished.exit_status == 2
    assert "MOETUI_NO_SUCH_VAR" in (remote.finished.error or "")
